// SPDX-License-Identifier: Apache-2.0
// Hand-written matchers for the TS 103 280 patterns (see task_format.hpp).
// Each comment quotes the XSD pattern it implements.
#include "audit/task_format.hpp"

#include <array>
#include <cstddef>

#include "crypto/salted_hash.hpp"

namespace enclave::audit {
namespace {

using Matcher = bool (*)(std::string_view) noexcept;

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_lower_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f'); }
constexpr bool is_alnum(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// A cursor over the value; every step either consumes and returns true, or
/// returns false. No backtracking is needed by any pattern below.
struct Cursor {
    std::string_view s;
    std::size_t i = 0;

    [[nodiscard]] bool done() const noexcept { return i == s.size(); }
    bool lit(char c) noexcept {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    bool lit(std::string_view text) noexcept {
        if (s.substr(i, text.size()) != text) return false;
        i += text.size();
        return true;
    }
    /// Between min and max characters satisfying `pred` (greedy).
    template <class Pred>
    bool run(std::size_t min, std::size_t max, Pred pred) noexcept {
        std::size_t n = 0;
        while (n < max && i < s.size() && pred(s[i])) {
            ++i;
            ++n;
        }
        return n >= min;
    }
    /// Like run(), and returns the digits' value (for octets and prefixes).
    bool number(std::size_t min, std::size_t max, unsigned& value, std::size_t& count) noexcept {
        const std::size_t from = i;
        if (!run(min, max, is_digit)) return false;
        count = i - from;
        value = 0;
        for (std::size_t k = from; k < i; ++k) value = value * 10 + static_cast<unsigned>(s[k] - '0');
        return true;
    }
};

template <std::size_t Min, std::size_t Max>
bool digits(std::string_view v) noexcept {
    Cursor c{v};
    return c.run(Min, Max, is_digit) && c.done();
}

/// Number of Unicode characters in valid UTF-8 (XSD lengths count characters).
std::size_t char_count(std::string_view v) noexcept {
    std::size_t n = 0;
    for (char ch : v) {
        if ((static_cast<unsigned char>(ch) & 0xc0) != 0x80) ++n;
    }
    return n;
}

/// Valid UTF-8 with no C0 control, DEL or C1 control character.
bool printable_utf8(std::string_view v) noexcept {
    if (!crypto::is_valid_utf8(v)) return false;
    for (std::size_t k = 0; k < v.size(); ++k) {
        const auto b = static_cast<unsigned char>(v[k]);
        if (b < 0x20 || b == 0x7f) return false;
        // C1 controls U+0080..U+009F are encoded C2 80 .. C2 9F.
        if (b == 0xc2 && k + 1 < v.size() && static_cast<unsigned char>(v[k + 1]) < 0xa0) return false;
    }
    return true;
}

// (25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9]): one to three digits, value <= 255
// (leading zeros allowed, as in the XSD).
bool ipv4_octets(Cursor& c) noexcept {
    for (int k = 0; k < 4; ++k) {
        if (k > 0 && !c.lit('.')) return false;
        unsigned value = 0;
        std::size_t count = 0;
        if (!c.number(1, 3, value, count) || value > 255) return false;
        // A 4th digit would have been left unconsumed: the caller's next
        // literal fails on it.
    }
    return true;
}

// ((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])
bool ipv4_address(std::string_view v) noexcept {
    Cursor c{v};
    return ipv4_octets(c) && c.done();
}

// <IPv4Address>/([1-2]?[0-9]|3[0-2]): 0..32 without a leading zero.
bool ipv4_cidr(std::string_view v) noexcept {
    Cursor c{v};
    unsigned prefix = 0;
    std::size_t count = 0;
    if (!ipv4_octets(c) || !c.lit('/') || !c.number(1, 2, prefix, count) || !c.done()) return false;
    return prefix <= 32 && !(count == 2 && v[v.size() - 2] == '0');
}

// ([0-9a-f]{4}:){7}([0-9a-f]{4})
bool ipv6_groups(Cursor& c) noexcept {
    for (int k = 0; k < 8; ++k) {
        if (k > 0 && !c.lit(':')) return false;
        if (!c.run(4, 4, is_lower_hex)) return false;
    }
    return true;
}

bool ipv6_address(std::string_view v) noexcept {
    Cursor c{v};
    return ipv6_groups(c) && c.done();
}

// <IPv6Address>/(([1-9][0-9]?)|(1[0-1][0-9])|(12[0-8])): 1..128 without a leading zero.
bool ipv6_cidr(std::string_view v) noexcept {
    Cursor c{v};
    unsigned prefix = 0;
    std::size_t count = 0;
    if (!ipv6_groups(c) || !c.lit('/') || !c.number(1, 3, prefix, count) || !c.done()) return false;
    return prefix >= 1 && prefix <= 128 && v[v.size() - count] != '0';
}

template <int Groups>
bool colon_hex_pairs(std::string_view v) noexcept {
    // ([a-f0-9]{2}:){Groups-1}[a-f0-9]{2}
    Cursor c{v};
    for (int k = 0; k < Groups; ++k) {
        if (k > 0 && !c.lit(':')) return false;
        if (!c.run(2, 2, is_lower_hex)) return false;
    }
    return c.done();
}

// [a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}
bool uuid(std::string_view v) noexcept {
    Cursor c{v};
    constexpr std::array<std::size_t, 5> groups{8, 4, 4, 4, 12};
    for (std::size_t k = 0; k < groups.size(); ++k) {
        if (k > 0 && !c.lit('-')) return false;
        if (!c.run(groups[k], groups[k], is_lower_hex)) return false;
    }
    return c.done();
}

bool email_local_char(char ch) noexcept {
    // [a-zA-Z0-9\.!#$%&'\*\+\\/=\?\^_`\{\|\}~\-]
    constexpr std::string_view extra = ".!#$%&'*+\\/=?^_`{|}~-";
    return is_alnum(ch) || extra.find(ch) != std::string_view::npos;
}

// [a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?
bool dns_label(std::string_view label) noexcept {
    if (label.empty() || label.size() > 63) return false;
    if (!is_alnum(label.front()) || !is_alnum(label.back())) return false;
    for (char ch : label) {
        if (!is_alnum(ch) && ch != '-') return false;
    }
    return true;
}

// ShortString, [local-chars]+@label(\.label)*
bool email_address(std::string_view v) noexcept {
    if (v.size() > 255) return false;
    const std::size_t at = v.find('@');
    if (at == 0 || at == std::string_view::npos) return false;
    for (char ch : v.substr(0, at)) {
        if (!email_local_char(ch)) return false;
    }
    std::string_view domain = v.substr(at + 1);
    while (true) {
        const std::size_t dot = domain.find('.');
        if (!dns_label(domain.substr(0, dot))) return false;
        if (dot == std::string_view::npos) return true;
        domain.remove_prefix(dot + 1);
    }
}

// ShortString, .+@.+ ('.' is any character but CR and LF; we also refuse
// every other control character).
bool internationalized_email(std::string_view v) noexcept {
    if (!printable_utf8(v) || char_count(v) > 255) return false;
    const std::size_t at = v.find('@', 1);
    return at != std::string_view::npos && at + 1 < v.size();
}

bool uri_char(char ch) noexcept {
    // [a-zA-Z0-9!#$&-;=?-\[\]_~%]: the ranges &-; and ?-[ spelled out.
    constexpr std::string_view extra = "!#$&'()*+,-./:;=?@[]_~%";
    return is_alnum(ch) || extra.find(ch) != std::string_view::npos;
}

bool uri_chars(std::string_view v) noexcept {
    Cursor c{v};
    return c.run(1, v.size(), uri_char) && c.done();
}

// sips?:[a-zA-Z0-9!#$&-;=?-\[\]_~%]+
bool sip_uri(std::string_view v) noexcept {
    Cursor c{v};
    if (!c.lit("sip")) return false;
    c.lit('s');
    return c.lit(':') && uri_chars(v.substr(c.i));
}

// tel:[a-zA-Z0-9!#$&-;=?-\[\]_~%]+
bool tel_uri(std::string_view v) noexcept { return v.starts_with("tel:") && uri_chars(v.substr(4)); }

// ShortString, h323:[a-zA-Z0-9!#$&-;=?-\[\]_~%]+
bool h323_uri(std::string_view v) noexcept {
    return v.size() <= 255 && v.starts_with("h323:") && uri_chars(v.substr(5));
}

// ShortString, [a-zA-Z0-9!#$&-;=?-\[\]_~%]+
bool impu(std::string_view v) noexcept { return v.size() <= 255 && uri_chars(v); }

// [0-9]{3}-[0-9]{2,3}-<tail>
template <std::size_t Tail1, std::size_t Tail2>
bool cell_id(std::string_view v) noexcept {
    Cursor c{v};
    if (!c.run(3, 3, is_digit) || !c.lit('-') || !c.run(2, 3, is_digit) || !c.lit('-')) return false;
    if (!c.run(Tail1, Tail1, is_lower_hex)) return false;
    if constexpr (Tail2 > 0) {
        if (!c.lit('-') || !c.run(Tail2, Tail2, is_lower_hex)) return false;
    }
    return c.done();
}

// [A-HJ-NPR-Z0-9]{17}
bool vin(std::string_view v) noexcept {
    Cursor c{v};
    auto ok = [](char ch) {
        return is_digit(ch) || (ch >= 'A' && ch <= 'Z' && ch != 'I' && ch != 'O' && ch != 'Q');
    };
    return c.run(17, 17, ok) && c.done();
}

// TS 103 707 Table A.2 username: no XSD pattern; 1..255 characters of
// UTF-8 without control characters.
bool username(std::string_view v) noexcept {
    return !v.empty() && printable_utf8(v) && char_count(v) <= 255;
}

struct Format {
    std::string_view name;
    Matcher match;
};

constexpr Format kFormats[] = {
    {"InternationalE164", digits<1, 15>},
    {"GPSIMSISDN", digits<1, 15>},
    {"IMSI", digits<6, 15>},
    {"SUPIIMSI", digits<6, 15>},
    {"IMEI", digits<14, 14>},
    {"PEIIMEI", digits<14, 14>},
    {"IMEICheckDigit", digits<15, 15>},
    {"PEIIMEICheckDigit", digits<15, 15>},
    {"IMEISV", digits<16, 16>},
    {"PEIIMEISV", digits<16, 16>},
    {"ICCID", digits<19, 20>},
    {"EUICCID", digits<32, 32>},
    {"IPv4Address", ipv4_address},
    {"IPv4CIDR", ipv4_cidr},
    {"IPv6Address", ipv6_address},
    {"IPv6CIDR", ipv6_cidr},
    {"MACAddress", colon_hex_pairs<6>},
    {"EUI64", colon_hex_pairs<8>},
    {"EmailAddress", email_address},
    {"InternationalizedEmailAddress", internationalized_email},
    {"SIPURI", sip_uri},
    {"TELURI", tel_uri},
    {"H323URI", h323_uri},
    {"IMPU", impu},
    {"UUID", uuid},
    {"CGI", cell_id<4, 4>},
    {"ECGI", cell_id<7, 0>},
    {"NCGI", cell_id<9, 0>},
    {"VIN", vin},
    {"Username", username},
};

constexpr auto kNames = [] {
    std::array<std::string_view, std::size(kFormats)> names{};
    for (std::size_t k = 0; k < names.size(); ++k) names[k] = kFormats[k].name;
    return names;
}();

const Format* find_format(std::string_view name) noexcept {
    for (const Format& f : kFormats) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

}  // namespace

std::span<const std::string_view> supported_format_names() noexcept { return kNames; }

bool is_supported_format(std::string_view format_name) noexcept { return find_format(format_name) != nullptr; }

bool value_matches_format(std::string_view format_name, std::string_view value) noexcept {
    const Format* f = find_format(format_name);
    return f != nullptr && f->match(value);
}

}  // namespace enclave::audit
