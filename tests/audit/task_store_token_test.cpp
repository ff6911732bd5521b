// SPDX-License-Identifier: Apache-2.0
// The task store with the real token KEK (hsm::TokenKeyWrapper on a fresh
// SoftHSM2 token): per-task keys and the database key wrapped on the token.
#include <gtest/gtest.h>

#include "audit/reverify.hpp"
#include "audit/task_store.hpp"
#include "hsm/keygen.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "support/softhsm_token.hpp"
#include "task_test_util.hpp"

namespace enclave::audit {
namespace {

using test::local_actor;

TEST(TaskStoreTokenTest, LifecycleWithTheTokenKek) {
    enclave::testing::SoftHsmToken token;  // fails, naming softhsm2, when SoftHSM2 is missing
    ASSERT_TRUE(hsm::generate_aes_kek(*token.pool(), hsm::KeySpec{"kek", {}}));
    auto kek = hsm::TokenKeyWrapper::open(token.pool(), hsm::KeyQuery::by_label("kek", hsm::ObjectType::secret_key));
    ASSERT_TRUE(kek) << kek.error().message();
    enclave::testing::TempDir dir;
    test::MemoryAuditSink audit;
    test::FakeClock clock(test::at("2026-01-10T00:00:00Z"));
    const auto path = TaskStore::default_path(dir.path());
    {
        auto store = TaskStore::open(path, **kek, audit, {crypto::SealedDbOptions{}, clock.clock()});
        ASSERT_TRUE(store) << store.error().message();
        auto intake = parse_task(test::task("LIID-HSM").dump());
        ASSERT_TRUE(intake);
        ASSERT_TRUE((*store)->create(std::move(*intake), local_actor(1)));
    }
    // Reopened: the database key and the task key both unwrap on the token.
    auto store = TaskStore::open(path, **kek, audit, {crypto::SealedDbOptions{}, clock.clock()});
    ASSERT_TRUE(store) << store.error().message();
    auto revealed = (*store)->reveal("LIID-HSM", local_actor(2));
    ASSERT_TRUE(revealed) << revealed.error().message();
    EXPECT_EQ(secret_text((*revealed)[0].value), "442079460223");
    ASSERT_TRUE((*store)->close("LIID-HSM", local_actor(1), CloseReason::operator_request));
    ReverifyService reverify(**store, audit, clock.clock());
    auto out = reverify.request("LIID-HSM", 0, crypto::Secret::copy_of(crypto::as_bytes(std::string("442079460223"))),
                                crypto::Secret::copy_of(crypto::as_bytes(std::string("8f1c2a9b3d4e5f60718293a4b5c6d7e8"))),
                                local_actor(3));
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_TRUE(out->matched);

    // A software KEK with the token KEK's id cannot open the store.
    crypto::SecretKeyWrapper impostor((*kek)->key_id(), crypto::Secret::random(32));
    store->reset();
    auto wrong = TaskStore::open(path, impostor, audit, {crypto::SealedDbOptions{}, clock.clock()});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), crypto::Errc::integrity_failure);
}

}  // namespace
}  // namespace enclave::audit
