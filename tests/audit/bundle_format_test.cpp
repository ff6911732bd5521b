// SPDX-License-Identifier: Apache-2.0
// Hostile bundles: malformed headers, malformed entries (newline, invalid
// UTF-8, control characters, floats, wrong types, duplicates, depth), line
// and size limits, files that are not bundles.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit/bundle.hpp"
#include "bundle_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using testing::read_lines;
using testing::SyntheticLog;
using testing::write_lines;

class BundleFormatTest : public ::testing::Test {
protected:
    void SetUp() override {
        log_.append(12);
        log_.write_bundle(path_, {4});
        lines_ = read_lines(path_);
    }

    std::string& entry(std::size_t i) { return lines_[1 + i]; }

    // Writes `lines_` and expects verification to fail with `prefix`.
    void expect_failure(const std::string& prefix, const std::string& words = "",
                        const VerifyOptions& options = {}) {
        write_lines(path_, lines_);
        auto r = verify_bundle(path_, options);
        ASSERT_FALSE(r) << "a malformed bundle verified";
        EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
        EXPECT_EQ(r.error().context().rfind(prefix, 0), 0u) << r.error().context();
        EXPECT_NE(r.error().context().find(words), std::string::npos) << r.error().context();
    }

    // Replaces the header's member `name` with `value`.
    void set_header(const std::string& name, const nlohmann::ordered_json& value) {
        auto h = nlohmann::ordered_json::parse(lines_[0]);
        h[name] = value;
        lines_[0] = h.dump();
    }

    testing::TempDir dir_;
    fs::path path_ = dir_.path() / "b.bundle";
    SyntheticLog log_;
    std::vector<std::string> lines_;
};

TEST_F(BundleFormatTest, HeaderMustBeTheDocumentedObject) {
    const std::string good = lines_[0];
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{not json", "not valid JSON"},
        {"not json", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {good.substr(0, 30) + "\t" + good.substr(30), "control character at byte 30"},
        {good.substr(0, 30) + "\xfe" + good.substr(30), "invalid UTF-8 at byte 30"},
        {good.substr(0, good.size() - 1) + R"(,"extra":1})", "unknown member \"extra\""},
        {good.substr(0, good.size() - 1) + R"(,"size":12})", "member \"size\" appears twice"},
        {"\xef\xbb\xbf" + good, "not a JSON object"},  // a BOM
    };
    for (const auto& [header, words] : cases) {
        lines_[0] = header;
        expect_failure("header: ", words);
    }
    auto h = nlohmann::ordered_json::parse(good);
    h.erase("checkpoints");
    lines_[0] = h.dump();
    expect_failure("header: no \"checkpoints\" member");
}

TEST_F(BundleFormatTest, HeaderMembersAreChecked) {
    const std::string good = lines_[0];
    const std::vector<std::tuple<std::string, nlohmann::ordered_json, std::string>> cases = {
        {"format", "enclave-audit-bundle2", "\"format\""},
        {"version", 2, "unsupported \"version\""},
        {"version", "1", "unsupported \"version\""},
        {"size", -1, "\"size\" is not an unsigned integer"},
        {"size", 12.0, "\"size\" is not an unsigned integer"},
        {"size", 11, "\"size\" 11 differs from the checkpoint's size 12"},
        {"origin", 5, "\"origin\" is not a string"},
        {"public_key", "nonsense", "\"public_key\": verifier key"},
        {"checkpoints", "x", "\"checkpoints\" is not an array"},
        {"checkpoints", nlohmann::ordered_json::array({1}), "holds a non-string"},
    };
    for (const auto& [name, value, words] : cases) {
        lines_[0] = good;
        set_header(name, value);
        expect_failure("header: ", words);
    }
    lines_[0] = good;
    set_header("origin", "other.example/log");
    expect_failure("checkpoint: its origin differs");
}

TEST_F(BundleFormatTest, OlderCheckpointsMustAscendBelowTheLatest) {
    const std::string good = lines_[0];
    set_header("checkpoints", {log_.checkpoint(6), log_.checkpoint(4)});
    expect_failure("older checkpoint 2 (size 4): sizes are not strictly ascending");
    lines_[0] = good;
    set_header("checkpoints", {log_.checkpoint(4), log_.checkpoint(4)});
    expect_failure("older checkpoint 2 (size 4): sizes are not strictly ascending");
    lines_[0] = good;
    set_header("checkpoints", {log_.checkpoint(12)});
    expect_failure("older checkpoint 1 (size 12): not below");
    // Signed by the key, but for another history.
    lines_[0] = good;
    SyntheticLog other(log_.origin(), log_.signing_key());
    other.append(8, "task.other");
    set_header("checkpoints", {other.checkpoint(8)});
    expect_failure("older checkpoint 1 (size 8): the first 8 entries do not have its signed root",
                   "entries 0 to 7 were rewritten");
}

TEST_F(BundleFormatTest, MalformedEntriesAreNamed) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"[]", "not a JSON object"},
        {"{\"index\":3,", "not valid JSON"},
        {"{\"index\":3,\"prev\":\"\"} x", "not valid JSON"},
        {"", "empty line"},
        {" {\"index\":3}", "not a JSON object"},
        {"{\"index\":3,\"prev\":\"\r\"}", "control character"},
        {"{\"index\":3,\"prev\":\"\t\"}", "control character"},
        {"{\"index\":3,\"prev\":\"\xff\"}", "invalid UTF-8"},
        {"{\"index\":3,\"prev\":\"\xc0\xaf\"}", "invalid UTF-8"},    // overlong
        {"{\"index\":3,\"prev\":\"\xed\xa0\x80\"}", "invalid UTF-8"},  // surrogate
        {"{\"index\":3,\"prev\":\"\",\"x\":1.5}", "floating-point"},
        {"{\"index\":3,\"prev\":\"\",\"x\":1e3}", "floating-point"},
        {"{\"index\":3.0,\"prev\":\"\"}", "floating-point"},
        {"{\"index\":-3,\"prev\":\"\"}", "\"index\" is not an unsigned integer"},
        {"{\"index\":\"3\",\"prev\":\"\"}", "\"index\" is not an unsigned integer"},
        {"{\"index\":[3],\"prev\":\"\"}", "\"index\" is not an unsigned integer"},
        {"{\"index\":3,\"index\":3,\"prev\":\"\"}", "\"index\" appears twice"},
        {"{\"index\":3,\"prev\":\"\",\"prev\":\"\"}", "\"prev\" appears twice"},
        {"{\"index\":3,\"prev\":5}", "\"prev\" is not a string"},
        {"{\"index\":3,\"prev\":\"ABC\"}", "neither empty nor 64 lowercase hex"},
        {"{\"index\":3,\"prev\":\"" + std::string(64, 'A') + "\"}", "neither empty nor 64"},
        {"{\"prev\":\"\"}", "no unsigned integer \"index\""},
        {"{\"index\":3}", "no string \"prev\""},
        {"{\"index\":3,\"prev\":\"\",\"a\":" + std::string(65, '[') + std::string(65, ']') + "}",
         "nested deeper than 64"},
    };
    const std::string good = entry(3);
    for (const auto& [text, words] : cases) {
        entry(3) = text;
        expect_failure("entry 3: malformed (line 5): ", words);
    }
    // Nested "index"/"prev" do not count, the top-level ones do.
    entry(3) = good;
    entry(0) = R"({"index":0,"prev":"","x":{"index":7,"prev":5}})";
    expect_failure("entry 0: modified");  // entry 1's prev no longer matches
}

