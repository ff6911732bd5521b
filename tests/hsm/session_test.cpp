// SPDX-License-Identifier: Apache-2.0
#include "hsm/session.hpp"

#include <gtest/gtest.h>

#include "hsm/pin.hpp"
#include "hsm/session_pool.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

SoftHsmToken::Options no_pool() {
    SoftHsmToken::Options o;
    o.open_pool = false;
    return o;
}

crypto::Secret secret(std::string_view s) { return crypto::Secret::copy_of(crypto::as_bytes(s)); }

TEST(SessionTest, WrongPinIsHsmPinIncorrectAndNeverEchoesThePin) {
    SoftHsmToken token(no_pool());
    auto s = Session::open(token.module(), token.token().slot_id);
    ASSERT_TRUE(s) << s.error().message();
    auto r = s->login(secret("WRONG-PIN-8472"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hsm_pin_incorrect);
    EXPECT_NE(r.error().message().find("CKR_PIN_INCORRECT"), std::string::npos);
    EXPECT_EQ(r.error().message().find("8472"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("WRONG-PIN"), std::string::npos);
    const std::string real(reinterpret_cast<const char*>(token.user_pin().data()),
                           token.user_pin().size());
    EXPECT_EQ(r.error().message().find(real), std::string::npos);
    EXPECT_FALSE(s->owns_login());
}

TEST(SessionTest, PoolWithAWrongPinFailsOnceAndNeverRetries) {
    SoftHsmToken token(no_pool());
    auto pool = SessionPool::open(token.module(), token.token(), secret("0000-wrong"));
    ASSERT_FALSE(pool);
    EXPECT_EQ(pool.error().code(), Errc::hsm_pin_incorrect);
    EXPECT_NE(pool.error().message().find(token.label()), std::string::npos);
    EXPECT_EQ(pool.error().message().find("0000-wrong"), std::string::npos);
    // The right PIN still works: one wrong attempt did not lock the token.
    auto good = SessionPool::open(token.module(), token.token(),
                                  crypto::Secret::copy_of(token.user_pin().view()));
    ASSERT_TRUE(good) << good.error().message();
}

TEST(SessionTest, LogsInOwnsTheLoginAndLogsOutOnDestruction) {
    SoftHsmToken token(no_pool());
    auto observer = Session::open(token.module(), token.token().slot_id, false);
    ASSERT_TRUE(observer);
    {
        auto s = Session::open(token.module(), token.token().slot_id);
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->login(token.user_pin()));
        EXPECT_TRUE(s->owns_login());
        EXPECT_TRUE(*observer->user_logged_in());  // login state is per token
        // Logging in again elsewhere is fine and does not take ownership.
        auto other = Session::open(token.module(), token.token().slot_id);
        ASSERT_TRUE(other);
        EXPECT_TRUE(other->login(token.user_pin()));
        EXPECT_FALSE(other->owns_login());
    }
    EXPECT_FALSE(*observer->user_logged_in());
}

TEST(SessionTest, ClosesOnDestructionAndMovesOwnership) {
    SoftHsmToken token(no_pool());
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_FUNCTION_LIST* fn = token.module()->functions();
    {
        auto s = Session::open(token.module(), token.token().slot_id);
        ASSERT_TRUE(s);
        h = s->handle();
        CK_SESSION_INFO info{};
        EXPECT_EQ(fn->C_GetSessionInfo(h, &info), CKR_OK);
        Session moved = std::move(*s);
        EXPECT_EQ(moved.handle(), h);
        EXPECT_EQ(s->handle(), CK_INVALID_HANDLE);
        EXPECT_EQ(s->check_usable().error().code(), Errc::internal);
        Session assigned = std::move(moved);
        EXPECT_EQ(assigned.handle(), h);
    }
    CK_SESSION_INFO info{};
    EXPECT_EQ(fn->C_GetSessionInfo(h, &info), CKR_SESSION_HANDLE_INVALID);
}

TEST(SessionTest, RefusesInvalidPinsBeforeTouchingTheToken) {
    SoftHsmToken token(no_pool());
    auto s = Session::open(token.module(), token.token().slot_id);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->login(crypto::Secret()).error().code(), Errc::invalid_argument);
    EXPECT_EQ(s->login(crypto::Secret(kMaxPinLength + 1)).error().code(), Errc::too_large);
    EXPECT_EQ(s->login(secret("12\n34")).error().code(), Errc::invalid_argument);
    EXPECT_EQ(Session::open(token.module(), 424242).error().code(), Errc::hsm_token_not_found);
}

}  // namespace
}  // namespace enclave::hsm
