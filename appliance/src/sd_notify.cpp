// SPDX-License-Identifier: Apache-2.0
#include "appliance/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace enclave::appliance {

crypto::Result<void> sd_notify(std::string_view state) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (env == nullptr || *env == '\0') return {};
    const std::string_view path(env);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path) {
        return crypto::fail(crypto::Errc::invalid_argument,
                            "NOTIFY_SOCKET: not an absolute or abstract socket path");
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                            (path[0] == '@' ? 0 : 1));
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return crypto::fail(crypto::Errc::io_error,
                            std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
    }
    ssize_t sent = 0;
    do {
        sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&addr), len);
    } while (sent < 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (sent != static_cast<ssize_t>(state.size())) {
        return crypto::fail(crypto::Errc::io_error,
                            std::string("NOTIFY_SOCKET: send: ") + std::strerror(err));
    }
    return {};
}

}  // namespace enclave::appliance
