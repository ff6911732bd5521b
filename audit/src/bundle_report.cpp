// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "audit/bundle.hpp"
#include "crypto/encoding.hpp"

namespace enclave::audit {

std::string describe(const BundleReport& report) {
    std::string out;
    out += "origin:       " + report.origin + "\n";
    out += "entries:      " + std::to_string(report.entries) + "\n";
    out += "root:         " + crypto::base64_encode(report.root) + " (" +
           crypto::hash_to_hex(report.root) + ")\n";
    out += "key:          " + report.key + "\n";
    if (report.key_pinned) {
        out += "              pinned by the verifier";
        out += report.bundle_key_differs ? " (the bundle names a different key)\n" : "\n";
    } else {
        out += "              the bundle's own key: NOT pinned; this proves the bundle is\n"
               "              self-consistent, not that it comes from the appliance\n";
    }
    out += "checkpoints:  " + std::to_string(report.checkpoints_checked) + " verified\n";
    if (report.since_size) {
        out += "consistent:   with the older checkpoint at size " +
               std::to_string(*report.since_size) + " (RFC 9162 proof of " +
               std::to_string(report.consistency_proof.size()) + " hashes)\n";
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", report.elapsed.count());
    out += "time:         " + std::string(seconds) + " s for " + std::to_string(report.bytes) +
           " bytes\n";
    return out;
}

}  // namespace enclave::audit
