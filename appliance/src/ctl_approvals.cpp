// SPDX-License-Identifier: Apache-2.0
// enclavectl approvals list|approve|reject (docs/security-officer-guide.md,
// "Two-person control"), and how a guarded command reports its proposal.
#include <iomanip>
#include <iostream>

#include "appliance/ctl.hpp"
#include "crypto/secret.hpp"
#include "ctl_input.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) { return field_text(j, key, 256, true); }

/// "local uid 1001" / "certificate <sha256>" for the human list.
std::string actor_text(const json& a) {
    if (!a.is_object()) return "-";
    const std::string kind = text(a, "kind");
    if (kind == "local") return "uid " + text(a, "uid");
    if (kind == "certificate") return "cert " + text(a, "sha256").substr(0, 16);
    return kind;
}

int decide(const Globals& g, const std::string& id, const char* target, json& out) {
    return call(g, "POST", target, json{{"proposal", id}}.dump(), out);
}

}  // namespace

bool print_if_proposed(const Globals& g, const json& out) {
    if (!out.is_object() || !out.contains("proposal") || !out.contains("expires")) return false;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "proposed " << text(out, "proposal") << " (" << text(out, "route")
                  << "), expires " << text(out, "expires") << "\n";
    }
    std::cerr << "enclavectl: not executed yet: two-person control. A different security officer "
                 "must run `enclavectl approvals approve "
              << text(out, "proposal") << "` before it expires.\n";
    return true;
}

int approvals_list(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/approvals", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    if (out.value("enabled", true) == false) std::cout << "(two-person control is off)\n";
    std::cout << std::left << std::setw(34) << "PROPOSAL" << std::setw(26) << "ROUTE"
              << std::setw(14) << "PROPOSER" << std::setw(22) << "EXPIRES" << "QUERY\n";
    for (const json& p : out.value("proposals", json::array())) {
        std::cout << std::setw(34) << text(p, "proposal") << std::setw(26) << text(p, "route")
                  << std::setw(14) << actor_text(p.value("proposer", json())) << std::setw(22)
                  << text(p, "expires") << text(p, "query") << "\n";
    }
    return kExitOk;
}

int approvals_approve(const Globals& g, const std::string& id) {
    json out;
    if (int rc = decide(g, id, "/v1/approvals/approve", out); rc != kExitOk) return rc;
    // The guarded route's own answer: it may hold a revealed value or a new
    // PSK, shown once here and wiped after.
    if (out.contains("key_hex") || out.contains("fields")) {
        std::cerr << "enclavectl: approved " << printable(id)
                  << "; the answer holds a sensitive value, shown once (recorded in the audit "
                     "log)\n";
    } else if (!g.json) {
        std::cout << "approved " << printable(id) << "\n";
    }
    std::string doc = out.dump(2);
    std::cout << doc << "\n";
    std::cout.flush();
    crypto::wipe(doc);
    detail::wipe_json(out);
    return kExitOk;
}

int approvals_reject(const Globals& g, const std::string& id) {
    json out;
    if (int rc = decide(g, id, "/v1/approvals/reject", out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "rejected " << printable(id) << "\n";
    }
    return kExitOk;
}

}  // namespace enclave::appliance::ctl
