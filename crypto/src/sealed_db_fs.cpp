// SPDX-License-Identifier: Apache-2.0
#include "sealed_db_fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace enclave::crypto::detail {

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

Result<void> UniqueFd::close() {
    if (fd_ < 0) {
        return {};
    }
    const int rc = ::close(fd_);
    const int err = errno;
    fd_ = -1;
    if (rc != 0) {
        return fail(Errc::io_error, std::string("close failed: ") + std::strerror(err));
    }
    return {};
}

std::string errno_context(const std::string& what, const std::filesystem::path& path, int err) {
    return what + " " + path.string() + ": " + std::strerror(err);
}

Result<UniqueFd> open_regular_readonly(const std::filesystem::path& path, std::string_view what) {
    const std::string label(what);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        const int err = errno;
        if (err == ENOENT) {
            return fail(Errc::not_found, label + " " + path.string() + " does not exist");
        }
        if (err == ELOOP) {
            return fail(Errc::malformed_input,
                        label + " " + path.string() + " is a symbolic link (refused, not followed)");
        }
        return fail(Errc::io_error, errno_context("cannot open " + label, path, err));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return fail(Errc::io_error, errno_context("cannot stat " + label, path, errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::malformed_input, label + " " + path.string() + " is not a regular file");
    }
    return fd;
}

Result<std::size_t> file_size(const UniqueFd& fd, const std::filesystem::path& path) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return fail(Errc::io_error, errno_context("cannot stat", path, errno));
    }
    return static_cast<std::size_t>(st.st_size);
}

Result<Bytes> read_prefix(const UniqueFd& fd, std::size_t max, const std::filesystem::path& path) {
    Bytes out(max);
    std::size_t got = 0;
    while (got < max) {
        const ssize_t n = ::pread(fd.get(), out.data() + got, max - got, static_cast<off_t>(got));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(Errc::io_error, errno_context("cannot read", path, errno));
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

Result<UniqueFd> create_exclusive(const std::filesystem::path& path, std::string_view what) {
    const std::string label(what);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) {
        const int err = errno;
        if (err == EEXIST) {
            return fail(Errc::already_exists,
                        label + " " + path.string() + " already exists (refusing to overwrite it)");
        }
        return fail(Errc::io_error, errno_context("cannot create " + label, path, err));
    }
    // The umask may only narrow the mode; make sure it is exactly 0600.
    if (::fchmod(fd.get(), 0600) != 0) {
        const int err = errno;
        ::unlink(path.c_str());
        return fail(Errc::io_error, errno_context("cannot chmod " + label, path, err));
    }
    return fd;
}

Result<void> write_all_and_sync(const UniqueFd& fd, ByteView bytes, const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(Errc::io_error, errno_context("cannot write", path, errno));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
        return fail(Errc::io_error, errno_context("cannot fsync", path, errno));
    }
    return {};
}

Result<void> sync_parent_dir(const std::filesystem::path& path) {
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        return fail(Errc::io_error, errno_context("cannot open directory", dir, errno));
    }
    if (::fsync(fd.get()) != 0) {
        return fail(Errc::io_error, errno_context("cannot fsync directory", dir, errno));
    }
    return {};
}

bool path_exists(const std::filesystem::path& path) noexcept {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 || errno != ENOENT;
}

}  // namespace enclave::crypto::detail
