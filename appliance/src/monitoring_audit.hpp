// SPDX-License-Identifier: Apache-2.0
#pragma once
// The audit-log entries that are also protective-monitoring events
// (docs/monitoring.md, "From the audit log"): task lifecycle, reveals,
// re-verification, PSK, endpoint and certificate changes, binary access.
// Only named members of known entries are read, each into a field type of
// monitoring_fields.hpp (a task reference, a value or a salt is never read).
// Holds no secret.
#include <nlohmann/json.hpp>
#include <optional>

#include "appliance/event_sink.hpp"

namespace enclave::appliance {

/// The event an audit entry stands for, if any.
std::optional<Event> monitoring_event_of(const nlohmann::json& entry);

/// The Account of an audit "actor" member (audit/task_actor.hpp shapes).
monitoring::Account account_of_actor(const nlohmann::json& actor);

}  // namespace enclave::appliance
