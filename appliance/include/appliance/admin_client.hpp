// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API client used by enclavectl: HTTP/1.1 over the daemon's Unix
// socket (config admin.socket), one request per connection
// ("Connection: close"). Plain blocking sockets with poll() for an overall
// deadline; no Boost, so enclavectl stays small.
//
// Responses are untrusted input (the socket path could be someone else's):
// the whole response is capped (4 MiB by default), header lines, header
// count and chunk sizes are bounded, and anything that is not well-formed
// HTTP/1.x, or JSON where JSON is expected, is malformed_input. Error
// messages from the server are reduced to printable ASCII and truncated.
//
// Holds no secret.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::appliance {

struct HttpResponse {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names in lowercase
    std::string body;                                          ///< de-chunked

    /// The first header called `name` (case-insensitive).
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct AdminClientOptions {
    std::chrono::milliseconds timeout{10'000};         ///< connect + send + whole response
    std::size_t max_response_bytes = 4 * 1024 * 1024;  ///< status line, headers and body
};

class AdminClient {
public:
    explicit AdminClient(std::filesystem::path socket_path, AdminClientOptions options = {});

    /// GET `target` ("/v1/status"). Any HTTP status is a success here.
    /// Errors: unavailable (nothing listens on the socket: see
    /// daemon_not_running), invalid_argument (bad target, socket path too
    /// long), io_error (permission denied, timeout, reset), too_large,
    /// malformed_input.
    [[nodiscard]] crypto::Result<HttpResponse> get(std::string_view target) const;

    /// GET and parse a JSON object body. A non-2xx status is an error whose
    /// context carries the status and the server's {"error":{"code","message"}}
    /// (the Errc is the server's code when it names one, never unavailable).
    [[nodiscard]] crypto::Result<nlohmann::json> get_json(std::string_view target) const;
    /// POST `body` (application/json) to `target`. The body may hold a value
    /// and salt: it is sent from the caller's buffer and never copied or
    /// logged here (the caller wipes it).
    [[nodiscard]] crypto::Result<HttpResponse> post(std::string_view target,
                                                    std::string_view body) const;
    /// POST and parse a JSON object answer, errors as get_json.
    [[nodiscard]] crypto::Result<nlohmann::json> post_json(std::string_view target,
                                                           std::string_view body) const;
    /// One request: "GET" or "POST" (body sent only for POST).
    [[nodiscard]] crypto::Result<HttpResponse> request(std::string_view method,
                                                       std::string_view target,
                                                       std::string_view body) const;

    [[nodiscard]] const std::filesystem::path& socket_path() const noexcept { return socket_path_; }

private:
    std::filesystem::path socket_path_;
    AdminClientOptions options_;
};

/// True when `e` means "nobody listens on the admin socket" (no socket file,
/// or connection refused): the daemon is not running.
bool daemon_not_running(const crypto::Error& e) noexcept;

/// Parses one complete HTTP/1.x response (as read up to end of stream).
/// Exposed for tests. `max_bytes` bounds the decoded body.
crypto::Result<HttpResponse> parse_http_response(std::string_view raw, std::size_t max_bytes);

}  // namespace enclave::appliance
