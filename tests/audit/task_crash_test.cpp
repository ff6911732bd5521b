// SPDX-License-Identifier: Apache-2.0
// Crash safety of the audit-first order: a child process runs a store
// operation against a durable file log and dies (_exit) right before or
// right after a given entry is appended; the parent reopens the store and
// checks that every committed change has its entry (never the reverse), and
// that an interrupted purge is completed on open.
#include <gtest/gtest.h>

#include <algorithm>

#include "audit/task_store.hpp"
#include "support/in_child.hpp"
#include "support/paths.hpp"
#include "task_test_util.hpp"

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::FileAuditSink;
using test::local_actor;

class TaskCrashTest : public ::testing::Test {
protected:
    enclave::testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-crash", crypto::Secret::random(32)};
    test::FakeClock clock_{test::at("2026-01-10T00:00:00Z")};
    fs::path db_ = dir_.path() / "tasks.db";
    fs::path log_ = dir_.path() / "audit.jsonl";

    std::unique_ptr<TaskStore> open(FileAuditSink& sink) {
        auto s = TaskStore::open(db_, kek_, sink, {crypto::SealedDbOptions{}, clock_.clock()});
        if (!s) throw std::runtime_error(s.error().message());
        return std::move(*s);
    }

    /// Runs `op` on a fresh store in a child whose log dies at `event`.
    int crash_in_child(const std::optional<std::string>& before, const std::optional<std::string>& after,
                       const std::function<void(TaskStore&)>& op) {
        return enclave::testing::in_child([&] {
            FileAuditSink sink(log_);
            sink.crash_before = before;
            sink.crash_after = after;
            auto store = open(sink);
            op(*store);
            return 0;  // the crash point was not reached
        });
    }

    void create(TaskStore& store, const std::string& ref) {
        auto intake = parse_task(test::task(ref).dump());
        if (!intake) throw std::runtime_error(intake.error().message());
        auto rec = store.create(std::move(*intake), local_actor(1));
        if (!rec) throw std::runtime_error(rec.error().message());
    }

    std::size_t count(const std::string& event) const {
        const auto names = FileAuditSink::names(log_);
        return static_cast<std::size_t>(std::count(names.begin(), names.end(), event));
    }

    /// Every committed state has its entry in the log.
    void expect_log_covers(TaskStore& store) {
        auto all = store.list();
        ASSERT_TRUE(all) << all.error().message();
        for (const TaskRecord& r : *all) {
            EXPECT_GE(count("task.created"), 1u) << r.reference;
            if (r.state == TaskState::closed) {
                EXPECT_GE(count("task.closed"), 1u) << r.reference;
            }
            if (r.purged_at) {
                EXPECT_GE(count("task.purged"), 1u) << r.reference;
            }
        }
    }
};

TEST_F(TaskCrashTest, CrashAfterTheCreatedEntryBeforeCommitLeavesNoTask) {
    ASSERT_EQ(crash_in_child(std::nullopt, "task.created", [&](TaskStore& s) { create(s, "LIID-C1"); }),
              FileAuditSink::kCrashExit);
    EXPECT_EQ(count("hash.verified"), 1u);
    EXPECT_EQ(count("task.created"), 1u) << "the entry is durable although the commit never happened";
    FileAuditSink sink(log_);
    auto store = open(sink);
    auto shown = store->show("LIID-C1");
    ASSERT_FALSE(shown);
    EXPECT_EQ(shown.error().code(), crypto::Errc::not_found);
    create(*store, "LIID-C1");  // nothing half-made blocks a retry
    EXPECT_EQ(count("task.created"), 2u);
    expect_log_covers(*store);
}

TEST_F(TaskCrashTest, CrashBeforeTheCreatedEntryLeavesNeitherTaskNorEntry) {
    ASSERT_EQ(crash_in_child("task.created", std::nullopt, [&](TaskStore& s) { create(s, "LIID-C2"); }),
              FileAuditSink::kCrashExit);
    EXPECT_EQ(count("task.created"), 0u);
    FileAuditSink sink(log_);
    auto store = open(sink);
    EXPECT_FALSE(store->show("LIID-C2"));
}

TEST_F(TaskCrashTest, CrashAfterTheClosedEntryBeforeCommitLeavesTheTaskActive) {
    {
        FileAuditSink sink(log_);
        auto store = open(sink);
        create(*store, "LIID-C3");
    }
    ASSERT_EQ(crash_in_child(std::nullopt, "task.closed",
                             [&](TaskStore& s) { (void)s.close("LIID-C3", local_actor(1), CloseReason::operator_request); }),
              FileAuditSink::kCrashExit);
    FileAuditSink sink(log_);
    auto store = open(sink);
    EXPECT_EQ(store->show("LIID-C3")->state, TaskState::active);
    auto revealed = store->reveal("LIID-C3", local_actor(2));
    ASSERT_TRUE(revealed) << revealed.error().message();
    EXPECT_EQ(secret_text((*revealed)[0].value), "442079460223");
    auto closed = store->close("LIID-C3", local_actor(1), CloseReason::operator_request);
    ASSERT_TRUE(closed) << closed.error().message();
    EXPECT_EQ(count("task.closed"), 2u);
    EXPECT_EQ(count("task.purged"), 1u);
    expect_log_covers(*store);
}

TEST_F(TaskCrashTest, CrashBetweenCommitAndPurgeIsCompletedOnOpen) {
    {
        FileAuditSink sink(log_);
        auto store = open(sink);
        create(*store, "LIID-C4");
    }
    // Dies after the close committed and the WAL was truncated, before the
    // purge entry is written.
    ASSERT_EQ(crash_in_child("task.purged", std::nullopt,
                             [&](TaskStore& s) { (void)s.close("LIID-C4", local_actor(1), CloseReason::expired); }),
              FileAuditSink::kCrashExit);
    EXPECT_EQ(count("task.closed"), 1u);
    EXPECT_EQ(count("task.purged"), 0u);
    FileAuditSink sink(log_);
    auto store = open(sink);  // completes the purge
    EXPECT_EQ(count("task.purged"), 1u);
    auto rec = store->show("LIID-C4");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, TaskState::closed);
    EXPECT_TRUE(rec->purged_at.has_value());
    EXPECT_EQ(rec->close_reason, CloseReason::expired);
    expect_log_covers(*store);
}

TEST_F(TaskCrashTest, CrashAfterThePurgedEntryRepeatsItHarmlessly) {
    {
        FileAuditSink sink(log_);
        auto store = open(sink);
        create(*store, "LIID-C5");
    }
    ASSERT_EQ(crash_in_child(std::nullopt, "task.purged",
                             [&](TaskStore& s) { (void)s.close("LIID-C5", local_actor(1), CloseReason::operator_request); }),
              FileAuditSink::kCrashExit);
    FileAuditSink sink(log_);
    auto store = open(sink);
    EXPECT_EQ(count("task.purged"), 2u) << "documented: a purge entry may repeat, never go missing";
    const auto events = FileAuditSink::read(log_);
    EXPECT_EQ(events.back()["reference"], "LIID-C5");
    EXPECT_EQ(events.back()["values_destroyed"], 1);
    EXPECT_TRUE(store->show("LIID-C5")->purged_at.has_value());
    expect_log_covers(*store);
}

}  // namespace
}  // namespace enclave::audit
