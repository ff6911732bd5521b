// SPDX-License-Identifier: Apache-2.0
// The archive's routes: LTAP on listeners.lea and the admin API, and the
// officers' seal / renew / status calls (docs/archive.md).
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "appliance/log.hpp"
#include "archive/ltap.hpp"
#include "archive_services_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::appliance::detail {
namespace {

using archive::Caller;

const RoleSet kReaders{Role::security_officer, Role::auditor};
const RoleSet kSealers{Role::security_officer, Role::operator_};
const RoleSet kOfficers{Role::security_officer};

/// An LTAP answer that is not an OperationResponse (a refusal before the body).
Response ltap_error(unsigned status, std::int32_t id, std::string text) {
    Response r;
    r.status = status;
    r.content_type = std::string(archive::kLtapMediaType);
    auto xml = archive::render_response(archive::ErrorNotice{id, std::move(text)});
    r.body = xml ? std::move(*xml) : std::string();
    return r;
}

/// A request without Content-Type is read as LTAP (the body must parse as
/// LTAP anyway); one that names another type is refused.
bool ltap_media_type(const Request& head) {
    const std::string* ct = head.header("Content-Type");
    if (ct == nullptr) return true;
    const std::string_view v(*ct);
    const std::string_view base = v.substr(0, v.find(';'));
    return base == archive::kLtapMediaType || base == "application/xml" || base == "text/xml";
}

/// Collects an LTAP request body (bounded by the route) and answers it. The
/// body may be archived evidence: it is wiped, never logged.
class LtapSink : public BodySink {
public:
    LtapSink(ArchiveServices::Impl& s, Caller caller) : s_(s), caller_(std::move(caller)) {}
    ~LtapSink() override { wipe(); }
    LtapSink(const LtapSink&) = delete;
    LtapSink& operator=(const LtapSink&) = delete;

    std::optional<Response> write(std::string_view chunk) override {
        body_.append(chunk);
        return std::nullopt;
    }
    Response finish() override {
        int status = 200;
        Response r;
        r.body = s_.service->handle_xml(body_, caller_, std::chrono::system_clock::now(), status);
        wipe();
        r.status = static_cast<unsigned>(status);
        r.content_type = std::string(archive::kLtapMediaType);
        return r;
    }

private:
    void wipe() noexcept {
        if (!body_.empty()) sodium_memzero(body_.data(), body_.size());
        body_.clear();
        body_.shrink_to_fit();
    }
    ArchiveServices::Impl& s_;
    Caller caller_;
    std::string body_;
};

/// LEA clients archive as their endpoint and see their endpoints' objects.
StreamStart lea_ltap(ArchiveServices::Impl& s, const Request& head) {
    const auto endpoints = s.delivery->endpoints_for(head.peer);
    if (endpoints.empty()) {
        return ltap_error(403, 403,
                          "this client certificate is not an LEA endpoint's (ask the CSP's security officer)");
    }
    if (!ltap_media_type(head)) return ltap_error(415, 415, "Content-Type must be application/ltap+xml");
    Caller c;
    c.owner = "endpoint:" + endpoints.front();
    for (const auto& e : endpoints) c.readable.push_back("endpoint:" + e);
    return std::make_unique<LtapSink>(s, std::move(c));
}

/// Officers archive as "csp" and may do everything; auditors read.
StreamStart admin_ltap(ArchiveServices::Impl& s, const Request& head) {
    if (!ltap_media_type(head)) return ltap_error(415, 415, "Content-Type must be application/ltap+xml");
    Caller c;
    c.owner = "csp";
    c.all_owners = true;
    const bool officer = head.peer.roles.has(Role::security_officer);
    c.may_archive = officer;
    c.may_delete = officer;
    return std::make_unique<LtapSink>(s, std::move(c));
}

Response report_json(const crypto::Result<archive::SealReport>& r) {
    if (!r) {
        const unsigned status = r.error().code() == crypto::Errc::unavailable ? 503 : 500;
        return Response::error(status, crypto::errc_name(r.error().code()), r.error().context());
    }
    return Response::json(200, nlohmann::json{{"batches", r->batches}, {"objects", r->objects}}.dump());
}

Response renew(ArchiveServices::Impl& s, const Request& req) {
    const auto kind = query_param(req.query, "kind");
    if (!kind || (*kind != "timestamp" && *kind != "hash-tree")) {
        return Response::error(400, "invalid_argument", "kind must be timestamp or hash-tree");
    }
    crypto::HashAlg alg = crypto::HashAlg::sha512;
    if (auto d = query_param(req.query, "digest")) {
        auto parsed = crypto::hash_from_name(*d);
        if (!parsed || *parsed == crypto::HashAlg::sha3_256) {
            return Response::error(400, "invalid_argument", "digest must be sha256, sha384 or sha512");
        }
        alg = *parsed;
    }
    const auto k = *kind == "timestamp" ? archive::RenewalKind::timestamp : archive::RenewalKind::hash_tree;
    auto r = s.service->renew(k, alg);
    if (r) {
        log(LogLevel::info, "archive",
            "renewal (" + *kind + ") of " + std::to_string(r->objects) + " objects");
    }
    return report_json(r);
}

Response status(ArchiveServices::Impl& s) {
    auto c = s.service->counts();
    if (!c) return Response::error(500, crypto::errc_name(c.error().code()), c.error().context());
    const auto& der = s.tsa->certificate_der();
    nlohmann::json j{{"pending", c->pending},
                     {"granted", c->granted},
                     {"deleted", c->deleted},
                     {"tsa_certificate_sha256",
                      crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, der))}};
    return Response::json(200, j.dump());
}

/// The routes of an instance whose archive is not provisioned: every call
/// says so (503) instead of 404, so a client learns why.
constexpr const char* kNotProvisioned =
    "the archive is not provisioned on this instance (no TSA certificate; docs/archive.md)";

void add_unavailable_routes(Routers& routers) {
    auto ltap = [](const Request&) -> StreamStart { return ltap_error(503, 503, kNotProvisioned); };
    routers.lea.add_stream("POST", "/ltap", RoleSet{}, 0, ltap);
    routers.admin.add_stream("POST", "/v1/archive/ltap", kReaders, 0, ltap);
    auto json503 = [](const Request&) { return Response::error(503, "unavailable", kNotProvisioned); };
    routers.admin.add("POST", "/v1/archive/seal", kSealers, json503);
    routers.admin.add("POST", "/v1/archive/renew", kOfficers, json503);
    routers.admin.add("GET", "/v1/archive/status", RoleSet::all(), json503);
}

}  // namespace

void add_archive_routes(ArchiveServices::Impl& s, Routers& routers) {
    if (!s.service) {
        add_unavailable_routes(routers);
        return;
    }
    const std::uint64_t max = s.config.archive.max_request_bytes;
    routers.lea.add_stream("POST", "/ltap", RoleSet{}, max,
                           [&s](const Request& head) { return lea_ltap(s, head); });
    routers.admin.add_stream("POST", "/v1/archive/ltap", kReaders, max,
                             [&s](const Request& head) { return admin_ltap(s, head); });
    routers.admin.add("POST", "/v1/archive/seal", kSealers, [&s](const Request&) {
        return report_json(s.service->seal_due(std::chrono::system_clock::now(), true));
    });
    routers.admin.add("POST", "/v1/archive/renew", kOfficers,
                      [&s](const Request& req) { return renew(s, req); });
    routers.admin.add("GET", "/v1/archive/status", RoleSet::all(),
                      [&s](const Request&) { return status(s); });
}

}  // namespace enclave::appliance::detail
