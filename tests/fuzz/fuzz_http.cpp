// SPDX-License-Identifier: Apache-2.0
// What the appliance itself makes of an HTTP request once Beast has read it
// (http_session.hpp hands us the method, the target and the header fields;
// Beast's own parser, with our header and body limits, is not ours to fuzz):
//  - http_request: set_target (path / query), Request::header, query_param,
//    match_route and the Router (begin_stream, then handle) over the
//    appliance's real route templates, and valid_media_type on
//    Content-Type. Input layout, as text: "METHOD TARGET\n", then header
//    lines "Name: value\n" up to an empty line. Nothing here includes Beast
//    or Asio.
//  - admin_json: the admin API's JSON request bodies, each parsed as its
//    route does: POST /v1/tasks (audit::parse_task), POST /v1/endpoints
//    (endpoint_from_json), POST /v1/reverify (audit::parse_reverify_input),
//    POST /v1/psks, /v1/psk/rotate, /v1/psk/revoke (detail::parse_psk_*).
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../appliance/src/delivery_services_impl.hpp"
#include "../../appliance/src/psk_body.hpp"
#include "appliance/endpoint_store.hpp"
#include "appliance/http_types.hpp"
#include "audit/task.hpp"
#include "fuzz_harness.hpp"

using namespace enclave;
using namespace enclave::fuzz;

namespace {

constexpr const char* kHttp = "http_request";

struct RouteSpec {
    const char* method;
    const char* path;
    bool stream;
};

// The appliance's route templates (appliance/src/*_routes.cpp, admin_api.cpp,
// server.cpp), every listener's in one router: the matching rules do not
// depend on the listener.
constexpr std::array<RouteSpec, 43> kRoutes = {{
    {"GET", "/healthz", false},
    {"GET", "/readyz", false},
    {"GET", "/metrics", false},
    {"GET", "/v1/whoami", false},
    {"GET", "/v1/status", false},
    {"GET", "/v1/roles", false},
    {"GET", "/v1/hsm/status", false},
    {"GET", "/v1/tasks", false},
    {"POST", "/v1/tasks", false},
    {"GET", "/v1/task", false},
    {"POST", "/v1/task/close", false},
    {"POST", "/v1/task/reveal", false},
    {"GET", "/v1/review", false},
    {"POST", "/v1/review/discard", false},
    {"POST", "/v1/reverify", false},
    {"GET", "/v1/endpoints", false},
    {"POST", "/v1/endpoints", false},
    {"GET", "/v1/endpoint", false},
    {"POST", "/v1/endpoint/remove", false},
    {"GET", "/v1/psks", false},
    {"POST", "/v1/psks", false},
    {"POST", "/v1/psk/rotate", false},
    {"POST", "/v1/psk/revoke", false},
    {"GET", "/v1/audit/checkpoint", false},
    {"POST", "/v1/audit/checkpoint", false},
    {"GET", "/v1/audit/checkpoints", false},
    {"GET", "/v1/audit/entries", false},
    {"GET", "/v1/audit/key", false},
    {"GET", "/v1/audit/proof/consistency", false},
    {"GET", "/v1/audit/proof/inclusion", false},
    {"GET", "/v1/audit/review", false},
    {"POST", "/v1/audit/review/discard", false},
    {"POST", "/v1/audit/reverify", false},
    {"GET", "/v1/archive/status", false},
    {"POST", "/v1/archive/seal", false},
    {"POST", "/v1/archive/renew", false},
    {"POST", "/v1/archive/ltap", true},
    {"POST", "/ltap", true},
    {"POST", "/hi1/v1", false},
    {"GET", "/v1/binaries/{token}", false},
    {"HEAD", "/v1/binaries/{token}", false},
    {"POST", "/ingest/v1/tasks/{reference}/items", false},
    {"PUT", "/ingest/v1/blobs", true},
}};

// Every query parameter and header field some route reads.
constexpr std::array<const char*, 13> kQueryNames = {"reference", "name",  "kind", "digest", "id",
                                                     "count",     "field", "first", "index", "new",
                                                     "old",       "size",  "x"};
constexpr std::array<const char*, 6> kHeaderNames = {"Content-Type", "Content-Encoding", "Range",
                                                     "If-Range",     "Idempotency-Key",  "Host"};

/// The stand-in role rule: admin routes need a role, the data listeners' not.
bool needs_role(std::string_view path) {
    return path.substr(0, 4) == "/v1/" && path != "/v1/whoami" && path.substr(0, 13) != "/v1/binaries/";
}

std::size_t template_params(std::string_view pattern) {
    return static_cast<std::size_t>(std::count(pattern.begin(), pattern.end(), '{'));
}

bool unreserved(unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

/// An independent decoder to compare query_param with.
std::optional<std::string> reference_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (text.size() - i < 3 || std::isxdigit(static_cast<unsigned char>(text[i + 1])) == 0 ||
            std::isxdigit(static_cast<unsigned char>(text[i + 2])) == 0) {
            return std::nullopt;
        }
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
    }
    return out;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// "METHOD TARGET\nName: value\n...\n\n" into a Request (path and query by
/// set_target, as the session does).
appliance::Request read_request(std::string_view text) {
    appliance::Request req;
    auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    const auto sp = line.find(' ');
    req.method = std::string(line.substr(0, sp));
    const std::string_view target = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    appliance::set_target(req, target);
    const bool has_q = target.find('?') != std::string_view::npos;
    fuzz_require(req.path.find('?') == std::string::npos, kHttp, "a path with '?'");
    fuzz_require((has_q ? req.path + "?" + req.query : req.path) == target && (has_q || req.query.empty()),
                 kHttp, "set_target lost or moved bytes of the target");
    while (!text.empty() && req.headers.size() < 64) {
        nl = text.find('\n');
        const std::string_view field = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (field.empty()) break;
        const auto colon = field.find(':');
        req.headers.push_back({std::string(field.substr(0, colon)),
                               colon == std::string_view::npos ? std::string() : std::string(trim(field.substr(colon + 1)))});
    }
    return req;
}

void check_headers(const appliance::Request& req) {
    for (const char* name : kHeaderNames) {
        const std::string* got = req.header(name);
        const std::string* want = nullptr;
        for (const auto& h : req.headers) {
            if (ascii_iequals(h.name, name)) {
                want = &h.value;
                break;
            }
        }
        fuzz_require(got == want, kHttp, "Request::header is not the first field with that name");
    }
    if (const std::string* type = req.header("Content-Type"); type != nullptr) {
        if (appliance::detail::valid_media_type(*type)) {
            fuzz_require(type->size() <= 255 && type->find('/') != std::string::npos &&
                             std::none_of(type->begin(), type->end(),
                                          [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }),
                         kHttp, "valid_media_type accepted a control character or no type/subtype");
        }
    }
}

void check_query_name(std::string_view query, std::string_view name) {
    const auto got = appliance::query_param(query, name);
    // The reference: exactly one pair with this name, whose value decodes.
    std::size_t count = 0;
    std::optional<std::string> want;
    std::string_view rest = query;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        ++count;
        want = reference_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    }
    if (count != 1) want.reset();
    fuzz_require(got == want, kHttp, "query_param differs from the reference decoder");
    if (got) {
        const std::string again = std::string(name) + "=" + percent_encode(*got);
        fuzz_require(appliance::query_param(again, name) == got, kHttp, "an encoded value does not decode back");
    }
}

