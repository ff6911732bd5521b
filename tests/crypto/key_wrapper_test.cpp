// SPDX-License-Identifier: Apache-2.0
#include "crypto/key_wrapper.hpp"

#include <gtest/gtest.h>

namespace enclave::crypto {
namespace {

TEST(SecretKeyWrapperTest, RoundTripsAndUsesFreshNonces) {
    SecretKeyWrapper w("master-1", Secret::random(32));
    Secret k = Secret::random(32);
    auto a = w.wrap(k);
    auto b = w.wrap(k);
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_NE(*a, *b);
    auto back = w.unwrap(*a, 32);
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->equals(k));
}

TEST(SecretKeyWrapperTest, RejectsTamperingWrongKeyAndWrongSize) {
    SecretKeyWrapper w("master-1", Secret::random(32));
    SecretKeyWrapper other("master-1", Secret::random(32));
    SecretKeyWrapper renamed("master-2", Secret::copy_of(Secret::random(32).view()));
    Secret k = Secret::random(32);
    auto wrapped = w.wrap(k);
    ASSERT_TRUE(wrapped);
    for (std::size_t i = 0; i < wrapped->size(); ++i) {
        Bytes t = *wrapped;
        t[i] ^= 0x01;
        auto r = w.unwrap(t, 32);
        ASSERT_FALSE(r) << "flip at " << i;
        EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    }
    EXPECT_FALSE(other.unwrap(*wrapped, 32));
    EXPECT_FALSE(renamed.unwrap(*wrapped, 32));
    EXPECT_FALSE(w.unwrap(*wrapped, 31));
    EXPECT_FALSE(w.unwrap(ByteView(*wrapped).first(10), 32));
    EXPECT_FALSE(w.unwrap(ByteView{}, 0));
}

TEST(SecretKeyWrapperTest, RefusesAKeyOfTheWrongSize) {
    EXPECT_THROW(SecretKeyWrapper("x", Secret::random(16)), std::invalid_argument);
}

}  // namespace
}  // namespace enclave::crypto
