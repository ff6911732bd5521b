// SPDX-License-Identifier: Apache-2.0
// AuthGuard: max_failures within the window lock a key for the lockout,
// once (the caller's event), without extension while locked; a success
// clears the count; memory stays bounded.
#include "appliance/auth_guard.hpp"

#include <gtest/gtest.h>

namespace enclave::appliance {
namespace {

using namespace std::chrono_literals;
using Clock = AuthGuard::Clock;

AuthGuardOptions opts(std::uint32_t max, std::size_t keys = 4096) {
    AuthGuardOptions o;
    o.max_failures = max;
    o.window = 60s;
    o.lockout = 300s;
    o.max_keys = keys;
    return o;
}

TEST(AuthGuardTest, TheNthFailureWithinTheWindowLocksOnce) {
    AuthGuard g(opts(3));
    const auto t0 = Clock::now();
    EXPECT_FALSE(g.failure("uid 7", t0));
    EXPECT_FALSE(g.failure("uid 7", t0 + 1s));
    EXPECT_FALSE(g.locked("uid 7", t0 + 1s));
    EXPECT_TRUE(g.failure("uid 7", t0 + 2s));  // locks: the caller raises the event
    EXPECT_TRUE(g.locked("uid 7", t0 + 2s));
    EXPECT_TRUE(g.locked("uid 7", t0 + 301s));
    EXPECT_FALSE(g.locked("uid 7", t0 + 302s));
    EXPECT_FALSE(g.locked("uid 8", t0 + 2s)) << "another key is not affected";
}

TEST(AuthGuardTest, FailuresWhileLockedDoNotExtendTheLockOrRaiseAgain) {
    AuthGuard g(opts(2));
    const auto t0 = Clock::now();
    g.failure("address 192.0.2.1", t0);
    ASSERT_TRUE(g.failure("address 192.0.2.1", t0));
    for (int i = 1; i < 290; i += 10) {
        EXPECT_FALSE(g.failure("address 192.0.2.1", t0 + std::chrono::seconds(i)));
    }
    EXPECT_FALSE(g.locked("address 192.0.2.1", t0 + 300s));
    // After the lock, a fresh run of failures locks again.
    EXPECT_FALSE(g.failure("address 192.0.2.1", t0 + 301s));
    EXPECT_TRUE(g.failure("address 192.0.2.1", t0 + 302s));
}

TEST(AuthGuardTest, FailuresSpreadWiderThanTheWindowNeverLock) {
    AuthGuard g(opts(3));
    const auto t0 = Clock::now();
    for (int i = 0; i < 20; ++i) {
        EXPECT_FALSE(g.failure("uid 7", t0 + std::chrono::seconds(i * 31)));
        EXPECT_FALSE(g.locked("uid 7", t0 + std::chrono::seconds(i * 31)));
    }
}

TEST(AuthGuardTest, ASuccessClearsTheCountButNotALockInForce) {
    AuthGuard g(opts(3));
    const auto t0 = Clock::now();
    g.failure("k", t0);
    g.failure("k", t0);
    g.success("k");
    EXPECT_FALSE(g.failure("k", t0));
    EXPECT_FALSE(g.failure("k", t0));
    EXPECT_TRUE(g.failure("k", t0));
    g.success("k");
    EXPECT_TRUE(g.locked("k", t0 + 1s));
}

TEST(AuthGuardTest, ZeroMaxFailuresNeverLocks) {
    AuthGuard g(opts(0));
    const auto t0 = Clock::now();
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(g.failure("k", t0));
    EXPECT_FALSE(g.locked("k", t0));
    EXPECT_EQ(g.tracked(), 0u);
}

TEST(AuthGuardTest, MemoryIsBoundedAndQuietKeysGoFirst) {
    AuthGuard g(opts(2, 8));
    const auto t0 = Clock::now();
    g.failure("locked", t0);
    ASSERT_TRUE(g.failure("locked", t0));
    // A spray of one-off failures from many sources, long after: the quiet
    // ones are dropped and the lock in force is kept.
    for (int i = 0; i < 1000; ++i) {
        g.failure("spray " + std::to_string(i), t0 + 120s + std::chrono::milliseconds(i));
        EXPECT_LE(g.tracked(), 8u);
    }
    EXPECT_TRUE(g.locked("locked", t0 + 200s));
}

}  // namespace
}  // namespace enclave::appliance