void check_query(std::string_view query) {
    for (const char* name : kQueryNames) check_query_name(query, name);
    // And the names the query itself uses (the first few).
    std::string_view rest = query;
    for (int i = 0; i < 8 && !rest.empty(); ++i) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        check_query_name(query, pair.substr(0, pair.find('=')));
    }
}

/// match_route over every template: a match has one clean value per
/// "{name}", and the path rebuilt from those values matches them again.
void check_templates(const std::string& path) {
    std::vector<std::string> params;
    for (const auto& r : kRoutes) {
        const std::string_view pattern = r.path;
        const bool matched = appliance::match_route(pattern, path, params);
        if (template_params(pattern) == 0) {
            fuzz_require(matched == (pattern == path) && params.empty(), kHttp, "a fixed route matched another path");
            continue;
        }
        if (!matched) continue;
        fuzz_require(params.size() == template_params(pattern), kHttp, "a match with the wrong number of values");
        std::string rebuilt;
        std::size_t next = 0;
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            if (pattern[i] != '{') {
                rebuilt += pattern[i];
                continue;
            }
            const std::string& v = params[next++];
            fuzz_require(!v.empty() && v.find('/') == std::string::npos && v.find('\0') == std::string::npos,
                         kHttp, "a route value that is empty or holds '/' or NUL");
            rebuilt += percent_encode(v);
            i = pattern.find('}', i);
        }
        std::vector<std::string> again;
        fuzz_require(appliance::match_route(pattern, rebuilt, again) && again == params, kHttp,
                     "a rebuilt path does not match the same values");
    }
}

const appliance::Router& router() {
    static const appliance::Router r = [] {
        appliance::Router out;
        for (const auto& spec : kRoutes) {
            const appliance::RoleSet roles = needs_role(spec.path)
                                                 ? appliance::RoleSet{appliance::Role::security_officer}
                                                 : appliance::RoleSet{};
            const std::size_t n = template_params(spec.path);
            if (spec.stream) {
                out.add_stream(spec.method, spec.path, roles, 1024, [n](const appliance::Request& head) {
                    fuzz_require(head.path_params.size() == n, kHttp, "a stream without its route values");
                    return appliance::StreamStart{appliance::Response::text(200, "stream")};
                });
            } else {
                out.add(spec.method, spec.path, roles, [n](const appliance::Request& req) {
                    fuzz_require(req.path_params.size() == n, kHttp, "a handler without its route values");
                    return appliance::Response::text(200, "handler");
                });
            }
        }
        return out;
    }();
    return r;
}

