// SPDX-License-Identifier: Apache-2.0
#pragma once
// A TaskStore on a temporary directory with a software KEK, an in-memory
// audit sink and a fake clock.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "audit/task.hpp"
#include "audit/task_store.hpp"
#include "crypto/key_wrapper.hpp"
#include "support/paths.hpp"
#include "task_test_util.hpp"

namespace enclave::audit::test {

class TaskStoreFixture : public ::testing::Test {
protected:
    enclave::testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-test", crypto::Secret::random(32)};
    MemoryAuditSink audit_;
    FakeClock clock_{at("2026-01-10T00:00:00Z")};
    std::unique_ptr<TaskStore> store_;

    void SetUp() override { store_ = open_store(); }

    std::filesystem::path db_path() const { return TaskStore::default_path(dir_.path()); }

    std::unique_ptr<TaskStore> open_store() {
        auto s = TaskStore::open(db_path(), kek_, audit_, TaskStore::Options{crypto::SealedDbOptions{}, clock_.clock()});
        if (!s) {
            ADD_FAILURE() << s.error().message();
            return nullptr;
        }
        return std::move(*s);
    }

    /// Parses and creates; fails the test on any error.
    TaskRecord create(const json& doc, const Actor& actor = local_actor(1000)) {
        auto intake = parse_task(doc.dump());
        if (!intake) throw std::runtime_error("intake: " + intake.error().message());
        auto rec = store_->create(std::move(*intake), actor);
        if (!rec) throw std::runtime_error("create: " + rec.error().message());
        return std::move(*rec);
    }

    crypto::Result<TaskRecord> try_create(const json& doc, const Actor& actor = local_actor(1000)) {
        auto intake = parse_task(doc.dump());
        if (!intake) return tl::unexpected(intake.error());
        return store_->create(std::move(*intake), actor);
    }
};

}  // namespace enclave::audit::test
