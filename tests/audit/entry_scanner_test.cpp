// SPDX-License-Identifier: Apache-2.0
// The bundle verifier's own JSON parser for entry lines (audit/src/
// entry_scanner.cpp, white-box: its internal header is included by path)
// against nlohmann::json as the reference: the same accept/reject decision on
// a hand-written corpus and on 50,000 random mutations of it (fixed seed),
// given the documented differences (no floating-point numbers, integers
// within 64 bits, at most 64 levels, an object at the top).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../../audit/src/bundle_entry.hpp"
#include "../../audit/src/text_rules.hpp"

namespace enclave::audit::detail {
namespace {

using nlohmann::json;

// Depth of a parsed value (1 for an object of scalars), and whether any
// number in it is a float (nlohmann also turns out-of-range integers into floats).
void walk(const json& j, std::size_t depth, std::size_t& max_depth, bool& has_float) {
    if (j.is_structured()) {
        max_depth = std::max(max_depth, depth);
        for (const auto& item : j) walk(item, depth + 1, max_depth, has_float);
    } else if (j.is_number_float()) {
        has_float = true;
    }
}

bool reference_accepts(const std::string& line) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return false;
    std::size_t depth = 0;
    bool has_float = false;
    walk(j, 1, depth, has_float);
    return !has_float && depth <= kMaxEntryDepth;
}

bool scanner_accepts(const std::string& line) {
    EntryFields fields;
    return scan_entry_json(line, fields).error == nullptr;
}

// The scanner's precondition: what parse_entry checks before calling it.
bool precondition(const std::string& line) {
    return !line.empty() && line.front() == '{' &&
           scan_text(line, false).fault == TextFault::none;
}

const std::vector<std::string> kCorpus = {
    R"({})",
    R"({"a":1})",
    R"({ "a" : [ 1 , 2 , { "b" : null } ] , "c" : true , "d" : false })",
    R"({"s":"plain","e":"\"\\\/\b\f\n\r\t","u":"\u00e9\u20ac\ud83d\ude00","raw":"é€😀"})",
    R"({"n":[0,-0,1,-1,9223372036854775807,-9223372036854775808,18446744073709551615]})",
    R"({"deep":{"a":{"b":{"c":[[[[{"d":[]}]]]]}}}})",
    R"({"k\u0000":"\u0000","":""})",
    R"({"actor":{"kind":"local","roles":["auditor"],"uid":1000},"event":"task.created"})",
    R"({"a":[],"b":{},"c":[{}],"d":[[]]})",
    R"({"x":"a\u0041b","y":"\uD834\uDD1E"})",
};

const std::vector<std::string> kRejected = {
    R"({"a":1.0})",
    R"({"a":1e5})",
    R"({"a":-1E-5})",
    R"({"a":18446744073709551616})",
    R"({"a":-9223372036854775809})",
    R"({"a":01})",
    R"({"a":-})",
    R"({"a":+1})",
    R"({"a":.5})",
    R"({"a":1.})",
    R"({"a":tru})",
    R"({"a":nul})",
    R"({"a":"\x"})",
    R"({"a":"\u12"})",
    R"({"a":"\ud800"})",
    R"({"a":"\udc00"})",
    R"({"a":"\ud800\u0041"})",
    R"({"a":1,})",
    R"({,"a":1})",
    R"({"a" 1})",
    R"({"a":1}})",
    R"({"a":[1,]})",
    R"({"a":[1 2]})",
    R"({a:1})",
    R"({'a':1})",
    R"({"a":1} {"b":2})",
    R"({"a":"unterminated})",
    R"({"a":1)",
    R"({"a":[)",
};

TEST(EntryScannerTest, AgreesWithNlohmannOnTheCorpus) {
    for (const auto& line : kCorpus) {
        EXPECT_TRUE(reference_accepts(line)) << line;
        EXPECT_TRUE(scanner_accepts(line)) << line;
    }
    for (const auto& line : kRejected) {
        EXPECT_FALSE(scanner_accepts(line)) << line;
    }
    // Depth: 64 levels pass, 65 do not.
    const std::string ok = "{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}";
    const std::string deep = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
    EXPECT_TRUE(scanner_accepts(ok));
    EXPECT_TRUE(reference_accepts(ok));
    EXPECT_FALSE(scanner_accepts(deep));
    EXPECT_FALSE(reference_accepts(deep));
}

TEST(EntryScannerTest, AgreesWithNlohmannOnRandomMutations) {
    std::mt19937_64 rng(0x5eed2026);
    const std::string alphabet = "{}[]\",:0123456789-+.eE\\u abtrfnlsx/";
    const std::vector<std::string> multibyte = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    std::size_t compared = 0, accepted = 0;
    for (int round = 0; round < 50000; ++round) {
        std::string line = kCorpus[rng() % kCorpus.size()];
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits && !line.empty(); ++e) {
            const std::size_t at = rng() % line.size();
            switch (rng() % 5) {
                case 0: line.erase(at, 1); break;
                case 1: line.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
                case 2: line[at] = alphabet[rng() % alphabet.size()]; break;
                case 3: line.insert(at, multibyte[rng() % multibyte.size()]); break;
                default: line.insert(at, line.substr(at, rng() % 8)); break;
            }
        }
        if (!precondition(line)) continue;
        ++compared;
        const bool want = reference_accepts(line);
        accepted += want ? 1 : 0;
        ASSERT_EQ(scanner_accepts(line), want) << line;
    }
    // The mutations must exercise both answers.
    EXPECT_GT(compared, 30000u);
    EXPECT_GT(accepted, 1000u);
    EXPECT_LT(accepted, compared - 1000);
}

TEST(EntryScannerTest, ReadsTopLevelIndexAndPrevOnly) {
    EntryFields f;
    auto s = scan_entry_json(R"({"a":{"index":9,"prev":1},"index":4,"prev":""})", f);
    ASSERT_EQ(s.error, nullptr);
    EXPECT_TRUE(s.has_index && s.has_prev);
    EXPECT_EQ(f.index, 4u);
    EXPECT_EQ(f.prev_size, 0u);
    // Escaped key names are the same keys.
    EntryFields g;
    s = scan_entry_json(R"({"\u0069ndex":7,"pr\u0065v":"")" R"(})", g);
    ASSERT_EQ(s.error, nullptr);
    EXPECT_TRUE(s.has_index && s.has_prev);
    EXPECT_EQ(g.index, 7u);
    EntryFields h;
    s = scan_entry_json(R"({"index":1,"\u0069ndex":2})", h);
    ASSERT_NE(s.error, nullptr);
    EXPECT_STREQ(s.error, "\"index\" appears twice");
    // "prev" is written literally: an escaped hex digit is refused.
    EntryFields k;
    s = scan_entry_json("{\"index\":1,\"prev\":\"\\u0061" + std::string(63, 'a') + "\"}", k);
    ASSERT_NE(s.error, nullptr);
    EntryFields m;
    s = scan_entry_json("{\"index\":18446744073709551615,\"prev\":\"" + std::string(64, 'f') +
                            "\"}",
                        m);
    ASSERT_EQ(s.error, nullptr);
    EXPECT_EQ(m.index, UINT64_MAX);
    EXPECT_EQ(m.prev_hex(), std::string(64, 'f'));
}

}  // namespace
}  // namespace enclave::audit::detail
