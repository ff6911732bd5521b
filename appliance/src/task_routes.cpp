// SPDX-License-Identifier: Apache-2.0
// Admin API: tasks (docs/operations.md, "Tasks").
//
//   POST /v1/tasks                        create (security-officer, operator)
//   GET  /v1/tasks                        list (any role)
//   GET  /v1/task?reference=R             show (any role)
//   POST /v1/task/close?reference=R       close now (security-officer, operator)
//   POST /v1/task/reveal?reference=R      values and salts (security-officer; audited)
//
// Request and response bodies that carry values are wiped by the HTTP
// session once used; here the few temporaries that hold a value are wiped
// before they go.
#include "audit/task.hpp"
#include "audit_services_impl.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::detail {
namespace {

using crypto::Errc;
using nlohmann::json;

const RoleSet kAnyRole = RoleSet::all();
const RoleSet kTaskAdmins{Role::security_officer, Role::operator_};

/// The `reference` query parameter, checked; or the error answer.
tl::expected<std::string, Response> reference_of(const Request& req) {
    auto ref = query_param(req.query, "reference");
    if (!ref || ref->empty()) {
        return tl::unexpected(
            Response::error(400, "invalid_argument", "query parameter 'reference' is required"));
    }
    if (!audit::is_valid_reference(*ref)) {
        return tl::unexpected(Response::error(
            400, "invalid_argument", "reference: not a valid LIID or LDID (TS 103 280)"));
    }
    return *ref;
}

/// {"reference":...,"fields":[{"index","formatName","algorithm","value","salt"}]}
/// built without a JSON library so that every copy of a value is ours to wipe.
std::string revealed_body(std::string_view reference,
                          const std::vector<audit::RevealedField>& fields) {
    std::string body = "{\"reference\":\"" + json_escape(reference) + "\",\"fields\":[";
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto& f = fields[i];
        std::string value = json_escape(audit::secret_text(f.value));
        std::string salt = crypto::hex_encode(f.salt.view());
        body += (i == 0 ? "" : ",");
        body += "{\"index\":" + std::to_string(f.index) + ",\"formatName\":\"" +
                json_escape(f.format_name) + "\",\"algorithm\":\"" +
                std::string(crypto::salted_hash_name(f.algorithm)) + "\",\"value\":\"";
        body += value;
        body += "\",\"salt\":\"";
        body += salt;
        body += "\"}";
        crypto::wipe(value);
        crypto::wipe(salt);
    }
    body += "]}";
    return body;
}

}  // namespace

void add_task_routes(AuditServices::Impl& s, Router& admin) {
    admin.add("POST", "/v1/tasks", kTaskAdmins, [&s](const Request& req) {
        auto intake = audit::parse_task(req.body);
        if (!intake) return error_response(intake.error());
        auto record = s.tasks->create(std::move(*intake), actor_of(req.peer));
        if (!record) return error_response(record.error());
        return json_response(audit::to_json(*record), 201);
    });
    admin.add("GET", "/v1/tasks", kAnyRole, [&s](const Request&) {
        auto records = s.tasks->list();
        if (!records) return error_response(records.error());
        json list = json::array();
        for (const auto& r : *records) list.push_back(audit::to_json(r));
        return json_response(json{{"tasks", list}});
    });
    admin.add("GET", "/v1/task", kAnyRole, [&s](const Request& req) {
        auto ref = reference_of(req);
        if (!ref) return ref.error();
        auto record = s.tasks->show(*ref);
        if (!record) return error_response(record.error());
        return json_response(audit::to_json(*record));
    });
    admin.add("POST", "/v1/task/close", kTaskAdmins, [&s](const Request& req) {
        auto ref = reference_of(req);
        if (!ref) return ref.error();
        auto record =
            s.tasks->close(*ref, actor_of(req.peer), audit::CloseReason::operator_request);
        if (!record) return error_response(record.error());
        if (s.on_task_closed) s.on_task_closed();
        return json_response(audit::to_json(*record));
    });
    admin.add("POST", "/v1/task/reveal", RoleSet{Role::security_officer}, [&s](const Request& req) {
        auto ref = reference_of(req);
        if (!ref) return ref.error();
        auto fields = s.tasks->reveal(*ref, actor_of(req.peer));
        if (!fields) return error_response(fields.error());
        return Response::json(200, revealed_body(*ref, *fields));
    });
}

}  // namespace enclave::appliance::detail
