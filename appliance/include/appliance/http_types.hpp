// SPDX-License-Identifier: Apache-2.0
#pragma once
// The neutral HTTP vocabulary of the appliance: Request, Response, the caller
// (Peer, with its admin roles) and the Router (method + exact path ->
// handler). Handlers are plain functions over these types, so code that
// serves an endpoint (admin API now; delivery and audit later) never includes
// Beast or Asio. Only the listener translation units convert between these
// and Beast messages.
//
// Holds no secret. A request body may carry sensitive data later (handover
// items); it is never logged.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "appliance/monitoring_fields.hpp"
#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::appliance {

enum class Role : std::uint8_t { security_officer = 1, auditor = 2, operator_ = 4 };

/// A set of admin roles (bit set).
class RoleSet {
public:
    constexpr RoleSet() noexcept = default;
    constexpr RoleSet(std::initializer_list<Role> roles) noexcept {
        for (const Role r : roles) bits_ |= static_cast<std::uint8_t>(r);
    }
    static constexpr RoleSet all() noexcept {
        return {Role::security_officer, Role::auditor, Role::operator_};
    }
    [[nodiscard]] constexpr bool has(Role r) const noexcept {
        return (bits_ & static_cast<std::uint8_t>(r)) != 0;
    }
    [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }
    [[nodiscard]] constexpr bool intersects(RoleSet o) const noexcept {
        return (bits_ & o.bits_) != 0;
    }
    constexpr void add(Role r) noexcept { bits_ |= static_cast<std::uint8_t>(r); }
    friend constexpr bool operator==(RoleSet a, RoleSet b) noexcept = default;
    /// {"security-officer", "auditor", "operator"} for the roles held.
    [[nodiscard]] std::vector<std::string_view> names() const;

private:
    std::uint8_t bits_ = 0;
};

std::string_view role_name(Role r) noexcept;  ///< "security-officer", "auditor", "operator"

/// Who is calling. Filled by the listener from verified facts only: the TLS
/// peer certificate (after verification) or SO_PEERCRED on the Unix socket.
struct Peer {
    enum class Transport { tls, unix_socket };
    Transport transport = Transport::tls;
    std::string listener;                ///< "lea", "ingest", "admin", "admin-tls"
    std::string address;                 ///< "127.0.0.1:50432" (TLS) or "" (Unix)
    std::string cert_subject;            ///< RFC 2253 subject of the verified client certificate
    std::string cert_sha256;             ///< lowercase hex SHA-256 of its DER
    std::string psk_identity;            ///< TLS PSK identity when the peer used a PSK ("" = certificate)
    std::string psk_endpoint;            ///< the LEA endpoint that PSK belongs to
    uid_t uid = static_cast<uid_t>(-1);  ///< Unix socket peers (SO_PEERCRED)
    gid_t gid = static_cast<gid_t>(-1);
    pid_t pid = 0;
    RoleSet roles;  ///< admin roles; empty on LEA/ingest listeners
};

/// Who a peer is for protective monitoring: its uid on the Unix socket,
/// else its verified client certificate, else its address.
monitoring::Account monitoring_account(const Peer& peer);
/// "security-officer+auditor" ("" for none).
std::string roles_text(RoleSet roles);

struct Header {
    std::string name;
    std::string value;
};

struct Request {
    std::string method;  ///< "GET", "POST", ... as sent (case-sensitive, RFC 9110)
    std::string path;    ///< the target before '?'
    std::string query;   ///< the target after '?' ("" when none)
    std::vector<Header> headers;
    std::string body;  ///< empty for a streamed request (the BodySink gets the bytes)
    Peer peer;
    /// The percent-decoded values of the route's "{name}" segments, in order
    /// (set by the Router).
    std::vector<std::string> path_params;

    /// First header with this name (case-insensitive); nullptr when absent.
    [[nodiscard]] const std::string* header(std::string_view name) const noexcept;
};

/// A response body too large to hold in memory (a stored binary), produced
/// piece by piece on the connection's I/O thread while it is being sent.
class ResponseSource {
public:
    virtual ~ResponseSource() = default;
    /// The body's exact length (sent as Content-Length).
    [[nodiscard]] virtual std::uint64_t size() const noexcept = 0;
    /// Writes the next bytes of the body into `out` (at most out.size()) and
    /// returns how many; called until size() bytes came. 0 before the end,
    /// or an error, aborts the connection (the status line is already sent,
    /// so the client sees a short body, never a wrong one).
    virtual crypto::Result<std::size_t> read(crypto::MutableByteView out) = 0;
};

struct Response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<Header> headers;  ///< extra headers (Allow, Retry-After, ...)
    /// When set, the body comes from here instead of `body`.
    std::shared_ptr<ResponseSource> source;

    static Response text(unsigned status, std::string body);
    static Response json(unsigned status, std::string body);
    /// {"error":{"code":"<code>","message":"<message>"}} (message JSON-escaped).
    static Response error(unsigned status, std::string_view code, std::string_view message);
};

