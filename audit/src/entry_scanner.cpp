// SPDX-License-Identifier: Apache-2.0
// A strict RFC 8259 parser for one entry line, written for this one job:
// validate the whole object and pick out the top-level "index" and "prev".
//
// Why not nlohmann's SAX parser: it builds every string and key character by
// character into a std::string and was 55% of the time of verifying a
// million-entry bundle (perf, enclave-bench-audit_verify). This one only
// moves a pointer, copies nothing but "prev", and recurses at most
// kMaxEntryDepth levels. It accepts exactly what nlohmann accepts, minus
// floating-point numbers and integers outside the 64-bit range (the entry
// contract has neither); tests/audit/entry_scanner_test.cpp checks that
// against nlohmann on valid, hand-written and randomly mutated inputs.
//
// The caller has already checked the line for invalid UTF-8 and control
// characters (text_rules.hpp), so raw bytes >= 0x20 inside strings are fine.

#include <cstring>
#include <string>
#include <utility>

#include "bundle_entry.hpp"

namespace enclave::audit::detail {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class Scanner {
public:
    Scanner(std::string_view line, EntryFields& fields)
        : p_(line.data()), end_(p_ + line.size()), fields_(fields) {}

    const char* error = nullptr;
    bool has_index = false;
    bool has_prev = false;

    bool document() {
        if (!object(1)) return false;
        ws();
        return p_ == end_ || fail("not valid JSON");
    }

private:
    enum class Key { other, index, prev };

    bool fail(const char* why) {
        if (error == nullptr) error = why;
        return false;
    }
    void ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    bool eat(char c) {
        if (p_ < end_ && *p_ == c) {
            ++p_;
            return true;
        }
        return false;
    }

    // \uXXXX after the backslash and 'u'; returns the code unit or -1.
    long u_escape() {
        if (end_ - p_ < 4) return -1;
        long v = 0;
        for (int i = 0; i < 4; ++i) {
            const int d = hex_digit(p_[i]);
            if (d < 0) return -1;
            v = (v << 4) | d;
        }
        p_ += 4;
        return v;
    }

    // A string; its raw bytes (between the quotes) in `raw`, and whether it
    // held an escape. Unpaired UTF-16 surrogates are refused, as nlohmann does.
    bool string(std::string_view& raw, bool& escaped) {
        if (!eat('"')) return fail("not valid JSON");
        const char* start = p_;
        escaped = false;
        for (;;) {
            if (p_ == end_) return fail("not valid JSON");
            const char c = *p_++;
            if (c == '"') break;
            if (c != '\\') continue;
            escaped = true;
            if (p_ == end_) return fail("not valid JSON");
            const char e = *p_++;
            if (std::strchr("\"\\/bfnrt", e) != nullptr && e != '\0') continue;
            if (e != 'u') return fail("not valid JSON");
            const long u = u_escape();
            if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) return fail("not valid JSON");
            if (u >= 0xd800 && u <= 0xdbff) {
                if (!eat('\\') || !eat('u')) return fail("not valid JSON");
                const long low = u_escape();
                if (low < 0xdc00 || low > 0xdfff) return fail("not valid JSON");
            }
        }
        raw = std::string_view(start, static_cast<std::size_t>(p_ - 1 - start));
        return true;
    }

