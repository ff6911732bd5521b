// SPDX-License-Identifier: Apache-2.0
// Range requests (appliance/include/appliance/http_range.hpp): the RFC 9110
// 14.1.2 examples, clamping and satisfiability, hostile Range values, If-Range,
// and 206 bodies rebuilt from their segments and parsed back independently.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>

#include "appliance/http_range.hpp"

namespace enclave::appliance {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kEtag = "\"sha256-" + kHex + "\"";

RangePlan plan(const std::string& range, std::uint64_t size, const RangeLimits& limits = {}) {
    return plan_ranges(&range, nullptr, kEtag, size, limits);
}

void expect_partial(const std::string& range, std::uint64_t size, const std::vector<ByteRange>& want) {
    const RangePlan p = plan(range, size);
    EXPECT_EQ(p.outcome, RangeOutcome::partial) << range << " ignored: " << range_ignored_name(p.ignored);
    EXPECT_EQ(p.ignored, RangeIgnored::none) << range;
    EXPECT_EQ(p.ranges, want) << range;
}

void expect_full(const std::string& range, std::uint64_t size, RangeIgnored why) {
    const RangePlan p = plan(range, size);
    EXPECT_EQ(p.outcome, RangeOutcome::full) << range;
    EXPECT_EQ(p.ignored, why) << range << " ignored: " << range_ignored_name(p.ignored);
    EXPECT_TRUE(p.ranges.empty()) << range;
}

void expect_unsatisfiable(const std::string& range, std::uint64_t size) {
    const RangePlan p = plan(range, size);
    EXPECT_EQ(p.outcome, RangeOutcome::unsatisfiable) << range << " ignored: " << range_ignored_name(p.ignored);
    EXPECT_EQ(p.ignored, RangeIgnored::none) << range;
    EXPECT_TRUE(p.ranges.empty()) << range;
}

// --- RFC 9110 14.1.2 examples (a 10000-byte representation) ----------------

TEST(HttpRangeRfcTest, FirstAndSecondFiveHundredBytes) {
    expect_partial("bytes=0-499", 10000, {{0, 499}});
    expect_partial("bytes=500-999", 10000, {{500, 999}});
}

TEST(HttpRangeRfcTest, FinalFiveHundredBytesBothWays) {
    expect_partial("bytes=-500", 10000, {{9500, 9999}});
    expect_partial("bytes=9500-", 10000, {{9500, 9999}});
}

TEST(HttpRangeRfcTest, FirstAndLastByteOnly) {
    expect_partial("bytes=0-0,-1", 10000, {{0, 0}, {9999, 9999}});
}

TEST(HttpRangeRfcTest, NonCanonicalSecondFiveHundred) {
    // Adjacent: served as asked, two parts, not coalesced.
    expect_partial("bytes=500-600,601-999", 10000, {{500, 600}, {601, 999}});
    // Overlapping: ignored by our denial-of-service rule.
    expect_full("bytes=500-700,601-999", 10000, RangeIgnored::overlap);
}

// --- satisfiability and clamping -----------------------------------------

TEST(HttpRangeClampTest, LastAndSuffixClampToTheObject) {
    expect_partial("bytes=0-99999", 1000, {{0, 999}});
    expect_partial("bytes=990-", 1000, {{990, 999}});
    expect_partial("bytes=-5000", 1000, {{0, 999}});
    expect_partial("bytes=-1000", 1000, {{0, 999}});
    expect_partial("bytes=999-", 1000, {{999, 999}});
    expect_partial("bytes=999-999", 1000, {{999, 999}});
}

TEST(HttpRangeClampTest, FirstPosAtOrBeyondSizeIsUnsatisfiable) {
    expect_unsatisfiable("bytes=1000-", 1000);
    expect_unsatisfiable("bytes=1000-1000", 1000);
    expect_unsatisfiable("bytes=1000-2000", 1000);
    expect_unsatisfiable("bytes=-0", 1000);
    expect_unsatisfiable("bytes=5000-,6000-7000,-0", 1000);
}

TEST(HttpRangeClampTest, UnsatisfiableRangesAreDroppedOrderKept) {
    expect_partial("bytes=0-9,2000-3000,-5", 1000, {{0, 9}, {995, 999}});
    expect_partial("bytes=-0,0-1", 1000, {{0, 1}});
    expect_partial("bytes=900-909,0-9,500-509", 1000, {{900, 909}, {0, 9}, {500, 509}});
    // Unsatisfiable ranges take no part in the overlap rule.
    expect_partial("bytes=0-9,5000-6000,5000-", 1000, {{0, 9}});
}

TEST(HttpRangeClampTest, OverlapAfterResolvingIsIgnored) {
    expect_full("bytes=0-499,-600", 1000, RangeIgnored::overlap);       // suffix is 400-999
    expect_full("bytes=0-9,100-199,5-6", 1000, RangeIgnored::overlap);  // not neighbours in the list
    expect_full("bytes=990-5000,995-", 1000, RangeIgnored::overlap);    // overlap made by clamping
    expect_full("bytes=0-0,0-0", 1000, RangeIgnored::overlap);
    expect_full("bytes=0-0,-1", 1, RangeIgnored::overlap);  // the RFC example on a 1-byte object
}

TEST(HttpRangeClampTest, ZeroLengthObject) {
    expect_unsatisfiable("bytes=0-", 0);
    expect_unsatisfiable("bytes=0-0", 0);
    expect_unsatisfiable("bytes=-0", 0);
    expect_unsatisfiable("bytes=0-5,7-", 0);
    // A non-zero suffix is satisfiable (RFC 9110 14.1.2) but selects nothing.
    expect_full("bytes=-1", 0, RangeIgnored::empty_object);
    expect_full("bytes=0-5,-5", 0, RangeIgnored::empty_object);
}

TEST(HttpRangeClampTest, LargestSizes) {
    expect_partial("bytes=0-", kMax, {{0, kMax - 1}});
    expect_partial("bytes=-1", kMax, {{kMax - 1, kMax - 1}});
    expect_partial("bytes=18446744073709551614-", kMax, {{kMax - 1, kMax - 1}});
    expect_unsatisfiable("bytes=18446744073709551615-", kMax);
    expect_unsatisfiable("bytes=18446744073709551616-", kMax);
    const RangePlan p = plan("bytes=0-", kMax);
    ASSERT_EQ(p.ranges.size(), 1u);
    EXPECT_EQ(p.ranges[0].length(), kMax);
}

TEST(HttpRangeClampTest, HugeNumbersSaturateNeverWrap) {
    const std::string big(30, '9');
    expect_unsatisfiable("bytes=" + big + "-", 1000);
    expect_unsatisfiable("bytes=" + big + "-", kMax);
    expect_unsatisfiable("bytes=" + big + "-" + big, 1000);
    expect_partial("bytes=0-" + big, 1000, {{0, 999}});
    expect_partial("bytes=-" + big, 1000, {{0, 999}});
    expect_partial("bytes=-" + big, kMax, {{0, kMax - 1}});
    // 2^64 exactly would wrap to 0 in naive code.
    expect_partial("bytes=-18446744073709551616", 10, {{0, 9}});
    expect_unsatisfiable("bytes=18446744073709551616-18446744073709551617", 10);
    // last < first is judged on the exact values, past saturation too.
    expect_full("bytes=" + big + "-" + std::string(29, '9'), 1000, RangeIgnored::malformed);
    expect_full("bytes=99999999999999999999999-99999999999999999999998", 1000, RangeIgnored::malformed);
    // Leading zeros are digits, not magnitude.
    expect_partial("bytes=" + std::string(40, '0') + "1-0002", 1000, {{1, 2}});
    expect_full("bytes=0005-" + std::string(30, '0') + "3", 1000, RangeIgnored::malformed);
}

// --- hostile and malformed values ------------------------------------------

TEST(HttpRangeHostileTest, SyntaxErrorsIgnoreTheWholeHeader) {
    for (const std::string bad :
         {"", "bytes", "bytes=", "bytes=,", "bytes= ", "bytes=,,", "bytes=-", "bytes=--5", "bytes=5-3",
          "bytes=0-1,5-3", "bytes=1-2-3", "bytes=-5-", "bytes=0-1;2-3", "bytes=a-b", "bytes=0x10-20",
          "bytes=+1-2", "bytes=1-+2", "bytes=-+5", "bytes=1 -2", "bytes=1- 2", "bytes =0-1", "bytes= =0-1",
          "=0-1", "bytes==0-1", "bytes 0-1", "bytes=0-1\r\n", "bytes=\n0-1", "bytes=0-1\xff", "bytes=1e3-",
          "bytes=0-1,abc", "bytes=0.5-1", "bytes=\xef\xbc\x91-2", "by tes=0-1", "bytes=0-1\v"}) {
        expect_full(bad, 1000, RangeIgnored::malformed);
    }
}

TEST(HttpRangeHostileTest, EmbeddedNulIsMalformed) {
    expect_full(std::string("bytes=0-1\0", 10), 1000, RangeIgnored::malformed);
    expect_full(std::string("bytes=0\0-1", 10), 1000, RangeIgnored::malformed);
    expect_full(std::string("bytes\0=0-1", 10), 1000, RangeIgnored::malformed);
    expect_full(std::string("bytes=0-1,\0", 11), 1000, RangeIgnored::malformed);
}

TEST(HttpRangeHostileTest, WhitespaceAndEmptyElements) {
    expect_partial(" bytes=0-1 ", 1000, {{0, 1}});
    expect_partial("bytes=\t0-1\t,\t5-6\t", 1000, {{0, 1}, {5, 6}});
    expect_partial("bytes=0-1 , 5-6", 1000, {{0, 1}, {5, 6}});
    expect_partial("bytes=0-1,,5-6", 1000, {{0, 1}, {5, 6}});
    expect_partial("bytes=,0-1,", 1000, {{0, 1}});
    expect_partial("bytes=, ,\t,0-1", 1000, {{0, 1}});
}

TEST(HttpRangeHostileTest, UnitIsCaseInsensitiveBytesOnly) {
    expect_partial("BYTES=0-1", 1000, {{0, 1}});
    expect_partial("Bytes=0-1", 1000, {{0, 1}});
    expect_partial("bYtEs=0-1", 1000, {{0, 1}});
    expect_full("items=0-1", 1000, RangeIgnored::unit);
    expect_full("byte=0-1", 1000, RangeIgnored::unit);
    expect_full("bytess=0-1", 1000, RangeIgnored::unit);
    expect_full("none=whatever", 1000, RangeIgnored::unit);
}

std::string many_ranges(std::size_t n) {
    std::string v = "bytes=";
    for (std::size_t i = 0; i < n; ++i) {
        if (i) v += ',';
        v += std::to_string(2 * i) + "-" + std::to_string(2 * i);
    }
    return v;
}

TEST(HttpRangeHostileTest, TenThousandRanges) {
    const std::string v = many_ranges(10'000);
    expect_full(v, 1'000'000, RangeIgnored::too_long);
    RangeLimits wide;
    wide.max_header_bytes = 1u << 20;
    RangePlan p = plan(v, 1'000'000, wide);
    EXPECT_EQ(p.outcome, RangeOutcome::full);
    EXPECT_EQ(p.ignored, RangeIgnored::too_many);
    // Only the limit stopped it: with room for them, all 10,000 are served.
    wide.max_ranges = 10'000;
    p = plan(v, 1'000'000, wide);
    EXPECT_EQ(p.outcome, RangeOutcome::partial);
    ASSERT_EQ(p.ranges.size(), 10'000u);
    EXPECT_EQ(p.ranges.back(), (ByteRange{19'998, 19'998}));
}

TEST(HttpRangeHostileTest, MaxRangesIsInclusiveAndCountsEmptyElements) {
    EXPECT_EQ(plan(many_ranges(32), 1000).ranges.size(), 32u);
    expect_full(many_ranges(33), 1000, RangeIgnored::too_many);
    expect_full(many_ranges(31) + ",,", 1000, RangeIgnored::too_many);
    expect_full("bytes=0-1" + std::string(40, ','), 1000, RangeIgnored::too_many);
    EXPECT_EQ(plan(many_ranges(31) + ",", 1000).ranges.size(), 31u);
}

TEST(HttpRangeHostileTest, HeaderLengthLimit) {
    expect_full("bytes=0-1," + std::string(1u << 20, ','), 1000, RangeIgnored::too_long);
    expect_full("bytes=0-1" + std::string(1u << 20, ' '), 1000, RangeIgnored::too_long);
    std::string at_limit = "bytes=0-1";
    at_limit.resize(4096, ' ');
    expect_partial(at_limit, 1000, {{0, 1}});
    expect_full(at_limit + " ", 1000, RangeIgnored::too_long);
}

// Random values over the grammar's alphabet: whatever comes in, a plan keeps
// its invariants (run under ASan/UBSan too).
TEST(HttpRangeHostileTest, RandomValuesKeepPlanInvariants) {
    std::mt19937_64 rng(20240601);
    const std::string alphabet = "0123456789-,-, \t=bytesBYTES+*";
    for (int round = 0; round < 20'000; ++round) {
        std::string v = (round % 3 == 0) ? "" : "bytes=";
        const std::size_t len = rng() % 40;
        for (std::size_t i = 0; i < len; ++i) v += alphabet[rng() % alphabet.size()];
        const std::uint64_t size = (round % 5 == 0) ? rng() : rng() % 200;
        const RangePlan p = plan(v, size);
        if (p.outcome == RangeOutcome::partial) {
            ASSERT_EQ(p.ignored, RangeIgnored::none) << v;
            ASSERT_FALSE(p.ranges.empty()) << v;
            ASSERT_LE(p.ranges.size(), 32u) << v;
            std::vector<ByteRange> sorted = p.ranges;
            std::sort(sorted.begin(), sorted.end(), [](auto a, auto b) { return a.first < b.first; });
            for (std::size_t i = 0; i < sorted.size(); ++i) {
                ASSERT_LE(sorted[i].first, sorted[i].last) << v;
                ASSERT_LT(sorted[i].last, size) << v;
                if (i > 0) {
                    ASSERT_GT(sorted[i].first, sorted[i - 1].last) << v;
                }
            }
        } else {
            ASSERT_TRUE(p.ranges.empty()) << v;
            ASSERT_EQ(p.outcome == RangeOutcome::full, p.ignored != RangeIgnored::none) << v;
        }
    }
}

// --- If-Range ---------------------------------------------------------------

RangePlan plan_if(const std::string& range, const std::string& if_range, std::uint64_t size = 1000) {
    return plan_ranges(&range, &if_range, kEtag, size);
}

TEST(HttpRangeIfRangeTest, ExactStrongTagHonoursRange) {
    EXPECT_EQ(plan_if("bytes=0-9", kEtag).ranges, (std::vector<ByteRange>{{0, 9}}));
    EXPECT_EQ(plan_if("bytes=0-9", " " + kEtag + "\t").outcome, RangeOutcome::partial);
    // It only lets the Range through: an unsatisfiable one is still a 416.
    EXPECT_EQ(plan_if("bytes=5000-", kEtag).outcome, RangeOutcome::unsatisfiable);
}

TEST(HttpRangeIfRangeTest, AnythingElseServesTheWholeObject) {
    std::string other_hex = kHex;
    other_hex.back() = '0';
    std::string upper = kEtag;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& v :
         {strong_etag(other_hex), "W/" + kEtag, std::string("Sat, 29 Oct 1994 19:43:31 GMT"),
          std::string("Thu, 01 Jan 2099 00:00:00 GMT"), std::string(""), std::string("*"), upper,
          kEtag.substr(1, kEtag.size() - 2), kEtag + "x", kEtag + ", " + kEtag, kEtag.substr(0, kEtag.size() - 1),
          std::string(kEtag).append(1, '\0')}) {
        const RangePlan p = plan_if("bytes=0-9", v);
        EXPECT_EQ(p.outcome, RangeOutcome::full) << v;
        EXPECT_EQ(p.ignored, RangeIgnored::if_range) << v;
        // Even an unsatisfiable Range is then a 200, not a 416.
        EXPECT_EQ(plan_if("bytes=5000-", v).outcome, RangeOutcome::full) << v;
    }
}

TEST(HttpRangeIfRangeTest, WithoutRangeIfRangeIsIgnored) {
    const RangePlan p = plan_ranges(nullptr, &kEtag, kEtag, 1000);
    EXPECT_EQ(p.outcome, RangeOutcome::full);
    EXPECT_EQ(p.ignored, RangeIgnored::absent);
    EXPECT_EQ(plan_ranges(nullptr, nullptr, kEtag, 1000).ignored, RangeIgnored::absent);
}

TEST(HttpRangeIfRangeTest, OurOwnTagMustBeStrong) {
    EXPECT_TRUE(if_range_holds(kEtag, kEtag));
    EXPECT_FALSE(if_range_holds("W/\"x\"", "W/\"x\""));
    EXPECT_FALSE(if_range_holds("", ""));
    EXPECT_FALSE(if_range_holds("\"", "\""));
    EXPECT_FALSE(if_range_holds("abc", "abc"));
}

// --- header formatting ------------------------------------------------------

TEST(HttpRangeFormatTest, EtagAndContentRange) {
    EXPECT_EQ(strong_etag(kHex), "\"sha256-" + kHex + "\"");
    EXPECT_THROW((void)strong_etag(kHex.substr(1)), std::invalid_argument);
    std::string upper = kHex;
    upper[0] = 'A';
    EXPECT_THROW((void)strong_etag(upper), std::invalid_argument);
    EXPECT_THROW((void)strong_etag(kHex.substr(1) + "\""), std::invalid_argument);

    EXPECT_EQ(content_range({0, 99}, 1000), "bytes 0-99/1000");
    EXPECT_EQ(content_range({kMax - 1, kMax - 1}, kMax),
              "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
    EXPECT_THROW((void)content_range({0, 1000}, 1000), std::invalid_argument);
    EXPECT_THROW((void)content_range({5, 4}, 1000), std::invalid_argument);
    EXPECT_THROW((void)content_range({0, 0}, 0), std::invalid_argument);
    EXPECT_EQ(unsatisfied_content_range(1000), "bytes */1000");
    EXPECT_EQ(unsatisfied_content_range(0), "bytes */0");
}

TEST(HttpRangeFormatTest, IgnoredNamesAreDistinct) {
    std::set<std::string_view> names;
    for (const RangeIgnored r :
         {RangeIgnored::none, RangeIgnored::absent, RangeIgnored::if_range, RangeIgnored::too_long, RangeIgnored::unit,
          RangeIgnored::malformed, RangeIgnored::too_many, RangeIgnored::overlap, RangeIgnored::empty_object}) {
        EXPECT_NE(range_ignored_name(r), "unknown");
        names.insert(range_ignored_name(r));
    }
    EXPECT_EQ(names.size(), 9u);
}

TEST(HttpRangeBoundaryTest, ThousandDistinctHexBoundaries) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string b = make_boundary();
        ASSERT_EQ(b.size(), 32u);
        for (const char c : b) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << b;
        EXPECT_TRUE(seen.insert(b).second) << "repeated boundary " << b;
    }
    EXPECT_EQ(seen.size(), 1000u);
}

// --- 206 bodies -------------------------------------------------------------

std::string test_object(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) % 251);
    return s;
}

