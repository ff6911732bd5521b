// SPDX-License-Identifier: Apache-2.0
// Admin and LEA API: re-verification and the audit log
// (docs/operations.md, "Audit"; docs/auditor-guide.md).
//
// Admin (Unix socket, admin mTLS port):
//   POST /v1/audit/reverify?reference=R&field=N   {"value","salt"} (auditor)
//   GET  /v1/audit/review?id=ID                   the value, to its requester (auditor)
//   POST /v1/audit/review/discard?id=ID           end the review now (auditor)
//   GET  /v1/audit/key                            origin and verifier key (any role)
//   GET  /v1/audit/checkpoint                     latest signed checkpoint (any role)
//   POST /v1/audit/checkpoint                     sign one now (auditor, security-officer)
//   GET  /v1/audit/checkpoints                    every checkpoint (auditor, security-officer)
//   GET  /v1/audit/entries?first=F&count=C        entries, paged (auditor, security-officer)
//   GET  /v1/audit/proof/inclusion?index=I[&size=N]
//   GET  /v1/audit/proof/consistency?old=M[&new=N]  (auditor, security-officer)
// LEA (listeners.lea), for the tasks of the caller's endpoint only:
//   POST /v1/reverify?reference=R&field=N, GET /v1/review?id=ID,
//   POST /v1/review/discard?id=ID
#include <algorithm>
#include <charconv>

