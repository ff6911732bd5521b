// SPDX-License-Identifier: Apache-2.0
// Admin API: TLS pre-shared keys of LEA endpoints
// (docs/security-officer-guide.md, "PSKs").
//
//   GET  /v1/psks          list, never a value (any role)
//   POST /v1/psks          new or imported PSK (security-officer; audited)
//   POST /v1/psk/rotate    new PSK, the endpoint's others retire after the
//                          overlap (security-officer; audited)
//   POST /v1/psk/revoke    (security-officer; audited)
//
// A generated value is answered once (key_hex) and exists nowhere else in
// clear: it is generated into a Secret, hex-encoded straight into the
// response body (reserved up front, so no reallocation leaves a copy), and
// the HTTP session wipes the body once sent. An imported value arrives in
// the request body (wiped by the session); its JSON string is wiped here
// after decoding into a Secret.
//
// Each change is recorded in the audit log (psk.created, psk.rotated,
// psk.revoked: identity, endpoint, fingerprint, actor; never the value)
// before it is answered. A new PSK the log cannot record is revoked again
// (fail closed) and the request fails; a revoke is recorded first.
#include <optional>

#include "appliance/psk_store.hpp"
#include "audit/task_actor.hpp"
#include "audit_services_impl.hpp"
#include "delivery_services_impl.hpp"
#include "psk_body.hpp"
#include "pull_cache.hpp"

namespace enclave::appliance::detail {
namespace {

using nlohmann::json;

const RoleSet kAnyRole = RoleSet::all();
const RoleSet kOfficers{Role::security_officer};

/// {"psk":{...}} or {"psk":{...},"key_hex":"..."}: the hex is written
/// straight into a buffer reserved for the whole body, so it has one copy,
/// which the HTTP session wipes after sending.
std::string created_body(const PskInfo& info, const crypto::Secret* generated) {
    static constexpr char kHex[] = "0123456789abcdef";
    const std::string head = "{\"psk\":" + to_json(info).dump();
    if (generated == nullptr) return head + "}";
    std::string body;
    body.reserve(head.size() + 16 + generated->size() * 2);
    body += head;
    body += ",\"key_hex\":\"";
    for (const std::uint8_t b : generated->view()) {
        body += kHex[b >> 4];
        body += kHex[b & 0x0f];
    }
    body += "\"}";
    return body;
}

json audit_event(std::string_view what, const PskInfo& info, const Request& req) {
    return json{{"event", what},
                {"actor", actor_of(req.peer)},
                {"identity", info.identity},
                {"endpoint", info.endpoint},
                {"fingerprint", info.fingerprint},
                {"expires", info.expires}};
}

Response create(DeliveryServices::Impl& s, const Request& req, bool rotate) {
    auto p = parse_psk_new(req.body, rotate);
    if (!p) return p.error();
    auto endpoint = s.endpoints->get(p->endpoint);
    if (!endpoint) return error_response(endpoint.error());
    if (!*endpoint) return Response::error(404, "not_found", "no endpoint named " + p->endpoint);
    const bool imported = p->key.has_value();
    const crypto::Secret key = imported ? std::move(*p->key) : crypto::Secret::random(32);
    const std::int64_t now = unix_now();
    const std::int64_t expires = p->expires_days == 0 ? 0 : now + p->expires_days * 86400;
    auto info = rotate ? s.psks->rotate(p->endpoint, p->identity, key, expires,
                                        p->overlap_hours * 3600, now)
                       : s.psks->add(p->endpoint, p->identity, key, expires, now);
    if (!info) return error_response(info.error());
    json ev = audit_event(rotate ? "psk.rotated" : "psk.created", *info, req);
    ev["imported"] = imported;
    if (rotate) ev["overlap_s"] = p->overlap_hours * 3600;
    if (auto logged = s.audit->audit_sink().append(ev); !logged) {
        (void)s.psks->revoke(info->identity, now);  // fail closed: never usable unrecorded
        return error_response(logged.error().wrap("psk revoked again: audit log"));
    }
    return Response::json(201, created_body(*info, imported ? nullptr : &key));
}

Response revoke(DeliveryServices::Impl& s, const Request& req) {
    auto parsed = parse_psk_revoke(req.body);
    if (!parsed) return parsed.error();
    const std::string& identity = *parsed;
    auto all = s.psks->list();
    if (!all) return error_response(all.error());
    const PskInfo* found = nullptr;
    for (const auto& i : *all) found = i.identity == identity ? &i : found;
    if (found == nullptr) return Response::error(404, "not_found", "no psk with identity " + identity);
    if (found->revoked == 0) {
        if (auto logged = s.audit->audit_sink().append(audit_event("psk.revoked", *found, req));
            !logged) {
            return error_response(logged.error().wrap("psk not revoked: audit log"));
        }
    }
    auto info = s.psks->revoke(identity, unix_now());
    if (!info) return error_response(info.error());
    s.pull_cache->clear();  // no cached Model C authorisation outlives the PSK
    return json_response(json{{"psk", to_json(*info)}});
}

std::string_view state_of(const PskInfo& i, std::int64_t now) {
    if (i.revoked != 0) return "revoked";
    if (i.expires != 0 && now >= i.expires) return "expired";
    if (i.retires != 0 && now >= i.retires) return "retired";
    if (i.retires != 0) return "retiring";
    return "active";
}

}  // namespace

void add_psk_routes(DeliveryServices::Impl& s, Router& admin) {
    admin.add("GET", "/v1/psks", kAnyRole, [&s](const Request&) {
        auto list = s.psks->list();
        if (!list) return error_response(list.error());
        const std::int64_t now = unix_now();
        json out = json::array();
        for (const auto& i : *list) {
            json j = to_json(i);
            j["state"] = state_of(i, now);
            out.push_back(std::move(j));
        }
        return json_response(json{{"psks", out}});
    });
    admin.add("POST", "/v1/psks", kOfficers,
              [&s](const Request& req) { return create(s, req, false); });
    admin.add("POST", "/v1/psk/rotate", kOfficers,
              [&s](const Request& req) { return create(s, req, true); });
    admin.add("POST", "/v1/psk/revoke", kOfficers,
              [&s](const Request& req) { return revoke(s, req); });
}

}  // namespace enclave::appliance::detail
