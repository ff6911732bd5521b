// SPDX-License-Identifier: Apache-2.0
// enclavectl archive status | seal | renew: the archive's officer commands
// over the admin API (docs/archive.md, "Who talks to it").
#include <iostream>

#include <nlohmann/json.hpp>

#include "appliance/ctl.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

int print_report(const Globals& g, const json& out, std::string_view what) {
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << what << ": " << out.value("objects", 0) << " objects in "
                  << out.value("batches", 0) << " batches\n";
    }
    return kExitOk;
}

}  // namespace

int archive_status(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/archive/status", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "pending  " << out.value("pending", 0) << "\n"
                  << "granted  " << out.value("granted", 0) << "\n"
                  << "deleted  " << out.value("deleted", 0) << "\n"
                  << "TSA certificate SHA-256  " << field_text(out, "tsa_certificate_sha256", 64) << "\n";
    }
    return kExitOk;
}

int archive_seal(const Globals& g) {
    json out;
    if (int rc = call(g, "POST", "/v1/archive/seal", {}, out); rc != kExitOk) return rc;
    return print_report(g, out, "sealed");
}

int archive_renew(const Globals& g, const std::string& kind, const std::string& digest) {
    json out;
    std::string q = query({{"kind", kind}});
    if (!digest.empty()) q += "&" + query({{"digest", digest}});
    if (int rc = call(g, "POST", "/v1/archive/renew?" + q, {}, out); rc != kExitOk) return rc;
    return print_report(g, out, "renewed (" + kind + ")");
}

}  // namespace enclave::appliance::ctl
