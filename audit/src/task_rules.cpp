// SPDX-License-Identifier: Apache-2.0
// Reference, kind and endpoint rules of task intake (docs/tasks.md).
#include "audit/task.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;

bool is_visible_ascii(char c) noexcept { return c >= '!' && c <= '~'; }  // [!-~]
bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

template <class Pred>
bool all_of(std::string_view s, Pred pred) noexcept {
    for (char c : s) {
        if (!pred(c)) return false;
    }
    return true;
}

/// No C0 control, DEL or C1 control (the reference appears in logs and on terminals).
bool has_control(std::string_view s) noexcept {
    for (std::size_t k = 0; k < s.size(); ++k) {
        const auto b = static_cast<unsigned char>(s[k]);
        if (b < 0x20 || b == 0x7f) return true;
        if (b == 0xc2 && k + 1 < s.size() && static_cast<unsigned char>(s[k + 1]) < 0xa0) return true;
    }
    return false;
}

// LIID: ([!-~]{1,25})|([0-9a-f]{26,50})
crypto::Result<void> check_liid(std::string_view r) {
    if (r.size() >= 1 && r.size() <= 25 && all_of(r, is_visible_ascii)) return {};
    if (r.size() >= 26 && r.size() <= 50 && all_of(r, is_lower_hex)) return {};
    return crypto::fail(Errc::invalid_argument,
                        "not an LIID: 1-25 visible ASCII characters, or 26-50 lowercase hex digits "
                        "(TS 103 280)");
}

// LDID: ([A-Z]{2}-.+-.+) where '.' is any character but CR and LF.
crypto::Result<void> check_ldid(std::string_view r) {
    const auto bad = [] {
        return crypto::fail(Errc::invalid_argument,
                            "not an LDID: two capital letters, '-', text, '-', text (TS 103 280)");
    };
    if (r.size() > kMaxReferenceBytes) {
        return crypto::fail(Errc::invalid_argument,
                            "longer than " + std::to_string(kMaxReferenceBytes) + " bytes");
    }
    if (!crypto::is_valid_utf8(r) || has_control(r)) {
        return crypto::fail(Errc::invalid_argument, "must be UTF-8 without control characters");
    }
    if (r.size() < 6 || r[0] < 'A' || r[0] > 'Z' || r[1] < 'A' || r[1] > 'Z' || r[2] != '-') return bad();
    // ".+-.+" over the rest: a '-' with at least one character on each side.
    const std::string_view rest = r.substr(3);
    const std::size_t dash = rest.find('-', 1);
    if (dash == std::string_view::npos || dash + 1 >= rest.size()) return bad();
    return {};
}

}  // namespace

std::string_view task_kind_name(TaskKind kind) noexcept { return kind == TaskKind::li ? "LI" : "LD"; }

std::optional<TaskKind> task_kind_from_name(std::string_view name) noexcept {
    if (name == "LI") return TaskKind::li;
    if (name == "LD") return TaskKind::ld;
    return std::nullopt;
}

crypto::Result<void> check_reference(TaskKind kind, std::string_view reference) {
    return kind == TaskKind::li ? check_liid(reference) : check_ldid(reference);
}

bool is_valid_reference(std::string_view reference) noexcept {
    return check_liid(reference).has_value() || check_ldid(reference).has_value();
}

bool is_valid_endpoint_name(std::string_view name) noexcept {
    // [a-z0-9][a-z0-9-]{0,62}
    if (name.empty() || name.size() > 63) return false;
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!ok(name.front())) return false;
    return all_of(name, [&](char c) { return ok(c) || c == '-'; });
}

}  // namespace enclave::audit