/// Sets Request::path and Request::query from a request target as the
/// listener received it ("/v1/x?a=1"): the path is everything before the
/// first '?', the query everything after it ("" when there is none). No
/// decoding and no normalisation (the Router matches the path as sent).
void set_target(Request& req, std::string_view target);

/// The value of query parameter `name` in `query` ("a=1&b=x%20y"),
/// percent-decoded; std::nullopt when absent, when it appears twice, or when
/// its encoding is broken (a bad %XX escape). '+' is not a space here.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

/// Escapes a string for a JSON string literal (quotes not included).
std::string json_escape(std::string_view text);

using Handler = std::function<Response(const Request&)>;

/// Takes a request body too large to hold in memory (uploads), chunk by
/// chunk, on the connection's I/O thread. The listener calls write() for
/// each received chunk, then finish() once the body is complete; when the
/// connection fails first, the sink is destroyed without finish() and must
/// discard what it received.
class BodySink {
public:
    virtual ~BodySink() = default;
    /// The next bytes of the body. A Response stops the upload: it is sent
    /// and the connection is closed.
    virtual std::optional<Response> write(std::string_view chunk) = 0;
    /// The body is complete: the answer.
    virtual Response finish() = 0;
};

/// What a streaming route makes of a request head: a sink for the body, or
/// an immediate answer (a refusal; the body is then not read).
using StreamStart = std::variant<std::unique_ptr<BodySink>, Response>;
using StreamHandler = std::function<StreamStart(const Request& head)>;

/// A streaming route matched for a request head.
struct StreamPlan {
    std::uint64_t max_body_bytes = 0;  ///< the route's own body limit
    StreamStart start;
};

/// Routes by method and path. A route's path is exact, except for segments
/// written "{name}", which match one non-empty segment (percent-decoded into
/// Request::path_params; a decoded value with '/' or NUL does not match). No
/// normalisation and no prefix matching: "/v1/../healthz" is simply an
/// unknown path.
class Router {
public:
    /// Registers a handler. `allowed` empty: any caller that reached the
    /// listener (mutual TLS already verified it); otherwise the caller must
    /// hold at least one of these roles, else 403. A duplicate method+path is
    /// a programming error (std::logic_error).
    void add(std::string method, std::string path, RoleSet allowed, Handler handler);
    /// Registers a streaming route (its body goes to a BodySink, up to
    /// `max_body_bytes`, instead of Request::body).
    void add_stream(std::string method, std::string path, RoleSet allowed,
                    std::uint64_t max_body_bytes, StreamHandler handler);

    /// 404 JSON for an unknown path, 405 (with Allow) for a known path and
    /// another method, 403 for a caller without a required role, 500 when the
    /// handler throws. HEAD is not mapped to GET. A streaming route reached
    /// here (its body already read whole) answers 500: listeners ask
    /// begin_stream() first.
    [[nodiscard]] Response handle(const Request& request) const;

    /// For a request head (no body yet): std::nullopt when it does not target
    /// a streaming route with its method (then read the body and handle());
    /// otherwise the plan: the stream handler's answer, or a 403 for a caller
    /// without a required role. Fills `head.path_params`.
    [[nodiscard]] std::optional<StreamPlan> begin_stream(Request& head) const;

    [[nodiscard]] std::size_t size() const noexcept { return routes_.size(); }

    /// Replaces the handler of the registered, non-streaming route `method`
    /// `path` (the template, as registered) with wrapper(its handler); the
    /// route's roles stay. False when there is no such route (or it streams).
    /// Call before serving (two-person control wraps its guarded routes).
    bool wrap(std::string_view method, std::string_view path,
              const std::function<Handler(Handler)>& wrapper);

    /// A registered route as the role table shows it (GET /v1/roles).
    struct RouteInfo {
        std::string method;
        std::string path;
        RoleSet allowed;  ///< empty: any caller that reached the listener
    };
    /// Every route, in registration order.
    [[nodiscard]] std::vector<RouteInfo> describe() const;

    /// A check run for every request that reached one of this router's
    /// handlers (after the route and role checks, before the handler or the
    /// stream starts): an answer refuses the request with it. The daemon
    /// refuses ingest with 503 this way while the token is unavailable. Set it
    /// before serving; it must be thread-safe and must not throw.
    using Gate = std::function<std::optional<Response>()>;
    void set_gate(Gate gate) { gate_ = std::move(gate); }

private:
    struct Route {
        std::string method;
        std::string path;
        RoleSet allowed;
        Handler handler;
        StreamHandler stream;  ///< set for a streaming route
        std::uint64_t max_body_bytes = 0;
    };
    void add_route(Route route);
    std::vector<Route> routes_;
    Gate gate_;
};

/// Whether `path` matches the route template `pattern` ("/a/{x}/b"); the
/// decoded "{x}" values go to `params` (cleared first).
bool match_route(std::string_view pattern, std::string_view path, std::vector<std::string>& params);

/// Routes every mutual-TLS data listener serves for now: GET /v1/whoami
/// (the verified client certificate's subject and SHA-256 fingerprint).
void add_identity_routes(Router& router);

}  // namespace enclave::appliance
