// SPDX-License-Identifier: Apache-2.0
#pragma once
// RangeServer: a small HTTPS/1.1 server for tests of Model A/C fetching
// (RFC 9110 ranges), written directly on OpenSSL over a loopback socket, one
// thread per connection. It serves in-memory objects by path and can be told
// to misbehave: drop the connection part way through a body, answer 5xx,
// ignore Range, send a wrong or malformed Content-Range, send more body than
// declared, send an oversized header, use chunked framing.
//
// The TLS context is the caller's (e.g. hsm::make_server_context: the
// project's policy, client certificates required). Test material only.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "hsm/tls_context.hpp"

namespace enclave::testing {

/// How the server answers; read at the start of each response. Counters
/// (`drops`, `fail_5xx`, `wrong_ranges`) count down per response they affect.
struct RangeServerBehaviour {
    bool honour_range = true;  ///< false: a ranged GET gets 200 and the whole object
    std::string etag = "\"v1\"";  ///< "" = no ETag header; If-Range compares with it
    int drops = 0;                ///< responses to cut short...
    std::size_t drop_after = 0;   ///< ...after this many body bytes (no close_notify)
    int fail_5xx = 0;             ///< the next n requests get 503
    bool chunked = false;         ///< Transfer-Encoding: chunked (200 and 206)
    std::string content_range;    ///< sent instead of the right Content-Range ("" = right)
    int wrong_ranges = 0;         ///< 206 answers that serve (and declare) the range shifted...
    std::uint64_t shift = 1;      ///< ...by this many bytes
    std::size_t extra_body = 0;   ///< junk bytes after a Content-Length body
    std::size_t header_padding = 0;  ///< an X-Pad header this long
    std::size_t send_size = 0;       ///< bytes per SSL_write (0 = 16 KiB)
};

struct RecordedRequest {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;

    /// The first header of that name (case-insensitive), or "".
    [[nodiscard]] std::string header(std::string_view name) const;
};

class RangeServer {
public:
    /// Listens on 127.0.0.1 (any free port) and starts accepting.
    explicit RangeServer(hsm::SslCtxPtr ctx);
    ~RangeServer();  ///< stops: closes every connection, joins every thread
    RangeServer(const RangeServer&) = delete;
    RangeServer& operator=(const RangeServer&) = delete;

    /// Serves `content` at `path` (e.g. "/v1/binaries/abc").
    void put(const std::string& path, std::string content);
    void set(const RangeServerBehaviour& behaviour);
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// "https://127.0.0.1:<port>"
    [[nodiscard]] std::string base_url() const;
    [[nodiscard]] std::vector<RecordedRequest> requests() const;
    [[nodiscard]] std::uint64_t connections() const noexcept { return connections_.load(); }

private:
    void accept_loop();
    void serve(int fd);
    struct Plan;
    Plan plan(const RecordedRequest& req);

    hsm::SslCtxPtr ctx_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> connections_{0};
    mutable std::mutex mu_;
    std::map<std::string, std::string> objects_;
    RangeServerBehaviour behaviour_;
    std::vector<RecordedRequest> requests_;
    std::vector<int> open_fds_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

}  // namespace enclave::testing
