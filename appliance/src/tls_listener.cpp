// SPDX-License-Identifier: Apache-2.0
// The mutual-TLS listeners (Beast). One of the two translation units that
// include Beast (the other is admin_server.cpp); both instantiate the shared
// HttpSession template from http_session.hpp.
#include "appliance/listener.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/ssl.hpp>

#include "http_session.hpp"
#include "tls_peer.hpp"
#include "appliance/tls_record_sealer.hpp"

namespace enclave::appliance {

namespace detail {
namespace {

namespace ssl = net::ssl;
using tcp = net::ip::tcp;

HandshakeFailure classify(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return HandshakeFailure::timeout;
    if (ec.category() == net::error::get_ssl_category()) {
        return classify_openssl_error(
            static_cast<unsigned long>(static_cast<unsigned int>(ec.value())));
    }
    if (ec == ssl::error::stream_truncated || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::broken_pipe) {
        return HandshakeFailure::closed;
    }
    return HandshakeFailure::other;
}

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto addr = ep.address();
    const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    return host + ":" + std::to_string(ep.port());
}

/// The guard's key for a peer address: the IPv4 address, or the /64 of an
/// IPv6 one (one host usually holds a whole /64: counting single v6
/// addresses would let it fail without end). A v4-mapped v6 address counts
/// as its v4 address.
std::string lockout_source(const net::ip::address& addr) {
    if (addr.is_v4()) return "address " + addr.to_string();
    auto v6 = addr.to_v6();
    if (v6.is_v4_mapped()) {
        return "address " + net::ip::make_address_v4(net::ip::v4_mapped, v6).to_string();
    }
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return "address " + net::ip::address_v6(bytes).to_string() + "/64";
}

class TlsSession final : public HttpSession<TlsSession>,
                         public std::enable_shared_from_this<TlsSession> {
public:
    /// `source`: the guard's key for the peer's address ("address ...").
    TlsSession(tcp::socket&& socket, std::shared_ptr<ssl::context> ctx,
               std::shared_ptr<SessionEnv> env, Peer peer, std::string source)
        : HttpSession(std::move(env), std::move(peer)),
          ctx_(std::move(ctx)),
          stream_(std::move(socket), *ctx_),
          lockout_key_(std::move(source)) {}

    void start() {
        register_self();
        net::dispatch(lowest().get_executor(), [s = shared_from_this()] { s->do_handshake(); });
    }

    beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

    void close_transport() {
        lowest().expires_after(shutdown_timeout(env_->limits));
        stream_.async_shutdown([s = shared_from_this()](beast::error_code) { s->finish(); });
    }

    static constexpr bool kBulkPipeline = true;

    /// On a bulk thread (http_session.hpp, "Bulk pipeline"): `plain` as TLS
    /// records of this connection, into `sealer`.
    RecordSealer::Outcome seal_piece(RecordSealer& sealer, std::span<const std::uint8_t> plain) {
        return sealer.seal(stream_.native_handle(), plain);
    }

    /// Sends records sealed by seal_piece() with one write on the socket.
    template <class Handler>
    void write_sealed(std::span<const std::uint8_t> records, Handler&& handler) {
        net::async_write(lowest(), net::buffer(records.data(), records.size()),
                         std::forward<Handler>(handler));
    }

    /// A streamed body's piece: sealed into records here and sent with one
    /// write on the socket (tls_record_sealer.hpp), or through the SSL
    /// stream when the sealer declines.
    template <class Handler>
    void write_body_piece(net::const_buffer piece, Handler&& handler) {
        const std::span<const std::uint8_t> plain(static_cast<const std::uint8_t*>(piece.data()),
                                                  piece.size());
        switch (sealer_.seal(stream_.native_handle(), plain)) {
            case RecordSealer::Outcome::sealed: {
                const auto records = sealer_.sealed();
                return net::async_write(
                    lowest(), net::buffer(records.data(), records.size()),
                    [h = std::forward<Handler>(handler), n = piece.size()](
                        beast::error_code ec, std::size_t) mutable { h(ec, ec ? 0 : n); });
            }
            case RecordSealer::Outcome::declined:
                return net::async_write(stream_, piece, std::forward<Handler>(handler));
            case RecordSealer::Outcome::failed:
                return net::post(lowest().get_executor(),
                                 [h = std::forward<Handler>(handler)]() mutable {
                                     h(net::error::make_error_code(net::error::connection_aborted),
                                       0);
                                 });
        }
    }

private:
    void do_handshake() {
        if (aborted_) return;
        if (stopping()) return finish();
        lowest().expires_after(env_->limits.handshake_timeout);
        stream_.async_handshake(
            ssl::stream_base::server,
            [s = shared_from_this()](beast::error_code ec) { s->on_handshake(ec); });
    }

    void on_handshake(beast::error_code ec) {
        if (aborted_) return;
        if (ec) {
            if (ec != net::error::operation_aborted) {
                const HandshakeFailure reason = classify(ec);
                env_->metrics->handshake_failed(reason);
                // The certificate a refused peer presented, if it got that
                // far: its fingerprint (never its subject: free text).
                read_peer_certificate(stream_.native_handle(), peer_);
                env_->events->emit(events::TlsHandshakeFailed{
                    env_->listener, reason, peer_.address,
                    monitoring::Fingerprint(peer_.cert_sha256)});
                count_failure(reason);
            }
            return finish();  // no close_notify after a failed handshake
        }
        env_->metrics->handshake_succeeded();
        if (!lockout_key_.empty()) env_->guard->success(lockout_key_);
        read_peer_certificate(stream_.native_handle(), peer_);
        if (env_->roles_of_subject) peer_.roles = env_->roles_of_subject(peer_.cert_subject);
        next_request();
    }

    /// A handshake that failed authentication (no certificate, or one
    /// that does not verify) counts towards the address's lockout; a
    /// scanner's or a broken client's other failures do not.
    void count_failure(HandshakeFailure reason) {
        if (lockout_key_.empty() || (reason != HandshakeFailure::no_client_certificate &&
                                reason != HandshakeFailure::certificate_verify_failed)) {
            return;
        }
        if (env_->guard->failure(lockout_key_, AuthGuard::Clock::now())) {
            env_->events->emit(
                events::AuthLockout{env_->listener, monitoring::Account::parse(lockout_key_),
                                    static_cast<std::uint64_t>(env_->guard->lockout().count())});
        }
    }

    std::shared_ptr<ssl::context> ctx_;  // kept for the stream's lifetime
    beast::ssl_stream<beast::tcp_stream> stream_;
    std::string lockout_key_;
    RecordSealer sealer_;
};

crypto::Result<std::shared_ptr<ssl::context>> adopt_context(hsm::SslCtxPtr ctx) {
    if (!ctx) return crypto::fail(crypto::Errc::internal, "no SSL context");
    // asio::ssl::context's destructor deletes its own callback objects, which
    // it finds in the SSL_CTX's app data and password-callback user data. An
    // SSL_CTX that uses either slot for something else cannot be handed over.
    if (SSL_CTX_get_app_data(ctx.get()) != nullptr ||
        SSL_CTX_get_default_passwd_cb_userdata(ctx.get()) != nullptr) {
        return crypto::fail(crypto::Errc::internal,
                            "the SSL context carries callback data asio would take over");
    }
    return std::make_shared<ssl::context>(ctx.release());  // takes ownership, frees it
}

}  // namespace
}  // namespace detail

