// SPDX-License-Identifier: Apache-2.0
// The internal RFC 3161 TSA: provisioning on a real SoftHSM2 token, the
// certificate it makes, the tokens it answers and verify_timestamp.
#include "archive/tsa.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <set>
#include <thread>

#include "crypto/c_handle.hpp"
#include "ers_fixture.hpp"
#include "hsm/keygen.hpp"
#include "support/test_pki.hpp"

namespace enclave::archive {
namespace {

using crypto::Bytes;
using crypto::Errc;
using crypto::HashAlg;
using test::TsaOnToken;
using X509Ptr = crypto::CHandle<X509, X509_free>;

X509Ptr parse(const Bytes& der) {
    const unsigned char* p = der.data();
    return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

TEST(TsaTest, ProvisionMakesASelfSignedTimeStampingCertificate) {
    TsaOnToken t;
    auto cert = parse(t.certificate);
    ASSERT_TRUE(cert);
    // Signed on the token with the key whose public half it carries.
    EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
    int crit = -1;
    auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(cert.get(), NID_ext_key_usage, &crit, nullptr));
    ASSERT_NE(eku, nullptr);
    EXPECT_EQ(crit, 1);
    ASSERT_EQ(sk_ASN1_OBJECT_num(eku), 1);
    EXPECT_EQ(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
    EXTENDED_KEY_USAGE_free(eku);
    EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 256);
    // The label is taken now.
    auto again = TimeStampAuthority::provision(*t.token.pool(), "again", 30);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
}

TEST(TsaTest, StampsVerifyAndSayWhatTheyCover) {
    TsaOnToken t;
    const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    std::set<Bytes> serials;
    for (HashAlg alg : {HashAlg::sha256, HashAlg::sha384, HashAlg::sha512}) {
        const Bytes d = crypto::digest(alg, crypto::as_bytes("archived object"));
        auto token = t.tsa->stamp(alg, d);
        ASSERT_TRUE(token) << token.error().message();
        auto info = verify_timestamp(*token, {t.certificate});
        ASSERT_TRUE(info) << info.error().message();
        EXPECT_EQ(info->alg, alg);
        EXPECT_EQ(info->imprint, d);
        EXPECT_GE(info->gen_time, before);
        EXPECT_LE(info->gen_time, std::chrono::system_clock::now());
        EXPECT_GE(info->serial.size(), 14u);
        serials.insert(info->serial);
    }
    EXPECT_EQ(serials.size(), 3u);
}

TEST(TsaTest, StampRefusesBadDigests) {
    TsaOnToken t;
    auto short_digest = t.tsa->stamp(HashAlg::sha256, Bytes(31, 1));
    ASSERT_FALSE(short_digest);
    EXPECT_EQ(short_digest.error().code(), Errc::invalid_argument);
    auto sha3 = t.tsa->stamp(HashAlg::sha3_256, Bytes(32, 1));
    ASSERT_FALSE(sha3);
    EXPECT_EQ(sha3.error().code(), Errc::unsupported_algorithm);
}

TEST(TsaTest, StampsFromSeveralThreads) {
    TsaOnToken t;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            for (int k = 0; k < 5; ++k) {
                const Bytes d = crypto::digest(HashAlg::sha256, Bytes(1, static_cast<std::uint8_t>(i)));
                auto token = t.tsa->stamp(HashAlg::sha256, d);
                if (token && verify_timestamp(*token, {t.certificate})) ++good;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(good.load(), 20);
}

TEST(TsaTest, OpenChecksTheKeyAndTheCertificate) {
    testing::SoftHsmToken token;
    const Bytes garbage{0x30, 0x03, 0x02, 0x01, 0x01};
    auto no_key = TimeStampAuthority::open(token.pool(), garbage);
    ASSERT_FALSE(no_key);
    EXPECT_EQ(no_key.error().code(), Errc::malformed_input);

    // A certificate for another key, without the timeStamping EKU.
    testing::TestCa ca("Other CA");
    auto other = testing::generate_test_key(testing::TestKeyType::ec_p256);
    testing::LeafSpec spec;
    spec.common_name = "not a TSA";
    auto leaf = ca.issue(other.get(), spec);
    unsigned char* out = nullptr;
    const int len = i2d_X509(leaf.get(), &out);
    const Bytes leaf_der(out, out + len);
    OPENSSL_free(out);
    auto no_eku = TimeStampAuthority::open(token.pool(), leaf_der);
    ASSERT_FALSE(no_eku);
    EXPECT_EQ(no_eku.error().code(), Errc::invalid_argument);

    EXPECT_NE(no_eku.error().context().find("extendedKeyUsage"), std::string::npos);
}

TEST(TsaTest, OpenWithoutTheKeyOnTheToken) {
    Bytes certificate;
    {
        TsaOnToken first;
        certificate = first.certificate;
    }
    testing::SoftHsmToken fresh;  // another token: no TSA key there
    auto opened = TimeStampAuthority::open(fresh.pool(), certificate);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code(), Errc::hsm_object_not_found);
    // With this token's own TSA key, the first certificate does not match it.
    ASSERT_TRUE(TimeStampAuthority::provision(*fresh.pool(), "second TSA", 30));
    auto mismatch = TimeStampAuthority::open(fresh.pool(), certificate);
    ASSERT_FALSE(mismatch);
    EXPECT_EQ(mismatch.error().code(), Errc::invalid_argument);
    EXPECT_NE(mismatch.error().context().find("does not match"), std::string::npos);
}

TEST(TsaTest, VerifyRejectsTamperedAndForeignTokens) {
    Bytes other_cert;
    {
        TsaOnToken other("Another TSA");
        other_cert = other.certificate;
    }
    TsaOnToken t;
    const Bytes d = crypto::digest(HashAlg::sha256, crypto::as_bytes("x"));
    auto token = t.tsa->stamp(HashAlg::sha256, d);
    ASSERT_TRUE(token);
    ASSERT_TRUE(verify_timestamp(*token, {other_cert, t.certificate}));

    auto foreign = verify_timestamp(*token, {other_cert});
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code(), Errc::integrity_failure);
    EXPECT_FALSE(verify_timestamp(*token, {}));

