// SPDX-License-Identifier: Apache-2.0
// AuditLog refuses to open a log whose stored entries or checkpoints were
// changed (with the database key, as an attacker holding the KEK could), and
// names the index; a change made while the log is open is caught on read.
#include "audit/audit_log.hpp"

#include "audit/jcs.hpp"
#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

using crypto::Errc;

class AuditLogTamperTest : public AuditLogFixture {
protected:
    /// Ten entries; a checkpoint at `checkpoint_at` when it is not 0.
    void make_log(std::uint64_t checkpoint_at) {
        auto log = open_log();
        ASSERT_TRUE(log);
        for (int i = 0; i < 10; ++i) {
            ASSERT_TRUE(log->append(event(i)));
            if (log->size() == checkpoint_at) {
                ASSERT_TRUE(log->checkpoint());
            }
        }
        for (std::uint64_t i = 0; i < 10; ++i) stored_.push_back(log->entry(i).value());
    }

    /// Replaces entry `index` with `text`.
    void replace(std::uint64_t index, const std::string& text) {
        tamper("UPDATE entries SET entry = ? WHERE idx = ?", text, static_cast<std::int64_t>(index));
    }

    /// Entry `index` with its "n" changed, everything else as stored.
    std::string altered(std::uint64_t index) const {
        json e = json::parse(stored_[index]);
        e["n"] = 999;
        return canonicalize(e).value();
    }

    /// Sets entry `from`'s "n" to 999 and rewrites every later "prev" to
    /// match, as a forger with the key would: only checkpoints can tell.
    void forge_chain_from(std::uint64_t from) {
        std::vector<std::string> entries = stored_;
        entries[from] = altered(from);
        for (std::uint64_t i = from + 1; i < entries.size(); ++i) {
            json e = json::parse(entries[i]);
            e["prev"] = crypto::hash_to_hex(independent_leaf_hash(entries[i - 1]));
            entries[i] = canonicalize(e).value();
        }
        for (std::uint64_t i = from; i < entries.size(); ++i) replace(i, entries[i]);
    }

    std::vector<std::string> stored_;
};

TEST_F(AuditLogTamperTest, AlteredEntryIsNamed) {
    make_log(0);
    replace(4, altered(4));
    expect_error(open_error(), Errc::integrity_failure,
                 "index 5: \"prev\" is not the leaf hash of index 4 (entry 4 or 5 was altered)");
}

TEST_F(AuditLogTamperTest, DeletedEntryIsNamed) {
    make_log(0);
    tamper("DELETE FROM entries WHERE idx = ?", {}, 4);
    expect_error(open_error(), Errc::integrity_failure,
                 "index 4 is missing (the next stored entry is 5)");
}

TEST_F(AuditLogTamperTest, ReorderedEntriesAreNamed) {
    make_log(0);
    // Swap the bytes of entries 3 and 4 (their rows keep their positions).
    replace(3, stored_[4]);
    replace(4, stored_[3]);
    expect_error(open_error(), Errc::integrity_failure, "index 3: the entry says \"index\":4");
}

TEST_F(AuditLogTamperTest, InsertedEntryIsNamed) {
    make_log(0);
    // Shift entries 6.. up by one and put a forged entry at 6.
    for (std::int64_t i = 9; i >= 6; --i) {
        tamper("UPDATE entries SET idx = idx + 1 WHERE idx = ?", {}, i);
    }
    tamper("INSERT INTO entries (entry, idx) VALUES (?, ?)", stored_[6], 6);
    expect_error(open_error(), Errc::integrity_failure, "index 7: the entry says \"index\":6");
}

TEST_F(AuditLogTamperTest, RewrittenChainIsCaughtByTheCheckpoint) {
    make_log(10);
    forge_chain_from(3);
    expect_error(open_error(), Errc::integrity_failure,
                 "the first 10 entries do not match the checkpoint at that size: an entry in "
                 "indexes 0..9 was altered");
}

TEST_F(AuditLogTamperTest, AlteredLastEntryIsCaughtByTheCheckpoint) {
    make_log(10);
    replace(9, altered(9));  // the last entry: no "prev" follows it to give it away
    expect_error(open_error(), Errc::integrity_failure, "checkpoint at that size");
}

TEST_F(AuditLogTamperTest, CheckpointRangeNarrowsTheSearch) {
    {
        auto log = open_log();
        ASSERT_TRUE(log);
        for (int i = 0; i < 10; ++i) {
            ASSERT_TRUE(log->append(event(i)));
            if (log->size() == 4 || log->size() == 8) {
                ASSERT_TRUE(log->checkpoint());
            }
        }
        for (std::uint64_t i = 0; i < 10; ++i) stored_.push_back(log->entry(i).value());
    }
    // Entry 6 altered and the chain after it rewritten: the checkpoint at 8
    // disagrees, and the one at 4 bounds the range.
    forge_chain_from(6);
    expect_error(open_error(), Errc::integrity_failure, "an entry in indexes 4..7 was altered");
}

TEST_F(AuditLogTamperTest, ForgedChainAfterTheLastCheckpointIsNotDetectableLocally) {
    // The limit of local verification (docs/audit-log.md): entries after the
    // newest checkpoint are protected by the chain alone, which a forger with
    // the key can rewrite. The next signed checkpoint, or a consistency proof
    // against one an auditor holds, exposes it.
    make_log(8);
    forge_chain_from(8);
    auto log = open_log();
    ASSERT_TRUE(log);
    EXPECT_NE(log->entry(8).value(), stored_[8]);
}

TEST_F(AuditLogTamperTest, TruncationBelowACheckpointIsCaught) {
    make_log(8);
    tamper("DELETE FROM entries WHERE idx >= ?", {}, 6);
    expect_error(open_error(), Errc::integrity_failure,
                 "a checkpoint covers 8 entries but only 6 are stored: indexes 6..7 are missing");
}

TEST_F(AuditLogTamperTest, AlteredCheckpointIsCaught) {
    make_log(5);
    tamper("UPDATE checkpoints SET note = ?", "enclave.test/audit\n4\nAAAA\n\nforged\n");
    expect_error(open_error(), Errc::integrity_failure,
                 "the checkpoint at size 5 holds a note for another origin, size or root");
    tamper("UPDATE checkpoints SET root = zeroblob(32)");
    expect_error(open_error(), Errc::integrity_failure, "checkpoint at size 5");
}

TEST_F(AuditLogTamperTest, MalformedStoredEntryIsNamed) {
    make_log(0);
    replace(2, "not json");
    expect_error(open_error(), Errc::integrity_failure,
                 "index 2: the stored entry is malformed (not a JSON object)");
}

TEST_F(AuditLogTamperTest, ChangeUnderAnOpenLogIsCaughtOnRead) {
    auto log = open_log();
    ASSERT_TRUE(log);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->append(event(i)));
    stored_.push_back(log->entry(0).value());
    stored_.push_back(log->entry(1).value());
    // A second connection beside the open log (WAL allows it).
    json e1 = json::parse(stored_[1]);
    e1["n"] = 999;
    replace(1, canonicalize(e1).value());
    expect_error(log->entry(1).error(), Errc::integrity_failure,
                 "index 1: the stored entry does not match its leaf hash");
    EXPECT_FALSE(log->entries(0, 5));
    EXPECT_EQ(log->entry(0).value(), stored_[0]);
}

}  // namespace
}  // namespace enclave::audit::test
