// SPDX-License-Identifier: Apache-2.0
#pragma once
// Times as tasks carry them: RFC 3339 in UTC, microsecond resolution.
//
// Accepted on input: "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.fZ" with
// 1..6 fraction digits (TS 103 280 UTCDateTime / UTCMicrosecondDateTime, and
// shorter fractions). Uppercase 'T' and 'Z' only, no offsets, no leap second
// (60), years 1970..9999, a real calendar date. Output (format_utc_time) is
// canonical: no fraction when it is zero, otherwise exactly six digits.

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace enclave::audit {

using UtcTime = std::chrono::sys_time<std::chrono::microseconds>;

/// An injectable clock (tests pass a fake one).
using Clock = std::function<UtcTime()>;

/// std::chrono::system_clock, truncated to microseconds.
UtcTime system_now();

/// Errors: invalid_argument naming the part that is wrong (never echoes input).
crypto::Result<UtcTime> parse_utc_time(std::string_view text);

/// Canonical RFC 3339 form (see above).
std::string format_utc_time(UtcTime t);

}  // namespace enclave::audit