#include "audit/task.hpp"
#include "audit_services_impl.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::detail {
namespace {

using crypto::Errc;
using nlohmann::json;

const RoleSet kAnyRole = RoleSet::all();
const RoleSet kAuditors{Role::auditor};
const RoleSet kLogReaders{Role::auditor, Role::security_officer};
constexpr std::uint64_t kMaxEntriesPerPage = 10'000;
constexpr std::size_t kMaxEntriesPageBytes = 2 * 1024 * 1024;

using Answer = tl::expected<std::uint64_t, Response>;

/// A decimal query parameter; `fallback` when absent (nullopt: required).
Answer number_param(const Request& req, const char* name, std::optional<std::uint64_t> fallback) {
    auto text = query_param(req.query, name);
    if (!text) {
        if (fallback) return *fallback;
        return tl::unexpected(Response::error(
            400, "invalid_argument", std::string("query parameter '") + name + "' is required"));
    }
    std::uint64_t v = 0;
    const char* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (text->empty() || text->size() > 19 || ec != std::errc() || ptr != end) {
        return tl::unexpected(Response::error(
            400, "invalid_argument", std::string("query parameter '") + name + "' must be a decimal integer"));
    }
    return v;
}

tl::expected<std::string, Response> text_param(const Request& req, const char* name) {
    auto text = query_param(req.query, name);
    if (!text || text->empty() || text->size() > 255) {
        return tl::unexpected(Response::error(
            400, "invalid_argument", std::string("query parameter '") + name + "' is required"));
    }
    return *text;
}

json hashes(const std::vector<crypto::Hash>& list) {
    json out = json::array();
    for (const auto& h : list) out.push_back(crypto::hex_encode(h));
    return out;
}

std::string time_text(std::chrono::system_clock::time_point t) {
    return audit::format_utc_time(std::chrono::time_point_cast<std::chrono::microseconds>(t));
}

json checkpoint_json(const audit::LogCheckpoint& c) {
    return json{{"size", c.size},
                {"root", crypto::hex_encode(c.root)},
                {"note", c.note},
                {"created", time_text(c.created)}};
}

Response reverify(AuditServices::Impl& s, const Request& req) {
    auto ref = text_param(req, "reference");
    if (!ref) return ref.error();
    auto field = number_param(req, "field", std::nullopt);
    if (!field) return field.error();
    auto input = audit::parse_reverify_input(req.body);
    if (!input) return error_response(input.error(), req.peer.transport == Peer::Transport::unix_socket);
    auto out = s.reverify->request(*ref, static_cast<std::size_t>(*field), std::move(*input),
                                   actor_of(req.peer));
    if (!out) return error_response(out.error(), req.peer.transport == Peer::Transport::unix_socket);
    json body{{"reference", out->reference},
              {"field", out->field},
              {"result", out->matched ? "match" : "mismatch"}};
    if (out->review_id) body["review_id"] = *out->review_id;
    if (out->review_expires) body["review_expires"] = audit::format_utc_time(*out->review_expires);
    return json_response(body);
}

Response review(AuditServices::Impl& s, const Request& req) {
    auto id = text_param(req, "id");
    if (!id) return id.error();
    auto view = s.reverify->review(*id, actor_of(req.peer));
    if (!view) return error_response(view.error(), req.peer.transport == Peer::Transport::unix_socket);
    std::string value = json_escape(audit::secret_text(view->value));
    std::string body = "{\"review_id\":\"" + json_escape(view->review_id) + "\",\"reference\":\"" +
                       json_escape(view->reference) + "\",\"field\":" +
                       std::to_string(view->field) + ",\"formatName\":\"" +
                       json_escape(view->format_name) + "\",\"expires\":\"" +
                       audit::format_utc_time(view->expires) + "\",\"value\":\"";
    body += value;
    body += "\"}";
    crypto::wipe(value);
    return Response::json(200, std::move(body));
}

Response discard(AuditServices::Impl& s, const Request& req) {
    auto id = text_param(req, "id");
    if (!id) return id.error();
    auto ok = s.reverify->discard(*id, actor_of(req.peer));
    if (!ok) return error_response(ok.error(), req.peer.transport == Peer::Transport::unix_socket);
    return json_response(json{{"review_id", *id}, {"discarded", true}});
}

Response entries(AuditServices::Impl& s, const Request& req) {
    auto first = number_param(req, "first", 0);
    if (!first) return first.error();
    auto count = number_param(req, "count", kMaxEntriesPerPage);
    if (!count) return count.error();
    const std::uint64_t n = std::min(*count, kMaxEntriesPerPage);
    std::string body = "{\"first\":" + std::to_string(*first) + ",\"entries\":[";
    std::uint64_t taken = 0;
    auto ok = s.audit_log->for_each_entry(*first, n, [&](std::uint64_t, std::string_view e)
                                                   -> crypto::Result<void> {
        if (taken > 0 && body.size() + e.size() > kMaxEntriesPageBytes) {
            return crypto::fail(Errc::too_large, "page full");
        }
        body += (taken == 0 ? "\"" : ",\"") + json_escape(e) + "\"";
        ++taken;
        return {};
    });
    if (!ok && ok.error().code() != Errc::too_large) return error_response(ok.error());
    body += "],\"count\":" + std::to_string(taken) + ",\"size\":" + std::to_string(s.audit_log->size()) + "}";
    return Response::json(200, std::move(body));
}

Response inclusion(AuditServices::Impl& s, const Request& req) {
    auto index = number_param(req, "index", std::nullopt);
    if (!index) return index.error();
    const auto latest = s.audit_log->latest_checkpoint();
    auto size = number_param(req, "size", latest ? latest->size : s.audit_log->size());
    if (!size) return size.error();
    auto proof = s.audit_log->inclusion_proof(*index, *size);
    if (!proof) return error_response(proof.error());
    auto leaf = s.audit_log->leaf_hash(*index);
    auto root = s.audit_log->root_at(*size);
    if (!leaf || !root) return error_response(!leaf ? leaf.error() : root.error());
    return json_response(json{{"index", *index},
                              {"size", *size},
                              {"leaf_hash", crypto::hex_encode(*leaf)},
                              {"root", crypto::hex_encode(*root)},
                              {"proof", hashes(*proof)}});
}

Response consistency(AuditServices::Impl& s, const Request& req) {
    auto old_size = number_param(req, "old", std::nullopt);
    if (!old_size) return old_size.error();
    const auto latest = s.audit_log->latest_checkpoint();
    auto new_size = number_param(req, "new", latest ? latest->size : s.audit_log->size());
    if (!new_size) return new_size.error();
    auto proof = s.audit_log->consistency_proof(*old_size, *new_size);
    if (!proof) return error_response(proof.error());
    auto old_root = s.audit_log->root_at(*old_size);
    auto new_root = s.audit_log->root_at(*new_size);
    if (!old_root || !new_root) return error_response(!old_root ? old_root.error() : new_root.error());
    return json_response(json{{"old", *old_size},
                              {"new", *new_size},
                              {"old_root", crypto::hex_encode(*old_root)},
                              {"new_root", crypto::hex_encode(*new_root)},
                              {"proof", hashes(*proof)}});
}

/// The LEA may re-verify records of tasks whose endpoint lists its
/// certificate's subject; any other reference answers as an unknown one.
bool lea_owns(AuditServices::Impl& s, const Request& req, const std::string& reference) {
    auto owner = s.tasks->owner_endpoint(reference);
    if (!owner || !*owner) return false;
    // A PSK peer is its PSK's endpoint, and nothing else.
    if (!req.peer.psk_identity.empty()) return req.peer.psk_endpoint == **owner;
    std::vector<std::string> subjects;
    if (const auto it = s.config.endpoints.find(**owner); it != s.config.endpoints.end()) {
        subjects = it->second.client_subjects;
    } else if (s.endpoint_subjects) {
        subjects = s.endpoint_subjects(**owner);
    }
    return std::find(subjects.begin(), subjects.end(), req.peer.cert_subject) != subjects.end();
}

Response lea_reverify(AuditServices::Impl& s, const Request& req) {
    auto ref = text_param(req, "reference");
    if (!ref) return ref.error();
    if (!lea_owns(s, req, *ref)) {
        auto logged = s.audit_log->append(json{{"event", "reverify.refused"},
                                         {"reason", "not the task's endpoint"},
                                         {"actor", actor_of(req.peer)}});
        if (!logged) return error_response(logged.error(), false);
        return Response::error(404, "not_found", "no such record");
    }
    return reverify(s, req);
}

}  // namespace

