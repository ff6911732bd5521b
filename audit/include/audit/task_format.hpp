// SPDX-License-Identifier: Apache-2.0
#pragma once
// The format types a task field may carry (TS 103 120 FormatType with the ETSI
// owner; the types are the simple types of TS 103 280 V2.15.1,
// ../shared/etsi-schemas/103280/TS_103_280.xsd), each with the value rule of
// its XSD pattern, implemented by hand (no regex engine: linear time, no
// backtracking, no allocation; the value may be secret).
//
// Values are matched exactly as sent: the XSD's whitespace collapsing for
// xs:token types is NOT applied, because the salted hash covers the exact
// bytes. "Username" is not a TS 103 280 type: it is the messaging identifier
// of TS 103 707 Table A.2 (and the shared D.4 vectors use it).
//
// The list and each rule are in docs/tasks.md ("Supported format types").

#include <span>
#include <string_view>

namespace enclave::audit {

/// Every supported formatName, in documentation order.
std::span<const std::string_view> supported_format_names() noexcept;

/// True when `format_name` is supported.
bool is_supported_format(std::string_view format_name) noexcept;

/// True when `value` satisfies the rule of `format_name` (false for an
/// unsupported name). Runs in time linear in value.size().
bool value_matches_format(std::string_view format_name, std::string_view value) noexcept;

}  // namespace enclave::audit
