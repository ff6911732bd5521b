// SPDX-License-Identifier: Apache-2.0
// HI1 tasking on the LEA listener (docs/hi1-tasking.md):
//
//   POST /hi1/v1   a TS 103 120 HI1Message; CREATE / UPDATE (Cancelled) of
//                  LITaskObject / LDTaskObject, GET and LIST. The answer is
//                  always an HI1Message (200, application/xml): one
//                  ActionResponse per ActionRequest, ErrorInformation for a
//                  refused action, a message-level ErrorInformation for a
//                  message that does not parse or validate.
//
// Who may task: the client certificate must be one of an LEA endpoint's
// client_subjects; its tasks belong to that endpoint (deliveries go there,
// it may re-verify them), and GET / LIST / UPDATE see only tasks of the
// endpoints the certificate acts for. Values and salts go from the XML into
// Secrets and on into the task store (audit/task.hpp); they are never in an
// answer, a log line or an error.
#include <algorithm>

#include "appliance/log.hpp"
#include "audit/task.hpp"
#include "audit/task_store.hpp"
#include "audit/task_time.hpp"
#include "audit_services_impl.hpp"
#include "crypto/salted_hash.hpp"
#include "delivery/hi1_task.hpp"
#include "delivery_services_impl.hpp"

namespace enclave::appliance::detail {
namespace {

using crypto::Errc;
using delivery::Hi1Error;
using delivery::Hi1TaskAction;
using delivery::Hi1TaskAnswer;
namespace code = delivery::hi1_error;

Response xml_answer(const crypto::Result<std::string>& xml) {
    if (!xml) {
        log(LogLevel::error, "hi1", "building the answer failed: " + xml.error().message());
        return Response::error(500, "internal", "the answer could not be built");
    }
    Response res;
    res.status = 200;
    res.content_type = "application/xml";
    res.body = *xml;
    return res;
}

Hi1TaskAnswer failed(const delivery::Hi1TaskActionRequest& a, std::uint64_t c, std::string text) {
    Hi1TaskAnswer out;
    out.action_identifier = a.action_identifier;
    out.action = a.action;
    out.error = Hi1Error{c, a.path + ": " + std::move(text)};
    return out;
}

std::uint64_t code_of(const crypto::Error& e) {
    switch (e.code()) {
        case Errc::already_exists:
        case Errc::invalid_state: return code::kConflict;
        case Errc::not_found: return code::kNotFound;
        case Errc::invalid_argument:
        case Errc::malformed_input:
        case Errc::too_large:
        case Errc::unsupported_algorithm:
        case Errc::salt_too_short:
        case Errc::hash_mismatch: return code::kInvalidTask;
        default: return code::kInternal;
    }
}

delivery::Hi1TaskView view_of(const audit::TaskRecord& r, const std::string& object_id) {
    delivery::Hi1TaskView v;
    v.object_id = object_id;
    v.kind = r.kind == audit::TaskKind::li ? delivery::ReferenceKind::liid
                                           : delivery::ReferenceKind::ldid;
    v.reference = r.reference;
    v.status = r.state == audit::TaskState::active
                   ? "Active"
                   : (r.close_reason == audit::CloseReason::expired ? "Expired" : "Cancelled");
    v.start = audit::format_utc_time(r.start);
    v.end = audit::format_utc_time(r.end);
    for (const auto& f : r.fields) {
        v.hashes.push_back({f.index, "ETSI", f.format_name,
                            std::string(crypto::salted_hash_name(f.algorithm)), f.hash});
    }
    return v;
}

struct Ctx {
    DeliveryServices::Impl& s;
    const Request& req;
    std::vector<std::string> owned;
    bool owns(const std::optional<std::string>& endpoint) const {
        return endpoint && std::find(owned.begin(), owned.end(), *endpoint) != owned.end();
    }
};

Hi1TaskAnswer create(Ctx& c, delivery::Hi1TaskActionRequest& a) {
    auto& t = *a.task;
    audit::TaskIntake in;
    in.reference = *t.reference;
    in.kind = t.kind == delivery::ReferenceKind::liid ? audit::TaskKind::li : audit::TaskKind::ld;
    auto start = audit::parse_utc_time(*t.start);
    auto end = audit::parse_utc_time(*t.end);
    if (!start || !end) return failed(a, code::kInvalidTask, "validity times");
    in.start = *start;
    in.end = *end;
    in.endpoint = c.owned.front();
    if (t.delivery_hint) {
        if (!c.owns(t.delivery_hint->value)) {
            return failed(a, code::kInvalidTask,
                          "the delivery destination is not an endpoint this client acts for");
        }
        in.endpoint = t.delivery_hint->value;
    }
    for (auto& f : t.fields) {
        if (f.format_owner != "ETSI") {
            return failed(a, code::kUnsupported,
                          "value " + std::to_string(f.index) + ": FormatOwner must be ETSI");
        }
        const auto alg = crypto::salted_hash_from_name(f.algorithm);
        if (!alg) return failed(a, code::kInvalidTask, "value " + std::to_string(f.index) + ": algorithm");
        in.fields.push_back({f.format_name, *alg, std::move(f.value), std::move(f.salt), f.hash});
    }
    auto record = c.s.audit->tasks().create(std::move(in), actor_of(c.req.peer));
    if (!record) return failed(a, code_of(record.error()), record.error().context());
    if (auto r = c.s.catalog->map_object(t.object_id, record->reference); !r) {
        log(LogLevel::error, "hi1", "object map: " + r.error().message());
    }
    Hi1TaskAnswer out;
    out.action_identifier = a.action_identifier;
    out.action = Hi1TaskAction::create;
    out.object_id = t.object_id;
    return out;
}

/// The caller's task behind an ObjectIdentifier (nullopt: unknown or not theirs).
std::optional<audit::TaskRecord> owned_task(Ctx& c, const std::string& object_id) {
    auto ref = c.s.catalog->object_reference(object_id);
    if (!ref || !*ref) return std::nullopt;
    auto record = c.s.audit->tasks().show(**ref);
    if (!record || !c.owns(record->endpoint)) return std::nullopt;
    return std::move(*record);
}

Hi1TaskAnswer update(Ctx& c, delivery::Hi1TaskActionRequest& a) {
    const auto& t = *a.task;
    if (t.desired_status != "Cancelled" || !t.fields.empty() || t.start || t.end ||
        t.delivery_hint) {
        return failed(a, code::kUnsupported,
                      "only an UPDATE to DesiredStatus Cancelled is supported (create a new task "
                      "for other changes)");
    }
    auto record = owned_task(c, t.object_id);
    if (!record) return failed(a, code::kNotFound, "no such task");
    auto closed = c.s.audit->tasks().close(record->reference, actor_of(c.req.peer),
                                           audit::CloseReason::operator_request);
    if (!closed) return failed(a, code_of(closed.error()), closed.error().context());
    c.s.task_closed();
    Hi1TaskAnswer out;
    out.action_identifier = a.action_identifier;
    out.action = Hi1TaskAction::update;
    out.object_id = t.object_id;
    return out;
}

Hi1TaskAnswer get(Ctx& c, const delivery::Hi1TaskActionRequest& a) {
    auto record = owned_task(c, a.identifier);
    if (!record) return failed(a, code::kNotFound, "no such task");
    Hi1TaskAnswer out;
    out.action_identifier = a.action_identifier;
    out.action = Hi1TaskAction::get;
    out.view = view_of(*record, a.identifier);
    return out;
}

Hi1TaskAnswer list(Ctx& c, const delivery::Hi1TaskActionRequest& a) {
    Hi1TaskAnswer out;
    out.action_identifier = a.action_identifier;
    out.action = Hi1TaskAction::list;
    auto records = c.s.audit->tasks().list();
    if (!records) return failed(a, code::kInternal, "the task list is unavailable");
    for (const auto& r : *records) {
        if (!c.owns(r.endpoint)) continue;
        auto v = view_of(r, "");
        if (a.list_kind && *a.list_kind != v.kind) continue;
        if (a.list_status && *a.list_status != v.status) continue;
        auto id = c.s.catalog->reference_object(r.reference);
        if (!id || !*id) continue;  // not tasked over HI1: no ObjectIdentifier to name it by
        v.object_id = **id;
        out.list.push_back(std::move(v));
        if (a.list_max && out.list.size() >= *a.list_max) break;
    }
    return out;
}

Response post_hi1(DeliveryServices::Impl& s, const Request& req) {
    const delivery::EndpointId us{"XX", s.config.instance_name};
    auto parsed = delivery::parse_hi1_task_request(req.body, *s.schemas);
    if (!parsed) {
        return xml_answer(delivery::build_hi1_message_error(
            us, {"XX", "Not specified"}, std::nullopt,
            Hi1Error{code::kMessageRefused, parsed.error().context()}));
    }
    Ctx c{s, req, endpoints_of(s, req.peer)};
    if (c.owned.empty()) {
        (void)s.audit->audit_sink().append(nlohmann::json{
            {"event", "hi1.refused"}, {"reason", "not an endpoint's client"},
            {"actor", actor_of(req.peer)}});
        return xml_answer(delivery::build_hi1_message_error(
            us, parsed->sender, parsed->transaction_id,
            Hi1Error{code::kMessageRefused,
                     "this client certificate is not an LEA endpoint's (ask the CSP's security "
                     "officer)"}));
    }
    delivery::Hi1TaskResponseSpec spec;
    spec.sender = us;
    spec.receiver = parsed->sender;
    spec.transaction_id = parsed->transaction_id;
    for (auto& a : parsed->actions) {
        if (a.refusal) {
            spec.answers.push_back(delivery::refused_answer(a));
            continue;
        }
        switch (a.action) {
            case Hi1TaskAction::create: spec.answers.push_back(create(c, a)); break;
            case Hi1TaskAction::update: spec.answers.push_back(update(c, a)); break;
            case Hi1TaskAction::get: spec.answers.push_back(get(c, a)); break;
            case Hi1TaskAction::list: spec.answers.push_back(list(c, a)); break;
            case Hi1TaskAction::unsupported:
                spec.answers.push_back(failed(a, code::kUnsupported, "unsupported action"));
                break;
        }
    }
    return xml_answer(delivery::build_hi1_task_response(spec));
}

}  // namespace

void add_hi1_routes(DeliveryServices::Impl& s, Router& lea) {
    lea.add("POST", "/hi1/v1", RoleSet{}, [&s](const Request& req) { return post_hi1(s, req); });
}

/// Endpoints (store and config file) whose client subjects hold the caller's.
std::vector<std::string> endpoints_of(DeliveryServices::Impl& s, const Peer& peer) {
    std::vector<std::string> out;
    // A PSK peer is its PSK's endpoint (while that endpoint exists), and
    // nothing else: an empty certificate subject matches no endpoint.
    if (!peer.psk_identity.empty()) {
        if (auto e = s.endpoints->get(peer.psk_endpoint); e && *e) out.push_back(peer.psk_endpoint);
        return out;
    }
    auto has = [&](const std::vector<std::string>& subjects) {
        return std::find(subjects.begin(), subjects.end(), peer.cert_subject) != subjects.end();
    };
    if (auto list = s.endpoints->list()) {
        for (const auto& e : *list) {
            if (has(e.client_subjects)) out.push_back(e.name);
        }
    }
    for (const auto& [name, e] : s.config.endpoints) {
        if (has(e.client_subjects)) out.push_back(name);
    }
    return out;
}

}  // namespace enclave::appliance::detail
