// SPDX-License-Identifier: Apache-2.0
// RFC 8785 canonicalisation of nlohmann::json values (see audit/jcs.hpp).
#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "audit/jcs.hpp"
#include "jcs_internal.hpp"

namespace enclave::audit {
namespace {

using json = nlohmann::json;
using Member = json::object_t::value_type;
using crypto::Errc;
using crypto::Result;

constexpr char kHex[] = "0123456789abcdef";

/// UTF-16 code units of valid UTF-8 (the sort key of RFC 8785 section 3.2.3).
std::u16string to_utf16(std::string_view s) {
    std::u16string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        char32_t cp = 0;
        std::size_t len = 1;
        if (c < 0x80) {
            cp = c;
        } else if (c < 0xE0) {
            cp = c & 0x1Fu;
            len = 2;
        } else if (c < 0xF0) {
            cp = c & 0x0Fu;
            len = 3;
        } else {
            cp = c & 0x07u;
            len = 4;
        }
        for (std::size_t k = 1; k < len; ++k) {
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
        }
        i += len;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
            out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
        } else {
            out.push_back(static_cast<char16_t>(cp));
        }
    }
    return out;
}

/// A code point above U+FFFF (4-byte UTF-8) is the only case where UTF-16
/// order and UTF-8 byte order can disagree.
bool has_supplementary(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) >= 0xF0; });
}

/// A member name fit for an error message: printable ASCII, at most 40 characters.
std::string printable_name(std::string_view key) {
    std::string out;
    for (char c : key.substr(0, 40)) {
        out.push_back(c >= 0x20 && c < 0x7F && c != '/' ? c : '?');
    }
    if (key.size() > 40) out += "...";
    return out;
}

class Canonicalizer {
public:
    Result<void> value(const json& v, std::string& out, std::size_t depth);

    /// The members of an object in RFC 8785 order, names checked.
    Result<std::vector<const Member*>> sorted_members(const json& v);

    /// Canonicalises one member's value after its name ("name":value).
    Result<void> member(const Member& m, std::string& out, std::size_t depth) {
        detail::append_canonical_string(out, m.first);
        out.push_back(':');
        path_.push_back("/" + printable_name(m.first));
        auto ok = value(m.second, out, depth);
        path_.pop_back();
        return ok;
    }

    /// An invalid_argument naming where in the value the problem is.
    tl::unexpected<crypto::Error> refuse(const std::string& reason) const {
        std::string where;
        for (const auto& step : path_) where += step;
        return crypto::fail(Errc::invalid_argument,
                            (where.empty() ? "at the top level" : "at " + where) + ": " + reason);
    }

private:
    Result<void> container(const json& v, std::string& out, std::size_t depth);

    std::vector<std::string> path_;
};

Result<std::vector<const Member*>> Canonicalizer::sorted_members(const json& v) {
    const auto& object = v.get_ref<const json::object_t&>();
    std::vector<const Member*> order;
    order.reserve(object.size());
    bool needs_utf16 = false;
    for (const auto& m : object) {
        if (!is_valid_utf8(m.first)) return refuse("a member name is not valid UTF-8");
        needs_utf16 = needs_utf16 || has_supplementary(m.first);
        order.push_back(&m);
    }
    // std::map already holds the names in UTF-8 byte order, which is code
    // point order; only supplementary characters need the UTF-16 sort.
    if (needs_utf16) {
        std::vector<std::pair<std::u16string, const Member*>> keyed;
        keyed.reserve(order.size());
        for (const Member* m : order) keyed.emplace_back(to_utf16(m->first), m);
        std::sort(keyed.begin(), keyed.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < keyed.size(); ++i) order[i] = keyed[i].second;
    }
    return order;
}

