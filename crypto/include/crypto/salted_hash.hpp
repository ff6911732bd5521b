// SPDX-License-Identifier: Apache-2.0
#pragma once
// ETSI TS 103 707 Annex D.4 salted hashes (ARCHITECTURE section 5).
//
//   sha256, sha384, sha512, sha3-256:  hash = A(salt || UTF-8(value))
//   hmac-sha256:                       hash = HMAC-SHA-256(key = salt, msg = UTF-8(value))
//
// Salts are at least 16 bytes. Hashes are compared in constant time. Errors
// never contain the value, the salt or the hash: they name the check that
// failed and the lengths involved.

#include <cstddef>
#include <optional>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

enum class SaltedHashAlg { sha256, sha384, sha512, sha3_256, hmac_sha256 };

inline constexpr std::size_t kMinSaltBytes = 16;
/// Upper bounds that keep hostile input cheap to refuse; far above real selectors.
inline constexpr std::size_t kMaxSaltBytes = 1024;
inline constexpr std::size_t kMaxSaltedValueBytes = 8192;

std::string_view salted_hash_name(SaltedHashAlg alg) noexcept;
std::optional<SaltedHashAlg> salted_hash_from_name(std::string_view name) noexcept;
/// The comma-separated list of names, for error messages and documentation.
std::string_view salted_hash_supported_names() noexcept;
std::size_t salted_hash_size(SaltedHashAlg alg) noexcept;

/// Computes the D.4 hash. Fails on a short or oversized salt, an empty,
/// oversized or non-UTF-8 value.
Result<Bytes> compute_salted_hash(SaltedHashAlg alg, ByteView salt, std::string_view value);

/// Checks a value/salt/hash triple as it arrives from an LEA (algorithm name,
/// salt and hash in hex). Errors: unsupported_algorithm, salt_too_short,
/// malformed_input (bad hex, wrong hash length, bad UTF-8), too_large,
/// hash_mismatch. The comparison is constant time.
Result<void> verify_salted_hash(std::string_view algorithm, std::string_view salt_hex,
                                std::string_view value, std::string_view hash_hex);

/// Same check with decoded inputs.
Result<void> verify_salted_hash(SaltedHashAlg alg, ByteView salt, std::string_view value,
                                ByteView expected_hash);

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace enclave::crypto
