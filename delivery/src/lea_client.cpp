// SPDX-License-Identifier: Apache-2.0
// LeaClient (Beast): the pool, connection set-up, buffered exchanges and
// Model B streaming uploads (see lea_client.hpp for the behaviour). The
// streaming GET is in lea_client_get.cpp; both share lea_client_impl.hpp,
// the only place Asio/Beast are included (compile time).
#include <openssl/x509.h>
#include <poll.h>

#include "crypto/digest.hpp"
#include "crypto/secret.hpp"
#include "hsm/tls_psk.hpp"
#include "lea_client_impl.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using detail::describe;
using detail::is_timeout;
using detail::run_op;

namespace {

Reply to_reply(http::response<http::string_body>&& res) {
    Reply r;
    r.status = res.result_int();
    for (const auto& f : res) {
        r.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    }
    r.body = std::move(res.body());
    return r;
}

/// A pooled connection is stale when the server has said something (close
/// notify, FIN, junk) while it sat idle, or when it sat idle too long.
bool looks_stale(Connection& c, std::chrono::milliseconds idle_timeout) {
    if (Clock::now() - c.last_used > idle_timeout) return true;
    if (c.buffer.size() != 0 || !c.lowest().socket().is_open()) return true;
    pollfd pfd{c.lowest().socket().native_handle(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) != 0;
}

crypto::Result<void> check_options(const LeaClientOptions& o) {
    if (!o.tls) return fail(Errc::invalid_argument, "LEA client: no TLS context");
    if (o.require_psk && o.spki_sha256_pin) {
        return fail(Errc::invalid_argument, "LEA client: a PSK connection has no certificate to pin");
    }
    if (o.spki_sha256_pin && o.spki_sha256_pin->size() != 32) {
        return fail(Errc::invalid_argument, "LEA client: the SPKI pin must be 32 bytes (SHA-256)");
    }
    if (o.max_connections == 0 || o.max_connections > 1024) {
        return fail(Errc::invalid_argument, "LEA client: max_connections must be 1..1024");
    }
    if (o.chunk_size < 1024 || o.chunk_size > 16u * 1024u * 1024u) {
        return fail(Errc::invalid_argument, "LEA client: chunk_size must be 1 KiB..16 MiB");
    }
    if (o.max_header_bytes < 1024 || o.max_header_bytes > 1024u * 1024u ||
        o.max_response_bytes == 0) {
        return fail(Errc::invalid_argument, "LEA client: bad response limits");
    }
    using std::chrono::milliseconds;
    for (milliseconds t : {o.pool_wait_timeout, o.connect_timeout, o.handshake_timeout,
                           o.write_timeout, o.read_timeout, o.continue_timeout}) {
        if (t <= milliseconds::zero()) {
            return fail(Errc::invalid_argument, "LEA client: every timeout must be positive");
        }
    }
    return {};
}

crypto::Result<std::shared_ptr<ssl::context>> adopt_client_context(hsm::SslCtxPtr ctx) {
    // asio::ssl::context's destructor deletes its own callback objects, which
    // it finds in the SSL_CTX's app data and password-callback user data. An
    // SSL_CTX that uses either slot for something else cannot be handed over.
    if (SSL_CTX_get_app_data(ctx.get()) != nullptr ||
        SSL_CTX_get_default_passwd_cb_userdata(ctx.get()) != nullptr) {
        return fail(Errc::internal,
                    "LEA client: the SSL context carries callback data asio would take over");
    }
    return std::make_shared<ssl::context>(ctx.release());  // takes ownership, frees it
}

}  // namespace

ServerIdentityFailure classify_verify_result(long verify_result) noexcept {
    switch (verify_result) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_UNTRUSTED:
            return ServerIdentityFailure::untrusted;
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return ServerIdentityFailure::expired;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return ServerIdentityFailure::not_yet_valid;
        case X509_V_ERR_CERT_REVOKED:
            return ServerIdentityFailure::revoked;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return ServerIdentityFailure::host_mismatch;
        default:
            return ServerIdentityFailure::invalid;
    }
}