    // Every truncation fails cleanly.
    for (std::size_t n = 0; n < token->size(); ++n) {
        const Bytes cut(token->begin(), token->begin() + static_cast<std::ptrdiff_t>(n));
        auto r = verify_timestamp(cut, {t.certificate});
        ASSERT_FALSE(r) << "prefix of " << n << " bytes verified";
    }
    // The imprint (the digest's bytes inside the TSTInfo) changed: the
    // messageDigest no longer matches.
    Bytes changed = *token;
    auto at = std::search(changed.begin(), changed.end(), d.begin(), d.end());
    ASSERT_NE(at, changed.end());
    *at ^= 0x01;
    auto tampered = verify_timestamp(changed, {t.certificate});
    ASSERT_FALSE(tampered);
    EXPECT_EQ(tampered.error().code(), Errc::integrity_failure);
    // The signature's last byte changed.
    Bytes bad_sig = *token;
    bad_sig.back() ^= 0x01;
    EXPECT_FALSE(verify_timestamp(bad_sig, {t.certificate}));
}

// OpenSSL's own RFC 3161 code (TS_RESP_verify_token) as a second,
// independent reader of our tokens: signature, ESS signing-certificate-v2,
// the TSA certificate's critical timeStamping EKU, version and imprint.
TEST(TsaTest, OpenSslTsVerifiesOurTokens) {
    TsaOnToken t;
    const Bytes d = crypto::digest(HashAlg::sha256, crypto::as_bytes("checked by OpenSSL"));
    auto token = t.tsa->stamp(HashAlg::sha256, d);
    ASSERT_TRUE(token);
    const unsigned char* p = token->data();
    crypto::CHandle<PKCS7, PKCS7_free> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(token->size())));
    ASSERT_TRUE(p7);
    crypto::CHandle<TS_TST_INFO, TS_TST_INFO_free> info(PKCS7_to_TS_TST_INFO(p7.get()));
    ASSERT_TRUE(info);
    char policy[128];
    ASSERT_GT(OBJ_obj2txt(policy, sizeof policy, TS_TST_INFO_get_policy_id(info.get()), 1), 0);
    EXPECT_EQ(std::string(policy), std::string(kTsaPolicyOid));

    const auto verify = [&](const Bytes& imprint) {
        auto cert = parse(t.certificate);
        X509_STORE* store = X509_STORE_new();
        X509_STORE_add_cert(store, cert.get());
        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
        TS_VERIFY_CTX* ctx = TS_VERIFY_CTX_new();
        TS_VERIFY_CTX_set_flags(ctx, TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT);
        TS_VERIFY_CTX_set_store(ctx, store);  // owned by ctx from here
        auto* buf = static_cast<unsigned char*>(OPENSSL_malloc(imprint.size()));
        std::copy(imprint.begin(), imprint.end(), buf);
        TS_VERIFY_CTX_set_imprint(ctx, buf, static_cast<long>(imprint.size()));
        const int ok = TS_RESP_verify_token(ctx, p7.get());
        TS_VERIFY_CTX_free(ctx);
        ERR_clear_error();
        return ok == 1;
    };
    EXPECT_TRUE(verify(d));
    Bytes other = d;
    other[0] ^= 1;
    EXPECT_FALSE(verify(other));
}

}  // namespace
}  // namespace enclave::archive
