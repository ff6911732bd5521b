// SPDX-License-Identifier: Apache-2.0
#pragma once
// The fuzz harness bodies (tests/fuzz/fuzz_<name>.cpp), one per parser that
// takes bytes from outside. Each is an ordinary function so that the same
// code runs under libFuzzer (libfuzzer_entry.cpp, ENCLAVE_FUZZ=ON builds)
// and in the replay suite of the normal build (replay/fuzz_replay_test.cpp),
// which feeds it every file of tests/fuzz/corpus/<name>/ and
// tests/fuzz/regressions/<name>/.
//
// Contract of every body: it calls the real parser with its real limits and
// returns kAccepted or kRejected. It never returns on a broken invariant:
// fuzz_require() prints the harness name and the rule and aborts, which
// libFuzzer reports as a crash (and the replay test as a death). Rules
// checked everywhere: a rejection carries an error with a non-empty context
// and is never Errc::internal (a broken invariant surfaced as a value).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::fuzz {

inline constexpr int kAccepted = 0;
inline constexpr int kRejected = 1;

using HarnessFunction = int (*)(const std::uint8_t* data, std::size_t size);

struct Harness {
    const char* name;  ///< corpus folder name: tests/fuzz/corpus/<name>/
    HarnessFunction run;
};

/// Every harness, in a fixed order.
const std::vector<Harness>& all_harnesses();

/// Aborts with "fuzz <harness>: <rule>" on stderr when `ok` is false.
void fuzz_require(bool ok, const char* harness, const char* rule);

/// kAccepted, or kRejected after checking the error rules above.
template <class T>
int outcome(const crypto::Result<T>& r, const char* harness) {
    if (r) return kAccepted;
    fuzz_require(!r.error().context().empty(), harness, "error without context");
    fuzz_require(r.error().code() != crypto::Errc::internal, harness, "Errc::internal from a parser");
    return kRejected;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace enclave::fuzz

// The bodies (C linkage so that a debugger or a script can find them by name).
extern "C" {
int enclave_fuzz_hi1_task(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_hi1_deliver(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_handover_xml(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_ingest_json(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_http_range(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_lea_range(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_config(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_audit_bundle(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_signed_note(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_blob(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_wrapped_key(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_psk_file(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_sim_delivery(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_ltap(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_http_request(const std::uint8_t* data, std::size_t size);
int enclave_fuzz_admin_json(const std::uint8_t* data, std::size_t size);
}