void add_audit_routes(AuditServices::Impl& s, Router& admin) {
    admin.add("POST", "/v1/audit/reverify", kAuditors, [&s](const Request& r) { return reverify(s, r); });
    admin.add("GET", "/v1/audit/review", kAuditors, [&s](const Request& r) { return review(s, r); });
    admin.add("POST", "/v1/audit/review/discard", kAuditors,
              [&s](const Request& r) { return discard(s, r); });
    admin.add("GET", "/v1/audit/key", kAnyRole, [&s](const Request&) {
        return json_response(json{{"origin", s.audit_log->origin()},
                                  {"verifier_key", s.verifier_key->to_string()},
                                  {"size", s.audit_log->size()}});
    });
    admin.add("GET", "/v1/audit/checkpoint", kAnyRole, [&s](const Request&) {
        const auto latest = s.audit_log->latest_checkpoint();
        if (!latest) return Response::error(404, "not_found", "no checkpoint yet");
        return json_response(checkpoint_json(*latest));
    });
    admin.add("POST", "/v1/audit/checkpoint", kLogReaders, [&s](const Request&) {
        auto c = s.audit_log->checkpoint();
        if (!c) return error_response(c.error());
        return json_response(checkpoint_json(*c));
    });
    admin.add("GET", "/v1/audit/checkpoints", kLogReaders, [&s](const Request&) {
        auto all = s.audit_log->checkpoints();
        if (!all) return error_response(all.error());
        json list = json::array();
        for (const auto& c : *all) list.push_back(checkpoint_json(c));
        return json_response(json{{"checkpoints", list}});
    });
    admin.add("GET", "/v1/audit/entries", kLogReaders, [&s](const Request& r) { return entries(s, r); });
    admin.add("GET", "/v1/audit/proof/inclusion", kLogReaders,
              [&s](const Request& r) { return inclusion(s, r); });
    admin.add("GET", "/v1/audit/proof/consistency", kLogReaders,
              [&s](const Request& r) { return consistency(s, r); });
}

void add_lea_routes(AuditServices::Impl& s, Router& lea) {
    lea.add("POST", "/v1/reverify", {}, [&s](const Request& r) { return lea_reverify(s, r); });
    lea.add("GET", "/v1/review", {}, [&s](const Request& r) { return review(s, r); });
    lea.add("POST", "/v1/review/discard", {}, [&s](const Request& r) { return discard(s, r); });
}

}  // namespace enclave::appliance::detail
