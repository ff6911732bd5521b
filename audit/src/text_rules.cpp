// SPDX-License-Identifier: Apache-2.0
#include "text_rules.hpp"

#include <cstdint>
#include <cstring>

namespace enclave::audit::detail {
namespace {

// Length of the UTF-8 sequence at `p` (1..4), or 0 when it is not a valid
// RFC 3629 sequence. `left` is the number of bytes available.
std::size_t utf8_sequence(const unsigned char* p, std::size_t left, std::uint32_t& cp) noexcept {
    const unsigned char b0 = p[0];
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        len = 2, min = 0x80, cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        len = 3, min = 0x800, cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        len = 4, min = 0x10000, cp = b0 & 0x07;
    } else {
        return 0;  // continuation byte, 0xc0/0xc1 (always overlong) or 0xf5..0xff
    }
    if (left < len) return 0;
    for (std::size_t i = 1; i < len; ++i) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

bool is_white_space(std::uint32_t cp) noexcept {
    switch (cp) {
        case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
        case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
        case 0x202f: case 0x205f: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200a;
    }
}

}  // namespace

TextScan scan_text(std::string_view text, bool allow_newline) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        // Fast path: eight plain printable ASCII bytes at a time (no byte
        // >= 0x80 and none below 0x20).
        if (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            constexpr std::uint64_t kHigh = 0x8080808080808080ull;
            constexpr std::uint64_t kLow = 0x2020202020202020ull;
            // The "has a byte less than n" bit trick (exact as a yes/no answer
            // for n <= 0x80): (w - n..n) & ~w & 0x80..80.
            const std::uint64_t below = (w - kLow) & ~w & kHigh;
            if (((w & kHigh) | below) == 0) {
                i += 8;
                continue;
            }
        }
        const unsigned char b = p[i];
        if (b < 0x20) {
            if (b == '\n' && allow_newline) {
                ++i;
                continue;
            }
            return {TextFault::control_character, i};
        }
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence(p + i, n - i, cp);
        if (len == 0) return {TextFault::invalid_utf8, i};
        i += len;
    }
    return {};
}

bool contains_unicode_space(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0;
    while (i < text.size()) {
        std::uint32_t cp = 0;
        const std::size_t len = utf8_sequence(p + i, text.size() - i, cp);
        if (len == 0) return false;  // callers validate UTF-8 first
        if (is_white_space(cp)) return true;
        i += len;
    }
    return false;
}

std::string_view fault_name(TextFault fault) noexcept {
    switch (fault) {
        case TextFault::none: return "no fault";
        case TextFault::invalid_utf8: return "invalid UTF-8";
        case TextFault::control_character: return "control character";
    }
    return "unknown fault";
}

}  // namespace enclave::audit::detail