// ---- pool -------------------------------------------------------------------

crypto::Result<std::unique_ptr<Connection>> LeaClient::Impl::acquire() {
    std::unique_lock lock(mu);
    const bool ok = cv.wait_for(lock, options.pool_wait_timeout,
                                [&] { return !idle.empty() || total < options.max_connections; });
    if (!ok) {
        return tl::unexpected(
            error(Errc::unavailable, "waiting for a free connection",
                  "all " + std::to_string(options.max_connections) + " connections stayed busy"));
    }
    std::shared_ptr<ssl::context> current = ctx;
    const std::uint64_t gen = generation;
    while (!idle.empty()) {
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        if (!looks_stale(*c, options.idle_timeout)) {
            c->reused = true;
            return c;
        }
        c->close();
        --total;
    }
    ++total;
    lock.unlock();
    auto c = std::make_unique<Connection>(std::move(current), gen);
    auto ok_connect = connect(*c);
    bool checked = false;  // the identity check ran: accepted or refused
    if (ok_connect) {
        ok_connect = handshake(*c);
        if (ok_connect) ok_connect = check_pin(*c);
        checked = ok_connect || c->identity_failure.has_value();
    }
    if (checked && options.on_identity_check) options.on_identity_check(c->identity_failure);
    if (!ok_connect) {
        c->close();
        release(nullptr, false);
        return tl::unexpected(ok_connect.error());
    }
    ++opened;
    c->reused = false;
    return c;
}

void LeaClient::Impl::release(std::unique_ptr<Connection> c, bool keep) {
    if (c && keep) {
        c->last_used = Clock::now();
        std::unique_lock lock(mu);
        // A connection made before replace_tls() presents the old identity:
        // it finishes its exchange but is not reused.
        if (c->generation == generation) {
            idle.push_back(std::move(c));
            lock.unlock();
            cv.notify_one();
            return;
        }
        lock.unlock();
        c->close();
        lock.lock();
        --total;
    } else {
        if (c) c->close();
        std::lock_guard lock(mu);
        --total;
    }
    cv.notify_one();
}

// ---- connection set-up ----------------------------------------------------------

