// SPDX-License-Identifier: Apache-2.0
// Replays every checked-in fuzz input through its harness body in the normal
// build: tests/fuzz/corpus/<name>/* (the seeds) and
// tests/fuzz/regressions/<name>/* (inputs that once crashed a parser). A
// crash or a broken harness rule aborts the test process, which fails the
// test. Each seed corpus must also hold inputs the parser accepts, so that
// the fuzzer starts past the first checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/config.hpp"
#include "fuzz_harness.hpp"

namespace enclave::fuzz {
// Test names and failure messages show the harness name.
void PrintTo(const Harness& h, std::ostream* os) { *os << h.name; }
}  // namespace enclave::fuzz

namespace {

namespace fs = std::filesystem;
using enclave::fuzz::Harness;

const fs::path kFuzzDir = ENCLAVE_FUZZ_DIR;

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file()) out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail()) ADD_FAILURE() << "cannot read " << path;
    return bytes;
}

struct Counts {
    std::size_t accepted = 0;
    std::size_t rejected = 0;
};

Counts replay(const Harness& h, const std::vector<fs::path>& files) {
    Counts c;
    for (const auto& f : files) {
        SCOPED_TRACE(f.string());
        const auto bytes = read_bytes(f);
        const int r = h.run(bytes.data(), bytes.size());
        EXPECT_TRUE(r == enclave::fuzz::kAccepted || r == enclave::fuzz::kRejected) << "returned " << r;
        (r == enclave::fuzz::kAccepted ? c.accepted : c.rejected)++;
    }
    return c;
}

class FuzzReplay : public ::testing::TestWithParam<Harness> {};

TEST_P(FuzzReplay, SeedCorpusRunsAndReachesAcceptance) {
    const auto& h = GetParam();
    const auto files = files_in(kFuzzDir / "corpus" / h.name);
    ASSERT_FALSE(files.empty()) << "no seeds in tests/fuzz/corpus/" << h.name;
    const auto c = replay(h, files);
    EXPECT_EQ(c.accepted + c.rejected, files.size());
    EXPECT_GE(c.accepted, 1u) << "no seed of " << h.name << " is accepted by its parser";
}

TEST_P(FuzzReplay, RegressionInputsRun) {
    const auto& h = GetParam();
    const auto files = files_in(kFuzzDir / "regressions" / h.name);
    const auto c = replay(h, files);
    EXPECT_EQ(c.accepted + c.rejected, files.size());
}

TEST_P(FuzzReplay, EmptyAndTinyInputsReturn) {
    // An empty config is valid (every key has a default); every other
    // parser must refuse these, with a clear error (the harness checks it).
    const auto& h = GetParam();
    const std::uint8_t bytes[2] = {0, '\n'};
    const int expected = std::string_view(h.name) == "config" ? enclave::fuzz::kAccepted : enclave::fuzz::kRejected;
    EXPECT_EQ(h.run(bytes, 0), expected);
    EXPECT_EQ(h.run(bytes, 1), enclave::fuzz::kRejected);
    EXPECT_EQ(h.run(bytes + 1, 1), expected);
}

INSTANTIATE_TEST_SUITE_P(Harnesses, FuzzReplay, ::testing::ValuesIn(enclave::fuzz::all_harnesses()),
                         [](const ::testing::TestParamInfo<Harness>& param_info) { return std::string(param_info.param.name); });

TEST(FuzzReplayLayout, EveryCorpusFolderHasAHarness) {
    std::set<std::string> names;
    for (const auto& h : enclave::fuzz::all_harnesses()) names.insert(h.name);
    for (const char* top : {"corpus", "regressions"}) {
        std::error_code ec;
        if (!fs::is_directory(kFuzzDir / top, ec)) continue;
        for (const auto& entry : fs::directory_iterator(kFuzzDir / top)) {
            EXPECT_TRUE(names.count(entry.path().filename().string()) == 1)
                << entry.path() << " is not the folder of a harness";
        }
    }
}

}  // namespace

// The fuzzer's config findings (tests/fuzz/regressions/config/): toml++ 3.3.0
// asserts on a table header without a key and on a date-time with no time
// after its 'T', and reaches __builtin_unreachable on some non-ASCII
// characters (also after a quote inside a bare token, which we would take
// for a string); parse_config refuses these before toml++
// sees them. Checked here directly too, since the normal build compiles
// toml++'s assertions out.
TEST(FuzzRegressions, ConfigRefusesWhatToml33CannotParseSafely) {
    using enclave::crypto::Errc;
    const struct {
        std::string text;
        std::string context;
    } cases[] = {
        {"[\n", "line 1: a table header must start with a key"},
        {"[[[1]]]\n", "line 1: a table header must start with a key"},
        {"a = 1\n  [=\n", "line 2: a table header must start with a key"},
        {"\xd1\xb4", "line 1: non-ASCII character outside a one-line string or a comment"},
        {"s = \"\"\"\\\n\xc2\xa7\"\"\"\n", "line 2: non-ASCII character outside a one-line string or a comment"},
        {"a = 3958-05-27T;7:32:00Z\n", "line 1: a date-time needs a time after 'T'"},
        {"a = 1\nb = 2024-01-01t\n", "line 2: a date-time needs a time after 'T'"},
        {"a = 1jj\"?\xcd\xba\"\n", "line 1: a quote in the middle of a key or value"},
        {"a\"b\" = 1\n", "line 1: a quote in the middle of a key or value"},
        {"k =[  [ }\n", "line 1: a '}' where a value is expected"},
        {"k = [1,\n  }]\n", "line 2: a '}' where a value is expected"},
    };
    for (const auto& c : cases) {
        auto config = enclave::appliance::parse_config(c.text, "/var/lib/enclave-fuzz");
        ASSERT_FALSE(config.has_value());
        EXPECT_EQ(config.error().code(), Errc::malformed_input);
        EXPECT_EQ(config.error().context(), c.context);
    }
    // Non-ASCII stays allowed in one-line strings and comments.
    auto ok = enclave::appliance::parse_config("instance_name = \"enclave-\xc3\xa9\" # caf\xc3\xa9\n",
                                               "/var/lib/enclave-fuzz");
    EXPECT_TRUE(ok.has_value() || ok.error().context().find("non-ASCII") == std::string::npos);
    // Strings where keys and values start stay allowed.
    for (const char* text : {"instance_name = \"x\"\n", "[\"a\".'b']\n", "a = [ \"x\", 'y' ]\n",
                             "a = { \"k\" = \"v\" }\n", "a = {}\n", "a = [ {}, { b = 1 } ]\n", "a = [\n  \"x\",\n]\n", "\"k\" = 1\n",
                             "a = \"\"\"\nx\"\"\"\n"}) {
        auto r = enclave::appliance::parse_config(text, "/var/lib/enclave-fuzz");
        EXPECT_TRUE(r.has_value() || (r.error().context().find("a quote in the middle") == std::string::npos &&
                                      r.error().context().find("where a value is expected") == std::string::npos))
            << text << ": " << r.error().context();
    }
    // A whole date-time is not refused by the pre-scan (toml++ parses it;
    // the config has no date key, so it is an unknown key, not a pre-scan error).
    auto dt = enclave::appliance::parse_config("a = 1979-05-27T07:32:00Z\n", "/var/lib/enclave-fuzz");
    EXPECT_TRUE(dt.has_value() || dt.error().context().find("date-time needs") == std::string::npos);
}
