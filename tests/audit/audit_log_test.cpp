// SPDX-License-Identifier: Apache-2.0
// AuditLog: appending, reopening, the entry format of /work/issue4.md, and
// proofs checked with the RFC 9162 verifiers.
#include "audit/audit_log.hpp"

#include "audit/jcs.hpp"
#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

using crypto::Errc;
using crypto::Hash;

class AuditLogTest : public AuditLogFixture {};

TEST_F(AuditLogTest, AppendsAndReopens) {
    Hash root_before{};
    std::vector<std::string> before;
    {
        auto log = open_log();
        ASSERT_TRUE(log);
        EXPECT_EQ(log->size(), 0u);
        EXPECT_EQ(log->root(), crypto::LogHasher().empty_root());
        for (int i = 0; i < 10; ++i) {
            auto index = log->append(event(i));
            ASSERT_TRUE(index) << index.error().message();
            EXPECT_EQ(*index, static_cast<std::uint64_t>(i));
        }
        EXPECT_EQ(log->size(), 10u);
        root_before = log->root();
        auto all = log->entries(0, 10);
        ASSERT_TRUE(all) << all.error().message();
        before = *all;
    }
    auto log = open_log();
    ASSERT_TRUE(log);
    EXPECT_EQ(log->size(), 10u);
    EXPECT_EQ(log->root(), root_before);
    auto after = log->entries(0, 10);
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, before);
    auto next = log->append(event(10));
    ASSERT_TRUE(next);
    EXPECT_EQ(*next, 10u);
}

TEST_F(AuditLogTest, EntryFormatIsTheContract) {
    auto log = open_log();
    ASSERT_TRUE(log);
    // Members on every side of "index", "prev" and "time", nested values, a
    // non-ASCII name (sorts after all ASCII) and a control character.
    const json ev = {{"event", "task.created"}, {"h", 1},        {"j", true},
                     {"q", "LIID-0001"},        {"u", json::array({2, "\n"})},
                     {"a", {{"z", nullptr}, {"b", -3}}},         {"\xC3\xA9t\xC3\xA9", "x"}};
    ASSERT_TRUE(log->append(ev));
    clock_.advance(std::chrono::milliseconds(1001));
    ASSERT_TRUE(log->append(json{{"event", "task.closed"}}));

    const std::string e0 = log->entry(0).value();
    EXPECT_EQ(e0,
              "{\"a\":{\"b\":-3,\"z\":null},\"event\":\"task.created\",\"h\":1,\"index\":0,"
              "\"j\":true,\"prev\":\"\",\"q\":\"LIID-0001\",\"time\":\"2026-11-21T10:00:00.123Z\","
              "\"u\":[2,\"\\n\"],\"\xC3\xA9t\xC3\xA9\":\"x\"}");
    const Hash leaf0 = independent_leaf_hash(e0);
    EXPECT_EQ(log->leaf_hash(0).value(), leaf0);
    EXPECT_EQ(log->entry(1).value(), "{\"event\":\"task.closed\",\"index\":1,\"prev\":\"" +
                                         crypto::hash_to_hex(leaf0) +
                                         "\",\"time\":\"2026-11-21T10:00:01.124Z\"}");
    for (std::uint64_t i = 0; i < 2; ++i) {
        const std::string e = log->entry(i).value();
        EXPECT_EQ(e.find('\n'), std::string::npos);
        auto parsed = parse_canonical(e);  // one line of canonical JSON
        ASSERT_TRUE(parsed) << parsed.error().message();
        EXPECT_EQ((*parsed)["index"], i);
    }
}

TEST_F(AuditLogTest, ProofsVerifyAgainstRfc9162) {
    auto log = open_log();
    ASSERT_TRUE(log);
    append_many(*log, 4, 25);
    ASSERT_EQ(log->size(), 100u);
    const crypto::LogHasher hasher;
    std::vector<Hash> leaves;
    for (std::uint64_t i = 0; i < 100; ++i) leaves.push_back(independent_leaf_hash(log->entry(i).value()));
    EXPECT_EQ(log->root(), crypto::root_from_leaves(hasher, leaves));
    for (std::uint64_t size = 1; size <= 100; ++size) {
        const Hash root = log->root_at(size).value();
        EXPECT_EQ(root, crypto::root_from_leaves(hasher, std::span(leaves).first(size)));
        for (std::uint64_t index : {std::uint64_t{0}, size / 2, size - 1}) {
            auto proof = log->inclusion_proof(index, size);
            ASSERT_TRUE(proof) << proof.error().message();
            EXPECT_TRUE(crypto::verify_inclusion(hasher, index, size, leaves[index], *proof, root))
                << index << " in " << size;
        }
        for (std::uint64_t old_size : {std::uint64_t{0}, std::uint64_t{1}, size / 3, size}) {
            auto proof = log->consistency_proof(old_size, size);
            ASSERT_TRUE(proof) << proof.error().message();
            EXPECT_TRUE(crypto::verify_consistency(hasher, old_size, size, *proof,
                                                   log->root_at(old_size).value(), root))
                << old_size << " -> " << size;
        }
    }
    // A proof does not verify for another leaf.
    auto proof = log->inclusion_proof(7, 100);
    ASSERT_TRUE(proof);
    EXPECT_FALSE(crypto::verify_inclusion(hasher, 7, 100, leaves[8], *proof, log->root()));
}

