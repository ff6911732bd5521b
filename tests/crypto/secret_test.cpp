// SPDX-License-Identifier: Apache-2.0
#include "crypto/secret.hpp"

#include <gtest/gtest.h>

#include <type_traits>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace enclave::crypto {
namespace {

static_assert(!std::is_copy_constructible_v<Secret>, "a Secret must not be copyable");
static_assert(!std::is_copy_assignable_v<Secret>, "a Secret must not be copyable");
static_assert(std::is_nothrow_move_constructible_v<Secret>);
static_assert(!std::is_convertible_v<Secret, std::string>);

TEST(SecretTest, RandomSecretsDifferAndHaveTheirSize) {
    Secret a = Secret::random(32);
    Secret b = Secret::random(32);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_FALSE(a.equals(b));
    EXPECT_TRUE(a.equals(a));
}

TEST(SecretTest, MoveLeavesSourceEmpty) {
    Secret a = Secret::copy_of(as_bytes("pin-1234"));
    Secret b(std::move(a));
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
    EXPECT_EQ(a.data(), nullptr);
    EXPECT_EQ(b.size(), 8u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), b.size()), "pin-1234");
    Secret c;
    c = std::move(b);
    EXPECT_EQ(c.size(), 8u);
}

TEST(SecretTest, TruncateWipesTheTail) {
    Secret s = Secret::copy_of(as_bytes("abcdef"));
    const std::uint8_t* p = s.data();
    s.truncate(2);
    EXPECT_EQ(s.size(), 2u);
    // The memory is still ours (same allocation): the tail must be zero.
    for (int i = 2; i < 6; ++i) EXPECT_EQ(p[i], 0) << i;
    s.truncate(10);  // growing is a no-op
    EXPECT_EQ(s.size(), 2u);
}

TEST(SecretTest, EmptySecretIsUsable) {
    Secret e;
    EXPECT_TRUE(e.empty());
    EXPECT_TRUE(e.view().empty());
    EXPECT_TRUE(e.equals(Secret()));
    Secret z(0);
    EXPECT_TRUE(z.empty());
}

TEST(ConstantTimeEqualTest, ComparesContentAndLength) {
    EXPECT_TRUE(constant_time_equal(as_bytes("abc"), as_bytes("abc")));
    EXPECT_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("abd")));
    EXPECT_FALSE(constant_time_equal(as_bytes("abc"), as_bytes("ab")));
    EXPECT_TRUE(constant_time_equal(ByteView{}, ByteView{}));
}

TEST(DigestTest, KnownAnswers) {
    // FIPS 180-2 / FIPS 202 "abc" vectors.
    EXPECT_EQ(hex_encode(digest(HashAlg::sha256, as_bytes("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex_encode(digest(HashAlg::sha384, as_bytes("abc"))).substr(0, 16), "cb00753f45a35e8b");
    EXPECT_EQ(hex_encode(digest(HashAlg::sha512, as_bytes("abc"))).substr(0, 16), "ddaf35a193617aba");
    EXPECT_EQ(hex_encode(digest(HashAlg::sha3_256, as_bytes("abc"))),
              "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
}

TEST(DigestTest, IncrementalEqualsOneShotAndResets) {
    Hasher h(HashAlg::sha384);
    h.update(as_bytes("ab"));
    h.update(as_bytes("c"));
    EXPECT_EQ(h.finish(), digest(HashAlg::sha384, as_bytes("abc")));
    h.update(as_bytes("abc"));
    EXPECT_EQ(h.finish(), digest(HashAlg::sha384, as_bytes("abc")));
    EXPECT_EQ(digest(HashAlg::sha256, {as_bytes("a"), as_bytes("bc")}),
              digest(HashAlg::sha256, as_bytes("abc")));
}

TEST(DigestTest, HmacRfc4231Case2) {
    EXPECT_EQ(hex_encode(hmac(HashAlg::sha256, as_bytes("Jefe"),
                              as_bytes("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(DigestTest, NamesRoundTrip) {
    for (HashAlg a : {HashAlg::sha256, HashAlg::sha384, HashAlg::sha512, HashAlg::sha3_256}) {
        EXPECT_EQ(hash_from_name(hash_name(a)), a);
    }
    EXPECT_FALSE(hash_from_name("SHA256"));
    EXPECT_FALSE(hash_from_name("md5"));
}

}  // namespace
}  // namespace enclave::crypto

TEST(WipeTest, StringIsZeroedInPlaceAndEmptied) {
    std::string text(64, 'v');  // longer than the small-string buffer: heap storage
    const char* storage = text.data();
    enclave::crypto::wipe(text);
    EXPECT_TRUE(text.empty());
    ASSERT_EQ(text.data(), storage) << "clear() keeps the buffer: it is the one wiped";
    for (std::size_t i = 0; i < 64; ++i) EXPECT_EQ(storage[i], '\0') << i;
    std::string empty;
    enclave::crypto::wipe(empty);  // no-op, no crash
    EXPECT_TRUE(empty.empty());
}