TEST_F(BundleFormatTest, FirstEntryMustHaveAnEmptyPrev) {
    entry(0) = testing::make_entry(0, std::string(64, 'a'));
    expect_failure("entry 0: malformed (line 2): the first entry's \"prev\" must be empty");
}

TEST_F(BundleFormatTest, ANewlineInsideAnEntrySplitsItAndIsCaught) {
    const std::string e = entry(5);
    entry(5) = e.substr(0, 40);
    lines_.insert(lines_.begin() + 1 + 6, e.substr(40));
    expect_failure("entry 5: malformed (line 7): ", "not valid JSON");
}

TEST_F(BundleFormatTest, CrLfLineEndingsAreMalformed) {
    entry(2) += "\r";
    expect_failure("entry 2: malformed (line 4): control character");
}

TEST_F(BundleFormatTest, TotalSizeSanityLimit) {
    VerifyOptions o;
    o.max_entry_size = 100;  // our entries are about 220 bytes
    expect_failure("header: the file holds more bytes than 12 entries of at most 100 bytes", "",
                   o);
}

TEST_F(BundleFormatTest, EntryOverTheLineLimitIsNamed) {
    entry(11) = std::string(5000, 'x');
    VerifyOptions o;
    o.max_entry_size = 4000;
    expect_failure("entry 11: longer than 4000 bytes", "", o);
}

TEST_F(BundleFormatTest, TruncatedFilesAreNamed) {
    write_lines(path_, lines_);
    const auto size = fs::file_size(path_);
    fs::resize_file(path_, size - 1);  // the last newline
    auto r = verify_bundle(path_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(),
              "entry 11: the file ends without a newline after it (truncated?)");
    fs::resize_file(path_, size - 30);
    r = verify_bundle(path_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context().rfind("entry 11: ", 0), 0u) << r.error().context();
    fs::resize_file(path_, lines_[0].size());
    r = verify_bundle(path_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "header: not followed by a newline");
    fs::resize_file(path_, 0);
    r = verify_bundle(path_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "header: the file is empty");
}

TEST_F(BundleFormatTest, HeaderOverTheLimitIsRefusedWithoutReadingOn) {
    lines_ = {std::string(kMaxBundleHeaderSize + 1, 'x')};
    expect_failure("header: longer than 33554432 bytes");
}

TEST_F(BundleFormatTest, TooManyEntriesForTheLimit) {
    VerifyOptions o;
    o.max_entries = 11;
    expect_failure("header: 12 entries exceed the limit of 11", "", o);
}

TEST(BundleFileTest, MissingFileDirectoryFifoAndDevice) {
    testing::TempDir dir;
    auto missing = verify_bundle(dir.path() / "nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    auto directory = verify_bundle(dir.path());
    ASSERT_FALSE(directory);
    EXPECT_EQ(directory.error().code(), Errc::io_error);
    // A FIFO without a writer must not block the verifier.
    const fs::path fifo = dir.path() / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto pipe = verify_bundle(fifo);
    ASSERT_FALSE(pipe);
    EXPECT_EQ(pipe.error().code(), Errc::io_error);
    EXPECT_NE(pipe.error().context().find("not a regular file"), std::string::npos);
    auto device = verify_bundle("/dev/zero");
    ASSERT_FALSE(device);
    EXPECT_EQ(device.error().code(), Errc::io_error);
}

}  // namespace
}  // namespace enclave::audit
