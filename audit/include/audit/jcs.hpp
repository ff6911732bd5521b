// SPDX-License-Identifier: Apache-2.0
#pragma once
// RFC 8785 JSON Canonicalization Scheme (JCS), restricted to the JSON the
// audit log stores: objects, arrays, strings, booleans, null and integers in
// the I-JSON safe range. Floating-point numbers are refused rather than
// formatted: ECMAScript number formatting is a known source of
// disagreement between implementations, and no audit event needs a fraction.
//
// Canonical form (RFC 8785 section 3.2):
//   - no whitespace between tokens;
//   - object members sorted by their names as arrays of UTF-16 code units
//     (unsigned, locale independent; section 3.2.3). This differs from the
//     UTF-8 byte order that nlohmann::json's std::map keeps when names hold
//     characters at or above U+E000 beside characters above U+FFFF;
//   - strings escape only '"', '\\' and U+0000..U+001F: \b \t \n \f \r in
//     their short form, the others as \u00xx with lowercase hex. Everything
//     else, '/', U+007F, U+2028 and non-ASCII included, is written as UTF-8;
//   - integers in decimal without leading zeros or '+', "-0" never appears.
//
// Limits that protect the parser and the canonicaliser from hostile input:
// kJcsMaxDepth nested arrays/objects, kJcsDefaultMaxBytes of input text.
// Errors name the position (a JSON-pointer-like path or a byte offset),
// never the content of a string.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::audit {

/// Deepest nesting of arrays and objects accepted (the outermost counts as 1).
inline constexpr std::size_t kJcsMaxDepth = 64;
/// Largest magnitude of an integer: 2^53 - 1, the I-JSON (RFC 7493) range in
/// which every JSON implementation reads the same number.
inline constexpr std::int64_t kJcsMaxInteger = (std::int64_t{1} << 53) - 1;
/// Default size limit of parse_canonical's input.
inline constexpr std::size_t kJcsDefaultMaxBytes = 1024 * 1024;

/// The RFC 8785 canonical text of `value`. Fails with invalid_argument,
/// naming the path of the offending value, for: a floating-point number
/// (including NaN and infinities), an integer outside +/-kJcsMaxInteger, a
/// string or member name that is not valid UTF-8 (overlong forms, encoded
/// surrogates and code points above U+10FFFF included), a binary or
/// discarded value, or nesting deeper than kJcsMaxDepth.
[[nodiscard]] crypto::Result<std::string> canonicalize(const nlohmann::json& value);

/// Parses `text` and succeeds only when it is exactly the canonical form of
/// what it parses to (byte for byte). Errors:
///   too_large        text longer than `max_bytes`, or nesting deeper than kJcsMaxDepth
///   malformed_input  not JSON (byte offset named), invalid UTF-8, a lone
///                    surrogate escape, a duplicate member name, a
///                    floating-point or out-of-range number, or valid JSON
///                    that is not in canonical form (first differing byte named)
[[nodiscard]] crypto::Result<nlohmann::json> parse_canonical(
    std::string_view text, std::size_t max_bytes = kJcsDefaultMaxBytes);

/// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace enclave::audit