crypto::Result<void> LeaClient::Impl::connect(Connection& c) {
    const auto deadline = Clock::now() + options.connect_timeout;
    tcp::resolver resolver(c.ioc);
    net::steady_timer timer(c.ioc);
    beast::error_code ec = net::error::operation_aborted;
    tcp::resolver::results_type results;
    timer.expires_at(deadline);
    timer.async_wait([&](beast::error_code wait_ec) {
        if (!wait_ec) resolver.cancel();
    });
    resolver.async_resolve(base.host, std::to_string(base.port),
                           [&](beast::error_code r_ec, tcp::resolver::results_type r) {
                               ec = r_ec;
                               results = std::move(r);
                               timer.cancel();
                           });
    c.ioc.restart();
    c.ioc.run();
    if (ec) {
        return tl::unexpected(
            error(Errc::unavailable, "resolve",
                  ec == net::error::operation_aborted ? "timed out" : ec.message()));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    ec = run_op(c, std::max(left, std::chrono::milliseconds(1)),
                [&](auto handler) { c.lowest().async_connect(results, std::move(handler)); });
    if (ec) return tl::unexpected(error(Errc::unavailable, "connect", describe(ec)));
    beast::error_code ignored;
    // Small request headers and 100 Continue exchanges: no Nagle delay.
    c.lowest().socket().set_option(tcp::no_delay(true), ignored);
    return {};
}

crypto::Result<void> LeaClient::Impl::handshake(Connection& c) {
    if (auto ok = hsm::set_expected_host(c.stream.native_handle(), expected_host); !ok) {
        return tl::unexpected(ok.error().wrap(where()));
    }
    const auto ec = run_op(c, options.handshake_timeout, [&](auto handler) {
        c.stream.async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (!ec) return {};
    const long verify = SSL_get_verify_result(c.stream.native_handle());
    if (verify != X509_V_OK) {
        c.identity_failure = classify_verify_result(verify);
        return tl::unexpected(
            error(Errc::integrity_failure, "TLS handshake",
                  std::string("server certificate: ") + X509_verify_cert_error_string(verify)));
    }
    return tl::unexpected(error(Errc::unavailable, "TLS handshake", describe(ec)));
}

crypto::Result<void> LeaClient::Impl::check_pin(Connection& c) {
    if (options.require_psk) {
        if (!hsm::psk_authenticated(c.stream.native_handle())) {
            c.identity_failure = ServerIdentityFailure::psk_not_used;
            return tl::unexpected(error(Errc::integrity_failure, "psk",
                                        "the server did not authenticate with the endpoint's PSK"));
        }
        return {};
    }
    if (!options.spki_sha256_pin) return {};
    X509* cert = SSL_get0_peer_certificate(c.stream.native_handle());
    if (cert == nullptr) {
        c.identity_failure = ServerIdentityFailure::pin_mismatch;
        return tl::unexpected(error(Errc::integrity_failure, "pin", "no server certificate"));
    }
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (len <= 0) {
        return tl::unexpected(
            error(Errc::integrity_failure, "pin", "cannot encode the server key"));
    }
    const crypto::Bytes hash =
        crypto::digest(crypto::HashAlg::sha256, {der, static_cast<std::size_t>(len)});
    OPENSSL_free(der);
    if (!crypto::constant_time_equal(hash, *options.spki_sha256_pin)) {
        c.identity_failure = ServerIdentityFailure::pin_mismatch;
        return tl::unexpected(
            error(Errc::integrity_failure, "pin",
                  "the server key does not match the configured SPKI SHA-256 pin"));
    }
    return {};
}

// ---- simple exchanges ---------------------------------------------------------

crypto::Result<HttpsUrl> LeaClient::Impl::resolve_target(std::string_view url) const {
    auto parsed = parse_https_url(url);
    if (!parsed) return tl::unexpected(parsed.error());
    if (!parsed->same_origin(base)) {
        return fail(Errc::invalid_argument,
                    where() + ": the URL is not on this endpoint's host and port");
    }
    return parsed;
}

crypto::Result<Reply> LeaClient::Impl::exchange(http::verb verb, const std::string& target,
                                                std::string_view content_type,
                                                std::string_view body) {
    return with_retry([&](Connection& c, bool& /*body_started: the body goes with the header*/) {
        return exchange_once(c, verb, target, content_type, body);
    });
}

Outcome LeaClient::Impl::exchange_once(Connection& c, http::verb verb, const std::string& target,
                                       std::string_view content_type, std::string_view body) {
    http::request<http::span_body<const char>> req{verb, target, 11};
    req.set(http::field::host, base.authority());
    req.set(http::field::user_agent, options.user_agent);
    if (verb != http::verb::get) {
        req.set(http::field::content_type, content_type);
        req.body() = {body.data(), body.size()};
    }
    req.keep_alive(true);
    req.prepare_payload();
    const auto ec = run_op(c, options.write_timeout, [&](auto handler) {
        http::async_write(c.stream, req, std::move(handler));
    });
    if (ec) {
        Outcome out;
        out.result = tl::unexpected(error(Errc::unavailable, "write request", describe(ec)));
        out.retry_fresh = !is_timeout(ec);
        return out;
    }
    return read_final(c, false);
}

/// Reads one final response (skipping nothing: callers read 1xx themselves).
Outcome LeaClient::Impl::read_final(Connection& c, bool body_started) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_response_bytes);
    const auto ec = run_op(c, options.read_timeout, [&](auto handler) {
        http::async_read(c.stream, c.buffer, parser, std::move(handler));
    });
    Outcome out;
    if (ec == http::error::body_limit) {
        out.result = tl::unexpected(
            error(Errc::too_large, "read response",
                  "body over " + std::to_string(options.max_response_bytes) + " bytes"));
        return out;
    }
    if (ec) {
        out.result = tl::unexpected(error(Errc::unavailable, "read response", describe(ec)));
        out.retry_fresh = !body_started && !is_timeout(ec) && !parser.got_some();
        return out;
    }
    out.keep = parser.get().keep_alive() && !parser.need_eof();
    out.result = to_reply(parser.release());
    return out;
}

// ---- Model B streaming ----------------------------------------------------------

crypto::Result<Reply> LeaClient::Impl::post_binary(const HttpsUrl& url,
                                                   std::string_view content_type,
                                                   std::uint64_t size, const BodySource& source) {
    return with_retry([&](Connection& c, bool& body_started) {
        return binary_once(c, url, content_type, size, source, body_started);
    });
}

Outcome LeaClient::Impl::binary_once(Connection& c, const HttpsUrl& url,
                                     std::string_view content_type, std::uint64_t size,
                                     const BodySource& source, bool& body_started) {
    http::request<http::buffer_body> req{http::verb::post, url.target, 11};
    req.set(http::field::host, base.authority());
    req.set(http::field::user_agent, options.user_agent);
    req.set(http::field::content_type, content_type);
    req.set(http::field::expect, "100-continue");
    req.content_length(size);
    req.keep_alive(true);
    req.body().data = nullptr;
    req.body().more = true;
    http::request_serializer<http::buffer_body> sr{req};
    auto ec = run_op(c, options.write_timeout, [&](auto handler) {
        http::async_write_header(c.stream, sr, std::move(handler));
    });
    Outcome out;
    if (ec) {
        out.result = tl::unexpected(error(Errc::unavailable, "write request header", describe(ec)));
        out.retry_fresh = !is_timeout(ec);
        return out;
    }
    // 100 Continue, or a final status (then the body is never sent).
    http::response_parser<http::string_body> interim;
    interim.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
    interim.body_limit(options.max_response_bytes);
    ec = run_op(c, options.continue_timeout, [&](auto handler) {
        http::async_read_header(c.stream, c.buffer, interim, std::move(handler));
    });
    if (ec) {
        out.result = tl::unexpected(error(Errc::unavailable, "100 Continue", describe(ec)));
        out.retry_fresh = !is_timeout(ec) && !interim.got_some();
        return out;
    }
    if (interim.get().result() != http::status::continue_) {
        if (!interim.is_done()) {
            ec = run_op(c, options.read_timeout, [&](auto handler) {
                http::async_read(c.stream, c.buffer, interim, std::move(handler));
            });
        }
        if (ec) {
            out.result = tl::unexpected(error(Errc::unavailable, "read response", describe(ec)));
            return out;
        }
        // The request is unfinished (the body was announced): never reuse.
        out.result = to_reply(interim.release());
        return out;
    }
    body_started = true;
    out = send_body(c, sr, req, size, source);
    if (!out.result) return out;
    return read_final(c, true);
}

Outcome LeaClient::Impl::send_body(Connection& c, http::request_serializer<http::buffer_body>& sr,
                                   http::request<http::buffer_body>& req, std::uint64_t size,
                                   const BodySource& source) {
    Outcome out;
    std::vector<std::uint8_t> chunk(static_cast<std::size_t>(
        std::min<std::uint64_t>(options.chunk_size, std::max<std::uint64_t>(size, 1))));
    std::uint64_t remaining = size;
    auto fail_with = [&](crypto::Error e) {
        crypto::wipe(crypto::MutableByteView(chunk));
        out.result = tl::unexpected(std::move(e));
        return out;
    };
    do {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), remaining));
        std::size_t got = 0;
        if (want > 0) {
            auto n = source(crypto::MutableByteView(chunk.data(), want));
            if (!n) return fail_with(n.error().wrap(where() + ": reading the body source"));
            if (*n == 0 || *n > want) {
                return fail_with(error(Errc::invalid_state, "body source",
                                       *n == 0 ? "ended before the declared size"
                                               : "returned more than it was asked for"));
            }
            got = *n;
        }
        remaining -= got;
        req.body().data = got > 0 ? chunk.data() : nullptr;
        req.body().size = got;
        req.body().more = remaining > 0;
        auto ec = run_op(c, options.write_timeout, [&](auto handler) {
            http::async_write(c.stream, sr, std::move(handler));
        });
        if (ec == http::error::need_buffer) ec = {};
        if (ec) return fail_with(error(Errc::unavailable, "write body", describe(ec)));
    } while (remaining > 0);
    crypto::wipe(crypto::MutableByteView(chunk));
    out.result = Reply{};
    return out;
}

