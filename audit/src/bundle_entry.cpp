// SPDX-License-Identifier: Apache-2.0
#include "bundle_entry.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "text_rules.hpp"

namespace enclave::audit::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

using Json = nlohmann::json;

bool lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// SAX events of one entry: structure and limits, and the two chain fields at
// depth 1. Returning false stops the parser; `error` says why.
class EntrySax {
public:
    EntryFields fields;
    bool has_index = false;
    bool has_prev = false;
    const char* error = nullptr;

    bool null() { return value(Kind::other); }
    bool boolean(bool) { return value(Kind::other); }
    bool number_integer(Json::number_integer_t) { return value(Kind::other); }  // negative
    bool number_unsigned(Json::number_unsigned_t v) {
        if (!value(Kind::unsigned_int)) return false;
        if (depth_ == 1 && key_ == Key::index) {
            fields.index = v;
            has_index = true;
        }
        return true;
    }
    bool number_float(Json::number_float_t, const Json::string_t&) {
        return stop("a floating-point number (the entry contract has none)");
    }
    bool string(Json::string_t& v) {
        if (!value(Kind::string)) return false;
        if (depth_ == 1 && key_ == Key::prev) {
            if (!v.empty() && (v.size() != fields.prev.size() || !lower_hex(v))) {
                return stop("\"prev\" is neither empty nor 64 lowercase hex digits");
            }
            std::memcpy(fields.prev.data(), v.data(), v.size());
            fields.prev_size = v.size();
            has_prev = true;
        }
        return true;
    }
    bool binary(Json::binary_t&) { return stop("binary value"); }
    bool start_object(std::size_t) { return open(); }
    bool start_array(std::size_t) {
        if (depth_ == 0) return stop("an array, not an object");
        return open();
    }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(Json::string_t& k) {
        key_ = Key::other;
        if (depth_ != 1) return true;
        if (k == "index") {
            if (has_index_key_) return stop("\"index\" appears twice");
            has_index_key_ = true;
            key_ = Key::index;
        } else if (k == "prev") {
            if (has_prev_key_) return stop("\"prev\" appears twice");
            has_prev_key_ = true;
            key_ = Key::prev;
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        if (error == nullptr) error = "not valid JSON";
        return false;
    }

private:
    enum class Key { other, index, prev };
    enum class Kind { other, unsigned_int, string };

    bool stop(const char* why) {
        error = why;
        return false;
    }
    // A value of `kind` where the parser is now: "index" must be an unsigned
    // integer and "prev" a string (at the top level only).
    bool value(Kind kind) {
        if (depth_ == 0) return stop("not a JSON object");
        if (depth_ != 1 || key_ == Key::other) return true;
        if (key_ == Key::index && kind != Kind::unsigned_int) {
            return stop("\"index\" is not an unsigned integer");
        }
        if (key_ == Key::prev && kind != Kind::string) return stop("\"prev\" is not a string");
        return true;
    }
    bool open() {
        if (depth_ > 0 && !value(Kind::other)) return false;
        if (++depth_ > kMaxEntryDepth) return stop("nested deeper than 64 levels");
        key_ = Key::other;
        return true;
    }
    bool close() {
        --depth_;
        key_ = Key::other;
        return true;
    }

    std::size_t depth_ = 0;
    Key key_ = Key::other;
    bool has_index_key_ = false;
    bool has_prev_key_ = false;
};

}  // namespace

Result<EntryFields> parse_entry(std::string_view line) {
    if (line.empty()) return fail(Errc::malformed_input, "empty line");
    const TextScan scan = scan_text(line, false);
    if (scan.fault != TextFault::none) {
        return fail(Errc::malformed_input,
                    std::string(fault_name(scan.fault)) + " at byte " + std::to_string(scan.offset));
    }
    if (line.front() != '{') return fail(Errc::malformed_input, "not a JSON object");
    EntrySax sax;
    const bool ok = Json::sax_parse(line.begin(), line.end(), &sax);
    if (!ok) {
        return fail(Errc::malformed_input, sax.error != nullptr ? sax.error : "not valid JSON");
    }
    if (!sax.has_index) return fail(Errc::malformed_input, "no unsigned integer \"index\"");
    if (!sax.has_prev) return fail(Errc::malformed_input, "no string \"prev\"");
    return sax.fields;
}

LinkCheck Chain::add(std::string_view line) {
    auto fields = parse_entry(line);
    if (!fields) return {LinkFault::malformed, 0, fields.error().context()};
    const std::uint64_t position = count();
    if (fields->index != position) return {LinkFault::index_mismatch, fields->index, {}};
    if (position == 0) {
        if (fields->prev_size != 0) return {LinkFault::prev_not_empty, 0, {}};
    } else if (fields->prev_hex() != std::string_view(last_leaf_hex_.data(), last_leaf_hex_.size())) {
        return {LinkFault::prev_mismatch, position, {}};
    }
    last_leaf_ = hasher_.hash_leaf(crypto::as_bytes(line));
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < last_leaf_.size(); ++i) {
        last_leaf_hex_[2 * i] = kHex[last_leaf_[i] >> 4];
        last_leaf_hex_[2 * i + 1] = kHex[last_leaf_[i] & 0x0f];
    }
    if (auto appended = tree_.append(last_leaf_); !appended) {
        return {LinkFault::malformed, position, appended.error().context()};
    }
    return {};
}

}  // namespace enclave::audit::detail
