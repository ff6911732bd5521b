// SPDX-License-Identifier: Apache-2.0
#include "hsm/session_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "hsm/keygen.hpp"
#include "hsm/signer.hpp"
#include "support/softhsm_token.hpp"
#include "verify.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

TEST(SessionPoolTest, ConcurrentSignersAllVerifyOnSeparateSessions) {
    SoftHsmToken::Options options;
    options.pool.max_sessions = 8;
    SoftHsmToken token(options);
    auto ref = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"tls-lea", {}});
    ASSERT_TRUE(ref) << ref.error().message();
    auto signer = Signer::open(token.pool(), ref->query());
    ASSERT_TRUE(signer) << signer.error().message();
    auto spki = signer->public_key_spki();
    ASSERT_TRUE(spki);

    constexpr int kThreads = 8;
    constexpr int kPerThread = 50;
    std::vector<std::vector<std::pair<crypto::Bytes, crypto::Bytes>>> results(kThreads);
    std::atomic<int> errors{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            ++ready;
            while (ready.load() < kThreads) std::this_thread::yield();  // start together
            for (int i = 0; i < kPerThread; ++i) {
                const std::string text = "message " + std::to_string(t) + "/" + std::to_string(i);
                crypto::Bytes msg(text.begin(), text.end());
                auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, msg);
                if (!sig) {
                    ++errors;
                    continue;
                }
                results[t].emplace_back(std::move(msg), std::move(sig->der));
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0);
    int verified = 0;
    for (const auto& per_thread : results) {
        for (const auto& [msg, der] : per_thread) {
            verified += testing::openssl_verify(*spki, EVP_sha256(), msg, der) ? 1 : 0;
        }
    }
    EXPECT_EQ(verified, kThreads * kPerThread);
    const PoolStats stats = token.pool()->stats();
    EXPECT_GT(stats.sessions_opened, 1u) << "the pool never opened a second session";
    EXPECT_GT(stats.peak_in_use, 1u) << "no two signatures ever ran at the same time";
    EXPECT_LE(stats.open_sessions, 8u);
    EXPECT_EQ(stats.in_use, 0u);
    EXPECT_GE(stats.leases, static_cast<std::uint64_t>(kThreads * kPerThread));
}

TEST(SessionPoolTest, ReusesIdleSessionsAndRespectsTheMaximum) {
    SoftHsmToken::Options options;
    options.pool.max_sessions = 2;
    options.pool.acquire_timeout = std::chrono::milliseconds(50);
    SoftHsmToken token(options);
    auto& pool = *token.pool();
    {
        auto a = pool.acquire();
        ASSERT_TRUE(a);
        EXPECT_TRUE(*a->session().user_logged_in());  // new sessions share the login
    }
    {
        auto b = pool.acquire();
        ASSERT_TRUE(b);
    }
    EXPECT_EQ(pool.stats().sessions_opened, 1u);  // the idle session was reused
    auto one = pool.acquire();
    auto two = pool.acquire();
    ASSERT_TRUE(one && two);
    EXPECT_NE(one->session().handle(), two->session().handle());
    auto three = pool.acquire();  // all busy: bounded wait, then a clear error
    ASSERT_FALSE(three);
    EXPECT_EQ(three.error().code(), Errc::unavailable);
    EXPECT_NE(three.error().message().find("busy"), std::string::npos);
    EXPECT_EQ(pool.stats().peak_in_use, 2u);
}

TEST(SessionPoolTest, AWaitingCallerGetsTheReturnedSession) {
    SoftHsmToken::Options options;
    options.pool.max_sessions = 1;
    SoftHsmToken token(options);
    auto acquired = token.pool()->acquire();
    ASSERT_TRUE(acquired);
    std::optional<SessionPool::Lease> held(std::move(*acquired));
    const CK_SESSION_HANDLE h = held->session().handle();
    std::atomic<bool> got{false};
    CK_SESSION_HANDLE seen = CK_INVALID_HANDLE;
    std::thread waiter([&] {
        auto lease = token.pool()->acquire();
        if (lease) seen = lease->session().handle();
        got = lease.has_value();
    });
    held.reset();  // return the session
    waiter.join();
    EXPECT_TRUE(got.load());
    EXPECT_EQ(seen, h);
}

TEST(SessionPoolTest, DiscardedSessionsAreClosedNotReused) {
    SoftHsmToken token;
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    {
        auto lease = token.pool()->acquire();
        ASSERT_TRUE(lease);
        h = lease->session().handle();
        lease->discard();
    }
    CK_SESSION_INFO info{};
    EXPECT_EQ(token.module()->functions()->C_GetSessionInfo(h, &info), CKR_SESSION_HANDLE_INVALID);
    EXPECT_EQ(token.pool()->stats().open_sessions, 0u);
    EXPECT_TRUE(token.pool()->acquire());
}

TEST(SessionPoolTest, RefusesBadOptions) {
    SoftHsmToken::Options options;
    options.open_pool = false;
    SoftHsmToken token(options);
    PoolOptions zero;
    zero.max_sessions = 0;
    auto pool = SessionPool::open(token.module(), token.token(),
                                  crypto::Secret::copy_of(token.user_pin().view()), zero);
    ASSERT_FALSE(pool);
    EXPECT_EQ(pool.error().code(), Errc::invalid_argument);
    EXPECT_EQ(SessionPool::open(nullptr, token.token(), crypto::Secret()).error().code(),
              Errc::invalid_argument);
}

}  // namespace
}  // namespace enclave::hsm
