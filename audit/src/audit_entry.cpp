// SPDX-License-Identifier: Apache-2.0
// Building audit entries and reading their head back (audit_entry.hpp).
#include "audit_entry.hpp"

#include <charconv>
#include <optional>
#include <cstdio>

#include "jcs_internal.hpp"

namespace enclave::audit::detail {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

constexpr std::size_t kMaxEventName = 64;
constexpr std::string_view kOwnMembers[] = {"index", "prev", "time"};

bool valid_event_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxEventName) return false;
    if (name[0] < 'a' || name[0] > 'z') return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Result<void> check_event_shape(const nlohmann::json& event) {
    if (!event.is_object()) {
        return fail(Errc::invalid_argument, "an audit event must be a JSON object");
    }
    const auto name = event.find("event");
    if (name == event.end() || !name->is_string()) {
        return fail(Errc::invalid_argument, "an audit event needs a string \"event\" member");
    }
    if (!valid_event_name(name->get_ref<const std::string&>())) {
        return fail(Errc::invalid_argument,
                    "the \"event\" member must be 1-64 characters of a-z 0-9 . _ - "
                    "starting with a letter");
    }
    for (std::string_view own : kOwnMembers) {
        if (event.contains(own)) {
            return fail(Errc::invalid_argument,
                        "\"" + std::string(own) + "\" is set by the audit log, not by the caller");
        }
    }
    return {};
}

// ---- scanning a stored entry ----

class Scanner {
public:
    explicit Scanner(std::string_view text) : s_(text) {}

    bool eat(char c) {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    [[nodiscard]] bool at_end() const { return pos_ == s_.size(); }

    /// A string starting at the current '"'; returns its raw (escaped) text.
    std::optional<std::string_view> string() {
        if (!eat('"')) return std::nullopt;
        const std::size_t start = pos_;
        while (pos_ < s_.size()) {
            const char c = s_[pos_++];
            if (c == '\\') {
                ++pos_;
            } else if (c == '"') {
                return s_.substr(start, pos_ - 1 - start);
            }
        }
        return std::nullopt;
    }

    /// Skips one value of any kind (nested arrays and objects included): stops
    /// before the ',' or '}' that follows it at depth 0. False when nothing
    /// was consumed or the text ends inside the value.
    bool skip_value() {
        const std::size_t start = pos_;
        std::size_t depth = 0;
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (depth == 0 && pos_ > start && (c == ',' || c == '}')) return true;
            if (c == '"') {
                if (!string()) return false;
                continue;
            }
            if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (depth == 0) return false;
                --depth;
            }
            ++pos_;
        }
        return false;
    }

    std::optional<std::uint64_t> unsigned_integer() {
        const std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        const std::size_t len = pos_ - start;
        if (len == 0 || len > 16 || (len > 1 && s_[start] == '0')) return std::nullopt;
        std::uint64_t v = 0;
        std::from_chars(s_.data() + start, s_.data() + pos_, v);
        return v;
    }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

bool valid_prev(std::string_view prev) {
    if (prev.empty()) return true;
    if (prev.size() != 64) return false;
    for (char c : prev) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace

Result<PreparedEvent> prepare_event(const nlohmann::json& event, std::size_t max_entry_bytes) {
    if (auto ok = check_event_shape(event); !ok) return tl::unexpected(ok.error());
    auto members = canonical_members(event);
    if (!members) return tl::unexpected(members.error());
    PreparedEvent out;
    for (auto& m : *members) {
        std::size_t slot = 0;
        while (slot < 3 && m.key > kOwnMembers[slot]) ++slot;
        std::string& seg = out.segments[slot];
        if (!seg.empty()) {
            seg.push_back(',');
            ++out.size;
        }
        out.size += m.text.size();
        seg += m.text;
        if (out.size + kEntryOverhead > max_entry_bytes) {
            return fail(Errc::too_large, "the audit entry would exceed " +
                                             std::to_string(max_entry_bytes) + " bytes");
        }
    }
    return out;
}

std::string assemble_entry(const PreparedEvent& event, std::uint64_t index,
                           std::string_view prev_hex, std::string_view time) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, index).ptr;
    std::string out;
    out.reserve(event.size + kEntryOverhead);
    out.push_back('{');
    bool first = true;
    const auto add = [&](std::string_view a, std::string_view b = {}, std::string_view c = {}) {
        if (a.empty()) return;
        if (!first) out.push_back(',');
        first = false;
        out.append(a).append(b).append(c);
    };
    add(event.segments[0]);
    add("\"index\":", std::string_view(digits, static_cast<std::size_t>(end - digits)));
    add(event.segments[1]);
    add("\"prev\":\"", prev_hex, "\"");
    add(event.segments[2]);
    add("\"time\":\"", time, "\"");
    add(event.segments[3]);
    out.push_back('}');
    return out;
}

std::string format_time(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t);
    const auto day = floor<days>(ms);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{ms - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()),
                  static_cast<int>(hms.subseconds().count()));
    return buf;
}

Result<EntryHead> scan_entry_head(std::string_view entry) {
    Scanner in(entry);
    if (!in.eat('{')) return fail(Errc::malformed_input, "not a JSON object");
    std::optional<std::uint64_t> index;
    std::optional<std::string_view> prev;
    if (!in.eat('}')) {
        do {
            const auto name = in.string();
            if (!name || !in.eat(':')) return fail(Errc::malformed_input, "malformed member");
            if ((*name == "index" && index) || (*name == "prev" && prev)) {
                return fail(Errc::malformed_input, "a repeated member");
            }
            if (*name == "index") {
                index = in.unsigned_integer();
                if (!index) return fail(Errc::malformed_input, "\"index\" is not an index");
            } else if (*name == "prev") {
                prev = in.string();
                if (!prev || !valid_prev(*prev)) {
                    return fail(Errc::malformed_input, "\"prev\" is not \"\" or 64 hex digits");
                }
            } else if (!in.skip_value()) {
                return fail(Errc::malformed_input, "malformed value");
            }
        } while (in.eat(','));
        if (!in.eat('}')) return fail(Errc::malformed_input, "malformed object");
    }
    if (!in.at_end()) return fail(Errc::malformed_input, "bytes after the object");
    if (!index || !prev) return fail(Errc::malformed_input, "no \"index\" or no \"prev\" member");
    return EntryHead{*index, *prev};
}

}  // namespace enclave::audit::detail
