// SPDX-License-Identifier: Apache-2.0
// The harness table and the shared helpers of the fuzz bodies.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_harness.hpp"
#include "fuzz_support.hpp"

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
    };
    return table;
}

void fuzz_require(bool ok, const char* harness, const char* rule) {
    if (ok) return;
    std::fprintf(stderr, "fuzz %s: %s\n", harness, rule);
    std::abort();
}

const delivery::SchemaSet& schemas() {
    // Compiled once per process (tens of ms); the real set the appliance uses.
    static const auto set = [] {
        auto s = delivery::SchemaSet::shared();
        if (!s) {
            std::fprintf(stderr, "fuzz: the ETSI schemas do not load (%s)\n", s.error().message().c_str());
            std::abort();
        }
        return *s;
    }();
    return *set;
}

std::filesystem::path scratch_file(const char* name) {
    static const std::filesystem::path dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/enclave-fuzz-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
            std::perror("fuzz: mkdtemp");
            std::abort();
        }
        return std::filesystem::path(tmpl);
    }();
    static const struct Cleanup {
        ~Cleanup() {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } cleanup;
    return dir / name;
}

void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    const bool ok = f != nullptr && (size == 0 || std::fwrite(data, 1, size, f) == size);
    const bool closed = f != nullptr && std::fclose(f) == 0;
    if (!ok || !closed) {
        std::perror("fuzz: writing the scratch file");
        std::abort();
    }
}

}  // namespace enclave::fuzz