// ---- public ------------------------------------------------------------------

std::optional<std::string_view> Reply::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (beast::iequals(h.name, name)) return std::string_view(h.value);
    }
    return std::nullopt;
}

crypto::Result<std::unique_ptr<LeaClient>> LeaClient::create(LeaClientOptions options) {
    auto base = parse_https_url(options.base_url);
    if (!base) return tl::unexpected(base.error().wrap("LEA client base URL"));
    if (auto ok = check_options(options); !ok) return tl::unexpected(ok.error());
    auto ctx = adopt_client_context(std::move(options.tls));
    if (!ctx) return tl::unexpected(ctx.error());
    auto impl = std::make_unique<Impl>();
    impl->base = std::move(*base);
    impl->expected_host = options.expected_host.empty() ? impl->base.host : options.expected_host;
    impl->options = std::move(options);
    impl->ctx = std::move(*ctx);
    return std::unique_ptr<LeaClient>(new LeaClient(std::move(impl)));
}

LeaClient::LeaClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LeaClient::~LeaClient() { close_idle(); }

crypto::Result<Reply> LeaClient::post_xml(std::string_view body) {
    return impl_->exchange(http::verb::post, impl_->base.target, "application/xml", body);
}

crypto::Result<Reply> LeaClient::post(std::string_view url, std::string_view content_type,
                                      std::string_view body) {
    auto target = impl_->resolve_target(url);
    if (!target) return tl::unexpected(target.error());
    return impl_->exchange(http::verb::post, target->target, content_type, body);
}

