// SPDX-License-Identifier: Apache-2.0
#include "appliance/http_range.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <stdexcept>

#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kBoundaryBytes = 16;
constexpr std::size_t kMaxBoundary = 70;  // RFC 2046 5.1.1
constexpr std::string_view kDefaultType = "application/octet-stream";

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 5.6.2 tchar.
bool is_tchar(char c) noexcept {
    return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        return lower(x) == lower(y);
    });
}

/// A 1*DIGIT number: its value saturated at uint64 max, and its digits (for
/// exact comparisons beyond the saturation point).
struct Number {
    std::uint64_t value = 0;
    bool saturated = false;
    std::string_view digits;
};

std::optional<Number> parse_number(std::string_view s) noexcept {
    if (s.empty()) return std::nullopt;
    Number n;
    n.digits = s;
    for (const char c : s) {
        if (!is_digit(c)) return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (n.saturated || n.value > (kMax - d) / 10) {
            n.saturated = true;
            n.value = kMax;
        } else {
            n.value = n.value * 10 + d;
        }
    }
    return n;
}

/// Exact a < b on the decimal digits (leading zeros ignored).
bool less_than(std::string_view a, std::string_view b) noexcept {
    const auto strip = [](std::string_view s) {
        while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
        return s;
    };
    a = strip(a);
    b = strip(b);
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
}

/// One range-spec of the bytes unit, before the object size is applied.
struct Spec {
    bool suffix = false;
    Number first;                 ///< int-range
    std::optional<Number> last;   ///< int-range, absent for "first-"
    Number suffix_length;         ///< suffix-range
};

std::optional<Spec> parse_spec(std::string_view s) noexcept {
    Spec spec;
    const std::size_t dash = s.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    if (dash == 0) {
        const auto n = parse_number(s.substr(1));
        if (!n) return std::nullopt;
        spec.suffix = true;
        spec.suffix_length = *n;
        return spec;
    }
    const auto first = parse_number(s.substr(0, dash));
    if (!first) return std::nullopt;
    spec.first = *first;
    const std::string_view rest = s.substr(dash + 1);
    if (!rest.empty()) {
        const auto last = parse_number(rest);
        if (!last || less_than(last->digits, first->digits)) return std::nullopt;
        spec.last = *last;
    }
    return spec;
}

/// What one spec selects in an object of `size` bytes (size > 0), or nothing
/// when it is unsatisfiable.
std::optional<ByteRange> resolve(const Spec& spec, std::uint64_t size) noexcept {
    if (spec.suffix) {
        if (spec.suffix_length.value == 0) return std::nullopt;  // never saturated when 0
        const std::uint64_t n = std::min(spec.suffix_length.value, size);
        return ByteRange{size - n, size - 1};
    }
    if (spec.first.value >= size) return std::nullopt;  // a saturated first is >= any size
    const std::uint64_t last = spec.last ? std::min(spec.last->value, size - 1) : size - 1;
    return ByteRange{spec.first.value, last};
}

