// SPDX-License-Identifier: Apache-2.0
// Admin API: the appliance's certificates (docs/security-officer-guide.md,
// "Certificates"). Bodies are strict: unknown keys and wrong types are 400,
// oversized bodies 413; every change is recorded in the audit log before it
// is answered (cert_services.cpp).
//
//   GET  /v1/certs        (any role)
//   POST /v1/certs        {"label","subject","sans"?}             (security-officer)
//   POST /v1/cert/rotate  {"listener","label","subject"?,"sans"?} (security-officer)
//   POST /v1/cert/import  {"label","chain_pem"}                   (security-officer)
//   POST /v1/cert/retire  {"label"}                               (security-officer)
#include <initializer_list>

#include "audit_services_impl.hpp"
#include "cert_services_impl.hpp"

namespace enclave::appliance::detail {
namespace {

using nlohmann::json;

const RoleSet kAnyRole = RoleSet::all();
const RoleSet kOfficers{Role::security_officer};
constexpr std::size_t kMaxBody = 4096;
constexpr std::size_t kMaxImportBody = 192 * 1024;

/// The body as a JSON object with only `allowed` keys, or the error answer.
tl::expected<json, Response> strict_body(const Request& req, std::size_t limit,
                                         std::initializer_list<std::string_view> allowed) {
    if (req.body.size() > limit) {
        return tl::unexpected(Response::error(413, "too_large", "body over the limit of this route"));
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        return tl::unexpected(
            Response::error(400, "malformed_input", "body: a JSON object is required"));
    }
    for (const auto& [key, value] : body.items()) {
        bool known = false;
        for (const auto a : allowed) known = known || key == a;
        if (!known) return tl::unexpected(Response::error(400, "malformed_input", "body: unknown key"));
    }
    return body;
}

std::optional<Response> take_string(const json& body, const char* key, std::string& out,
                                    bool required = true) {
    if (!body.contains(key)) {
        if (!required) return std::nullopt;
        return Response::error(400, "invalid_argument", std::string(key) + " is required");
    }
    if (!body.at(key).is_string()) {
        return Response::error(400, "invalid_argument", std::string(key) + ": a string is required");
    }
    out = body.at(key).get<std::string>();
    return std::nullopt;
}

std::optional<Response> take_sans(const json& body, NewKeyRequest& r) {
    if (!body.contains("sans")) return std::nullopt;
    const json& v = body.at("sans");
    if (!v.is_array()) return Response::error(400, "invalid_argument", "sans: an array is required");
    if (v.size() > certs::kMaxSans) return Response::error(413, "too_large", "sans: at most 32");
    for (const json& s : v) {
        if (!s.is_string()) {
            return Response::error(400, "invalid_argument", "sans: strings are required");
        }
        r.sans.push_back(s.get<std::string>());
    }
    r.sans_given = true;
    return std::nullopt;
}

Response make_key(CertServices::Impl& s, const Request& req, bool rotate) {
    auto body = rotate ? strict_body(req, kMaxBody, {"listener", "label", "subject", "sans"})
                       : strict_body(req, kMaxBody, {"label", "subject", "sans"});
    if (!body) return body.error();
    NewKeyRequest r;
    if (auto e = take_string(*body, "label", r.label)) return std::move(*e);
    if (auto e = take_string(*body, "subject", r.subject, !rotate)) return std::move(*e);
    if (rotate) {
        if (auto e = take_string(*body, "listener", r.listener)) return std::move(*e);
        if (!certs::CertStore::known_listener(r.listener)) {
            return Response::error(400, "invalid_argument", "listener: lea, ingest, admin-tls or lea-client");
        }
    }
    if (auto e = take_sans(*body, r)) return std::move(*e);
    auto out = s.new_key(r, actor_of(req.peer));
    if (!out) return error_response(out.error());
    return json_response(*out, 201);
}

Response import(CertServices::Impl& s, const Request& req) {
    auto body = strict_body(req, kMaxImportBody, {"label", "chain_pem"});
    if (!body) return body.error();
    std::string label;
    std::string pem;
    if (auto e = take_string(*body, "label", label)) return std::move(*e);
    if (auto e = take_string(*body, "chain_pem", pem)) return std::move(*e);
    auto out = s.import(label, pem, actor_of(req.peer));
    if (!out) return error_response(out.error());
    s.check_expiry();  // a certificate that expires soon is reported at once
    return json_response(*out);
}

Response retire(CertServices::Impl& s, const Request& req) {
    auto body = strict_body(req, kMaxBody, {"label"});
    if (!body) return body.error();
    std::string label;
    if (auto e = take_string(*body, "label", label)) return std::move(*e);
    auto out = s.retire(label, actor_of(req.peer));
    if (!out) return error_response(out.error());
    return json_response(*out);
}

}  // namespace

void add_cert_routes(CertServices::Impl& s, Router& admin) {
    admin.add("GET", "/v1/certs", kAnyRole, [&s](const Request&) {
        auto out = s.list();
        if (!out) return error_response(out.error());
        return json_response(*out);
    });
    admin.add("POST", "/v1/certs", kOfficers,
              [&s](const Request& req) { return make_key(s, req, false); });
    admin.add("POST", "/v1/cert/rotate", kOfficers,
              [&s](const Request& req) { return make_key(s, req, true); });
    admin.add("POST", "/v1/cert/import", kOfficers,
              [&s](const Request& req) { return import(s, req); });
    admin.add("POST", "/v1/cert/retire", kOfficers,
              [&s](const Request& req) { return retire(s, req); });
}

}  // namespace enclave::appliance::detail
