// SPDX-License-Identifier: Apache-2.0
#include "appliance/demo_pki.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include <set>

#include "pki_check.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using testing::verify_chain;

struct Ca {
    EvpPkeyPtr key;
    X509Ptr cert;
};

Ca make_ca() {
    auto key = generate_p256_key();
    EXPECT_TRUE(key);
    CertProfile p;
    p.common_name = std::string(kDemoCaCommonName);
    p.usage = CertUsage::ca;
    p.validity_days = 1826;
    auto cert = make_ca_certificate(**key, p);
    EXPECT_TRUE(cert) << cert.error().message();
    return {std::move(*key), std::move(*cert)};
}

CertProfile server_profile() {
    CertProfile p;
    p.common_name = "test server";
    p.usage = CertUsage::server;
    p.dns_names = {"localhost"};
    p.ip_addresses = {"127.0.0.1", "::1"};
    return p;
}

std::string subject_cn(const X509& cert) {
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(&cert), NID_commonName, buf, sizeof buf);
    return buf;
}

TEST(DemoPkiTest, CaIsSelfSignedMarkedDemoAndACa) {
    Ca ca = make_ca();
    EXPECT_EQ(subject_cn(*ca.cert), "Enclave DEMO CA - not for production");
    EXPECT_EQ(X509_check_issued(ca.cert.get(), ca.cert.get()), X509_V_OK);
    EXPECT_EQ(X509_check_ca(ca.cert.get()), 1);
    EXPECT_EQ(X509_verify(ca.cert.get(), ca.key.get()), 1);
    EXPECT_TRUE(X509_get_key_usage(ca.cert.get()) & KU_KEY_CERT_SIGN);
    EXPECT_EQ(verify_chain(*ca.cert, *ca.cert, X509_PURPOSE_ANY), "");
    // Five years (+ the five minutes of back-dating), give or take a leap day.
    int days = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.cert.get()),
                             X509_get0_notAfter(ca.cert.get())),
              1);
    EXPECT_EQ(days, 1826);
}

TEST(DemoPkiTest, ServerCertificateForAPublicKeyVerifiesAndCarriesTheProfile) {
    Ca ca = make_ca();
    auto subject = generate_p256_key();
    ASSERT_TRUE(subject);
    // Only the public half goes in, as for a token key.
    auto spki = public_key_spki(**subject);
    ASSERT_TRUE(spki);
    auto pub = public_key_from_spki(*spki);
    ASSERT_TRUE(pub) << pub.error().message();
    auto cert = issue_certificate(*ca.cert, *ca.key, **pub, server_profile());
    ASSERT_TRUE(cert) << cert.error().message();
    EXPECT_EQ(verify_chain(**cert, *ca.cert, X509_PURPOSE_SSL_SERVER), "");
    EXPECT_NE(verify_chain(**cert, *ca.cert, X509_PURPOSE_SSL_CLIENT), "");  // serverAuth only
    EXPECT_EQ(X509_check_ca(cert->get()), 0);
    EXPECT_EQ(X509_check_host(cert->get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(cert->get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert->get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_host(cert->get(), "example.com", 0, 0, nullptr), 0);
    EXPECT_EQ(*certificate_spki(**cert), *spki);
    int days = 0, secs = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert->get()),
                             X509_get0_notAfter(cert->get())),
              1);
    EXPECT_EQ(days, 365);
    EXPECT_EQ(secs, 300);
}

TEST(DemoPkiTest, ClientCertificateIsForClientAuthOnly) {
    Ca ca = make_ca();
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    CertProfile p;
    p.common_name = "client";
    p.usage = CertUsage::client;
    auto cert = issue_certificate(*ca.cert, *ca.key, **key, p);
    ASSERT_TRUE(cert) << cert.error().message();
    EXPECT_EQ(verify_chain(**cert, *ca.cert, X509_PURPOSE_SSL_CLIENT), "");
    EXPECT_NE(verify_chain(**cert, *ca.cert, X509_PURPOSE_SSL_SERVER), "");
}

TEST(DemoPkiTest, ACertificateFromAnotherCaDoesNotVerify) {
    Ca ca = make_ca();
    Ca other = make_ca();
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    auto cert = issue_certificate(*other.cert, *other.key, **key, server_profile());
    ASSERT_TRUE(cert);
    EXPECT_NE(verify_chain(**cert, *ca.cert, X509_PURPOSE_SSL_SERVER), "");
}

