// SPDX-License-Identifier: Apache-2.0
#pragma once
// Byte-level text checks shared by the signed-note parser and the bundle
// verifier: strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF), control characters, Unicode white space.

#include <cstddef>
#include <string_view>

namespace enclave::audit::detail {

/// What a scan of a string found first.
enum class TextFault {
    none,
    invalid_utf8,
    control_character,  ///< a byte below 0x20 that the caller did not allow
};

struct TextScan {
    TextFault fault = TextFault::none;
    std::size_t offset = 0;  ///< byte offset of the fault
};

/// Scans `text` for invalid UTF-8 and for bytes below 0x20 other than "\n"
/// when `allow_newline`, or any byte below 0x20 otherwise.
[[nodiscard]] TextScan scan_text(std::string_view text, bool allow_newline) noexcept;

/// True when `text` (valid UTF-8) contains a character Go's unicode.IsSpace
/// accepts: the ASCII spaces, U+0085, U+00A0 and the Unicode White_Space
/// characters above U+00FF.
[[nodiscard]] bool contains_unicode_space(std::string_view text) noexcept;

/// "invalid UTF-8 at byte 12" / "control character at byte 3".
[[nodiscard]] std::string_view fault_name(TextFault fault) noexcept;

}  // namespace enclave::audit::detail
