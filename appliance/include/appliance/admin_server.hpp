// SPDX-License-Identifier: Apache-2.0
#pragma once
// AdminSocketServer: the admin API over HTTP/1.1 on a Unix stream socket
// (config admin.socket, default DATA_DIR/run/admin.sock). Asio and Beast stay
// in admin_server.cpp.
//
// - The caller's identity comes from the kernel (SO_PEERCRED); its roles
//   from appliance/roles.hpp. Handlers see them in Request::peer.roles.
// - The socket's folder is created when missing, mode 0750 with the socket's
//   group, so that members of that group can reach the socket and nobody else
//   can. An existing folder is left as it is.
// - The socket gets the configured mode (default 0660) and group (default the
//   daemon's primary group); it is bound under umask 0177, so it is never
//   wider than 0600 before chmod.
// - A socket file left by a daemon that died is removed at start, but only
//   when nothing answers on it; when something does (another enclaved),
//   binding fails with already_exists. Files that are not sockets are never
//   removed.
// - The destructor removes the socket file if it is still the one we made.
// Same timeouts and header/body limits as the TCP listeners (admin.limits).
// Holds no secret.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <filesystem>
#include <memory>
#include <string>

#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/http_types.hpp"
#include "appliance/metrics.hpp"
#include "crypto/result.hpp"

namespace boost::asio {
class io_context;
}

namespace enclave::appliance {

struct AdminSocketOptions {
    std::filesystem::path path;  ///< absolute
    std::uint32_t mode = 0660;
    std::string group;  ///< "" = the daemon's primary group
    RoleGroups roles;
    Limits limits;
    std::shared_ptr<const Router> router;
    ListenerMetrics* metrics = nullptr;  ///< required; outlives the server
    EventSink* events = nullptr;         ///< required; outlives the server
    /// The io_context each accepted connection runs on (see
    /// TlsListenerOptions::connection_context). Empty: the server's own.
    std::function<boost::asio::io_context&()> connection_context;
};

class AdminSocketServer {
public:
    /// Prepares the path, binds, listens and sets mode and group. Errors:
    /// already_exists (another daemon answers), invalid_argument (path too
    /// long, not a socket in the way, unknown group), io_error.
    static crypto::Result<std::unique_ptr<AdminSocketServer>> bind(boost::asio::io_context& io,
                                                                   AdminSocketOptions options);
    ~AdminSocketServer();
    AdminSocketServer(const AdminSocketServer&) = delete;
    AdminSocketServer& operator=(const AdminSocketServer&) = delete;

    void start();
    void stop_accepting();
    void drain();
    void abort();

    [[nodiscard]] const std::filesystem::path& path() const noexcept;
    [[nodiscard]] std::uint64_t active_connections() const noexcept;

private:
    struct Impl;
    explicit AdminSocketServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

/// True when a process accepts connections on the Unix socket at `path`.
bool unix_socket_answers(const std::filesystem::path& path);

/// Refuses (already_exists) when another daemon answers on `path`; used
/// before the token login so a second daemon stops early with a clear error.
crypto::Result<void> check_admin_socket_free(const std::filesystem::path& path);

/// The gid of a group name ("" = the caller's effective gid).
crypto::Result<gid_t> resolve_group(const std::string& name);

}  // namespace enclave::appliance
