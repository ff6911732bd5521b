// SPDX-License-Identifier: Apache-2.0
// Offline bundle verification: a valid bundle verifies; a modified, deleted,
// inserted or reordered entry, a forged signature, a wrong pinned key and a
// rolled-back or forked log each fail with the index and the reason.
// Bundles are written by the real BundleWriter from synthetic entries, then
// tampered with as files.
#include "audit/bundle.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bundle_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using testing::read_lines;
using testing::SyntheticLog;
using testing::write_lines;

// 50 entries, older checkpoints at 10, 20 and 40.
class BundleTest : public ::testing::Test {
protected:
    void SetUp() override {
        log_.append(50);
        log_.write_bundle(path_, {10, 20, 40});
        lines_ = read_lines(path_);
        ASSERT_EQ(lines_.size(), 51u);
    }

    // Line of entry i.
    std::string& entry(std::size_t i) { return lines_[1 + i]; }
    void save() { write_lines(path_, lines_); }

    void expect_failure(const std::string& prefix, const std::string& words,
                        const VerifyOptions& options = {}) {
        auto r = verify_bundle(path_, options);
        ASSERT_FALSE(r) << "a tampered bundle verified";
        EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
        EXPECT_EQ(r.error().context().rfind(prefix, 0), 0u) << r.error().context();
        EXPECT_NE(r.error().context().find(words), std::string::npos) << r.error().context();
    }

    testing::TempDir dir_;
    fs::path path_ = dir_.path() / "audit.bundle";
    SyntheticLog log_;
    std::vector<std::string> lines_;
};

TEST_F(BundleTest, ValidBundleVerifies) {
    auto r = verify_bundle(path_);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->origin, "enclave.example/audit");
    EXPECT_EQ(r->entries, 50u);
    EXPECT_EQ(r->root, log_.root(50));
    EXPECT_FALSE(r->key_pinned);
    EXPECT_EQ(r->key, log_.key().to_string());
    EXPECT_EQ(r->checkpoints_checked, 4u);
    EXPECT_EQ(r->bytes, fs::file_size(path_));
    EXPECT_NE(describe(*r).find("NOT pinned"), std::string::npos);

    VerifyOptions pinned;
    pinned.pinned_key = log_.key();
    auto p = verify_bundle(path_, pinned);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(p->key_pinned);
    EXPECT_FALSE(p->bundle_key_differs);
    EXPECT_NE(describe(*p).find("pinned by the verifier"), std::string::npos);
}

TEST_F(BundleTest, HeaderFollowsTheDocumentedFormat) {
    const auto h = nlohmann::json::parse(lines_[0]);
    EXPECT_EQ(h.at("format"), "enclave-audit-bundle");
    EXPECT_EQ(h.at("version"), 1);
    EXPECT_EQ(h.at("origin"), log_.origin());
    EXPECT_EQ(h.at("public_key"), log_.key().to_string());
    EXPECT_EQ(h.at("size"), 50);
    EXPECT_EQ(h.at("checkpoint"), log_.checkpoint());
    ASSERT_EQ(h.at("checkpoints").size(), 3u);
    EXPECT_EQ(h.at("checkpoints")[1], log_.checkpoint(20));
    EXPECT_EQ(lines_[0].rfind(R"({"format":"enclave-audit-bundle","version":1,)", 0), 0u);
    // Entries are byte-exact.
    for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(entry(i), log_.entries()[i]);
}

TEST_F(BundleTest, ModifiedEntryIsNamedThroughTheNextPrev) {
    entry(17).replace(entry(17).find("LIID-"), 5, "LIIX-");
    save();
    expect_failure("entry 17: modified", "\"prev\" of entry 18");
}

TEST_F(BundleTest, ModifiedIndexFieldIsNamed) {
    entry(17).replace(entry(17).find("\"index\":17"), 10, "\"index\":18");
    save();
    expect_failure("entry 17: modified: its \"index\" reads 18", "next line holds index 18");
}

TEST_F(BundleTest, ModifiedLastEntryIsARootMismatchAtTheLastIndex) {
    entry(49).replace(entry(49).find("task.created"), 12, "task.deleted");
    save();
    expect_failure("entry 49: root mismatch", "last entry was modified");
}

TEST_F(BundleTest, DeletedEntryIsNamed) {
    lines_.erase(lines_.begin() + 1 + 23);
    save();
    expect_failure("entry 23: deleted", "entry 23 is missing");
}

