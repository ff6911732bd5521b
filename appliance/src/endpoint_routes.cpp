// SPDX-License-Identifier: Apache-2.0
// Admin API: LEA endpoints (docs/delivery.md, "Endpoints").
//
//   GET  /v1/endpoints                 list (any role)
//   GET  /v1/endpoint?name=N           show (any role)
//   POST /v1/endpoints                 add (security-officer; audited)
//   POST /v1/endpoint/remove?name=N    remove (security-officer; audited)
//
// An add or remove is recorded in the audit log before it is answered
// ("endpoint.added" with a SHA-256 of the trust anchors, "endpoint.removed");
// a change the log cannot record is refused (fail closed) and undone.
#include "audit/task_actor.hpp"
#include "audit_services_impl.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "delivery_services_impl.hpp"
#include "pull_cache.hpp"

namespace enclave::appliance::detail {
namespace {

using nlohmann::json;

const RoleSet kAnyRole = RoleSet::all();
const RoleSet kOfficers{Role::security_officer};
constexpr std::size_t kMaxAddBody = 512 * 1024;

std::string anchors_sha256(const EndpointSpec& e) {
    return crypto::hex_encode(crypto::digest(
        crypto::HashAlg::sha256, crypto::as_bytes(std::string_view(e.trust_anchors_pem))));
}

json audit_event(std::string_view what, const EndpointSpec& e, const Request& req) {
    json ev{{"event", what}, {"actor", actor_of(req.peer)}, {"endpoint", e.name}};
    if (what == "endpoint.added") {
        ev["url"] = e.url;
        ev["trust_anchors_sha256"] = anchors_sha256(e);
        ev["spki_sha256"] = e.spki_sha256;
        if (!e.crl_pem.empty()) {
            ev["crl_sha256"] = crypto::hex_encode(crypto::digest(
                crypto::HashAlg::sha256, crypto::as_bytes(std::string_view(e.crl_pem))));
        }
        ev["models"] = models_text(e.models);
        ev["binary_url_scheme"] = e.binary_url_scheme;
    }
    return ev;
}

tl::expected<std::string, Response> name_of(const Request& req) {
    auto name = query_param(req.query, "name");
    if (!name || name->empty()) {
        return tl::unexpected(
            Response::error(400, "invalid_argument", "query parameter 'name' is required"));
    }
    return *name;
}

Response add(DeliveryServices::Impl& s, const Request& req) {
    if (req.body.size() > kMaxAddBody) return Response::error(413, "too_large", "body over 512 KiB");
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Response::error(400, "malformed_input", "body: not JSON");
    auto spec = endpoint_from_json(body);
    if (!spec) return error_response(spec.error());
    if (s.config.endpoints.count(spec->name) != 0) {
        return Response::error(409, "already_exists",
                               "endpoint " + spec->name + " is defined in the config file");
    }
    auto added = s.endpoints->add(std::move(*spec));
    if (!added) return error_response(added.error());
    if (auto logged = s.audit->audit_sink().append(audit_event("endpoint.added", *added, req));
        !logged) {
        (void)s.endpoints->remove(added->name);
        return error_response(logged.error().wrap("endpoint not added: audit log"));
    }
    return json_response(to_json(*added), 201);
}

Response remove(DeliveryServices::Impl& s, const Request& req) {
    auto name = name_of(req);
    if (!name) return name.error();
    auto existing = s.endpoints->get(*name);
    if (!existing) return error_response(existing.error());
    if (!*existing) {
        return Response::error(404, "not_found",
                               s.config.endpoints.count(*name) != 0
                                   ? "endpoint " + *name + " is defined in the config file"
                                   : "no endpoint named " + *name);
    }
    if (auto logged =
            s.audit->audit_sink().append(audit_event("endpoint.removed", **existing, req));
        !logged) {
        return error_response(logged.error().wrap("endpoint not removed: audit log"));
    }
    if (auto r = s.endpoints->remove(*name); !r) return error_response(r.error());
    s.pull_cache->clear();  // its clients' cached Model C authorisations go with it
    return json_response(json{{"removed", *name}});
}

}  // namespace

void add_endpoint_routes(DeliveryServices::Impl& s, Router& admin) {
    admin.add("GET", "/v1/endpoints", kAnyRole, [&s](const Request&) {
        auto list = s.endpoints->list();
        if (!list) return error_response(list.error());
        json out = json::array();
        for (const auto& e : *list) out.push_back(to_json(e));
        for (const auto& [name, e] : s.config.endpoints) {
            out.push_back(json{{"name", name}, {"client_subjects", e.client_subjects},
                               {"source", "config"}});
        }
        return json_response(json{{"endpoints", out}});
    });
    admin.add("GET", "/v1/endpoint", kAnyRole, [&s](const Request& req) {
        auto name = name_of(req);
        if (!name) return name.error();
        auto e = s.endpoints->get(*name);
        if (!e) return error_response(e.error());
        if (!*e) return Response::error(404, "not_found", "no endpoint named " + *name);
        return json_response(to_json(**e));
    });
    admin.add("POST", "/v1/endpoints", kOfficers,
              [&s](const Request& req) { return add(s, req); });
    admin.add("POST", "/v1/endpoint/remove", kOfficers,
              [&s](const Request& req) { return remove(s, req); });
}

}  // namespace enclave::appliance::detail