    // Top-level keys may be written with escapes ("\u0069ndex"): decode the
    // few that could spell "index" or "prev" (ASCII escapes only matter).
    static Key key_of(std::string_view raw, bool escaped) {
        std::string decoded;
        if (escaped) {
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] != '\\') {
                    decoded += raw[i];
                    continue;
                }
                const char e = raw[++i];
                if (e == 'u') {
                    long v = 0;
                    for (int k = 1; k <= 4; ++k) v = (v << 4) | hex_digit(raw[i + k]);
                    i += 4;
                    decoded += v < 0x80 ? static_cast<char>(v) : '\x01';  // non-ASCII: no match
                } else {
                    decoded += e == '"' || e == '\\' || e == '/' ? e : '\x01';
                }
            }
            raw = decoded;
        }
        if (raw == "index") return Key::index;
        if (raw == "prev") return Key::prev;
        return Key::other;
    }

    bool number(Key key) {
        const bool negative = eat('-');
        if (p_ == end_ || *p_ < '0' || *p_ > '9') return fail("not valid JSON");
        std::uint64_t v = 0;
        bool overflow = false;
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                const auto d = static_cast<std::uint64_t>(*p_++ - '0');
                overflow = overflow || v > (UINT64_MAX - d) / 10;
                v = v * 10 + d;
            }
        }
        if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) {
            return fail("a floating-point number (the entry contract has none)");
        }
        if (overflow || (negative && v > (std::uint64_t{1} << 63))) {
            return fail("an integer outside the 64-bit range");
        }
        if (key == Key::prev) return fail("\"prev\" is not a string");
        if (key == Key::index) {
            if (negative) return fail("\"index\" is not an unsigned integer");
            fields_.index = v;
            has_index = true;
        }
        return true;
    }

    bool literal(const char* word, std::size_t n, Key key) {
        if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) {
            return fail("not valid JSON");
        }
        p_ += n;
        return typed(key, false);
    }

    // Refuses a value of the wrong type under "index" / "prev".
    bool typed(Key key, bool is_string) {
        if (key == Key::index) return fail("\"index\" is not an unsigned integer");
        if (key == Key::prev && !is_string) return fail("\"prev\" is not a string");
        return true;
    }

    // "prev" must be written literally: "" or 64 lowercase hex digits.
    bool prev_value(std::string_view raw, bool escaped) {
        constexpr const char* kBadPrev = "\"prev\" is neither empty nor 64 lowercase hex digits";
        if (!raw.empty()) {
            if (escaped || raw.size() != fields_.prev.size()) return fail(kBadPrev);
            for (char c : raw) {
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return fail(kBadPrev);
            }
            std::memcpy(fields_.prev.data(), raw.data(), raw.size());
        }
        fields_.prev_size = raw.size();
        has_prev = true;
        return true;
    }

    bool value(std::size_t depth, Key key) {
        if (p_ == end_) return fail("not valid JSON");
        switch (*p_) {
            case '{': return typed(key, false) && object(depth + 1);
            case '[': return typed(key, false) && array(depth + 1);
            case '"': {
                std::string_view raw;
                bool escaped = false;
                if (!string(raw, escaped) || !typed(key, true)) return false;
                return key != Key::prev || prev_value(raw, escaped);
            }
            case 't': return literal("true", 4, key);
            case 'f': return literal("false", 5, key);
            case 'n': return literal("null", 4, key);
            default: return number(key);
        }
    }

    bool object(std::size_t depth) {
        if (depth > kMaxEntryDepth) return fail("nested deeper than 64 levels");
        if (!eat('{')) return fail(depth == 1 ? "not a JSON object" : "not valid JSON");
        ws();
        if (eat('}')) return true;
        bool seen_index = false, seen_prev = false;
        for (;;) {
            std::string_view raw;
            bool escaped = false;
            ws();
            if (!string(raw, escaped)) return false;
            Key key = depth == 1 ? key_of(raw, escaped) : Key::other;
            if (key == Key::index && std::exchange(seen_index, true)) {
                return fail("\"index\" appears twice");
            }
            if (key == Key::prev && std::exchange(seen_prev, true)) {
                return fail("\"prev\" appears twice");
            }
            ws();
            if (!eat(':')) return fail("not valid JSON");
            ws();
            if (!value(depth, key)) return false;
            ws();
            if (eat('}')) return true;
            if (!eat(',')) return fail("not valid JSON");
        }
    }

    bool array(std::size_t depth) {
        if (depth > kMaxEntryDepth) return fail("nested deeper than 64 levels");
        if (!eat('[')) return fail("not valid JSON");
        ws();
        if (eat(']')) return true;
        for (;;) {
            ws();
            if (!value(depth, Key::other)) return false;
            ws();
            if (eat(']')) return true;
            if (!eat(',')) return fail("not valid JSON");
        }
    }

    const char* p_;
    const char* end_;
    EntryFields& fields_;
};

}  // namespace

EntryScan scan_entry_json(std::string_view line, EntryFields& fields) {
    Scanner s(line, fields);
    const bool ok = s.document();
    return {ok ? nullptr : s.error, s.has_index, s.has_prev};
}

}  // namespace enclave::audit::detail