using detail::beast::error_code;
namespace net = detail::net;
using tcp = net::ip::tcp;

struct TlsListener::Impl : std::enable_shared_from_this<TlsListener::Impl> {
    /// One thread's wait for connections: an acceptor on that thread's
    /// io_context (its own descriptor of the listening socket) and its
    /// back-off timer.
    struct AcceptLoop {
        explicit AcceptLoop(net::io_context& ctx) : io(ctx), acceptor(ctx), retry(ctx) {}
        net::io_context& io;
        tcp::acceptor acceptor;
        net::steady_timer retry;
    };

    Impl(net::io_context& io_context, TlsListenerOptions o)
        : io(io_context),
          acceptor(net::make_strand(io_context)),
          options(std::move(o)),
          env(std::make_shared<detail::SessionEnv>()) {
        env->listener = options.name;
        env->limits = options.config.limits;
        env->router = options.router;
        env->metrics = options.metrics;
        env->events = options.events;
        env->roles_of_subject = options.roles_of_subject;
        env->bulk = options.bulk;
        env->guard = detail::make_auth_guard(options.config.limits);
    }

    net::io_context& io;
    tcp::acceptor acceptor;  // binds and listens; the loops accept on duplicates of it
    std::vector<std::unique_ptr<AcceptLoop>> loops;
    TlsListenerOptions options;
    std::shared_ptr<detail::SessionEnv> env;
    std::string address;
    std::uint16_t port = 0;
    std::atomic<bool> limit_reported{false};
    mutable std::mutex ctx_mu;
    std::shared_ptr<net::ssl::context> ctx;

