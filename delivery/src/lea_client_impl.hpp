// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private to the LEA client's translation units (lea_client.cpp: pool,
// connection set-up, buffered exchanges, Model B; lea_client_get.cpp:
// streaming GET). The only header of the delivery layer that includes
// Asio/Beast; never installed, never included outside delivery/src.
//
// Each pooled connection owns a one-thread io_context: a blocking call checks
// a connection out of the pool, starts one asynchronous operation with a
// deadline (beast::tcp_stream::expires_after) and runs that io_context on the
// caller's thread until the operation completes. No connection is used by two
// threads at once, so no strand is needed.
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <mutex>

#include "delivery/lea_client.hpp"

namespace enclave::delivery {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {

struct Connection {
    Connection(std::shared_ptr<ssl::context> ctx, std::uint64_t gen)
        : context(std::move(ctx)), generation(gen), stream(ioc, *context) {}
    /// The context this connection was made with: kept alive while the
    /// connection lives, even after replace_tls() installed another one.
    std::shared_ptr<ssl::context> context;
    std::uint64_t generation;  ///< LeaClient::Impl::generation when made
    net::io_context ioc{1};
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    Clock::time_point last_used = Clock::now();
    bool reused = false;
    /// Set by handshake() / check_pin() when they refuse the server's identity.
    std::optional<ServerIdentityFailure> identity_failure;

    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream); }
    void close() {
        beast::error_code ignored;
        lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest().socket().close(ignored);
    }
};

/// Runs one asynchronous operation on the connection's io_context under a
/// deadline. `start` receives the completion handler.
template <class Start>
beast::error_code run_op(Connection& c, std::chrono::milliseconds timeout, Start&& start) {
    beast::error_code result = net::error::operation_aborted;
    c.lowest().expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    c.ioc.restart();
    c.ioc.run();
    c.lowest().expires_never();
    return result;
}

inline bool is_timeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

inline std::string describe(const beast::error_code& ec) {
    if (is_timeout(ec)) return "timed out";
    return ec.message();
}

}  // namespace detail

using detail::Connection;

/// The outcome of one exchange on one connection.
struct Outcome {
    crypto::Result<Reply> result = crypto::fail(crypto::Errc::internal, "no outcome");
    bool keep = false;         ///< the connection may go back to the pool
    bool retry_fresh = false;  ///< failed before any response byte: may resend once
};

struct LeaClient::Impl {
    LeaClientOptions options;
    HttpsUrl base;
    std::string expected_host;
    std::shared_ptr<ssl::context> ctx;  ///< guarded by mu (replace_tls)
    std::uint64_t generation = 0;       ///< guarded by mu; +1 per replace_tls

    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::unique_ptr<Connection>> idle;
    std::size_t total = 0;  // idle + checked out

    std::atomic<std::uint64_t> opened{0}, requests{0}, reused{0}, retried{0};

    std::string where() const { return "LEA " + base.authority(); }
    crypto::Error error(crypto::Errc code, std::string_view phase, const std::string& what) const {
        return crypto::Error(code, where() + ": " + std::string(phase) + ": " + what);
    }

    crypto::Result<std::unique_ptr<Connection>> acquire();
    void release(std::unique_ptr<Connection> c, bool keep);
    crypto::Result<void> connect(Connection& c);
    crypto::Result<void> handshake(Connection& c);
    crypto::Result<void> check_pin(Connection& c);

    crypto::Result<HttpsUrl> resolve_target(std::string_view url) const;
    /// Runs `once(connection, body_started)` on a pooled connection; a reused
    /// connection that failed before any response byte (and before any body
    /// byte went out) is dropped and the exchange sent once more on another.
    template <class Once>
    crypto::Result<Reply> with_retry(Once&& once);
    crypto::Result<Reply> exchange(http::verb verb, const std::string& target,
                                   std::string_view content_type, std::string_view body);
    Outcome exchange_once(Connection& c, http::verb verb, const std::string& target,
                          std::string_view content_type, std::string_view body);
    Outcome read_final(Connection& c, bool body_started);
    crypto::Result<Reply> post_binary(const HttpsUrl& url, std::string_view content_type,
                                      std::uint64_t size, const BodySource& source);
    Outcome binary_once(Connection& c, const HttpsUrl& url, std::string_view content_type,
                        std::uint64_t size, const BodySource& source, bool& body_started);
    Outcome send_body(Connection& c, http::request_serializer<http::buffer_body>& sr,
                      http::request<http::buffer_body>& req, std::uint64_t size,
                      const BodySource& source);

    // ---- streaming GET (lea_client_get.cpp) ----
    crypto::Result<Reply> get_stream(const HttpsUrl& url, http::verb verb,
                                     const std::vector<HttpHeader>& extra,
                                     const HeadHandler& on_head, const BodySink& sink);
    Outcome stream_once(Connection& c, http::verb verb, const std::string& target,
                        const std::vector<HttpHeader>& extra, const HeadHandler& on_head,
                        const BodySink& sink);
    using StreamParser = http::response_parser<http::buffer_body>;
    Outcome read_stream_head(Connection& c, std::optional<StreamParser>& p, bool head_request);
    Outcome read_stream_body(Connection& c, StreamParser& p, const BodySink& sink);
};

template <class Once>
crypto::Result<Reply> LeaClient::Impl::with_retry(Once&& once) {
    for (int attempt = 0;; ++attempt) {
        auto c = acquire();
        if (!c) return tl::unexpected(c.error());
        const bool was_reused = (*c)->reused;
        bool body_started = false;
        Outcome out = once(**c, body_started);
        if (out.retry_fresh && !body_started && was_reused && attempt == 0) {
            release(std::move(*c), false);
            ++retried;
            continue;
        }
        if (was_reused && out.result) ++reused;
        if (out.result) ++requests;
        release(std::move(*c), out.keep);
        return std::move(out.result);
    }
}

}  // namespace enclave::delivery