/// The bytes a server would send: literals and slices of `object`.
std::string assemble(const RangeBody& body, const std::string& object) {
    std::string out;
    for (const BodySegment& s : body.segments) {
        if (s.from_object) {
            EXPECT_TRUE(s.literal.empty());
            EXPECT_LE(s.offset + s.length, object.size());
            out.append(object, s.offset, s.length);
        } else {
            EXPECT_EQ(s.length, s.literal.size());
            EXPECT_EQ(s.offset, 0u);
            out += s.literal;
        }
    }
    return out;
}

struct Part {
    std::string content_type;
    std::uint64_t first = 0, last = 0, total = 0;
    std::string data;
};

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    EXPECT_TRUE(ec == std::errc() && end == s.data() + s.size()) << s;
    return v;
}

/// An independent reading of a multipart/byteranges body (RFC 2046 5.1.1).
std::vector<Part> parse_multipart(std::string body, const std::string& boundary) {
    const std::string open = "--" + boundary + "\r\n";
    const std::string close = "\r\n--" + boundary + "--\r\n";
    const std::string delimiter = "\r\n--" + boundary + "\r\n";
    if (body.rfind(open, 0) != 0 || body.size() < open.size() + close.size() ||
        body.compare(body.size() - close.size(), close.size(), close) != 0) {
        ADD_FAILURE() << "body does not open or close with the boundary";
        return {};
    }
    body = body.substr(open.size(), body.size() - open.size() - close.size());
    std::vector<Part> parts;
    std::size_t at = 0;
    while (true) {
        const std::size_t next = body.find(delimiter, at);
        const std::string raw = body.substr(at, next == std::string::npos ? std::string::npos : next - at);
        const std::size_t blank = raw.find("\r\n\r\n");
        if (blank == std::string::npos) {
            ADD_FAILURE() << "part without a header block";
            return {};
        }
        Part p;
        p.data = raw.substr(blank + 4);
        const std::string heads = raw.substr(0, blank);
        const std::size_t eol = heads.find("\r\n");
        const std::string h1 = heads.substr(0, eol);
        const std::string h2 = eol == std::string::npos ? "" : heads.substr(eol + 2);
        EXPECT_EQ(h1.rfind("Content-Type: ", 0), 0u) << h1;
        EXPECT_EQ(h2.rfind("Content-Range: bytes ", 0), 0u) << h2;
        p.content_type = h1.substr(14);
        const std::string cr = h2.substr(std::min<std::size_t>(h2.size(), 21));
        const std::size_t dash = cr.find('-'), slash = cr.find('/');
        EXPECT_TRUE(dash != std::string::npos && slash != std::string::npos && dash < slash) << cr;
        if (dash == std::string::npos || slash == std::string::npos || dash > slash) return {};
        p.first = to_u64(cr.substr(0, dash));
        p.last = to_u64(cr.substr(dash + 1, slash - dash - 1));
        p.total = to_u64(cr.substr(slash + 1));
        parts.push_back(std::move(p));
        if (next == std::string::npos) break;
        at = next + delimiter.size();
    }
    return parts;
}

