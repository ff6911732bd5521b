// SPDX-License-Identifier: Apache-2.0
// The strict JSON reader and the timestamp check behind parse_ingest_items.
//
// nlohmann::json's DOM parser keeps the last of two equal member names and
// turns out-of-range integers into doubles without a word, so the DOM is
// built here through the SAX interface, which sees every event. nlohmann's
// own parse errors quote the input: only the byte offset is kept.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "delivery/ingest_json.hpp"
#include "ingest_json_internal.hpp"

namespace enclave::delivery {
namespace detail {
namespace {

using json = nlohmann::json;
using crypto::Errc;

constexpr std::array<std::string_view, 17> kKnownMembers = {
    "idempotencyKey", "timestamp",          "sender",  "receivers",
    "binaries",       "cspDefined",         "applicationCorrelation",
    "identifiers",    "isTargetedParty",    "formatType", "value",
    "id",             "originalFilename",   "cspDefinedIdentifier",
    "schemaIdentifier", "schemaUrl",        "xml",
};

class StrictBuilder final : public nlohmann::json_sax<json> {
public:
    explicit StrictBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

    bool null() override { return put(json(nullptr)); }
    bool boolean(bool v) override { return put(json(v)); }
    bool number_integer(number_integer_t v) override { return put(json(v)); }
    bool number_unsigned(number_unsigned_t v) override { return put(json(v)); }
    bool number_float(number_float_t /*v*/, const string_t& /*text*/) override {
        // nlohmann also reports integers beyond 64 bits this way.
        return refuse(Errc::malformed_input, "a number that is not a 64-bit integer");
    }
    bool string(string_t& v) override { return put(json(std::move(v))); }
    bool binary(binary_t& /*v*/) override { return refuse(Errc::malformed_input, "a binary value"); }
    bool start_object(std::size_t /*elements*/) override { return open(json::object()); }
    bool key(string_t& name) override {
        if (stack_.back().node->contains(name)) {
            return refuse(Errc::malformed_input,
                          is_known_member(name) ? "a duplicate member \"" + name + "\""
                                                : std::string("a duplicate member"));
        }
        key_ = std::move(name);
        return true;
    }
    bool end_object() override { return close(); }
    bool start_array(std::size_t /*elements*/) override { return open(json::array()); }
    bool end_array() override { return close(); }
    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& /*ex*/) override {
        if (!error_) {
            error_ = crypto::Error(Errc::malformed_input,
                                   "not valid JSON (at byte " + std::to_string(position) + ")");
        }
        return false;
    }

    [[nodiscard]] const std::optional<crypto::Error>& error() const noexcept { return error_; }
    [[nodiscard]] json take() { return std::move(root_); }

private:
    struct Open {
        json* node;
        std::string path;
    };

    bool refuse(Errc code, const std::string& what) {
        if (!error_) {
            const std::string where = stack_.empty() ? "" : stack_.back().path;
            error_ = crypto::Error(code, (where.empty() ? "(top level)" : where) + ": " + what);
        }
        return false;
    }

    /// The path label of the value about to be placed.
    std::string child_path() const {
        if (stack_.empty()) return "";
        const Open& parent = stack_.back();
        if (parent.node->is_array()) return parent.path + "[" + std::to_string(parent.node->size()) + "]";
        const std::string_view name = is_known_member(key_) ? std::string_view(key_) : "<member>";
        return parent.path + (parent.path.empty() ? "" : ".") + std::string(name);
    }

    /// Pointers into the tree stay valid: a parent grows only after its open
    /// child has been closed.
    json* slot(json&& v) {
        if (stack_.empty()) {
            root_ = std::move(v);
            return &root_;
        }
        json& parent = *stack_.back().node;
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        return &(parent[key_] = std::move(v));
    }

    bool put(json&& v) {
        slot(std::move(v));
        return true;
    }

    bool open(json&& container) {
        if (stack_.size() + 1 > max_depth_) {
            return refuse(Errc::too_large, "nested deeper than " + std::to_string(max_depth_) + " levels");
        }
        std::string path = child_path();
        stack_.push_back({slot(std::move(container)), std::move(path)});
        return true;
    }

    bool close() {
        stack_.pop_back();
        return true;
    }

    std::size_t max_depth_;
    json root_;
    std::vector<Open> stack_;
    std::string key_;
    std::optional<crypto::Error> error_;
};

bool all_digits(std::string_view s) noexcept {
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

int number(std::string_view s) noexcept {
    int v = 0;
    for (char c : s) v = v * 10 + (c - '0');
    return v;
}

int days_in_month(int year, int month) noexcept {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

/// "Z", "+hh:mm" or "-hh:mm" with hh:mm <= 14:00.
bool valid_zone(std::string_view z) noexcept {
    if (z == "Z") return true;
    if (z.size() != 6 || (z[0] != '+' && z[0] != '-') || z[3] != ':') return false;
    if (!all_digits(z.substr(1, 2)) || !all_digits(z.substr(4, 2))) return false;
    const int hh = number(z.substr(1, 2));
    const int mm = number(z.substr(4, 2));
    return mm <= 59 && (hh < 14 || (hh == 14 && mm == 0));
}

}  // namespace

bool is_known_member(std::string_view name) noexcept {
    for (auto k : kKnownMembers) {
        if (k == name) return true;
    }
    return false;
}

std::size_t utf8_chars(std::string_view text) noexcept {
    std::size_t n = 0;
    for (char c : text) {
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
    }
    return n;
}

crypto::Result<nlohmann::json> parse_strict_json(std::string_view text, std::size_t max_depth) {
    StrictBuilder builder(max_depth);
    const bool ok = json::sax_parse(text, &builder, json::input_format_t::json, true);
    if (builder.error()) return tl::unexpected(*builder.error());
    if (!ok) return crypto::fail(Errc::malformed_input, "not valid JSON");
    return builder.take();
}

}  // namespace detail

bool is_qualified_date_time(std::string_view t) noexcept {
    // YYYY-MM-DDThh:mm:ss = 19 characters, then [.ffffff], then the zone.
    if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':') {
        return false;
    }
    for (std::size_t at : {0u, 5u, 8u, 11u, 14u, 17u}) {
        const std::size_t len = at == 0 ? 4 : 2;
        if (!detail::all_digits(t.substr(at, len))) return false;
    }
    const int year = detail::number(t.substr(0, 4));
    const int month = detail::number(t.substr(5, 2));
    const int day = detail::number(t.substr(8, 2));
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > detail::days_in_month(year, month)) {
        return false;
    }
    if (detail::number(t.substr(11, 2)) > 23 || detail::number(t.substr(14, 2)) > 59 ||
        detail::number(t.substr(17, 2)) > 59) {
        return false;
    }
    std::string_view rest = t.substr(19);
    if (!rest.empty() && rest[0] == '.') {
        if (rest.size() < 7 || !detail::all_digits(rest.substr(1, 6))) return false;
        rest.remove_prefix(7);
    }
    return detail::valid_zone(rest);
}

}  // namespace enclave::delivery
