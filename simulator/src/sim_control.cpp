// SPDX-License-Identifier: Apache-2.0
// The simulator's control and status forms (JSON), without Beast.
#include "sim_control.hpp"

#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {

using crypto::Errc;
using crypto::fail;

namespace {

crypto::Result<FaultKind> parse_kind(const nlohmann::json& value) {
    if (!value.is_string()) return fail(Errc::malformed_input, "fault.kind: not a string");
    static constexpr std::pair<std::string_view, FaultKind> kKinds[] = {
        {"none", FaultKind::none},     {"refuse", FaultKind::refuse},
        {"close_mid_body", FaultKind::close_mid_body}, {"delay", FaultKind::delay},
        {"status", FaultKind::status}, {"reset", FaultKind::reset},
        {"stall", FaultKind::stall}};
    const auto& k = value.get_ref<const std::string&>();
    for (const auto& [name, kind] : kKinds) {
        if (k == name) return kind;
    }
    return fail(Errc::malformed_input, "fault.kind: unknown kind");
}

crypto::Result<FaultTarget> parse_target(const nlohmann::json& value) {
    if (!value.is_string()) return fail(Errc::malformed_input, "fault.target: not a string");
    const auto& t = value.get_ref<const std::string&>();
    if (t == "all") return FaultTarget::all;
    if (t == "xml") return FaultTarget::xml;
    if (t == "binary") return FaultTarget::binary;
    return fail(Errc::malformed_input, "fault.target: unknown target");
}

/// An integer in [lo, hi] (JSON integers only: no fraction, no exponent form
/// that parses as a float, no string, no boolean).
bool in_range(const nlohmann::json& value, std::int64_t lo, std::int64_t hi) {
    if (value.is_number_unsigned()) {
        return hi >= 0 && value.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi) &&
               (lo <= 0 || value.get<std::uint64_t>() >= static_cast<std::uint64_t>(lo));
    }
    if (value.is_number_integer()) {
        const auto v = value.get<std::int64_t>();
        return v >= lo && v <= hi;
    }
    return false;
}

/// The top-level object, refusing a key given twice (nlohmann keeps the
/// last one silently; a control form that says two things is refused).
crypto::Result<nlohmann::json> parse_object(std::string_view text) {
    bool duplicate = false;
    std::set<std::string> seen;
    const nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev,
                                                     nlohmann::json& parsed) {
        if (ev == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
            !seen.insert(parsed.get<std::string>()).second) {
            duplicate = true;
        }
        return true;
    };
    auto j = nlohmann::json::parse(text, cb, false);
    if (j.is_discarded() || !j.is_object()) {
        return fail(Errc::malformed_input, "fault: not a JSON object");
    }
    if (duplicate) return fail(Errc::malformed_input, "fault: a key given twice");
    return j;
}

}  // namespace

crypto::Result<Fault> parse_fault_json(std::string_view text) {
    if (text.size() > 4096) return fail(Errc::too_large, "fault: over 4096 bytes");
    auto j = parse_object(text);
    if (!j) return tl::unexpected(j.error());
    Fault f;
    bool has_status = false;
    for (const auto& [key, value] : j->items()) {
        if (key == "kind") {
            auto k = parse_kind(value);
            if (!k) return tl::unexpected(k.error());
            f.kind = *k;
        } else if (key == "target") {
            auto t = parse_target(value);
            if (!t) return tl::unexpected(t.error());
            f.target = *t;
        } else if (key == "delay_ms") {
            if (!in_range(value, 0, 600'000)) return fail(Errc::malformed_input, "fault.delay_ms: 0..600000");
            f.delay = std::chrono::milliseconds(value.get<std::int64_t>());
        } else if (key == "count") {
            if (!in_range(value, -1, 1'000'000)) return fail(Errc::malformed_input, "fault.count: -1..1000000");
            f.count = static_cast<int>(value.get<std::int64_t>());
        } else if (key == "status") {
            if (!in_range(value, 500, 599)) return fail(Errc::malformed_input, "fault.status: 500..599");
            f.status = static_cast<unsigned>(value.get<std::int64_t>());
            has_status = true;
        } else {
            return fail(Errc::malformed_input, "fault: unknown key");
        }
    }
    if (has_status != (f.kind == FaultKind::status)) {
        return fail(Errc::malformed_input, "fault.status: required with kind status, and only there");
    }
    if (f.kind == FaultKind::stall && f.delay.count() == 0) {
        return fail(Errc::malformed_input, "fault.delay_ms: a stall needs 1..600000");
    }
    return f;
}

std::string status_to_json(const SimStatus& s) {
    nlohmann::json j = {{"deliveries", s.store.deliveries},
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
    j["client_certificates"] = nlohmann::json::object();
    for (const auto& [sha256, n] : s.client_certificates) j["client_certificates"][sha256] = n;
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
