// SPDX-License-Identifier: Apache-2.0
#include "crypto/salted_hash.hpp"

#include <gtest/gtest.h>

#include <string>

#include "crypto/encoding.hpp"
#include "support/d4_vectors.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using enclave::testing::d4_must_reject_code;
using enclave::testing::load_shared_json;

TEST(SaltedHashTest, PassesEverySharedVector) {
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    ASSERT_GE(doc.at("vectors").size(), 1u);
    int checked = 0;
    for (const auto& v : doc.at("vectors")) {
        const std::string value = v.at("value");
        const std::string salt_hex = v.at("salt_hex");
        for (const char* name : {"sha256", "sha384", "sha512", "sha3-256", "hmac-sha256"}) {
            ASSERT_TRUE(v.contains(name)) << "vector lacks " << name;
            const std::string expected = v.at(name);
            auto ok = verify_salted_hash(name, salt_hex, value, expected);
            EXPECT_TRUE(ok) << name << " / " << v.at("formatName").get<std::string>() << ": "
                            << (ok ? "" : ok.error().message());
            // And the computed form equals the vector byte for byte.
            auto alg = salted_hash_from_name(name);
            ASSERT_TRUE(alg);
            auto computed = compute_salted_hash(*alg, *hex_decode(salt_hex), value);
            ASSERT_TRUE(computed);
            EXPECT_EQ(hex_encode(*computed), expected);
            ++checked;
        }
    }
    EXPECT_EQ(checked, static_cast<int>(doc.at("vectors").size()) * 5);
}

TEST(SaltedHashTest, RejectsEveryMustRejectCaseWithItsOwnError) {
    const auto doc = load_shared_json("test-vectors/d4-salted-hash.json");
    ASSERT_GE(doc.at("must_reject").size(), 3u);
    for (const auto& c : doc.at("must_reject")) {
        const std::string why = c.at("why");
        const std::string value = c.at("value");
        const std::string salt_hex = c.at("salt_hex");
        // A case without a hash gets a well-formed hash of the right length,
        // so that only the property under test can fail.
        std::string hash_hex = c.value("hash", std::string(64, '0'));
        auto r = verify_salted_hash(c.at("algorithm").get<std::string>(), salt_hex, value, hash_hex);
        ASSERT_FALSE(r) << why;
        EXPECT_EQ(r.error().code(), d4_must_reject_code(why)) << why << ": " << r.error().message();
        // The error never contains the value, the salt or the hash.
        const std::string msg = r.error().message();
        EXPECT_EQ(msg.find(value), std::string::npos) << msg;
        EXPECT_EQ(msg.find(salt_hex), std::string::npos) << msg;
        EXPECT_EQ(msg.find(hash_hex), std::string::npos) << msg;
    }
}

TEST(SaltedHashTest, ErrorsAreDistinctAndClear) {
    const std::string salt(32, 'a');
    auto short_salt = verify_salted_hash("sha256", "00112233", "x", std::string(64, '0'));
    auto bad_alg = verify_salted_hash("md5", salt, "x", std::string(64, '0'));
    auto mismatch = verify_salted_hash("sha256", salt, "x", std::string(64, '0'));
    ASSERT_FALSE(short_salt);
    ASSERT_FALSE(bad_alg);
    ASSERT_FALSE(mismatch);
    EXPECT_NE(short_salt.error().message(), bad_alg.error().message());
    EXPECT_NE(bad_alg.error().message(), mismatch.error().message());
    EXPECT_NE(short_salt.error().message().find("at least 16"), std::string::npos);
    EXPECT_NE(bad_alg.error().message().find("supported: sha256"), std::string::npos);
    // The unknown name is not echoed back.
    EXPECT_EQ(bad_alg.error().message().find("md5"), std::string::npos);
}

TEST(SaltedHashTest, RejectsMalformedAndHostileInput) {
    const std::string salt(32, 'a');
    const std::string good_hash(64, '0');
    // Non-hex salt and hash.
    EXPECT_EQ(verify_salted_hash("sha256", std::string(32, 'z'), "v", good_hash).error().code(),
              Errc::malformed_input);
    EXPECT_EQ(verify_salted_hash("sha256", salt, "v", std::string(64, 'g')).error().code(),
              Errc::malformed_input);
    // Hash of the wrong length for the algorithm.
    EXPECT_EQ(verify_salted_hash("sha512", salt, "v", good_hash).error().code(),
              Errc::malformed_input);
    // Empty value, invalid UTF-8, oversized value and salt.
    EXPECT_EQ(verify_salted_hash("sha256", salt, "", good_hash).error().code(),
              Errc::malformed_input);
    EXPECT_EQ(verify_salted_hash("sha256", salt, "\xc0\xaf", good_hash).error().code(),
              Errc::malformed_input);
    EXPECT_EQ(verify_salted_hash("sha256", salt, std::string(kMaxSaltedValueBytes + 1, 'a'),
                                 good_hash)
                  .error()
                  .code(),
              Errc::too_large);
    EXPECT_EQ(verify_salted_hash("sha256", std::string(2 * (kMaxSaltBytes + 1), 'a'), "v",
                                 good_hash)
                  .error()
                  .code(),
              Errc::too_large);
    // Case matters for the algorithm name: "SHA256" is not a wire name.
    EXPECT_EQ(verify_salted_hash("SHA256", salt, "v", good_hash).error().code(),
              Errc::unsupported_algorithm);
}

TEST(SaltedHashTest, SaltOfExactlySixteenBytesIsAccepted) {
    const Bytes salt(16, 0x42);
    auto h = compute_salted_hash(SaltedHashAlg::sha256, salt, "442079460223");
    ASSERT_TRUE(h);
    EXPECT_TRUE(verify_salted_hash(SaltedHashAlg::sha256, salt, "442079460223", *h));
    auto short_h = compute_salted_hash(SaltedHashAlg::sha256, ByteView(salt).first(15), "4420");
    ASSERT_FALSE(short_h);
    EXPECT_EQ(short_h.error().code(), Errc::salt_too_short);
}

TEST(Utf8Test, AcceptsValidAndRejectsInvalid) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("Zo\xc3\xab"));
    EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));    // U+1F600
    EXPECT_FALSE(is_valid_utf8("\x80"));               // lone continuation
    EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));       // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));       // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));   // > U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));           // truncated
}

}  // namespace
}  // namespace enclave::crypto
