// SPDX-License-Identifier: Apache-2.0
#pragma once
// Identifiers of the archive (draft-ietf-ltans-ltap-03 3.7.1 and 4.1).
//
// Object references: the server-wide unique identifier of an archived object,
// the DataReference of LTAP responses:
//   urn:x-enclave:ltap:obj:<26 chars>-<2 digits>
// The 26 characters are 130 bits in Crockford's base32 (0-9, A-Z without
// I, L, O, U), the top 128 from the CSPRNG; the two digits are an ISO/IEC
// 7064 MOD 97-10 check (the IBAN's) over the characters' base-32 values
// written as two decimal digits each (00..31). Every character the same
// width makes the check catch every single wrong character and every swap
// of two neighbours, before any lookup (the draft's "additional local
// structure, e.g. a checksum"); IBAN's own letter mapping (digits one wide,
// letters two) misses about 1 in 97 digit-for-letter mistakes. Random
// rather than sequential: an identifier reveals nothing about how much is
// archived.
//
// Artifacts: the handle of one ARCHIVE transaction (4.1):
//   art-<32 lowercase hex digits>  (128 random bits)
// Neither is secret: both are useful only to the client the object belongs
// to (every lookup also checks the owner).

#include <string>
#include <string_view>

namespace enclave::archive {

inline constexpr std::string_view kObjectReferencePrefix = "urn:x-enclave:ltap:obj:";

/// A new random object reference.
std::string new_object_reference();
/// True when `ref` has the structure above and its check digits match.
bool object_reference_ok(std::string_view ref) noexcept;
/// The ISO 7064 MOD 97-10 check digits ("02".."98") of a string of decimal
/// digits (for tests and tools).
std::string mod97_check_digits(std::string_view digits);

/// A new random artifact.
std::string new_artifact();
/// True when `artifact` has the artifact structure.
bool artifact_ok(std::string_view artifact) noexcept;

}  // namespace enclave::archive
