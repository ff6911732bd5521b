// SPDX-License-Identifier: Apache-2.0
// The harness table (the replay suite and fuzz_make_seeds use it; each
// libFuzzer executable links only its own body).
#include "fuzz_harness.hpp"

namespace enclave::fuzz {

const std::vector<Harness>& all_harnesses() {
    static const std::vector<Harness> table = {
        {"hi1_task", enclave_fuzz_hi1_task},
        {"hi1_deliver", enclave_fuzz_hi1_deliver},
        {"handover_xml", enclave_fuzz_handover_xml},
        {"ingest_json", enclave_fuzz_ingest_json},
        {"http_range", enclave_fuzz_http_range},
        {"lea_range", enclave_fuzz_lea_range},
        {"config", enclave_fuzz_config},
        {"audit_bundle", enclave_fuzz_audit_bundle},
        {"signed_note", enclave_fuzz_signed_note},
        {"blob", enclave_fuzz_blob},
        {"wrapped_key", enclave_fuzz_wrapped_key},
        {"psk_file", enclave_fuzz_psk_file},
        {"sim_delivery", enclave_fuzz_sim_delivery},
        {"ltap", enclave_fuzz_ltap},
        {"http_request", enclave_fuzz_http_request},
        {"admin_json", enclave_fuzz_admin_json},
    };
    return table;
}

}  // namespace enclave::fuzz
