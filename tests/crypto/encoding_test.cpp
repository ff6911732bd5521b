// SPDX-License-Identifier: Apache-2.0
#include "crypto/encoding.hpp"

#include <gtest/gtest.h>

#include <sodium.h>

namespace enclave::crypto {
namespace {

TEST(HexTest, RoundTripsEveryByte) {
    Bytes all(256);
    for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
    const std::string hex = hex_encode(all);
    EXPECT_EQ(hex.substr(0, 8), "00010203");
    EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
    auto back = hex_decode(hex);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, all);
}

TEST(HexTest, AcceptsUppercase) {
    auto b = hex_decode("ABcd");
    ASSERT_TRUE(b);
    EXPECT_EQ(*b, (Bytes{0xab, 0xcd}));
}

TEST(HexTest, RejectsMalformed) {
    EXPECT_EQ(hex_decode("abc").error().code(), Errc::malformed_input);
    auto bad = hex_decode("ab g00");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::malformed_input);
    EXPECT_NE(bad.error().message().find("offset 2"), std::string::npos);
    EXPECT_FALSE(hex_decode(std::string("ab\0c", 4)));
    EXPECT_FALSE(hex_decode("0x12"));
    EXPECT_EQ(hex_decode(std::string(kMaxEncodedLength + 2, 'a')).error().code(), Errc::too_large);
}

TEST(HexTest, DecodesIntoSecret) {
    auto s = hex_decode_secret("00ff10");
    ASSERT_TRUE(s);
    ASSERT_EQ(s->size(), 3u);
    EXPECT_EQ(s->data()[1], 0xff);
    EXPECT_FALSE(hex_decode_secret("zz"));
}

TEST(Base64Test, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (auto [plain, enc] : vectors) {
        EXPECT_EQ(base64_encode(as_bytes(plain)), enc);
        auto dec = base64_decode(enc);
        ASSERT_TRUE(dec) << enc;
        EXPECT_EQ(std::string(dec->begin(), dec->end()), plain);
    }
}

TEST(Base64Test, RoundTripsRandomBuffers) {
    for (std::size_t n = 0; n < 100; ++n) {
        Bytes b(n);
        if (n > 0) randombytes_buf(b.data(), b.size());  // data() may be null when empty
        auto back = base64_decode(base64_encode(b));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, b);
    }
}

TEST(Base64Test, RejectsMalformed) {
    for (const char* bad : {"Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v\n", "Zm 9", "Zm9-", "Zh==",
                            "Zm9=", "=Zm9", "Zg=a"}) {
        auto r = base64_decode(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code(), Errc::malformed_input) << bad;
        }
    }
}

}  // namespace
}  // namespace enclave::crypto
