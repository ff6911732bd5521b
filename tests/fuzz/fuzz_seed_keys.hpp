// SPDX-License-Identifier: Apache-2.0
#pragma once
// FUZZ TEST MATERIAL ONLY: fixed, public keys that the seed corpora were
// made with (make_seeds.cpp), so that unmodified seeds pass the
// authentication checks and the fuzzer starts from inputs that reach the
// end of each parser. Never a production key.
#include <array>
#include <cstdint>

namespace enclave::fuzz {

/// The blob data key of the blob seeds (crypto::kBlobKeySize bytes).
inline constexpr std::array<std::uint8_t, 32> kBlobSeedKey = {
    0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x62, 0x6c, 0x6f, 0x62, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31,
    0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x62, 0x6c, 0x6f, 0x62, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x32};
/// The object id the blob seeds were written for.
inline constexpr const char* kBlobSeedObjectId = "fuzz-object-1";

/// RFC 8032 seed of the Ed25519 note key of the signed-note and bundle seeds.
inline constexpr std::array<std::uint8_t, 32> kNoteSeedKey = {
    0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6e, 0x6f, 0x74, 0x65, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x31,
    0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6e, 0x6f, 0x74, 0x65, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30, 0x32};
/// The origin (and key name) of those notes.
inline constexpr const char* kNoteSeedOrigin = "enclave.example/audit";

}  // namespace enclave::fuzz