/// What a session does with a head: a streaming route first, else handle().
appliance::Response route(appliance::Request req, appliance::RoleSet roles) {
    req.peer.roles = roles;
    if (auto plan = router().begin_stream(req)) {
        auto* res = std::get_if<appliance::Response>(&plan->start);
        fuzz_require(res != nullptr, kHttp, "a stream plan without an answer");
        return std::move(*res);
    }
    return router().handle(req);
}

void check_routing(const appliance::Request& req) {
    bool path_known = false;
    bool method_known = false;
    bool role_needed = false;
    std::vector<std::string> params;
    for (const auto& r : kRoutes) {
        if (!appliance::match_route(r.path, req.path, params)) continue;
        path_known = true;
        if (r.method == req.method && !method_known) {
            method_known = true;
            role_needed = needs_role(r.path);
        }
    }
    const auto all = route(req, appliance::RoleSet::all());
    const unsigned expected = method_known ? 200 : path_known ? 405 : 404;
    fuzz_require(all.status == expected, kHttp, "the router's status differs from the route table");
    if (all.status == 405) {
        const bool allow = std::any_of(all.headers.begin(), all.headers.end(),
                                       [](const appliance::Header& h) { return h.name == "Allow" && !h.value.empty(); });
        fuzz_require(allow, kHttp, "a 405 without Allow");
    }
    const auto none = route(req, appliance::RoleSet{});
    fuzz_require(none.status == (method_known && role_needed ? 403u : all.status), kHttp,
                 "a caller without a role was not refused, or refused where no role is needed");
}

template <class T>
int answer_outcome(const tl::expected<T, appliance::Response>& r, const char* name) {
    if (r) return kAccepted;
    const auto& res = r.error();
    fuzz_require(res.status == 400 || res.status == 413, name, "a body refused with another status than 400 or 413");
    fuzz_require(res.body.find("\"message\":\"\"") == std::string::npos, name, "a refusal without a message");
    return kRejected;
}

int endpoint_body(std::string_view text) {
    constexpr const char* kName = "admin_json";
    // endpoint_routes.cpp: over 512 KiB is refused before parsing.
    if (text.size() > 512 * 1024) return kRejected;
    const auto body = nlohmann::json::parse(text, nullptr, false);
    if (body.is_discarded()) return kRejected;
    auto spec = appliance::endpoint_from_json(body);
    if (!spec) return outcome(spec, kName);
    auto again = appliance::endpoint_from_json(appliance::to_json(*spec));
    fuzz_require(again.has_value() && *again == *spec, kName, "an accepted endpoint does not parse back from to_json");
    return kAccepted;
}

}  // namespace

extern "C" int enclave_fuzz_http_request(const std::uint8_t* data, std::size_t size) {
    const auto req = read_request(as_text(data, size));
    check_headers(req);
    check_query(req.query);
    check_templates(req.path);
    check_routing(req);
    std::vector<std::string> params;
    for (const auto& r : kRoutes) {
        if (r.method == req.method && appliance::match_route(r.path, req.path, params)) return kAccepted;
    }
    return kRejected;
}

extern "C" int enclave_fuzz_admin_json(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "admin_json";
    const auto text = as_text(data, size);
    int result = kRejected;
    if (auto task = audit::parse_task(text); task) {
        fuzz_require(audit::check_intake(*task).has_value(), kName, "an accepted task fails check_intake");
        for (const auto& f : task->fields) fuzz_require(!f.hash.empty(), kName, "a task field without its hash");
        result = kAccepted;
    } else {
        (void)outcome(task, kName);
    }
    if (auto input = audit::parse_reverify_input(text); input) {
        result = kAccepted;
    } else {
        (void)outcome(input, kName);
    }
    if (endpoint_body(text) == kAccepted) result = kAccepted;
    for (const bool rotate : {false, true}) {
        auto psk = appliance::detail::parse_psk_new(text, rotate);
        if (psk) {
            fuzz_require(appliance::valid_psk_identity(psk->identity), kName, "a PSK identity that is not valid");
            fuzz_require(!psk->key || (psk->key->size() >= appliance::kMinPskBytes &&
                                       psk->key->size() <= appliance::kMaxPskBytes),
                         kName, "an imported PSK of the wrong length");
            result = kAccepted;
        }
        (void)answer_outcome(psk, kName);
    }
    if (auto revoke = appliance::detail::parse_psk_revoke(text); revoke) {
        fuzz_require(appliance::valid_psk_identity(*revoke), kName, "a revoked identity that is not valid");
        result = kAccepted;
    } else {
        (void)answer_outcome(revoke, kName);
    }
    return result;
}