TEST_F(AuditLogTest, ConcurrentAppendersGetUniqueContiguousIndexes) {
    auto log = open_log();
    ASSERT_TRUE(log);
    constexpr int kThreads = 32;
    constexpr int kEach = 100;
    std::vector<std::vector<std::uint64_t>> got(kThreads);
    std::vector<std::thread> pool;
    for (int t = 0; t < kThreads; ++t) {
        pool.emplace_back([&, t] {
            for (int k = 0; k < kEach; ++k) {
                auto index = log->append(event(t * 1000 + k));
                ASSERT_TRUE(index) << index.error().message();
                got[t].push_back(*index);
            }
        });
    }
    for (auto& th : pool) th.join();
    std::vector<std::uint64_t> all;
    for (int t = 0; t < kThreads; ++t) {
        // One thread's appends keep their order (enqueue order).
        EXPECT_TRUE(std::is_sorted(got[t].begin(), got[t].end())) << "thread " << t;
        for (int k = 0; k < kEach; ++k) {
            const json e = json::parse(log->entry(got[t][k]).value());
            EXPECT_EQ(e["n"], t * 1000 + k) << "index " << got[t][k];
            all.push_back(got[t][k]);
        }
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kEach));
    for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i);
    EXPECT_EQ(log->size(), all.size());
}

TEST_F(AuditLogTest, RefusesOutOfRangeQueries) {
    auto log = open_log();
    ASSERT_TRUE(log);
    append_many(*log, 2, 5);
    EXPECT_EQ(log->inclusion_proof(5, 11).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->inclusion_proof(10, 10).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->consistency_proof(6, 5).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->consistency_proof(5, 11).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->root_at(11).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->leaf_hash(10).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->entry(10).error().code(), Errc::invalid_argument);
    EXPECT_EQ(log->entry(UINT64_MAX).error().code(), Errc::invalid_argument);
    EXPECT_TRUE(log->entries(UINT64_MAX, UINT64_MAX).value().empty());
    EXPECT_EQ(log->entries(8, UINT64_MAX).value().size(), 2u);
}

TEST_F(AuditLogTest, StreamsEntriesAcrossChunks) {
    auto log = open_log();
    ASSERT_TRUE(log);
    append_many(*log, 16, 150);  // 2,400 entries: three read chunks
    ASSERT_EQ(log->size(), 2400u);
    std::uint64_t next = 0;
    auto ok = log->for_each_entry(0, 5000, [&](std::uint64_t index, std::string_view e) -> crypto::Result<void> {
        EXPECT_EQ(index, next++);
        EXPECT_EQ(independent_leaf_hash(e), log->leaf_hash(index).value());
        return {};
    });
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(next, 2400u);
    auto some = log->entries(1000, 100);
    ASSERT_TRUE(some);
    ASSERT_EQ(some->size(), 100u);
    EXPECT_EQ((*some)[50], log->entry(1050).value());
    // The callback's error stops the walk and comes back.
    std::uint64_t seen = 0;
    auto stopped = log->for_each_entry(0, 2400, [&](std::uint64_t index, std::string_view) -> crypto::Result<void> {
        ++seen;
        if (index == 1500) return crypto::fail(Errc::io_error, "reader gone");
        return {};
    });
    ASSERT_FALSE(stopped);
    EXPECT_EQ(stopped.error().context(), "reader gone");
    EXPECT_EQ(seen, 1501u);
}

TEST_F(AuditLogTest, OneLogPerDatabase) {
    auto log = open_log();
    ASSERT_TRUE(log);
    expect_error(open_error(), Errc::unavailable, "open in another AuditLog");
    log.reset();
    EXPECT_TRUE(open_log());
}

TEST_F(AuditLogTest, OriginIsFixedAndChecked) {
    ASSERT_TRUE(open_log());
    AuditLogOptions other = options();
    other.origin = "enclave.test/other";
    expect_error(open_error(other), Errc::integrity_failure, "another origin");
    for (const char* bad : {"", " lead", "trail ", "new\nline", "tab\there", "caf\xC3\xA9"}) {
        AuditLogOptions o = options();
        o.origin = bad;
        expect_error(open_error(o), Errc::invalid_argument, "origin");
    }
}

TEST_F(AuditLogTest, CloseAnswersQueuedAppendsThenRefuses) {
    auto log = open_log();
    ASSERT_TRUE(log);
    append_many(*log, 8, 10);
    log->close();
    log->close();  // idempotent
    expect_error(log->append(event(1)).error(), Errc::invalid_state, "closed");
    expect_error(log->checkpoint().error(), Errc::invalid_state, "closed");
    EXPECT_EQ(log->size(), 80u);
    EXPECT_TRUE(log->entry(79));  // reads go on
}

}  // namespace
}  // namespace enclave::audit::test
