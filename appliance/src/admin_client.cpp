// SPDX-License-Identifier: Apache-2.0
// The admin client's socket side: connect, send one GET, read the whole
// response within one deadline and one size cap.
#include "appliance/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "admin_client_detail.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kNotRunningPrefix = "cannot connect to ";

class Socket {
public:
    explicit Socket(int fd) noexcept : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_;
};

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits for `events` on fd until the deadline; false on timeout.
Result<bool> wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, remaining_ms(deadline));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return fail(Errc::io_error, std::string("admin API: poll: ") + std::strerror(errno));
        }
        return n > 0;
    }
}

Result<void> connect_to(const Socket& s, const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string& p = path.native();
    if (p.empty() || p.size() >= sizeof(addr.sun_path)) {
        return fail(Errc::invalid_argument, "admin socket path " + p + " is empty or longer than " +
                                                std::to_string(sizeof(addr.sun_path) - 1) +
                                                " bytes");
    }
    std::memcpy(addr.sun_path, p.data(), p.size());
    int rc = 0;
    do {
        rc = ::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return {};
    const int err = errno;
    // No socket file, or a stale one nobody listens on: the daemon is down.
    const Errc code = (err == ENOENT || err == ECONNREFUSED) ? Errc::unavailable : Errc::io_error;
    return fail(code, std::string(kNotRunningPrefix) + p + ": " + std::strerror(err));
}

Result<void> send_all(const Socket& s, std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        auto ready = wait_for(s.get(), POLLOUT, deadline);
        if (!ready) return tl::unexpected(ready.error());
        if (!*ready) return fail(Errc::io_error, "admin API: timed out sending the request");
        const ssize_t n = ::send(s.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            return fail(Errc::io_error, std::string("admin API: send: ") + std::strerror(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

// Reads until end of stream, or until a Content-Length response is complete.
Result<std::string> read_response(const Socket& s, const AdminClientOptions& o,
                                  Clock::time_point deadline) {
    std::string buf;
    std::optional<std::size_t> expected;
    char chunk[16 * 1024];
    for (;;) {
        if (expected && buf.size() >= *expected) break;
        auto ready = wait_for(s.get(), POLLIN, deadline);
        if (!ready) return tl::unexpected(ready.error());
        if (!*ready) {
            return fail(Errc::io_error, "admin API: no complete response within " +
                                            std::to_string(o.timeout.count()) + " ms");
        }
        const ssize_t n = ::recv(s.get(), chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {
            return fail(Errc::io_error, std::string("admin API: recv: ") + std::strerror(errno));
        }
        if (n == 0) break;
        if (buf.size() + static_cast<std::size_t>(n) > o.max_response_bytes) {
            return fail(Errc::too_large, "admin API: response over " +
                                             std::to_string(o.max_response_bytes) + " bytes");
        }
        const bool had_head = buf.find("\r\n\r\n") != std::string::npos;
        buf.append(chunk, static_cast<std::size_t>(n));
        if (!had_head && buf.find("\r\n\r\n") != std::string::npos) {
            expected = detail::http_expected_length(buf);
        }
    }
    return buf;
}

std::string printable(std::string_view s, std::size_t max) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out;
}

Errc errc_from_name(std::string_view name) {
    for (int i = 0; i <= static_cast<int>(Errc::internal); ++i) {
        const auto code = static_cast<Errc>(i);
        if (crypto::errc_name(code) == name && code != Errc::unavailable) return code;
    }
    return Errc::io_error;
}

}  // namespace

AdminClient::AdminClient(std::filesystem::path socket_path, AdminClientOptions options)
    : socket_path_(std::move(socket_path)), options_(options) {}

Result<HttpResponse> AdminClient::get(std::string_view target) const {
    return request("GET", target, {});
}

Result<HttpResponse> AdminClient::post(std::string_view target, std::string_view body) const {
    return request("POST", target, body);
}

Result<HttpResponse> AdminClient::request(std::string_view method, std::string_view target,
                                          std::string_view body) const {
    if (target.empty() || target.front() != '/' || target.size() > 1024 ||
        !std::all_of(target.begin(), target.end(),
                     [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
        return fail(Errc::invalid_argument, "admin API: bad request target");
    }
    if (method != "GET" && method != "POST") {
        return fail(Errc::invalid_argument, "admin API: unsupported method");
    }
    const auto deadline = Clock::now() + options_.timeout;
    Socket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) {
        return fail(Errc::io_error, std::string("admin API: socket: ") + std::strerror(errno));
    }
    if (auto ok = connect_to(s, socket_path_); !ok) return tl::unexpected(ok.error());
    std::string head = std::string(method) + " " + std::string(target) +
                       " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                       "Connection: close\r\n";
    if (method == "POST") {
        head += "Content-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n";
    }
    head += "\r\n";
    // The body may carry a value and salt (task intake, re-verification):
    // it is sent straight from the caller's buffer, never copied here.
    auto sent = send_all(s, head, deadline);
    if (sent && !body.empty()) sent = send_all(s, body, deadline);
    if (!sent) return tl::unexpected(sent.error());
    auto raw = read_response(s, options_, deadline);
    if (!raw) return tl::unexpected(raw.error());
    const std::string what = std::string(method) + " " + std::string(target);
    auto parsed = parse_http_response(*raw, options_.max_response_bytes);
    if (!parsed) return tl::unexpected(parsed.error().wrap(what));
    return parsed;
}

namespace {

Result<nlohmann::json> json_of(Result<HttpResponse> r, const std::string& what) {
    if (!r) return tl::unexpected(r.error());
    nlohmann::json body = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    // The raw answer may carry a revealed value; the caller keeps only `body`.
    crypto::wipe(r->body);
    if (r->status < 200 || r->status > 299) {
        std::string code = "error";
        std::string message;
        if (body.is_object() && body.contains("error") && body["error"].is_object()) {
            const auto& e = body["error"];
            if (e.contains("code") && e["code"].is_string()) code = e["code"].get<std::string>();
            if (e.contains("message") && e["message"].is_string()) {
                message = e["message"].get<std::string>();
            }
        }
        return fail(errc_from_name(code),
                    what + ": HTTP " + std::to_string(r->status) + " (" + printable(code, 40) +
                        ")" + (message.empty() ? "" : ": " + printable(message, 200)));
    }
    if (body.is_discarded()) {
        return fail(Errc::malformed_input, what + ": response body is not JSON");
    }
    if (!body.is_object()) {
        return fail(Errc::malformed_input, what + ": response body is not a JSON object");
    }
    return body;
}

}  // namespace

Result<nlohmann::json> AdminClient::get_json(std::string_view target) const {
    return json_of(get(target), "GET " + std::string(target));
}

Result<nlohmann::json> AdminClient::post_json(std::string_view target,
                                              std::string_view body) const {
    return json_of(post(target, body), "POST " + std::string(target));
}

bool daemon_not_running(const crypto::Error& e) noexcept {
    return e.code() == Errc::unavailable && e.context().rfind(kNotRunningPrefix, 0) == 0;
}

}  // namespace enclave::appliance
