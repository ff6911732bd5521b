// SPDX-License-Identifier: Apache-2.0
#include "task_json.hpp"

namespace enclave::audit::detail {
namespace {

using crypto::Errc;

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// UTF-8 length of a code point (<= U+10FFFF, not a surrogate).
std::size_t utf8_length(std::uint32_t cp) noexcept {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

void put_utf8(std::uint32_t cp, std::uint8_t* out) noexcept {
    const std::size_t n = utf8_length(cp);
    if (n == 1) {
        out[0] = static_cast<std::uint8_t>(cp);
        return;
    }
    static constexpr std::uint8_t kLead[] = {0, 0, 0xc0, 0xe0, 0xf0};
    for (std::size_t k = n - 1; k > 0; --k) {
        out[k] = static_cast<std::uint8_t>(0x80 | (cp & 0x3f));
        cp >>= 6;
    }
    out[0] = static_cast<std::uint8_t>(kLead[n] | cp);
}

}  // namespace

std::string_view json_type_phrase(JsonType t) noexcept {
    switch (t) {
        case JsonType::object: return "an object";
        case JsonType::array: return "an array";
        case JsonType::string: return "a string";
        case JsonType::number: return "a number";
        case JsonType::boolean: return "a boolean";
        case JsonType::null: return "null";
        case JsonType::invalid: return "something that is not JSON";
        case JsonType::end: return "the end of the document";
    }
    return "?";
}

crypto::Error JsonReader::error(std::string what) const {
    return crypto::Error(Errc::malformed_input, what + " (at byte " + std::to_string(pos_) + ")");
}

void JsonReader::skip_ws() noexcept {
    while (pos_ < text_.size()) {
        const char c = text_[pos_];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        ++pos_;
    }
}

JsonType JsonReader::peek() noexcept {
    skip_ws();
    if (pos_ >= text_.size()) return JsonType::end;
    const char c = text_[pos_];
    switch (c) {
        case '{': return JsonType::object;
        case '[': return JsonType::array;
        case '"': return JsonType::string;
        case 't':
        case 'f': return JsonType::boolean;
        case 'n': return JsonType::null;
        default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return JsonType::number;
    return JsonType::invalid;
}

crypto::Result<void> JsonReader::expect_type(JsonType want) {
    const JsonType got = peek();
    if (got != want) {
        return tl::unexpected(error("must be " + std::string(json_type_phrase(want)) + " (got " +
                                    std::string(json_type_phrase(got)) + ")"));
    }
    return {};
}

crypto::Result<void> JsonReader::begin_object() {
    if (auto ok = expect_type(JsonType::object); !ok) return ok;
    ++pos_;
    first_in_container_ = true;
    return {};
}

crypto::Result<void> JsonReader::begin_array() {
    if (auto ok = expect_type(JsonType::array); !ok) return ok;
    ++pos_;
    first_in_container_ = true;
    return {};
}

crypto::Result<std::optional<std::string>> JsonReader::next_member(std::size_t max_name) {
    skip_ws();
    const bool first = first_in_container_;
    first_in_container_ = false;
    if (pos_ < text_.size() && text_[pos_] == '}') {  // "{}" or the end after a value
        ++pos_;
        return std::optional<std::string>{};
    }
    if (!first) {
        if (pos_ >= text_.size() || text_[pos_] != ',') return tl::unexpected(error("expected ',' or '}'"));
        ++pos_;
        skip_ws();
    }
    if (pos_ >= text_.size() || text_[pos_] != '"') return tl::unexpected(error("expected a member name"));
    auto len = decode(nullptr, SIZE_MAX, false);
    if (!len) return tl::unexpected(len.error());
    std::string name;
    if (*len <= max_name) {
        name.resize(*len);
        if (auto d = decode(reinterpret_cast<std::uint8_t*>(name.data()), *len, true); !d) {
            return tl::unexpected(d.error());
        }
    } else if (auto d = decode(nullptr, SIZE_MAX, true); !d) {
        return tl::unexpected(d.error());
    }
    skip_ws();
    if (pos_ >= text_.size() || text_[pos_] != ':') return tl::unexpected(error("expected ':'"));
    ++pos_;
    return std::optional<std::string>{std::move(name)};
}

crypto::Result<bool> JsonReader::next_element() {
    skip_ws();
    const bool first = first_in_container_;
    first_in_container_ = false;
    if (pos_ < text_.size() && text_[pos_] == ']' && first) {
        ++pos_;
        return false;
    }
    if (first) return true;
    if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return false;
    }
    if (pos_ >= text_.size() || text_[pos_] != ',') return tl::unexpected(error("expected ',' or ']'"));
    ++pos_;
    return true;
}

crypto::Result<std::string> JsonReader::read_string(std::size_t max_bytes) {
    if (auto ok = expect_type(JsonType::string); !ok) return tl::unexpected(ok.error());
    auto len = decode(nullptr, max_bytes, false);
    if (!len) return tl::unexpected(len.error());
    std::string out(*len, '\0');
    if (auto d = decode(reinterpret_cast<std::uint8_t*>(out.data()), max_bytes, true); !d) {
        return tl::unexpected(d.error());
    }
    return out;
}

crypto::Result<crypto::Secret> JsonReader::read_secret_string(std::size_t max_bytes) {
    if (auto ok = expect_type(JsonType::string); !ok) return tl::unexpected(ok.error());
    auto len = decode(nullptr, max_bytes, false);
    if (!len) return tl::unexpected(len.error());
    crypto::Secret out(*len);
    if (auto d = decode(out.data(), max_bytes, true); !d) return tl::unexpected(d.error());
    return out;
}

crypto::Result<void> JsonReader::finish() {
    skip_ws();
    if (pos_ != text_.size()) return tl::unexpected(error("unexpected data after the document"));
    return {};
}

crypto::Result<std::uint32_t> JsonReader::read_escape(std::size_t& p) const {
    // p is on the backslash; on success it is moved past the escape.
    auto hex4 = [&](std::size_t at) -> long {
        if (at + 4 > text_.size()) return -1;
        long v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            const int h = hex_value(text_[at + k]);
            if (h < 0) return -1;
            v = v * 16 + h;
        }
        return v;
    };
    static constexpr std::string_view kSimple = "\"\\/bfnrt";
    static constexpr std::string_view kValues = "\"\\/\b\f\n\r\t";
    if (p + 1 >= text_.size()) return tl::unexpected(error("unterminated escape"));
    const char e = text_[p + 1];
    if (const auto k = kSimple.find(e); k != std::string_view::npos) {
        p += 2;
        return static_cast<unsigned char>(kValues[k]);
    }
    if (e != 'u') return tl::unexpected(error("bad escape"));
    long cp = hex4(p + 2);
    if (cp < 0) return tl::unexpected(error("bad \\u escape"));
    p += 6;
    if (cp >= 0xdc00 && cp <= 0xdfff) return tl::unexpected(error("unpaired surrogate escape"));
    if (cp >= 0xd800 && cp <= 0xdbff) {
        const bool escape_follows = p + 1 < text_.size() && text_[p] == '\\' && text_[p + 1] == 'u';
        const long lo = escape_follows ? hex4(p + 2) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return tl::unexpected(error("unpaired surrogate escape"));
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    return static_cast<std::uint32_t>(cp);
}

crypto::Result<std::size_t> JsonReader::decode(std::uint8_t* out, std::size_t max_bytes, bool advance) {
    // The whole document was checked to be valid UTF-8 before reading, so raw
    // bytes are copied as they are; escapes are decoded here. Every write is
    // checked against max_bytes first, so `out` (max_bytes long in the writing
    // pass) is never overrun.
    std::size_t p = pos_ + 1;
    std::size_t n = 0;
    auto too_long = [&] {
        return tl::unexpected(
            crypto::Error(Errc::too_large, "longer than " + std::to_string(max_bytes) + " bytes"));
    };
    while (true) {
        if (p >= text_.size()) return tl::unexpected(error("unterminated string"));
        const auto c = static_cast<unsigned char>(text_[p]);
        if (c == '"') break;
        if (c < 0x20) return tl::unexpected(error("control character in a string"));
        if (c != '\\') {
            if (n + 1 > max_bytes) return too_long();
            if (out != nullptr) out[n] = c;
            ++n;
            ++p;
            continue;
        }
        auto cp = read_escape(p);
        if (!cp) return tl::unexpected(cp.error());
        const std::size_t add = utf8_length(*cp);
        if (n + add > max_bytes) return too_long();
        if (out != nullptr) put_utf8(*cp, out + n);
        n += add;
    }
    if (advance) pos_ = p + 1;
    return n;
}

}  // namespace enclave::audit::detail