TEST_F(BundleTest, DeletedRunOfEntriesIsNamed) {
    lines_.erase(lines_.begin() + 1 + 5, lines_.begin() + 1 + 8);
    save();
    expect_failure("entry 5: deleted", "entries 5 to 7 are missing");
}

TEST_F(BundleTest, DeletedTailIsNamed) {
    lines_.pop_back();
    lines_.pop_back();
    save();
    expect_failure("entry 48: missing", "entries 48 to 49 deleted");
}

TEST_F(BundleTest, InsertedCopyIsNamed) {
    // A copy of entry 30 slipped in after it.
    lines_.insert(lines_.begin() + 1 + 31, entry(30));
    save();
    expect_failure("entry 30: duplicated or inserted", "is on line 32 and again on line 33");
}

TEST_F(BundleTest, InsertedForgedEntryIsNamed) {
    // A forged entry with a plausible index and a correct "prev": the next
    // genuine entry then repeats its index.
    const std::string forged = testing::make_entry(12, crypto::hash_to_hex(log_.leaves()[11]),
                                                   "task.closed");
    lines_.insert(lines_.begin() + 1 + 12, forged);
    save();
    expect_failure("entry 12: duplicated or inserted", "again on line 15");
}

TEST_F(BundleTest, InsertedLineWithAnIndexBeyondTheLogIsNamed) {
    lines_.insert(lines_.begin() + 1 + 12, testing::make_entry(999, std::string(64, 'a')));
    save();
    expect_failure("entry 12: an inserted line precedes it", "holds index 999");
}

TEST_F(BundleTest, ReorderedEntriesAreNamed) {
    std::swap(entry(33), entry(34));
    save();
    expect_failure("entry 33: reordered", "line 36");
}

TEST_F(BundleTest, AppendedEntryIsNamed) {
    lines_.push_back(testing::make_entry(50, crypto::hash_to_hex(log_.leaves()[49])));
    save();
    expect_failure("entry 50: extra data", "after the 50 entries");
}

TEST_F(BundleTest, RelinkedRewriteIsLocalisedBetweenCheckpoints) {
    // Entry 25 changed and every later "prev" recomputed, so the chain links:
    // the older checkpoint at 40 catches it, between 20 and 39.
    crypto::LogHasher hasher;
    entry(25).replace(entry(25).find("LIID-"), 5, "LIIX-");
    for (std::size_t i = 26; i < 50; ++i) {
        const auto prev = crypto::hash_to_hex(hasher.hash_leaf(crypto::as_bytes(entry(i - 1))));
        entry(i) = testing::make_entry(i, prev);
    }
    save();
    expect_failure("older checkpoint 3 (size 40)", "entries 20 to 39 were rewritten");
}

TEST_F(BundleTest, ForgedSignatureFails) {
    auto h = nlohmann::ordered_json::parse(lines_[0]);
    std::string cp = h["checkpoint"];
    // Flip one base64 character of the signature (well inside it).
    const std::size_t at = cp.size() - 20;
    cp[at] = cp[at] == 'A' ? 'B' : 'A';
    h["checkpoint"] = cp;
    lines_[0] = h.dump();
    save();
    expect_failure("checkpoint: signed note: invalid signature by", "enclave.example/audit+");
}

TEST_F(BundleTest, ForgedOlderCheckpointSignatureFails) {
    auto h = nlohmann::ordered_json::parse(lines_[0]);
    std::string cp = h["checkpoints"][1];
    const std::size_t at = cp.size() - 20;
    cp[at] = cp[at] == 'A' ? 'B' : 'A';
    h["checkpoints"][1] = cp;
    lines_[0] = h.dump();
    save();
    expect_failure("older checkpoint 2: signed note: invalid signature", "");
}

TEST_F(BundleTest, SelfSignedForgeryFailsOnlyAgainstThePinnedKey) {
    // An attacker re-signs a modified log with their own key and ships that
    // key in the bundle: self-consistent, so it verifies unpinned (and the
    // report says so), and fails against the appliance's pinned key.
    SyntheticLog forged(log_.origin());
    forged.append(50, "task.forged");
    fs::remove(path_);
    forged.write_bundle(path_);
    auto unpinned = verify_bundle(path_);
    ASSERT_TRUE(unpinned) << unpinned.error().message();
    EXPECT_FALSE(unpinned->key_pinned);
    VerifyOptions pinned;
    pinned.pinned_key = log_.key();
    expect_failure("checkpoint: signed note: no signature by " + log_.key().label(),
                   "the bundle names key", pinned);
}

