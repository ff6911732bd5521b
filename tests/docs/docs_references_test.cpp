// SPDX-License-Identifier: Apache-2.0
// The guides that name tests as evidence (docs/conformance.md,
// docs/threat-model.md, docs/auditor-guide.md, docs/operator-guide.md) name
// only tests that exist. A citation is a test written in backticks as
// `Suite.Name` (both parts start with a capital letter); it must be defined
// by TEST, TEST_F or TEST_P in some tests/**/*.cpp. A source path written in
// backticks as `tests/....cpp` must exist. The suite reads text only: it
// builds without the product and runs in milliseconds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSource{ENCLAVE_SOURCE_DIR};

/// The guides whose citations are checked.
const std::vector<std::string> kGuides{"conformance.md", "threat-model.md", "auditor-guide.md",
                                       "operator-guide.md"};

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/// Every Suite.Name defined by TEST, TEST_F or TEST_P under tests/.
std::set<std::string> defined_tests() {
    static const std::regex macro(R"(\b(?:TEST|TEST_F|TEST_P)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\))");
    std::set<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(kSource / "tests")) {
        const auto ext = entry.path().extension();
        if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h")) {
            continue;
        }
        const std::string text = read_text(entry.path());
        for (std::sregex_iterator it(text.begin(), text.end(), macro), end; it != end; ++it) {
            names.insert((*it)[1].str() + "." + (*it)[2].str());
        }
    }
    return names;
}

/// The backticked spans of a Markdown text that match `pattern` as a whole.
std::vector<std::string> cited(const std::string& text, const std::regex& pattern) {
    static const std::regex span("`([^`\n]+)`");
    std::vector<std::string> found;
    for (std::sregex_iterator it(text.begin(), text.end(), span), end; it != end; ++it) {
        const std::string inner = (*it)[1].str();
        if (std::regex_match(inner, pattern)) {
            found.push_back(inner);
        }
    }
    return found;
}

const std::regex kTestCitation(R"([A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9_]*)");
const std::regex kTestPath(R"(tests/[A-Za-z0-9_/.-]+\.(?:cpp|java|go))");

TEST(DocsReferencesTest, TheTestScanFindsTheTestsOfTheTree) {
    const auto names = defined_tests();
    // This very test and a test of another folder: the scan reads TEST and
    // TEST_F across folders, so an empty or partial scan fails here.
    EXPECT_TRUE(names.count("DocsReferencesTest.TheTestScanFindsTheTestsOfTheTree"));
    EXPECT_TRUE(names.count("RoleMatrixTest.TheDaemonsRoutesAreExactlyTheDocumentedTable"));
    EXPECT_GT(names.size(), 500U) << "only " << names.size() << " tests found under "
                                  << (kSource / "tests");
}

TEST(DocsReferencesTest, EveryCitedTestExists) {
    const auto names = defined_tests();
    for (const auto& guide : kGuides) {
        const fs::path path = kSource / "docs" / guide;
        ASSERT_TRUE(fs::exists(path)) << path << " is missing";
        const auto citations = cited(read_text(path), kTestCitation);
        if (guide == "conformance.md" || guide == "threat-model.md") {
            EXPECT_GE(citations.size(), 20U) << guide << " cites almost no tests";
        }
        for (const auto& name : citations) {
            EXPECT_TRUE(names.count(name))
                << "docs/" << guide << " cites `" << name
                << "`, which no TEST, TEST_F or TEST_P under tests/ defines";
        }
    }
}

TEST(DocsReferencesTest, EveryCitedTestFileExists) {
    for (const auto& guide : kGuides) {
        const fs::path path = kSource / "docs" / guide;
        ASSERT_TRUE(fs::exists(path)) << path << " is missing";
        for (const auto& file : cited(read_text(path), kTestPath)) {
            EXPECT_TRUE(fs::exists(kSource / file))
                << "docs/" << guide << " cites " << file << ", which does not exist";
        }
    }
}

TEST(DocsReferencesTest, TheCitationPatternTellsTestsFromOtherSpans) {
    const std::string sample =
        "`TaskIntakeTest.RefusesAShortSalt` `enclave.toml` `Suite.name` `a.B` "
        "`tests/audit/task_intake_test.cpp` `NoSuchSuite.NoSuchTest`";
    const auto tests = cited(sample, kTestCitation);
    ASSERT_EQ(tests.size(), 2U);
    EXPECT_EQ(tests[0], "TaskIntakeTest.RefusesAShortSalt");
    EXPECT_EQ(tests[1], "NoSuchSuite.NoSuchTest");
    EXPECT_FALSE(defined_tests().count("NoSuchSuite.NoSuchTest"));
    EXPECT_EQ(cited(sample, kTestPath).size(), 1U);
}

}  // namespace