crypto::Result<Reply> LeaClient::get(std::string_view url) {
    auto target = impl_->resolve_target(url);
    if (!target) return tl::unexpected(target.error());
    return impl_->exchange(http::verb::get, target->target, {}, {});
}

crypto::Result<Reply> LeaClient::post_binary(std::string_view url, std::string_view content_type,
                                             std::uint64_t size, const BodySource& source) {
    auto target = impl_->resolve_target(url);
    if (!target) return tl::unexpected(target.error());
    if (!source) return fail(Errc::invalid_argument, "post_binary: no body source");
    return impl_->post_binary(*target, content_type, size, source);
}

crypto::Result<void> LeaClient::replace_tls(hsm::SslCtxPtr tls) {
    if (!tls) return fail(Errc::invalid_argument, "LEA client: no TLS context");
    auto ctx = adopt_client_context(std::move(tls));
    if (!ctx) return tl::unexpected(ctx.error());
    std::vector<std::unique_ptr<Connection>> drop;
    {
        std::lock_guard lock(impl_->mu);
        impl_->ctx = std::move(*ctx);
        ++impl_->generation;
        drop.swap(impl_->idle);
        impl_->total -= drop.size();
    }
    for (auto& c : drop) c->close();
    impl_->cv.notify_all();
    return {};
}

void LeaClient::close_idle() {
    std::vector<std::unique_ptr<Connection>> drop;
    {
        std::lock_guard lock(impl_->mu);
        drop.swap(impl_->idle);
        impl_->total -= drop.size();
    }
    for (auto& c : drop) c->close();
    impl_->cv.notify_all();
}

LeaClientStats LeaClient::stats() const {
    LeaClientStats s;
    s.connections_opened = impl_->opened.load();
    s.requests = impl_->requests.load();
    s.reused = impl_->reused.load();
    s.retried_stale = impl_->retried.load();
    std::lock_guard lock(impl_->mu);
    s.open_connections = impl_->total;
    return s;
}

const HttpsUrl& LeaClient::base_url() const noexcept { return impl_->base; }

}  // namespace enclave::delivery
