// SPDX-License-Identifier: Apache-2.0
// RFC 8785 canonicalisation: the RFC's own examples (written from the RFC
// text), the integer-only restriction, and hostile input for the strict parser.
#include "audit/jcs.hpp"

#include <gtest/gtest.h>

#include <string>

namespace enclave::audit {
namespace {

using json = nlohmann::json;
using crypto::Errc;

std::string canon(const json& v) {
    auto r = canonicalize(v);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::string();
}

crypto::Error canon_error(const json& v) {
    auto r = canonicalize(v);
    EXPECT_FALSE(r) << "accepted: " << *r;
    return r ? crypto::Error(Errc::internal, "accepted") : r.error();
}

crypto::Error parse_error(std::string_view text, std::size_t max = kJcsDefaultMaxBytes) {
    auto r = parse_canonical(text, max);
    EXPECT_FALSE(r) << "accepted";
    return r ? crypto::Error(Errc::internal, "accepted") : r.error();
}

bool contains(const std::string& hay, std::string_view needle) {
    return hay.find(needle) != std::string::npos;
}

// RFC 8785 section 3.2.2: the example without its "numbers" member (this
// subset refuses floats), and the whole example refused at the first float.
TEST(JcsTest, Rfc8785PrimitiveSerialisationExample) {
    const std::string input = R"({
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    })";
    json value = json::parse(input);
    const crypto::Error e = canon_error(value);
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_TRUE(contains(e.context(), "/numbers/0")) << e.message();
    EXPECT_TRUE(contains(e.context(), "floating-point")) << e.message();

    value.erase("numbers");
    EXPECT_EQ(canon(value), "{\"literals\":[null,true,false],\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3: property names sorted as UTF-16 code units.
TEST(JcsTest, Rfc8785SortingExample) {
    const json value = json::parse(R"({
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    })");
    const std::string expected =
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xC2\x80\":\"Control\","
        "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\",\"\xE2\x82\xAC\":\"Euro Sign\","
        "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
        "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}";
    EXPECT_EQ(canon(value), expected);
    // The canonical text reads back as itself.
    auto back = parse_canonical(expected);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, value);
}

// RFC 8785 section 3.2.4: the UTF-8 bytes of a canonical text (no Unicode
// normalisation: A followed by a combining ring stays two code points).
TEST(JcsTest, Rfc8785Utf8Example) {
    const json value = json::parse(R"({"Unnormalized Unicode":"A\u030a"})");
    const unsigned char expected[] = {0x7b, 0x22, 0x55, 0x6e, 0x6e, 0x6f, 0x72, 0x6d, 0x61, 0x6c,
                                      0x69, 0x7a, 0x65, 0x64, 0x20, 0x55, 0x6e, 0x69, 0x63, 0x6f,
                                      0x64, 0x65, 0x22, 0x3a, 0x22, 0x41, 0xcc, 0x8a, 0x22, 0x7d};
    EXPECT_EQ(canon(value), std::string(reinterpret_cast<const char*>(expected), sizeof expected));
}

TEST(JcsTest, Utf16OrderDiffersFromByteOrderForSupplementaryCharacters) {
    // U+E000 is EE 80 80 in UTF-8 and sorts after F0 90 80 80 (U+10000) by
    // bytes, but before it by UTF-16 code units (E000 > D800): RFC order
    // puts U+10000 first.
    json value;
    value["\xEE\x80\x80"] = 2;
    value["\xF0\x90\x80\x80"] = 1;
    value["a"] = 0;
    EXPECT_EQ(canon(value), "{\"a\":0,\"\xF0\x90\x80\x80\":1,\"\xEE\x80\x80\":2}");
}

TEST(JcsTest, EscapesExactlyTheControlCharacters) {
    std::string all;
    for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
    all += "\"\\/\x7f\xE2\x80\xA8<>&'";
    const std::string expected =
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
        "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\x7f\xE2\x80\xA8<>&'\"";
    EXPECT_EQ(canon(json(all)), expected);
    auto back = parse_canonical(expected);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->get<std::string>(), all);
}

