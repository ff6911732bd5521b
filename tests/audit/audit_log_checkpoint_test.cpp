// SPDX-License-Identifier: Apache-2.0
// AuditLog checkpoints: the count and time cadence (with a settable clock),
// on demand, the body handed to the signer, signer failures, and reopening.
#include "audit/audit_log.hpp"

#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

using crypto::Errc;

class AuditLogCheckpointTest : public AuditLogFixture {
protected:
    static std::vector<std::uint64_t> sizes(const AuditLog& log) {
        std::vector<std::uint64_t> out;
        const std::vector<LogCheckpoint> all = log.checkpoints().value();
        for (const LogCheckpoint& cp : all) out.push_back(cp.size);
        return out;
    }
};

TEST_F(AuditLogCheckpointTest, EveryNEntries) {
    AuditLogOptions o = options();
    o.checkpoint_every = 10;
    o.checkpoint_interval = std::chrono::milliseconds(0);
    auto log = open_log(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 25; ++i) ASSERT_TRUE(log->append(event(i)));
    EXPECT_FALSE(log->checkpoint_if_due().value());  // waits for the writer's own check
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{10, 20}));
    const std::vector<LogCheckpoint> all = log->checkpoints().value();
    for (const LogCheckpoint& cp : all) {
        EXPECT_EQ(cp.root, log->root_at(cp.size).value());
        EXPECT_EQ(cp.note, fake_sign(AuditLog::checkpoint_body(log->origin(), cp.size, cp.root)).value());
        EXPECT_EQ(cp.created.time_since_epoch(), std::chrono::milliseconds(FakeClock::kStartMs));
    }
    EXPECT_EQ(log->latest_checkpoint()->size, 20u);
}

TEST_F(AuditLogCheckpointTest, BatchesAreCutAtTheCountBoundary) {
    AuditLogOptions o = options();
    o.checkpoint_every = 100;
    o.checkpoint_interval = std::chrono::milliseconds(0);
    auto log = open_log(o);
    ASSERT_TRUE(log);
    append_many(*log, 16, 50);
    ASSERT_TRUE(log->checkpoint_if_due());
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{100, 200, 300, 400, 500, 600, 700, 800}));
}

TEST_F(AuditLogCheckpointTest, AfterTheIntervalWhenThereAreNewEntries) {
    AuditLogOptions o = options();
    o.checkpoint_every = 1000;
    o.checkpoint_interval = std::chrono::seconds(60);
    auto log = open_log(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->append(event(i)));
    EXPECT_FALSE(log->checkpoint_if_due().value());
    clock_.advance(std::chrono::seconds(59));
    EXPECT_FALSE(log->checkpoint_if_due().value());
    EXPECT_FALSE(log->latest_checkpoint());
    clock_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(log->checkpoint_if_due());  // the writer's own poll may have been first
    ASSERT_TRUE(log->latest_checkpoint());
    EXPECT_EQ(log->latest_checkpoint()->size, 5u);
    // No new entries: nothing to sign however long it waits.
    clock_.advance(std::chrono::minutes(5));
    EXPECT_FALSE(log->checkpoint_if_due().value());
    ASSERT_TRUE(log->append(event(5)));
    ASSERT_TRUE(log->checkpoint_if_due());
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{5, 6}));
}

TEST_F(AuditLogCheckpointTest, OnDemandSignsTheExactBody) {
    std::vector<std::string> bodies;
    AuditLogOptions o = options();
    o.signer = [&](std::string_view body) {
        bodies.emplace_back(body);
        return fake_sign(body);
    };
    auto log = open_log(o);
    ASSERT_TRUE(log);
    auto empty = log->checkpoint();
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_EQ(empty->size, 0u);
    EXPECT_EQ(empty->root, crypto::LogHasher().empty_root());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->append(event(i)));
    auto cp = log->checkpoint();
    ASSERT_TRUE(cp);
    EXPECT_EQ(cp->size, 3u);
    EXPECT_EQ(cp->root, log->root());
    auto again = log->checkpoint();  // nothing new: the same checkpoint, not a second row
    ASSERT_TRUE(again);
    EXPECT_EQ(again->note, cp->note);
    ASSERT_EQ(bodies.size(), 2u);
    EXPECT_EQ(bodies[0], "enclave.test/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    EXPECT_EQ(bodies[1], "enclave.test/audit\n3\n" + crypto::base64_encode(log->root()) + "\n");
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{0, 3}));
}

TEST_F(AuditLogCheckpointTest, SignerFailureDoesNotStopAppends) {
    std::atomic<bool> token_up{false};
    AuditLogOptions o = options();
    o.checkpoint_every = 5;
    o.signer = [&](std::string_view body) -> crypto::Result<std::string> {
        if (!token_up) return crypto::fail(Errc::unavailable, "token removed");
        return fake_sign(body);
    };
    auto log = open_log(o);
    ASSERT_TRUE(log);
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(log->append(event(i)));
    auto direct = log->checkpoint();
    ASSERT_FALSE(direct);
    expect_error(direct.error(), Errc::unavailable, "signing the checkpoint at size 12: token removed");
    ASSERT_FALSE(log->checkpoint_if_due());
    ASSERT_TRUE(log->last_checkpoint_error());
    EXPECT_EQ(log->last_checkpoint_error()->code(), Errc::unavailable);
    EXPECT_FALSE(log->latest_checkpoint());

    token_up = true;
    ASSERT_TRUE(log->checkpoint_if_due());  // the writer's own retry may have been first
    EXPECT_FALSE(log->last_checkpoint_error());
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{12}));
}

TEST_F(AuditLogCheckpointTest, RefusesANoteThatIsNotOverTheBody) {
    AuditLogOptions o = options();
    o.signer = [](std::string_view body) -> crypto::Result<std::string> {
        std::string other(body);
        other[other.size() - 3] ^= 1;  // a note of another root
        return other + "\n\xE2\x80\x94 k sig\n";
    };
    auto log = open_log(o);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append(event(1)));
    expect_error(log->checkpoint().error(), Errc::crypto_failure, "not a signed note of the body");
    EXPECT_TRUE(log->checkpoints().value().empty());
}

TEST_F(AuditLogCheckpointTest, SurviveReopenAndKeepTheInterval) {
    AuditLogOptions o = options();
    o.checkpoint_every = 0;
    o.checkpoint_interval = std::chrono::seconds(60);
    {
        auto log = open_log(o);
        ASSERT_TRUE(log);
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->append(event(i)));
        ASSERT_TRUE(log->checkpoint());
        ASSERT_TRUE(log->append(event(4)));
    }
    clock_.advance(std::chrono::seconds(61));
    auto log = open_log(o);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->latest_checkpoint());
    EXPECT_EQ(log->latest_checkpoint()->size, 4u);
    // The interval counts from the stored checkpoint, not from the reopen.
    ASSERT_TRUE(log->checkpoint_if_due());
    EXPECT_EQ(sizes(*log), (std::vector<std::uint64_t>{4, 5}));
}

}  // namespace
}  // namespace enclave::audit::test