Result<void> Canonicalizer::container(const json& v, std::string& out, std::size_t depth) {
    if (depth + 1 > kJcsMaxDepth) {
        return refuse("nesting deeper than " + std::to_string(kJcsMaxDepth) + " levels");
    }
    if (v.is_array()) {
        out.push_back('[');
        std::size_t i = 0;
        for (const auto& element : v) {
            if (i != 0) out.push_back(',');
            path_.push_back("/" + std::to_string(i++));
            auto ok = value(element, out, depth + 1);
            path_.pop_back();
            if (!ok) return ok;
        }
        out.push_back(']');
        return {};
    }
    auto members = sorted_members(v);
    if (!members) return tl::unexpected(members.error());
    out.push_back('{');
    for (std::size_t i = 0; i < members->size(); ++i) {
        if (i != 0) out.push_back(',');
        if (auto ok = member(*(*members)[i], out, depth + 1); !ok) return ok;
    }
    out.push_back('}');
    return {};
}

template <class Int>
void append_integer(std::string& out, Int n) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, res.ptr);
}

Result<void> Canonicalizer::value(const json& v, std::string& out, std::size_t depth) {
    switch (v.type()) {
        case json::value_t::null:
            out += "null";
            return {};
        case json::value_t::boolean:
            out += v.get<bool>() ? "true" : "false";
            return {};
        case json::value_t::number_integer: {
            const auto n = v.get<std::int64_t>();
            if (n > kJcsMaxInteger || n < -kJcsMaxInteger) {
                return refuse("integer outside +/-(2^53 - 1)");
            }
            append_integer(out, n);
            return {};
        }
        case json::value_t::number_unsigned: {
            const auto n = v.get<std::uint64_t>();
            if (n > static_cast<std::uint64_t>(kJcsMaxInteger)) {
                return refuse("integer outside +/-(2^53 - 1)");
            }
            append_integer(out, n);
            return {};
        }
        case json::value_t::number_float:
            return refuse("floating-point numbers are not allowed (integers only)");
        case json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            if (!is_valid_utf8(s)) return refuse("string is not valid UTF-8");
            detail::append_canonical_string(out, s);
            return {};
        }
        case json::value_t::array:
        case json::value_t::object:
            return container(v, out, depth);
        case json::value_t::binary:
            return refuse("binary values have no JSON form");
        case json::value_t::discarded:
        default:
            return refuse("discarded value");
    }
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        // Unicode 15 table 3-7: the second byte's range depends on the first.
        std::size_t len = 0;
        unsigned char lo = 0x80;
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;  // overlong
            if (c == 0xED) hi = 0x9F;  // surrogates U+D800..U+DFFF
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;  // overlong
            if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return false;
        }
        if (n - i < len) return false;
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        if (c1 < lo || c1 > hi) return false;
        for (std::size_t k = 2; k < len; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

Result<std::string> canonicalize(const nlohmann::json& value) {
    std::string out;
    Canonicalizer writer;
    if (auto ok = writer.value(value, out, 0); !ok) return tl::unexpected(ok.error());
    return out;
}

namespace detail {

void append_canonical_string(std::string& out, std::string_view text) {
    out.push_back('"');
    std::size_t run = 0;  // start of the pending run of bytes written as they are
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\f': out += "\\f"; break;
            case '\r': out += "\\r"; break;
            default:
                out += "\\u00";
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0x0F]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

Result<std::vector<CanonicalMember>> canonical_members(const nlohmann::json& object) {
    Canonicalizer writer;
    if (!object.is_object()) return writer.refuse("not a JSON object");
    auto members = writer.sorted_members(object);
    if (!members) return tl::unexpected(members.error());
    std::vector<CanonicalMember> out;
    out.reserve(members->size());
    for (const Member* m : *members) {
        CanonicalMember cm{m->first, {}};
        if (auto ok = writer.member(*m, cm.text, 1); !ok) return tl::unexpected(ok.error());
        out.push_back(std::move(cm));
    }
    return out;
}

}  // namespace detail
}  // namespace enclave::audit
