// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclavectl input that may hold a value and salt (task files,
// re-verification input): read into a Secret, never echoed.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::ctl::detail {

/// Writes all of `bytes` to `fd` (a file enclavectl made with --out); false
/// on any error.
inline bool write_all(int fd, std::string_view bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

/// Reads `file` ("-" = stdin) whole, at most `max` bytes, into a Secret.
inline crypto::Result<crypto::Secret> read_input(const std::string& file, std::size_t max) {
    const bool stdin_input = file == "-";
    const int fd = stdin_input ? 0 : ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return crypto::fail(errno == ENOENT ? crypto::Errc::not_found : crypto::Errc::io_error,
                            "cannot open " + file + ": " + std::strerror(errno));
    }
    crypto::Secret buf(max + 1);
    std::size_t used = 0;
    while (used < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + used, buf.size() - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            if (!stdin_input) ::close(fd);
            return crypto::fail(crypto::Errc::io_error,
                                "reading " + (stdin_input ? std::string("stdin") : file) + ": " +
                                    std::strerror(err));
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    if (!stdin_input) ::close(fd);
    if (used > max) {
        return crypto::fail(crypto::Errc::too_large,
                            "input over " + std::to_string(max) + " bytes");
    }
    buf.truncate(used);
    return buf;
}

inline std::string_view text_of(const crypto::Secret& s) noexcept {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

/// Overwrites every string in `j` (values revealed by the daemon) before
/// it goes.
inline void wipe_json(nlohmann::json& j) noexcept {
    if (j.is_string()) {
        crypto::wipe(j.get_ref<std::string&>());
    } else if (j.is_structured()) {
        for (auto& item : j) wipe_json(item);
    }
}

}  // namespace enclave::appliance::ctl::detail
