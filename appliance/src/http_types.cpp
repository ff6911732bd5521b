// SPDX-License-Identifier: Apache-2.0
#include "appliance/http_types.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "appliance/log.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        const auto lx = static_cast<unsigned char>(x >= 'A' && x <= 'Z' ? x + 32 : x);
        const auto ly = static_cast<unsigned char>(y >= 'A' && y <= 'Z' ? y + 32 : y);
        return lx == ly;
    });
}

}  // namespace

std::string_view role_name(Role r) noexcept {
    switch (r) {
        case Role::security_officer:
            return "security-officer";
        case Role::auditor:
            return "auditor";
        case Role::operator_:
            return "operator";
    }
    return "unknown";
}

std::vector<std::string_view> RoleSet::names() const {
    std::vector<std::string_view> out;
    for (const Role r : {Role::security_officer, Role::auditor, Role::operator_}) {
        if (has(r)) out.push_back(role_name(r));
    }
    return out;
}

const std::string* Request::header(std::string_view name) const noexcept {
    for (const auto& h : headers) {
        if (iequals(h.name, name)) return &h.value;
    }
    return nullptr;
}

Response Response::text(unsigned status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
}

Response Response::json(unsigned status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

Response Response::error(unsigned status, std::string_view code, std::string_view message) {
    std::string body = R"({"error":{"code":")";
    body += json_escape(code);
    body += R"(","message":")";
    body += json_escape(message);
    body += "\"}}";
    return json(status, std::move(body));
}

monitoring::Account monitoring_account(const Peer& peer) {
    if (peer.transport == Peer::Transport::unix_socket) return monitoring::Account::of_uid(peer.uid);
    if (!peer.cert_sha256.empty()) return monitoring::Account::of_certificate(peer.cert_sha256);
    const auto colon = peer.address.rfind(':');
    std::string ip = peer.address.substr(0, colon == std::string::npos ? peer.address.size() : colon);
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    return monitoring::Account::of_address(ip);
}

std::string roles_text(RoleSet roles) {
    std::string out;
    for (const std::string_view name : roles.names()) {
        if (!out.empty()) out += '+';
        out.append(name);
    }
    return out;
}

std::string json_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20 || u == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", u);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

void Router::add(std::string method, std::string path, RoleSet allowed, Handler handler) {
    add_route({std::move(method), std::move(path), allowed, std::move(handler), {}, 0});
}

void Router::add_stream(std::string method, std::string path, RoleSet allowed,
                        std::uint64_t max_body_bytes, StreamHandler handler) {
    add_route({std::move(method), std::move(path), allowed, {}, std::move(handler), max_body_bytes});
}

std::vector<Router::RouteInfo> Router::describe() const {
    std::vector<RouteInfo> out;
    out.reserve(routes_.size());
    for (const auto& r : routes_) out.push_back({r.method, r.path, r.allowed});
    return out;
}

bool Router::wrap(std::string_view method, std::string_view path,
                  const std::function<Handler(Handler)>& wrapper) {
    for (auto& r : routes_) {
        if (r.method != method || r.path != path) continue;
        if (!r.handler) return false;
        r.handler = wrapper(std::move(r.handler));
        return true;
    }
    return false;
}

void Router::add_route(Route route) {
    for (const auto& r : routes_) {
        if (r.method == route.method && r.path == route.path) {
            throw std::logic_error("Router: duplicate route " + route.method + " " + route.path);
        }
    }
    routes_.push_back(std::move(route));
}