TEST(HttpRangeBodyTest, SingleRangeIsAPlainBody) {
    const std::string object = test_object(1000);
    auto body = range_body(plan("bytes=10-19", 1000), "application/pdf", 1000, "");
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(body->content_type, "application/pdf");
    EXPECT_EQ(body->headers, (std::vector<std::pair<std::string, std::string>>{{"Content-Range", "bytes 10-19/1000"}}));
    ASSERT_EQ(body->segments.size(), 1u);
    EXPECT_TRUE(body->segments[0].from_object);
    EXPECT_EQ(body->content_length, 10u);
    EXPECT_EQ(assemble(*body, object), object.substr(10, 10));
}

void check_multipart(const std::string& range, std::uint64_t size, std::string_view type,
                     const std::string& boundary) {
    const std::string object = test_object(size);
    const RangePlan p = plan(range, size);
    ASSERT_EQ(p.outcome, RangeOutcome::partial) << range;
    auto body = range_body(p, type, size, boundary);
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(body->content_type, "multipart/byteranges; boundary=" + boundary);
    EXPECT_TRUE(body->headers.empty());
    const std::string bytes = assemble(*body, object);
    EXPECT_EQ(body->content_length, bytes.size());
    const std::vector<Part> parts = parse_multipart(bytes, boundary);
    ASSERT_EQ(parts.size(), p.ranges.size());
    const std::string want_type = type.empty() ? "application/octet-stream" : std::string(type);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        EXPECT_EQ(parts[i].content_type, want_type);
        EXPECT_EQ(parts[i].first, p.ranges[i].first);
        EXPECT_EQ(parts[i].last, p.ranges[i].last);
        EXPECT_EQ(parts[i].total, size);
        EXPECT_EQ(parts[i].data, object.substr(p.ranges[i].first, p.ranges[i].length())) << "part " << i;
    }
}

