// SPDX-License-Identifier: Apache-2.0
#include "monitoring_audit.hpp"

#include <array>
#include <utility>

namespace enclave::appliance {
namespace {

using nlohmann::json;

std::string member(const json& j, const char* key) {
    if (!j.is_object()) return {};
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// "task.created" -> {"tasks", "create"}, ...: the store and the act.
struct Mapping {
    std::string_view entry;
    std::string_view store;
    std::string_view action;
};
constexpr std::array<Mapping, 16> kAccess = {{
    {"task.created", "tasks", "create"},
    {"task.create_failed", "tasks", "create_failed"},
    {"task.closed", "tasks", "close"},
    {"task.close_failed", "tasks", "close_failed"},
    {"task.purged", "tasks", "purge"},
    {"task.revealed", "tasks", "reveal"},
    {"hash.verified", "tasks", "verify"},
    {"reverify.requested", "reverify", "request"},
    {"reverify.matched", "reverify", "matched"},
    {"reverify.mismatched", "reverify", "mismatched"},
    {"reverify.viewed", "reverify", "view"},
    {"reverify.view_refused", "reverify", "view_refused"},
    {"reverify.discarded", "reverify", "discard"},
    {"reverify.expired", "reverify", "expire"},
    {"binary.accessed", "blobs", "read"},
    {"reverify.refused", "reverify", "refused"},
}};

constexpr std::array<Mapping, 8> kCredentials = {{
    {"psk.created", "psk", "create"},
    {"psk.rotated", "psk", "rotate"},
    {"psk.revoked", "psk", "revoke"},
    {"endpoint.added", "endpoint", "add"},
    {"endpoint.removed", "endpoint", "remove"},
    {"certificate.key_created", "certificate", "create"},
    {"certificate.imported", "certificate", "import"},
    {"certificate.key_retired", "certificate", "retire"},
}};

constexpr std::array<Mapping, 4> kApprovals = {{
    {"approval.proposed", "", "propose"},
    {"approval.approved", "", "approve"},
    {"approval.rejected", "", "reject"},
    {"approval.expired", "", "expire"},
}};

}  // namespace

monitoring::Account account_of_actor(const json& actor) {
    const std::string kind = member(actor, "kind");
    if (kind == "local") {
        const auto it = actor.find("uid");
        if (it != actor.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0 &&
            it->get<std::int64_t>() <= 0xffffffffLL) {
            return monitoring::Account::of_uid(static_cast<uid_t>(it->get<std::int64_t>()));
        }
    }
    if (kind == "certificate") return monitoring::Account::of_certificate(member(actor, "sha256"));
    if (kind == "psk") return monitoring::Account::of_psk(member(actor, "psk_identity"));
    return {};
}

std::optional<Event> monitoring_event_of(const json& entry) {
    const std::string name = member(entry, "event");
    const json actor = entry.is_object() && entry.contains("actor") ? entry["actor"] : json();
    for (const Mapping& m : kAccess) {
        if (m.entry != name) continue;
        // A task's random internal id, or the blob's id: never the reference.
        const std::string record = m.store == "blobs" ? member(entry, "blob") : member(entry, "task_id");
        return events::SensitiveAccess{account_of_actor(actor), m.store, m.action,
                                       monitoring::Fingerprint(record)};
    }
    for (const Mapping& m : kCredentials) {
        if (m.entry != name) continue;
        const std::string subject =
            m.store == "certificate" ? member(entry, "label") : member(entry, "endpoint");
        const std::string fingerprint =
            m.store == "certificate" ? member(entry, "sha256") : member(entry, "fingerprint");
        return events::CredentialChanged{account_of_actor(actor), m.store, m.action, subject,
                                         monitoring::Fingerprint(fingerprint)};
    }
    for (const Mapping& m : kApprovals) {
        if (m.entry != name) continue;
        // "POST /v1/task/reveal": the path (a Name has no spaces).
        std::string route = member(entry, "route");
        if (const auto space = route.find(' '); space != std::string::npos) route.erase(0, space + 1);
        return events::TwoPersonControl{account_of_actor(actor), m.action, route,
                                        monitoring::Fingerprint(member(entry, "proposal"))};
    }
    return std::nullopt;
}

}  // namespace enclave::appliance