Response Router::handle(const Request& request) const {
    std::string allow;
    std::vector<std::string> params;
    for (const auto& r : routes_) {
        if (!match_route(r.path, request.path, params)) continue;
        if (r.method != request.method) {
            if (!allow.empty()) allow += ", ";
            allow += r.method;
            continue;
        }
        if (!r.allowed.empty() && !r.allowed.intersects(request.peer.roles)) {
            return Response::error(403, "forbidden", "the caller holds no role allowed here");
        }
        if (gate_) {
            if (auto refused = gate_()) return std::move(*refused);
        }
        if (!r.handler) {
            log(LogLevel::error, "http", "streaming route " + r.path + " reached without a stream");
            return Response::error(500, "internal", "internal error");
        }
        try {
            if (params.empty()) return r.handler(request);
            // The copy carries the body too, which may hold a secret (the
            // session wipes its own request; this copy is wiped here).
            Request with_params = request;
            with_params.path_params = std::move(params);
            struct WipeBody {
                std::string& body;
                ~WipeBody() { crypto::wipe(body); }
            } wipe_body{with_params.body};
            return r.handler(with_params);
        } catch (const std::exception& e) {
            log(LogLevel::error, "http", "handler for " + r.path + " failed: " + e.what());
        } catch (...) {
            log(LogLevel::error, "http", "handler for " + r.path + " failed");
        }
        return Response::error(500, "internal", "internal error");
    }
    if (!allow.empty()) {
        Response res = Response::error(405, "method_not_allowed", "method not allowed here");
        res.headers.push_back({"Allow", allow});
        return res;
    }
    return Response::error(404, "not_found", "no such resource");
}

std::optional<StreamPlan> Router::begin_stream(Request& head) const {
    std::vector<std::string> params;
    for (const auto& r : routes_) {
        if (!r.stream || r.method != head.method || !match_route(r.path, head.path, params)) {
            continue;
        }
        if (!r.allowed.empty() && !r.allowed.intersects(head.peer.roles)) {
            return StreamPlan{0, Response::error(403, "forbidden",
                                                 "the caller holds no role allowed here")};
        }
        if (gate_) {
            if (auto refused = gate_()) return StreamPlan{0, std::move(*refused)};
        }
        head.path_params = std::move(params);
        try {
            return StreamPlan{r.max_body_bytes, r.stream(head)};
        } catch (const std::exception& e) {
            log(LogLevel::error, "http", "stream handler for " + r.path + " failed: " + e.what());
        } catch (...) {
            log(LogLevel::error, "http", "stream handler for " + r.path + " failed");
        }
        return StreamPlan{0, Response::error(500, "internal", "internal error")};
    }
    return std::nullopt;
}

void add_identity_routes(Router& router) {
    router.add("GET", "/v1/whoami", RoleSet{}, [](const Request& req) {
        std::string body = R"({"listener":")" + json_escape(req.peer.listener) +
                           R"(","subject":")" + json_escape(req.peer.cert_subject) +
                           R"(","sha256":")" + json_escape(req.peer.cert_sha256) +
                           R"(","psk_identity":")" + json_escape(req.peer.psk_identity) +
                           R"(","psk_endpoint":")" + json_escape(req.peer.psk_endpoint) + "\"}";
        return Response::json(200, std::move(body));
    });
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

}  // namespace

bool match_route(std::string_view pattern, std::string_view path,
                 std::vector<std::string>& params) {
    params.clear();
    if (pattern.find('{') == std::string_view::npos) return pattern == path;
    while (!pattern.empty() || !path.empty()) {
        if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        const std::string_view pseg = pattern.substr(0, pattern.find('/'));
        const std::string_view seg = path.substr(0, path.find('/'));
        pattern.remove_prefix(pseg.size());
        path.remove_prefix(seg.size());
        if (pseg.size() >= 2 && pseg.front() == '{' && pseg.back() == '}') {
            auto value = percent_decode(seg);
            if (seg.empty() || !value || value->find('/') != std::string::npos ||
                value->find('\0') != std::string::npos) {
                return false;
            }
            params.push_back(std::move(*value));
        } else if (pseg != seg) {
            return false;
        }
    }
    return true;
}

void set_target(Request& req, std::string_view target) {
    const auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    req.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
    std::optional<std::string> found;
    bool seen = false;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        if (seen) return std::nullopt;
        seen = true;
        found = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!found) return std::nullopt;
    }
    return found;
}

}  // namespace enclave::appliance
