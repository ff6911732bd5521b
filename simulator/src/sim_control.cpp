// SPDX-License-Identifier: Apache-2.0
// The simulator's control and status forms (JSON), without Beast.
#include "sim_control.hpp"

#include <nlohmann/json.hpp>

#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {

using crypto::Errc;
using crypto::fail;

crypto::Result<Fault> parse_fault_json(std::string_view text) {
    if (text.size() > 4096) return fail(Errc::too_large, "fault: over 4096 bytes");
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(Errc::malformed_input, "fault: not a JSON object");
    Fault f;
    for (const auto& [key, value] : j.items()) {
        if (key == "kind") {
            if (!value.is_string()) return fail(Errc::malformed_input, "fault.kind: not a string");
            const auto& k = value.get_ref<const std::string&>();
            if (k == "none")
                f.kind = FaultKind::none;
            else if (k == "refuse")
                f.kind = FaultKind::refuse;
            else if (k == "close_mid_body")
                f.kind = FaultKind::close_mid_body;
            else if (k == "delay")
                f.kind = FaultKind::delay;
            else
                return fail(Errc::malformed_input, "fault.kind: unknown kind");
        } else if (key == "target") {
            if (!value.is_string())
                return fail(Errc::malformed_input, "fault.target: not a string");
            const auto& t = value.get_ref<const std::string&>();
            if (t == "all")
                f.target = FaultTarget::all;
            else if (t == "xml")
                f.target = FaultTarget::xml;
            else if (t == "binary")
                f.target = FaultTarget::binary;
            else
                return fail(Errc::malformed_input, "fault.target: unknown target");
        } else if (key == "delay_ms") {
            if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 600'000) {
                return fail(Errc::malformed_input, "fault.delay_ms: 0..600000");
            }
            f.delay = std::chrono::milliseconds(value.get<std::uint64_t>());
        } else if (key == "count") {
            if (!value.is_number_integer() || value.get<std::int64_t>() < -1 ||
                value.get<std::int64_t>() > 1'000'000) {
                return fail(Errc::malformed_input, "fault.count: -1..1000000");
            }
            f.count = static_cast<int>(value.get<std::int64_t>());
        } else {
            return fail(Errc::malformed_input, "fault: unknown key");
        }
    }
    return f;
}

std::string status_to_json(const SimStatus& s) {
    const nlohmann::json j = {{"deliveries", s.store.deliveries},
                              {"delivery_duplicates", s.store.delivery_duplicates},
                              {"items", s.store.items},
                              {"binaries", s.store.binaries},
                              {"binary_duplicates", s.store.binary_duplicates},
                              {"binary_bytes", s.store.binary_bytes},
                              {"binaries_incomplete", s.store.binaries_incomplete},
                              {"connections", s.connections},
                              {"psk_connections", s.psk_connections},
                              {"handshake_failures", s.handshake_failures},
                              {"requests", s.requests},
                              {"deliveries_rejected", s.deliveries_rejected},
                              {"faults_applied", s.faults_applied},
                              {"active_connections", s.active_connections},
                              {"fetching", s.fetching},
                              {"fetched", s.fetch.fetched},
                              {"fetch_failed", s.fetch.failed},
                              {"fetch_pending", s.fetch.pending}};
    return j.dump();
}

bool FaultSlot::take(FaultTarget target, Fault& out) {
    std::lock_guard lock(mu_);
    if (fault_.kind == FaultKind::none || fault_.count == 0) return false;
    if (fault_.target != FaultTarget::all && fault_.target != target) return false;
    out = fault_;
    if (fault_.count > 0 && --fault_.count == 0) fault_ = Fault{};
    return true;
}

void FaultSlot::set(const Fault& fault) {
    std::lock_guard lock(mu_);
    fault_ = fault;
}

}  // namespace enclave::simulator
