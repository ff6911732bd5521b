// SPDX-License-Identifier: Apache-2.0
#include "hsm/pin.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace enclave::hsm {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

// Closes a descriptor we opened.
class Fd {
public:
    explicit Fd(int fd) noexcept : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_;
};

// Switches terminal echo off for its lifetime when `fd` is a terminal.
class NoEcho {
public:
    explicit NoEcho(int fd) noexcept : fd_(fd) {
        if (::isatty(fd) == 1 && ::tcgetattr(fd, &saved_) == 0) {
            termios quiet = saved_;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            active_ = ::tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
        }
    }
    ~NoEcho() {
        if (active_) ::tcsetattr(fd_, TCSAFLUSH, &saved_);
    }
    NoEcho(const NoEcho&) = delete;
    NoEcho& operator=(const NoEcho&) = delete;

private:
    int fd_;
    termios saved_{};
    bool active_ = false;
};

// Removes one trailing "\n" or "\r\n" and validates.
Result<Secret> finish(Secret buf, std::size_t len, const std::string& source) {
    if (len > 0 && buf.data()[len - 1] == '\n') {
        --len;
        if (len > 0 && buf.data()[len - 1] == '\r') --len;
    }
    buf.truncate(len);
    if (auto ok = validate_pin(buf); !ok) {
        return tl::unexpected(ok.error().wrap("PIN from " + source));
    }
    return buf;
}

Result<std::size_t> read_all(int fd, Secret& buf, const std::string& source) {
    std::size_t len = 0;
    while (len < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + len, buf.size() - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail(Errc::io_error, "reading PIN from " + source + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        len += static_cast<std::size_t>(n);
    }
    return len;
}

}  // namespace

Result<void> validate_pin(const Secret& pin) {
    if (pin.empty()) {
        return fail(Errc::invalid_argument, "the PIN is empty");
    }
    if (pin.size() > kMaxPinLength) {
        return fail(Errc::too_large,
                    "the PIN is longer than " + std::to_string(kMaxPinLength) + " bytes");
    }
    for (auto c : pin.view()) {
        if (c == '\0' || c == '\n' || c == '\r') {
            return fail(Errc::invalid_argument, "the PIN contains a NUL or line-break byte");
        }
    }
    return {};
}

Result<Secret> read_pin_file(const std::filesystem::path& path) {
    const std::string source = "file " + path.string();
    // O_NONBLOCK: a FIFO planted at the path must not hang us; O_NOFOLLOW: the
    // mode we check must be the mode of the file we read.
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        const int err = errno;
        if (err == ENOENT) return fail(Errc::not_found, "PIN " + source + " does not exist");
        if (err == ELOOP) {
            return fail(Errc::invalid_argument, "PIN " + source + " is a symbolic link");
        }
        return fail(Errc::io_error, "opening PIN " + source + ": " + std::strerror(err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return fail(Errc::io_error, "stat of PIN " + source + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::invalid_argument, "PIN " + source + " is not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return fail(Errc::invalid_argument, "PIN " + source + " has mode " + mode +
                                                ": it must not be accessible by group or others "
                                                "(chmod 600)");
    }
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
        return fail(Errc::invalid_argument,
                    "PIN " + source + " is owned by another user (uid " +
                        std::to_string(st.st_uid) + ")");
    }
    if (st.st_size > static_cast<off_t>(kMaxPinLength + 2)) {
        return fail(Errc::too_large, "PIN " + source + " is larger than " +
                                         std::to_string(kMaxPinLength + 2) + " bytes");
    }
    // One byte of headroom detects a file that grew after fstat.
    Secret buf(kMaxPinLength + 3);
    auto len = read_all(fd.get(), buf, source);
    if (!len) return tl::unexpected(len.error());
    if (*len > kMaxPinLength + 2) {
        return fail(Errc::too_large, "PIN " + source + " is larger than " +
                                         std::to_string(kMaxPinLength + 2) + " bytes");
    }
    return finish(std::move(buf), *len, source);
}

Result<Secret> read_pin_fd(int fd) {
    const std::string source = "descriptor " + std::to_string(fd);
    NoEcho quiet(fd);
    Secret buf(kMaxPinLength + 2);
    std::size_t len = 0;
    // Byte by byte, so nothing after the PIN's line is consumed.
    while (true) {
        std::uint8_t c = 0;
        const ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail(Errc::io_error, "reading PIN from " + source + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        if (len == buf.size()) {
            crypto::wipe({&c, 1});
            return fail(Errc::too_large, "PIN from " + source + " is longer than " +
                                             std::to_string(kMaxPinLength) + " bytes");
        }
        buf.data()[len++] = c;
        if (c == '\n') break;
    }
    return finish(std::move(buf), len, source);
}

Result<Secret> read_pin_env(const std::string& name, bool scrub) {
    const std::string source = "environment variable " + name;
    char* value = std::getenv(name.c_str());
    if (value == nullptr) {
        return fail(Errc::not_found, source + " is not set");
    }
    const std::size_t n = std::strlen(value);
    if (n > kMaxPinLength + 2) {
        if (scrub) {
            crypto::wipe({reinterpret_cast<std::uint8_t*>(value), n});
            ::unsetenv(name.c_str());
        }
        return fail(Errc::too_large, "PIN in " + source + " is longer than " +
                                         std::to_string(kMaxPinLength) + " bytes");
    }
    Secret buf = Secret::copy_of({reinterpret_cast<const std::uint8_t*>(value), n});
    if (scrub) {
        crypto::wipe({reinterpret_cast<std::uint8_t*>(value), n});
        ::unsetenv(name.c_str());
    }
    const std::size_t len = buf.size();
    return finish(std::move(buf), len, source);
}

crypto::Secret generate_pin(std::size_t random_bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    const crypto::Secret raw = crypto::Secret::random(random_bytes);
    crypto::Secret pin(2 * random_bytes);
    for (std::size_t i = 0; i < raw.size(); ++i) {
        pin.data()[2 * i] = static_cast<std::uint8_t>(kHex[raw.data()[i] >> 4]);
        pin.data()[2 * i + 1] = static_cast<std::uint8_t>(kHex[raw.data()[i] & 0x0f]);
    }
    return pin;
}

}  // namespace enclave::hsm