TEST(HttpRangeBodyTest, MultipartRoundTrip) {
    check_multipart("bytes=500-999,7000-7998,0-0", 8000, "application/pdf", make_boundary());
    check_multipart("bytes=0-0,-1", 10000, "text/plain; charset=utf-8", make_boundary());
    check_multipart("bytes=500-600,601-999", 10000, "", make_boundary());
    check_multipart(many_ranges(32), 100, "application/octet-stream", make_boundary());
    check_multipart("bytes=0-1,3-4", 5, "image/png", "a'b+c_d-e.F");
    check_multipart("bytes=0-1,3-4", 5, "image/png", std::string(70, 'x'));
}

TEST(HttpRangeBodyTest, MultipartExactFraming) {
    RangePlan p;
    p.outcome = RangeOutcome::partial;
    p.ranges = {{1, 2}, {4, 4}};
    auto body = range_body(p, "text/plain", 6, "B");
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(assemble(*body, "abcdef"),
              "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 1-2/6\r\n\r\nbc"
              "\r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 4-4/6\r\n\r\ne"
              "\r\n--B--\r\n");
    EXPECT_EQ(body->content_length, 136u);
}

TEST(HttpRangeBodyTest, RefusesBadBoundaryTypeAndPlan) {
    const RangePlan two = plan("bytes=0-1,3-4", 10);
    for (const std::string& b : {std::string(""), std::string(71, 'x'), std::string("a b"), std::string("a\r\nb"),
                                 std::string("a\"b"), std::string("a;b"), std::string("a/b"), std::string(1, '\0')}) {
        auto r = range_body(two, "text/plain", 10, b);
        ASSERT_FALSE(r) << b;
        EXPECT_EQ(r.error().code(), crypto::Errc::invalid_argument);
    }
    for (const std::string& t : {std::string("text/plain\r\nX-Evil: 1"), std::string("text/plain\n"),
                                 std::string("text\0plain", 10), std::string("text/plain\x7f"), std::string("\r")}) {
        for (const RangePlan& pl : {two, plan("bytes=0-1", 10)}) {
            auto r = range_body(pl, t, 10, "B");
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().code(), crypto::Errc::malformed_input);
        }
    }
    EXPECT_TRUE(range_body(two, "text/plain;\tcharset=utf-8", 10, "B"));

    RangePlan bad;
    EXPECT_EQ(range_body(bad, "text/plain", 10, "B").error().code(), crypto::Errc::invalid_argument);  // full
    bad.outcome = RangeOutcome::partial;
    EXPECT_EQ(range_body(bad, "text/plain", 10, "B").error().code(), crypto::Errc::invalid_argument);  // no range
    bad.ranges = {{0, 10}};
    EXPECT_EQ(range_body(bad, "text/plain", 10, "B").error().code(), crypto::Errc::invalid_argument);  // past end
    bad.ranges = {{3, 2}};
    EXPECT_EQ(range_body(bad, "text/plain", 10, "B").error().code(), crypto::Errc::invalid_argument);
    bad.outcome = RangeOutcome::unsatisfiable;
    bad.ranges.clear();
    EXPECT_EQ(range_body(bad, "text/plain", 10, "B").error().code(), crypto::Errc::invalid_argument);
}

TEST(HttpRangeBodyTest, LengthOverflowIsRefused) {
    RangePlan p;
    p.outcome = RangeOutcome::partial;
    p.ranges = {{0, kMax - 2}, {kMax - 1, kMax - 1}};  // kMax bytes of object plus the framing
    auto r = range_body(p, "application/octet-stream", kMax, "B");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), crypto::Errc::too_large);
    p.ranges = {{0, kMax - 1}};  // a single range of kMax bytes fits exactly
    auto single = range_body(p, "application/octet-stream", kMax, "");
    ASSERT_TRUE(single) << single.error().message();
    EXPECT_EQ(single->content_length, kMax);
}

}  // namespace
}  // namespace enclave::appliance