    std::shared_ptr<net::ssl::context> current_context() const {
        std::lock_guard lock(ctx_mu);
        return ctx;
    }

    crypto::Result<void> bind() {
        error_code ec;
        const auto addr = net::ip::make_address(options.config.address, ec);
        if (ec) {
            return crypto::fail(crypto::Errc::invalid_argument,
                                "listener " + options.name + ": address is not an IP literal");
        }
        const tcp::endpoint ep(addr, options.config.port);
        const std::string where = "listener " + options.name + ": " + detail::endpoint_text(ep);
        acceptor.open(ep.protocol(), ec);
        if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
        if (!ec && addr.is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
        if (!ec) acceptor.bind(ep, ec);
        if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
        if (ec)
            return crypto::fail(crypto::Errc::io_error, where + ": cannot listen: " + ec.message());
        const auto local = acceptor.local_endpoint(ec);
        if (ec) return crypto::fail(crypto::Errc::io_error, where + ": " + ec.message());
        port = local.port();
        address = detail::endpoint_text(local);
        return share_socket(ep.protocol(), where);
    }

    // Every accept context waits on its own duplicate of the listening
    // descriptor: the kernel wakes the waiting threads and the first to
    // accept() takes the connection, so an idle thread takes it.
    crypto::Result<void> share_socket(const tcp& protocol, const std::string& where) {
        std::vector<net::io_context*> contexts = options.accept_contexts;
        if (contexts.empty()) contexts.push_back(&io);
        for (net::io_context* ctx_of_loop : contexts) {
            if (ctx_of_loop == nullptr) {
                return crypto::fail(crypto::Errc::internal, where + ": no accept context");
            }
            const int fd = ::fcntl(acceptor.native_handle(), F_DUPFD_CLOEXEC, 0);
            if (fd < 0) {
                return crypto::fail(crypto::Errc::io_error,
                                    where + ": cannot share the listening socket: " +
                                        std::system_category().message(errno));
            }
            auto loop = std::make_unique<AcceptLoop>(*ctx_of_loop);
            error_code ec;
            loop->acceptor.assign(protocol, fd, ec);
            if (ec) {
                ::close(fd);
                return crypto::fail(crypto::Errc::io_error, where + ": " + ec.message());
            }
            loops.push_back(std::move(loop));
        }
        return {};
    }

    void start() {
        for (auto& loop : loops) {
            AcceptLoop* l = loop.get();
            net::post(l->io, [self = shared_from_this(), l] { self->accept_on(*l); });
        }
    }

    // The listening socket closes with its last descriptor.
    void close_all() {
        for (auto& loop : loops) {
            AcceptLoop* l = loop.get();
            net::post(l->io, [self = shared_from_this(), l] {
                error_code e;
                l->acceptor.close(e);
                l->retry.cancel();
            });
        }
        net::post(acceptor.get_executor(), [self = shared_from_this()] {
            error_code e;
            self->acceptor.close(e);
        });
    }

    void accept_on(AcceptLoop& l) {
        l.acceptor.async_accept(net::make_strand(l.io),
                                [self = shared_from_this(), &l](error_code ec, tcp::socket socket) {
                                    self->on_accept(ec, std::move(socket), l);
                                });
    }

    void on_accept(error_code ec, tcp::socket socket, AcceptLoop& l) {
        if (ec == net::error::operation_aborted || !l.acceptor.is_open()) return;
        if (ec) {
            log(LogLevel::warning, options.name, "accept failed: " + ec.message());
            // Out of descriptors or memory: back off instead of spinning.
            l.retry.expires_after(std::chrono::milliseconds(100));
            l.retry.async_wait([self = shared_from_this(), &l](error_code w) {
                if (!w) self->accept_on(l);
            });
            return;
        }
        admit(std::move(socket));
        accept_on(l);
    }

    void admit(tcp::socket socket) {
        if (options.metrics->active() >= options.config.limits.max_connections) {
            options.metrics->connection_refused();
            if (!limit_reported.exchange(true)) {
                options.events->emit(events::ConnectionLimitReached{options.name});
            }
            error_code ignored;
            socket.close(ignored);
            return;
        }
        limit_reported.store(false);
        std::string source;
        error_code ec;
        const auto remote = socket.remote_endpoint(ec);
        if (!ec) source = detail::lockout_source(remote.address());
        // A locked address is closed before any handshake work.
        if (!source.empty() && env->guard->locked(source, AuthGuard::Clock::now())) {
            options.metrics->connection_refused();
            error_code ignored;
            socket.close(ignored);
            return;
        }
        // Handshake flights and responses are small writes: without
        // TCP_NODELAY, Nagle waits for the peer's delayed ACK (about 40 ms
        // on Linux) before a flight's last segment.
        error_code nodelay_ec;
        socket.set_option(tcp::no_delay(true), nodelay_ec);
        Peer peer;
        peer.transport = Peer::Transport::tls;
        peer.listener = options.name;
        peer.roles = options.peer_roles;
        if (!ec) peer.address = detail::endpoint_text(remote);
        auto session = std::make_shared<detail::TlsSession>(std::move(socket), current_context(),
                                                            env, std::move(peer), std::move(source));
        session->start();
    }
};

TlsListener::TlsListener(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsListener::~TlsListener() {
    // The acceptors belong to their io_contexts; the Server destroys
    // listeners only after the I/O threads have stopped.
    error_code ignored;
    impl_->acceptor.close(ignored);
    for (auto& loop : impl_->loops) {
        loop->acceptor.close(ignored);
        loop->retry.cancel();
    }
}

crypto::Result<std::unique_ptr<TlsListener>> TlsListener::bind(net::io_context& io,
                                                               TlsListenerOptions options,
                                                               hsm::SslCtxPtr context) {
    if (!options.router || options.metrics == nullptr || options.events == nullptr) {
        return crypto::fail(crypto::Errc::internal,
                            "TlsListener: router, metrics and events are required");
    }
    auto impl = std::make_shared<Impl>(io, std::move(options));
    auto ctx = detail::adopt_context(std::move(context));
    if (!ctx) return tl::unexpected(ctx.error().wrap("listener " + impl->options.name));
    impl->ctx = std::move(*ctx);
    if (auto ok = impl->bind(); !ok) return tl::unexpected(ok.error());
    return std::unique_ptr<TlsListener>(new TlsListener(std::move(impl)));
}

void TlsListener::start() { impl_->start(); }

void TlsListener::stop_accepting() { impl_->close_all(); }

void TlsListener::drain() {
    impl_->env->draining = true;
    impl_->env->registry.for_each([](detail::Connection& c) { c.drain(); });
}

void TlsListener::abort() {
    impl_->env->draining = true;
    impl_->env->registry.for_each([](detail::Connection& c) { c.abort(); });
}

crypto::Result<void> TlsListener::replace_context(hsm::SslCtxPtr context) {
    auto ctx = detail::adopt_context(std::move(context));
    if (!ctx) return tl::unexpected(ctx.error().wrap("listener " + impl_->options.name));
    std::lock_guard lock(impl_->ctx_mu);
    impl_->ctx = std::move(*ctx);
    return {};
}

const std::string& TlsListener::name() const noexcept { return impl_->options.name; }
const std::string& TlsListener::address() const noexcept { return impl_->address; }
std::uint16_t TlsListener::port() const noexcept { return impl_->port; }
std::uint64_t TlsListener::active_connections() const noexcept {
    return impl_->options.metrics->active();
}

}  // namespace enclave::appliance
