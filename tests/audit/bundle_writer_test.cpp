// SPDX-License-Identifier: Apache-2.0
// BundleWriter: atomic (nothing at the path until commit, no temp file left
// behind on failure), mode 0640, no silent overwrite, and it refuses to write
// a bundle that would not verify.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "audit/bundle.hpp"
#include "bundle_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using testing::SyntheticLog;

std::size_t files_in(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

class BundleWriterTest : public ::testing::Test {
protected:
    void SetUp() override { log_.append(20); }

    BundleWriter writer(const std::vector<std::string>& older = {},
                        BundleWriter::Options options = {}) {
        auto w = BundleWriter::create(path_, log_.key(), log_.checkpoint(), older, options);
        if (!w) throw std::runtime_error(w.error().message());
        return std::move(*w);
    }

    testing::TempDir dir_;
    fs::path path_ = dir_.path() / "out.bundle";
    SyntheticLog log_;
};

TEST_F(BundleWriterTest, CommitPlacesA0640FileAtomically) {
    // A permissive umask must not widen the mode, a strict one not narrow it.
    const mode_t old = ::umask(0);
    {
        BundleWriter w = writer();
        for (std::size_t i = 0; i < 20; ++i) ASSERT_TRUE(w.append(log_.entries()[i]));
        EXPECT_FALSE(fs::exists(path_));   // not before commit
        EXPECT_EQ(files_in(dir_.path()), 1u);  // the temporary file
        EXPECT_EQ(w.appended(), 20u);
        EXPECT_EQ(w.size(), 20u);
        auto ok = w.commit();
        ASSERT_TRUE(ok) << ok.error().message();
    }
    ::umask(old);
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(files_in(dir_.path()), 1u);  // no temporary file left
    EXPECT_TRUE(verify_bundle(path_));
}

TEST_F(BundleWriterTest, AbandonedWriterLeavesNothing) {
    {
        BundleWriter w = writer();
        ASSERT_TRUE(w.append(log_.entries()[0]));
    }
    EXPECT_EQ(files_in(dir_.path()), 0u);
}

TEST_F(BundleWriterTest, RefusesToOverwriteUnlessAsked) {
    log_.write_bundle(path_);
    auto again = BundleWriter::create(path_, log_.key(), log_.checkpoint());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    // Overwrite replaces it with a new, complete bundle.
    BundleWriter::Options o;
    o.overwrite = true;
    BundleWriter w = writer({log_.checkpoint(5)}, o);
    for (const auto& e : log_.entries()) ASSERT_TRUE(w.append(e));
    ASSERT_TRUE(w.commit());
    auto r = verify_bundle(path_);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->checkpoints_checked, 2u);
}

TEST_F(BundleWriterTest, ExistingFileAppearingBeforeCommitIsNotReplaced) {
    BundleWriter w = writer();
    for (const auto& e : log_.entries()) ASSERT_TRUE(w.append(e));
    testing::write_lines(path_, {"someone else's file"});
    auto ok = w.commit();
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().code(), Errc::already_exists);
    EXPECT_EQ(testing::read_lines(path_).at(0), "someone else's file");
}

TEST_F(BundleWriterTest, RefusesEntriesThatBreakTheChain) {
    {
        BundleWriter w = writer();
        auto bad = w.append(log_.entries()[1]);  // index 1 at position 0
        ASSERT_FALSE(bad);
        EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
        EXPECT_EQ(bad.error().context(), "entry 0: its \"index\" is 1, not its position");
        // The writer is now unusable, and commit refuses.
        EXPECT_EQ(w.append(log_.entries()[0]).error().code(), Errc::invalid_state);
        EXPECT_EQ(w.commit().error().code(), Errc::invalid_state);
    }
    EXPECT_EQ(files_in(dir_.path()), 0u);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"with\nnewline", "control character"},
        {"{\"index\":0,\"prev\":\"\",\"x\":\"\xff\"}", "invalid UTF-8"},
        {"not json", "not a JSON object"},
        {testing::make_entry(0, std::string(64, 'a')), "first entry's \"prev\" must be empty"},
    };
    for (const auto& [entry, words] : cases) {
        BundleWriter w = writer();
        auto bad = w.append(entry);
        ASSERT_FALSE(bad) << entry;
        EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
        EXPECT_NE(bad.error().context().find(words), std::string::npos) << bad.error().context();
    }
    BundleWriter w = writer();
    ASSERT_TRUE(w.append(log_.entries()[0]));
    auto unlinked = w.append(testing::make_entry(1, std::string(64, 'a')));
    ASSERT_FALSE(unlinked);
    EXPECT_EQ(unlinked.error().context(), "entry 1: its \"prev\" is not the leaf hash of entry 0");
}