TEST_F(BundleTest, WrongPinnedKeyFails) {
    VerifyOptions pinned;
    pinned.pinned_key = testing::SoftNoteKey::generate().verifier_key("enclave.example/audit");
    expect_failure("checkpoint: signed note: no signature by enclave.example/audit+",
                   "not the pinned key", pinned);
}

TEST_F(BundleTest, SinceCheckpointConsistentPasses) {
    for (std::uint64_t s : {0, 1, 7, 30, 40, 50}) {
        VerifyOptions o;
        o.pinned_key = log_.key();
        o.since_checkpoint = log_.checkpoint(s);
        auto r = verify_bundle(path_, o);
        ASSERT_TRUE(r) << s << ": " << r.error().message();
        EXPECT_EQ(r->since_size, s);
        EXPECT_EQ(r->checkpoints_checked, 5u);
        EXPECT_EQ(r->consistency_proof.empty(), s == 0 || s == 50) << s;
        EXPECT_TRUE(crypto::verify_consistency({}, s, 50, r->consistency_proof, log_.root(s),
                                               log_.root(50)))
            << s;
    }
}

TEST_F(BundleTest, RolledBackLogFails) {
    // The auditor kept a checkpoint at 60; the appliance now exports 50.
    SyntheticLog longer(log_.origin(), log_.signing_key());
    longer.append(60);
    VerifyOptions o;
    o.since_checkpoint = longer.checkpoint(60);
    expect_failure("since-checkpoint: rolled back", "entries 50 to 59 are gone", o);
}

TEST_F(BundleTest, ForkedLogFails) {
    // Same key, same size range, different history after entry 24.
    SyntheticLog fork(log_.origin(), log_.signing_key());
    fork.append(25);
    fork.append(10, "task.other");
    VerifyOptions o;
    o.since_checkpoint = fork.checkpoint(35);
    expect_failure("since-checkpoint: diverges", "first 35 entries", o);
    // A since-checkpoint signed by another key is refused as such.
    o.since_checkpoint = testing::SyntheticLog(log_.origin()).checkpoint(0);
    expect_failure("since-checkpoint: signed note: no signature by", "", o);
}

TEST_F(BundleTest, ProgressIsReportedUpToTheTotal) {
    SyntheticLog big;
    big.append(40000);
    fs::remove(path_);
    big.write_bundle(path_);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    VerifyOptions o;
    o.progress = [&](std::uint64_t done, std::uint64_t total) { calls.emplace_back(done, total); };
    ASSERT_TRUE(verify_bundle(path_, o));
    ASSERT_EQ(calls.size(), 3u);  // 16384, 32768, 40000
    EXPECT_EQ(calls[0], std::make_pair(std::uint64_t{16384}, std::uint64_t{40000}));
    EXPECT_EQ(calls.back(), std::make_pair(std::uint64_t{40000}, std::uint64_t{40000}));
    // A total that is a multiple of the step is reported once, not twice.
    SyntheticLog even;
    even.append(32768);
    fs::remove(path_);
    even.write_bundle(path_);
    calls.clear();
    ASSERT_TRUE(verify_bundle(path_, o));
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls.back(), std::make_pair(std::uint64_t{32768}, std::uint64_t{32768}));
}

TEST(BundleProofTest, ConsistencyProofsMatchTheGenerator) {
    // The proof produced while streaming equals crypto::consistency_proof over
    // all leaves in memory, for every older size.
    testing::TempDir dir;
    SyntheticLog log;
    log.append(37);
    log.write_bundle(dir.path() / "b");
    const crypto::MemoryNodeSource source(log.leaves());
    for (std::uint64_t s = 1; s < 37; ++s) {
        VerifyOptions o;
        o.since_checkpoint = log.checkpoint(s);
        auto r = verify_bundle(dir.path() / "b", o);
        ASSERT_TRUE(r) << s << ": " << r.error().message();
        auto want = crypto::consistency_proof({}, source, s, 37);
        ASSERT_TRUE(want);
        EXPECT_EQ(r->consistency_proof, *want) << s;
    }
}

TEST(BundleEmptyTest, EmptyLogVerifies) {
    testing::TempDir dir;
    SyntheticLog log;
    log.write_bundle(dir.path() / "b");
    auto r = verify_bundle(dir.path() / "b");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->entries, 0u);
    EXPECT_EQ(r->root, crypto::LogHasher{}.empty_root());
}

}  // namespace
}  // namespace enclave::audit
