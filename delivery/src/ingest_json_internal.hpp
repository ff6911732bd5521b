// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private helpers of the ingest JSON reader (ingest_json*.cpp).

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::delivery::detail {

/// Parses JSON text into a DOM, refusing what nlohmann's DOM parser would
/// silently accept: a duplicate member name (it keeps the last), a number that
/// is not an integer (or does not fit 64 bits), nesting deeper than
/// `max_depth`. Errors are malformed_input (too_large for depth) with the path
/// of the place ("[2].sender"), never a value or an unknown member name.
crypto::Result<nlohmann::json> parse_strict_json(std::string_view text, std::size_t max_depth);

/// Number of Unicode code points in valid UTF-8 text (nlohmann has already
/// checked the encoding).
std::size_t utf8_chars(std::string_view text) noexcept;

/// The member names the ingest form knows: only these are ever named in an
/// error; any other member name is reported as "a member" (it could be
/// content pasted into the wrong place).
bool is_known_member(std::string_view name) noexcept;

}  // namespace enclave::delivery::detail