bool any_overlap(std::vector<ByteRange> ranges) {
    std::sort(ranges.begin(), ranges.end(),
              [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        // Sorted by first; ranges before i do not overlap each other, so the
        // previous one has the largest last among them.
        if (ranges[i].first <= ranges[i - 1].last) return true;
    }
    return false;
}

RangePlan full(RangeIgnored why) {
    RangePlan p;
    p.outcome = RangeOutcome::full;
    p.ignored = why;
    return p;
}

/// Splits the range-set into specs; a RangeIgnored reason when it is
/// malformed or has too many elements.
struct ParsedSet {
    std::vector<Spec> specs;
    RangeIgnored ignored = RangeIgnored::none;
};

ParsedSet parse_range_set(std::string_view set, std::size_t max_ranges) {
    ParsedSet out;
    std::size_t elements = 0;
    while (true) {
        const std::size_t comma = set.find(',');
        const std::string_view element = trim_ows(set.substr(0, comma));
        if (++elements > max_ranges) {
            out.ignored = RangeIgnored::too_many;
            return out;
        }
        if (!element.empty()) {
            auto spec = parse_spec(element);
            if (!spec) {
                out.ignored = RangeIgnored::malformed;
                return out;
            }
            out.specs.push_back(*spec);
        }
        if (comma == std::string_view::npos) break;
        set.remove_prefix(comma + 1);
    }
    if (out.specs.empty()) out.ignored = RangeIgnored::malformed;  // 1#range-spec
    return out;
}

RangePlan plan_specs(const std::vector<Spec>& specs, std::uint64_t size) {
    RangePlan plan;
    if (size == 0) {
        const bool suffix = std::any_of(specs.begin(), specs.end(), [](const Spec& s) {
            return s.suffix && s.suffix_length.value > 0;
        });
        if (suffix) return full(RangeIgnored::empty_object);
        plan.outcome = RangeOutcome::unsatisfiable;
        return plan;
    }
    for (const Spec& spec : specs) {
        if (auto r = resolve(spec, size)) plan.ranges.push_back(*r);
    }
    if (plan.ranges.empty()) {
        plan.outcome = RangeOutcome::unsatisfiable;
        return plan;
    }
    if (any_overlap(plan.ranges)) return full(RangeIgnored::overlap);
    plan.outcome = RangeOutcome::partial;
    return plan;
}

bool is_boundary(std::string_view b) noexcept {
    if (b.empty() || b.size() > kMaxBoundary) return false;
    return std::all_of(b.begin(), b.end(), [](char c) {
        return is_alnum(c) || c == '\'' || c == '+' || c == '_' || c == '-' || c == '.';
    });
}

bool has_control(std::string_view s) noexcept {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

crypto::Result<void> check_plan(const RangePlan& plan, std::uint64_t size) {
    if (plan.outcome != RangeOutcome::partial || plan.ranges.empty()) {
        return crypto::fail(crypto::Errc::invalid_argument, "range body: the plan is not partial");
    }
    for (const ByteRange& r : plan.ranges) {
        if (r.first > r.last || r.last >= size) {
            return crypto::fail(crypto::Errc::invalid_argument,
                                "range body: a range lies outside the object");
        }
    }
    return {};
}

void add_literal(RangeBody& body, std::string text) {
    BodySegment s;
    s.length = text.size();
    s.literal = std::move(text);
    body.segments.push_back(std::move(s));
}

void add_slice(RangeBody& body, const ByteRange& r) {
    BodySegment s;
    s.offset = r.first;
    s.length = r.length();
    s.from_object = true;
    body.segments.push_back(std::move(s));
}

crypto::Result<void> total_length(RangeBody& body) {
    std::uint64_t total = 0;
    for (const BodySegment& s : body.segments) {
        if (s.length > kMax - total) {
            return crypto::fail(crypto::Errc::too_large, "range body: length overflows 64 bits");
        }
        total += s.length;
    }
    body.content_length = total;
    return {};
}

}  // namespace

std::string_view range_ignored_name(RangeIgnored why) noexcept {
    switch (why) {
        case RangeIgnored::none: return "none";
        case RangeIgnored::absent: return "absent";
        case RangeIgnored::if_range: return "if-range";
        case RangeIgnored::too_long: return "too-long";
        case RangeIgnored::unit: return "unit";
        case RangeIgnored::malformed: return "malformed";
        case RangeIgnored::too_many: return "too-many";
        case RangeIgnored::overlap: return "overlap";
        case RangeIgnored::empty_object: return "empty-object";
    }
    return "unknown";
}

bool if_range_holds(std::string_view if_range, std::string_view etag) noexcept {
    const bool strong = etag.size() >= 2 && etag.front() == '"' && etag.back() == '"';
    return strong && trim_ows(if_range) == etag;
}

RangePlan plan_ranges(const std::string* range, const std::string* if_range, std::string_view etag,
                      std::uint64_t size, const RangeLimits& limits) {
    if (range == nullptr) return full(RangeIgnored::absent);
    if (if_range != nullptr && !if_range_holds(*if_range, etag)) return full(RangeIgnored::if_range);
    if (range->size() > limits.max_header_bytes) return full(RangeIgnored::too_long);

    const std::string_view value = trim_ows(*range);
    const std::size_t eq = value.find('=');
    if (eq == std::string_view::npos) return full(RangeIgnored::malformed);
    const std::string_view unit = value.substr(0, eq);
    if (unit.empty() || !std::all_of(unit.begin(), unit.end(), is_tchar)) {
        return full(RangeIgnored::malformed);
    }
    if (!iequals(unit, "bytes")) return full(RangeIgnored::unit);

    ParsedSet set = parse_range_set(value.substr(eq + 1), limits.max_ranges);
    if (set.ignored != RangeIgnored::none) return full(set.ignored);
    return plan_specs(set.specs, size);
}

std::string strong_etag(std::string_view sha256_hex) {
    const bool ok = sha256_hex.size() == 64 &&
                    std::all_of(sha256_hex.begin(), sha256_hex.end(),
                                [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); });
    if (!ok) throw std::invalid_argument("strong_etag: not a lowercase hex SHA-256");
    std::string out = "\"sha256-";
    out += sha256_hex;
    out += '"';
    return out;
}

std::string content_range(const ByteRange& r, std::uint64_t size) {
    if (r.first > r.last || r.last >= size) {
        throw std::invalid_argument("content_range: range outside the object");
    }
    return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
           std::to_string(size);
}

std::string unsatisfied_content_range(std::uint64_t size) {
    return "bytes */" + std::to_string(size);
}

std::string make_boundary() {
    std::array<std::uint8_t, kBoundaryBytes> raw{};
    crypto::ensure_sodium();
    randombytes_buf(raw.data(), raw.size());
    return crypto::hex_encode(raw);
}

crypto::Result<RangeBody> range_body(const RangePlan& plan, std::string_view object_content_type,
                                     std::uint64_t size, const std::string& boundary) {
    if (auto ok = check_plan(plan, size); !ok) return tl::unexpected(ok.error());
    if (has_control(object_content_type)) {
        return crypto::fail(crypto::Errc::malformed_input,
                            "range body: the object content type has a control character");
    }
    const std::string type =
        object_content_type.empty() ? std::string(kDefaultType) : std::string(object_content_type);

    RangeBody body;
    if (plan.ranges.size() == 1) {
        body.content_type = type;
        body.headers.emplace_back("Content-Range", content_range(plan.ranges.front(), size));
        add_slice(body, plan.ranges.front());
    } else {
        if (!is_boundary(boundary)) {
            return crypto::fail(crypto::Errc::invalid_argument, "range body: invalid multipart boundary");
        }
        body.content_type = "multipart/byteranges; boundary=" + boundary;
        bool first_part = true;
        for (const ByteRange& r : plan.ranges) {
            std::string head = first_part ? "--" : "\r\n--";
            head += boundary;
            head += "\r\nContent-Type: " + type;
            head += "\r\nContent-Range: " + content_range(r, size) + "\r\n\r\n";
            add_literal(body, std::move(head));
            add_slice(body, r);
            first_part = false;
        }
        add_literal(body, "\r\n--" + boundary + "--\r\n");
    }
    if (auto ok = total_length(body); !ok) return tl::unexpected(ok.error());
    return body;
}

}  // namespace enclave::appliance
