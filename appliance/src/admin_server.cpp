// SPDX-License-Identifier: Apache-2.0
// The admin API on a Unix socket (Beast over asio::local::stream_protocol).
#include "appliance/admin_server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "appliance/roles.hpp"
#include "http_session.hpp"
#include "socket_file.hpp"

namespace enclave::appliance {

namespace detail {
namespace {

using local = net::local::stream_protocol;
using UnixStream = beast::basic_stream<local>;

class UnixSession final : public HttpSession<UnixSession>,
                          public std::enable_shared_from_this<UnixSession> {
public:
    /// Admin answers are small: their bodies stream on the I/O thread.
    static constexpr bool kBulkPipeline = false;

    UnixSession(local::socket&& socket, std::shared_ptr<SessionEnv> env, Peer peer)
        : HttpSession(std::move(env), std::move(peer)), stream_(std::move(socket)) {}

    void start() {
        register_self();
        net::dispatch(stream_.get_executor(), [s = shared_from_this()] { s->next_request(); });
    }

    UnixStream& stream() { return stream_; }
    UnixStream& lowest() { return stream_; }

    void close_transport() {
        beast::error_code ignored;
        stream_.socket().shutdown(local::socket::shutdown_send, ignored);
        finish();
    }

    template <class Handler>
    void write_body_piece(net::const_buffer piece, Handler&& handler) {
        net::async_write(stream_, piece, std::forward<Handler>(handler));
    }

private:
    UnixStream stream_;
};

// The kernel's word on who connected; nothing the peer sends counts.
Peer unix_peer(local::socket& socket, const RoleGroups& groups) {
    Peer peer;
    peer.transport = Peer::Transport::unix_socket;
    peer.listener = "admin";
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
        len == sizeof cred) {
        peer.uid = cred.uid;
        peer.gid = cred.gid;
        peer.pid = cred.pid;
        peer.roles = roles_for_uid(cred.uid, ::geteuid(), groups);
    }
    return peer;
}

}  // namespace
}  // namespace detail

using detail::beast::error_code;
namespace net = detail::net;
using local = net::local::stream_protocol;

struct AdminSocketServer::Impl : std::enable_shared_from_this<AdminSocketServer::Impl> {
    Impl(net::io_context& io_context, AdminSocketOptions o)
        : io(io_context),
          acceptor(net::make_strand(io_context)),
          retry(acceptor.get_executor()),
          options(std::move(o)),
          env(std::make_shared<detail::SessionEnv>()) {
        env->listener = "admin";
        env->limits = options.limits;
        env->router = options.router;
        env->metrics = options.metrics;
        env->events = options.events;
        env->guard = detail::make_auth_guard(options.limits);
    }

    net::io_context& io;
    local::acceptor acceptor;
    net::steady_timer retry;
    AdminSocketOptions options;
    std::shared_ptr<detail::SessionEnv> env;
    detail::SocketIdentity identity;
    bool bound = false;

    crypto::Result<void> bind() {
        auto gid = resolve_group(options.group);
        if (!gid) return tl::unexpected(gid.error());
        if (auto ok = detail::prepare_socket_path(options.path, *gid, options.mode); !ok) return ok;
        error_code ec;
        {
            const detail::ScopedUmask umask(0177);
            acceptor.open(local(), ec);
            if (!ec) acceptor.bind(local::endpoint(options.path.string()), ec);
        }
        if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (ec) {
            return crypto::fail(
                crypto::Errc::io_error,
                "admin.socket: cannot listen on " + options.path.string() + ": " + ec.message());
        }
        bound = true;
        identity = detail::socket_identity(options.path);
        return detail::apply_socket_permissions(options.path, options.mode, *gid);
    }

    void do_accept() {
        net::io_context& target = options.connection_context ? options.connection_context() : io;
        acceptor.async_accept(net::make_strand(target),
                              [self = shared_from_this()](error_code ec, local::socket socket) {
                                  self->on_accept(ec, std::move(socket));
                              });
    }

    void on_accept(error_code ec, local::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
            log(LogLevel::warning, "admin", "accept failed: " + ec.message());
            retry.expires_after(std::chrono::milliseconds(100));
            retry.async_wait([self = shared_from_this()](error_code wait_ec) {
                if (!wait_ec) self->do_accept();
            });
            return;
        }
        if (options.metrics->active() >= options.limits.max_connections) {
            options.metrics->connection_refused();
            error_code ignored;
            socket.close(ignored);
        } else {
            Peer peer = detail::unix_peer(socket, options.roles);
            auto session =
                std::make_shared<detail::UnixSession>(std::move(socket), env, std::move(peer));
            session->start();
        }
        do_accept();
    }
};

AdminSocketServer::AdminSocketServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminSocketServer::~AdminSocketServer() {
    error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->retry.cancel();
    if (impl_->bound) detail::remove_socket_if_ours(impl_->options.path, impl_->identity);
}

crypto::Result<std::unique_ptr<AdminSocketServer>> AdminSocketServer::bind(
    net::io_context& io, AdminSocketOptions options) {
    if (!options.router || options.metrics == nullptr || options.events == nullptr) {
        return crypto::fail(crypto::Errc::internal,
                            "AdminSocketServer: router, metrics and events are required");
    }
    auto impl = std::make_shared<Impl>(io, std::move(options));
    auto ok = impl->bind();
    std::unique_ptr<AdminSocketServer> server(new AdminSocketServer(impl));
    if (!ok) return tl::unexpected(ok.error());  // the destructor removes a half-made socket
    return server;
}

void AdminSocketServer::start() {
    net::post(impl_->acceptor.get_executor(), [impl = impl_] { impl->do_accept(); });
}

void AdminSocketServer::stop_accepting() {
    net::post(impl_->acceptor.get_executor(), [impl = impl_] {
        error_code ignored;
        impl->acceptor.close(ignored);
        impl->retry.cancel();
    });
}

void AdminSocketServer::drain() {
    impl_->env->draining = true;
    impl_->env->registry.for_each([](detail::Connection& c) { c.drain(); });
}

void AdminSocketServer::abort() {
    impl_->env->draining = true;
    impl_->env->registry.for_each([](detail::Connection& c) { c.abort(); });
}

const std::filesystem::path& AdminSocketServer::path() const noexcept {
    return impl_->options.path;
}

std::uint64_t AdminSocketServer::active_connections() const noexcept {
    return impl_->options.metrics->active();
}

}  // namespace enclave::appliance