TEST(DemoPkiTest, SerialsAreRandomPositiveAndAtMost16Octets) {
    Ca ca = make_ca();
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    std::set<std::string> seen;
    for (int i = 0; i < 64; ++i) {
        auto cert = issue_certificate(*ca.cert, *ca.key, **key, server_profile());
        ASSERT_TRUE(cert);
        const ASN1_INTEGER* serial = X509_get0_serialNumber(cert->get());
        crypto::CHandle<BIGNUM, BN_free> bn(ASN1_INTEGER_to_BN(serial, nullptr));
        ASSERT_TRUE(bn);
        EXPECT_FALSE(BN_is_negative(bn.get()));
        EXPECT_FALSE(BN_is_zero(bn.get()));
        EXPECT_LE(BN_num_bytes(bn.get()), 16);
        char* hex = BN_bn2hex(bn.get());
        seen.insert(hex);
        OPENSSL_free(hex);
    }
    EXPECT_EQ(seen.size(), 64u);
}

TEST(DemoPkiTest, IssuerKeyMustMatchTheIssuerCertificate) {
    Ca ca = make_ca();
    Ca other = make_ca();
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    auto cert = issue_certificate(*ca.cert, *other.key, **key, server_profile());
    ASSERT_FALSE(cert);
    EXPECT_EQ(cert.error().code(), Errc::invalid_argument);
}

TEST(DemoPkiTest, BadProfilesAreRefused) {
    Ca ca = make_ca();
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    std::vector<CertProfile> bad(5, server_profile());
    bad[0].common_name = "";
    bad[1].common_name = std::string(65, 'x');
    bad[2].dns_names = {"localhost,IP:10.0.0.1"};  // would smuggle a second SAN entry
    bad[3].validity_days = 0;
    bad[4].ip_addresses = {""};
    for (const auto& p : bad) {
        auto cert = issue_certificate(*ca.cert, *ca.key, **key, p);
        ASSERT_FALSE(cert);
        EXPECT_EQ(cert.error().code(), Errc::invalid_argument) << cert.error().message();
    }
    CertProfile not_ip = server_profile();
    not_ip.ip_addresses = {"localhost"};
    EXPECT_FALSE(issue_certificate(*ca.cert, *ca.key, **key, not_ip));
    EXPECT_FALSE(make_ca_certificate(*ca.key, server_profile()));  // not a CA profile
}

TEST(DemoPkiTest, MalformedPublicKeysAreRefused) {
    auto key = generate_p256_key();
    ASSERT_TRUE(key);
    auto spki = public_key_spki(**key);
    ASSERT_TRUE(spki);
    crypto::Bytes trailing = *spki;
    trailing.push_back(0);
    crypto::Bytes truncated(spki->begin(), spki->end() - 1);
    crypto::Bytes garbage(91, 0x30);
    for (const auto& bytes :
         {crypto::Bytes{}, trailing, truncated, garbage, crypto::Bytes(20000, 1)}) {
        auto pub = public_key_from_spki(bytes);
        ASSERT_FALSE(pub);
        EXPECT_EQ(pub.error().code(), Errc::malformed_input) << pub.error().message();
    }
}

TEST(DemoPkiTest, PemRoundTrips) {
    Ca ca = make_ca();
    auto pem = certificate_to_pem(*ca.cert);
    ASSERT_TRUE(pem);
    auto back = certificate_from_pem(*pem);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(X509_cmp(back->get(), ca.cert.get()), 0);
    auto two = certificates_from_pem(*pem + *pem);
    ASSERT_TRUE(two);
    EXPECT_EQ(two->size(), 2u);

    auto key_pem = private_key_to_pem(*ca.key);
    ASSERT_TRUE(key_pem);
    const std::string_view text(reinterpret_cast<const char*>(key_pem->data()), key_pem->size());
    EXPECT_EQ(text.rfind("-----BEGIN " "PRIVATE KEY-----", 0), 0u);
    auto key = private_key_from_pem(*key_pem);
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(EVP_PKEY_eq(key->get(), ca.key.get()), 1);
}

TEST(DemoPkiTest, MalformedPemIsRefused) {
    Ca ca = make_ca();
    const std::string pem = *certificate_to_pem(*ca.cert);
    std::string broken = pem;
    broken[broken.size() / 2] = '!';
    std::string many;
    for (int i = 0; i < 65; ++i) many += pem;
    for (const auto& text :
         {std::string(), std::string("hello"), broken,
          std::string("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}) {
        auto c = certificates_from_pem(text);
        ASSERT_FALSE(c);
        EXPECT_EQ(c.error().code(), Errc::malformed_input) << c.error().message();
    }
    auto too_many = certificates_from_pem(many);
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().code(), Errc::too_large);
    EXPECT_FALSE(private_key_from_pem(crypto::Secret::copy_of(crypto::as_bytes("not a key"))));
}

}  // namespace
}  // namespace enclave::appliance
