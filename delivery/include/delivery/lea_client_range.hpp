// SPDX-License-Identifier: Apache-2.0
#pragma once
// The byte-range vocabulary (RFC 9110 section 14) a Model C client needs
// (TS 103 707 Annex E): the Range header it sends, the Content-Range of a
// 206 or 416 it receives, and whether an ETag may go in If-Range.
//
// Parsers are strict: the unit "bytes" (case-insensitive), one space, decimal
// numbers of at most 19 digits (no sign, no spaces, no overflow), first <=
// last < complete length. Anything else is malformed_input; errors name the
// part that is wrong, never echo the value. Holds no secret.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace enclave::delivery {

/// A 206's Content-Range: "bytes first-last/complete" or "bytes first-last/*".
struct ContentRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;                        ///< inclusive
    std::optional<std::uint64_t> complete_length;  ///< nullopt for "*"

    [[nodiscard]] std::uint64_t length() const noexcept { return last - first + 1; }
};

crypto::Result<ContentRange> parse_content_range(std::string_view value);

/// A 416's Content-Range, "bytes */complete": the complete length.
crypto::Result<std::uint64_t> parse_unsatisfied_range(std::string_view value);

/// The Range header value for one range: "bytes=first-last", or
/// "bytes=first-" when `last` is empty. Requires first <= *last.
std::string byte_range_header(std::uint64_t first, std::optional<std::uint64_t> last);

/// Whether `etag` is one strong entity tag (RFC 9110 section 8.8.3: a quoted
/// string of etagc characters, no W/ prefix): only those may go in If-Range.
bool is_strong_etag(std::string_view etag) noexcept;

}  // namespace enclave::delivery
