// SPDX-License-Identifier: Apache-2.0
#include "delivery/lea_client_range.hpp"

#include <cctype>

namespace enclave::delivery {
namespace {

using crypto::Errc;
using crypto::fail;

/// 1..19 decimal digits (fits in 64 bits).
bool parse_number(std::string_view s, std::uint64_t& out) noexcept {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

/// Strips "bytes " (unit case-insensitive) from the front.
bool strip_unit(std::string_view& v) noexcept {
    constexpr std::string_view unit = "bytes ";
    if (v.size() < unit.size()) return false;
    for (std::size_t i = 0; i < unit.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(v[i])) != unit[i]) return false;
    }
    v.remove_prefix(unit.size());
    return true;
}

}  // namespace

crypto::Result<ContentRange> parse_content_range(std::string_view v) {
    if (!strip_unit(v)) return fail(Errc::malformed_input, "Content-Range: not a bytes range");
    const auto slash = v.find('/');
    const auto dash = v.find('-');
    if (slash == std::string_view::npos || dash == std::string_view::npos || dash > slash) {
        return fail(Errc::malformed_input, "Content-Range: not first-last/length");
    }
    ContentRange r;
    if (!parse_number(v.substr(0, dash), r.first) ||
        !parse_number(v.substr(dash + 1, slash - dash - 1), r.last)) {
        return fail(Errc::malformed_input, "Content-Range: bad first or last position");
    }
    if (r.first > r.last) return fail(Errc::malformed_input, "Content-Range: first after last");
    const std::string_view complete = v.substr(slash + 1);
    if (complete != "*") {
        std::uint64_t n = 0;
        if (!parse_number(complete, n)) {
            return fail(Errc::malformed_input, "Content-Range: bad complete length");
        }
        if (r.last >= n) {
            return fail(Errc::malformed_input, "Content-Range: the range ends past the length");
        }
        r.complete_length = n;
    }
    return r;
}

crypto::Result<std::uint64_t> parse_unsatisfied_range(std::string_view v) {
    std::uint64_t n = 0;
    if (!strip_unit(v) || v.substr(0, 2) != "*/" || !parse_number(v.substr(2), n)) {
        return fail(Errc::malformed_input, "Content-Range: not an unsatisfied range (*/length)");
    }
    return n;
}

std::string byte_range_header(std::uint64_t first, std::optional<std::uint64_t> last) {
    std::string out = "bytes=" + std::to_string(first) + "-";
    if (last) out += std::to_string(*last);
    return out;
}

bool is_strong_etag(std::string_view e) noexcept {
    if (e.size() < 2 || e.front() != '"' || e.back() != '"') return false;
    for (char ch : e.substr(1, e.size() - 2)) {
        const auto c = static_cast<unsigned char>(ch);
        // etagc = %x21 / %x23-7E / obs-text
        if (c < 0x21 || c == '"' || c == 0x7f) return false;
    }
    return true;
}

}  // namespace enclave::delivery