TEST_F(BundleWriterTest, RefusesTooManyOrTooFewEntries) {
    BundleWriter w = writer();
    for (std::size_t i = 0; i < 19; ++i) ASSERT_TRUE(w.append(log_.entries()[i]));
    auto short_commit = w.commit();
    ASSERT_FALSE(short_commit);
    EXPECT_EQ(short_commit.error().code(), Errc::invalid_state);
    SyntheticLog longer(log_.origin(), log_.signing_key());
    longer.append(21);
    BundleWriter w2 = writer();
    for (std::size_t i = 0; i < 20; ++i) ASSERT_TRUE(w2.append(longer.entries()[i]));
    auto extra = w2.append(longer.entries()[20]);
    ASSERT_FALSE(extra);
    EXPECT_EQ(extra.error().code(), Errc::invalid_state);
    EXPECT_EQ(files_in(dir_.path()), 0u);  // a failed writer removes its file at once
}

TEST_F(BundleWriterTest, RefusesEntriesThatDoNotMatchTheCheckpoints) {
    // Another history of the same length, same key: chains fine, roots differ.
    SyntheticLog other(log_.origin(), log_.signing_key());
    other.append(20, "task.other");
    {
        BundleWriter w = writer();
        for (const auto& e : other.entries()) ASSERT_TRUE(w.append(e));
        auto ok = w.commit();
        ASSERT_FALSE(ok);
        EXPECT_EQ(ok.error().code(), Errc::integrity_failure);
    }
    EXPECT_EQ(files_in(dir_.path()), 0u);
    BundleWriter w = writer({log_.checkpoint(3)});
    for (std::size_t i = 0; i < 2; ++i) ASSERT_TRUE(w.append(other.entries()[i]));
    auto at3 = w.append(other.entries()[2]);
    ASSERT_FALSE(at3);
    EXPECT_EQ(at3.error().code(), Errc::integrity_failure);
    EXPECT_EQ(at3.error().context().rfind("older checkpoint 1 (size 3)", 0), 0u);
}

TEST_F(BundleWriterTest, CreateChecksTheCheckpoints) {
    const NoteVerifierKey stranger = testing::SoftNoteKey::generate().verifier_key(log_.origin());
    auto wrong_key = BundleWriter::create(path_, stranger, log_.checkpoint());
    ASSERT_FALSE(wrong_key);
    EXPECT_EQ(wrong_key.error().code(), Errc::integrity_failure);
    auto not_note = BundleWriter::create(path_, log_.key(), "garbage");
    ASSERT_FALSE(not_note);
    EXPECT_EQ(not_note.error().code(), Errc::invalid_argument);
    auto descending =
        BundleWriter::create(path_, log_.key(), log_.checkpoint(), {log_.checkpoint(9), log_.checkpoint(3)});
    ASSERT_FALSE(descending);
    EXPECT_EQ(descending.error().code(), Errc::invalid_argument);
    SyntheticLog elsewhere("other.example/log", log_.signing_key());
    elsewhere.append(3);
    auto origin = BundleWriter::create(path_, log_.key(), log_.checkpoint(), {elsewhere.checkpoint()});
    ASSERT_FALSE(origin);
    EXPECT_EQ(origin.error().code(), Errc::integrity_failure);  // signed under another name
    auto no_dir = BundleWriter::create(dir_.path() / "missing" / "b", log_.key(), log_.checkpoint());
    ASSERT_FALSE(no_dir);
    EXPECT_EQ(no_dir.error().code(), Errc::io_error);
    EXPECT_EQ(files_in(dir_.path()), 0u);
}

}  // namespace
}  // namespace enclave::audit