TEST(JcsTest, IntegersOnlyWithinTheIJsonRange) {
    EXPECT_EQ(canon(json::array({0, -1, 42, kJcsMaxInteger, -kJcsMaxInteger})),
              "[0,-1,42,9007199254740991,-9007199254740991]");
    EXPECT_EQ(canon(json(std::uint64_t{9007199254740991ULL})), "9007199254740991");
    for (const json& bad : {json(kJcsMaxInteger + 1), json(-kJcsMaxInteger - 1),
                            json(std::uint64_t{1} << 63), json(INT64_MIN)}) {
        const crypto::Error e = canon_error(bad);
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        EXPECT_TRUE(contains(e.context(), "2^53")) << e.message();
    }
    for (double d : {0.5, 1.0, -0.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
        EXPECT_EQ(canon_error(json{{"x", json::array({1, d})}}).context(),
                  "at /x/1: floating-point numbers are not allowed (integers only)");
    }
}

TEST(JcsTest, RefusesInvalidUtf8InStringsAndNames) {
    const char* bad[] = {
        "\xED\xA0\x80",      // an encoded lone surrogate (U+D800)
        "\xC0\xAF",          // overlong '/'
        "\xE0\x80\xAF",      // overlong, 3 bytes
        "\xF0\x80\x80\xAF",  // overlong, 4 bytes
        "\xF4\x90\x80\x80",  // above U+10FFFF
        "\xF5\x80\x80\x80",  // invalid lead byte
        "\xE2\x82",          // truncated
        "\x80",              // stray continuation byte
        "\xFF",
    };
    for (const char* s : bad) {
        EXPECT_FALSE(is_valid_utf8(s)) << s;
        EXPECT_EQ(canon_error(json::array({"ok", s})).context(), "at /1: string is not valid UTF-8");
        json named;
        named[s] = 1;
        EXPECT_EQ(canon_error(named).code(), Errc::invalid_argument);
    }
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80 plain"));
}

TEST(JcsTest, RefusesBinaryAndExcessiveNesting) {
    EXPECT_EQ(canon_error(json::binary({1, 2, 3})).code(), Errc::invalid_argument);
    json deep = 1;
    for (std::size_t i = 0; i < kJcsMaxDepth; ++i) deep = json::array({deep});
    EXPECT_EQ(canon(deep).size(), 2 * kJcsMaxDepth + 1);  // exactly at the limit
    const crypto::Error e = canon_error(json::array({deep}));
    EXPECT_TRUE(contains(e.context(), "nesting deeper than 64")) << e.message();
}

TEST(JcsTest, ParseRoundTripsCanonicalText) {
    const std::string text =
        R"({"a":[1,-2,true,false,null,"x",{}],"b":{"c":[],"d":"\u001f"},"event":"task.created"})";
    auto value = parse_canonical(text);
    ASSERT_TRUE(value) << value.error().message();
    EXPECT_EQ(canon(*value), text);
    EXPECT_EQ((*value)["b"]["d"].get<std::string>(), "\x1f");
}

TEST(JcsTest, ParseRefusesNonCanonicalText) {
    const char* cases[] = {
        R"({"b":1,"a":2})",           // unsorted
        R"({"a": 1})",                // whitespace
        "{\"a\":1}\n",                // trailing newline
        R"(["\u0041"])",              // needless escape
        R"(["\/"])",                  // escaped solidus
        R"(["\u001F"])",              // uppercase hex
        R"(["\u000a"])",              // long form of \n
        R"([01])",                    // leading zero is not even JSON
        R"([-0])",                    // negative zero
        R"([1E2])", R"([1.0])", R"([1e-2])",
        R"([9007199254740992])",      // beyond 2^53 - 1
        R"([18446744073709551616])",  // beyond 64 bits
    };
    for (const char* text : cases) {
        EXPECT_EQ(parse_error(text).code(), Errc::malformed_input) << text;
    }
    EXPECT_EQ(parse_error(R"({"a": 1})").context(),
              "not in RFC 8785 canonical form (first difference at byte 5)");
}

TEST(JcsTest, ParseRefusesDuplicateNames) {
    const crypto::Error e = parse_error(R"({"a":1,"a":1})");
    EXPECT_EQ(e.code(), Errc::malformed_input);
    EXPECT_TRUE(contains(e.context(), "duplicate")) << e.message();
    // Equal after unescaping counts as a duplicate too.
    EXPECT_TRUE(contains(parse_error(R"({"a":{"\u0062":1,"b":2}})").context(), "duplicate"));
}

TEST(JcsTest, ParseRefusesBrokenJsonAndSurrogates) {
    const std::string cases[] = {
        "", "{", "}", "[1,]", "{\"a\"}", "nul", "[1] [2]", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\xED\xA0\x80\"", "\"\xC0\x80\"", "\"\xFF\"",
        std::string("[\"a\0b\"]", 7), "\"\x01\"", std::string("[1]\0", 4),
    };
    for (const std::string& text : cases) {
        EXPECT_EQ(parse_error(text).code(), Errc::malformed_input) << text;
    }
    EXPECT_EQ(parse_error("[1,]").context(), "not valid JSON at byte 4");
}

TEST(JcsTest, ParseLimitsSizeAndDepth) {
    std::string big = "\"" + std::string(2 * 1024 * 1024, 'x') + "\"";
    const crypto::Error e = parse_error(big);
    EXPECT_EQ(e.code(), Errc::too_large);
    EXPECT_TRUE(contains(e.context(), "over the limit of 1048576")) << e.message();
    auto fits = parse_canonical(big, big.size());
    ASSERT_TRUE(fits) << fits.error().message();
    EXPECT_EQ(fits->get_ref<const std::string&>().size(), big.size() - 2);

    const auto nested = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
    EXPECT_TRUE(parse_canonical(nested(kJcsMaxDepth)));
    EXPECT_EQ(parse_error(nested(kJcsMaxDepth + 1)).code(), Errc::too_large);
    // Far deeper than any stack would take recursively: refused, not crashed.
    EXPECT_EQ(parse_error(nested(500000), 2000000).code(), Errc::too_large);
    EXPECT_EQ(parse_error(std::string(500000, '{'), 2000000).code(), Errc::malformed_input);
}

TEST(JcsTest, ErrorsDoNotEchoContent) {
    for (const std::string text : {R"({"k":"canary-7f3a","x":1.5})", R"({"canary-7f3a": 1})",
                                   R"(["canary-7f3a",])"}) {
        const crypto::Error e = parse_error(text);
        EXPECT_FALSE(contains(e.message(), "canary")) << e.message();
    }
    const crypto::Error e = canon_error(json{{"k", "canary-7f3a"}, {"x", 1.5}});
    EXPECT_FALSE(contains(e.message(), "canary")) << e.message();
}

}  // namespace
}  // namespace enclave::audit
