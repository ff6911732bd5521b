// SPDX-License-Identifier: Apache-2.0
#include "hsm/signer.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "hsm/keygen.hpp"
#include "support/softhsm_token.hpp"
#include "verify.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using crypto::HashAlg;
using testing::openssl_verify;
using testing::SoftHsmToken;

const crypto::Bytes kMessage = {'t', 'r', 'e', 'e', ' ', 'h', 'e', 'a', 'd', ' ', '4', '2'};

crypto::Bytes changed(crypto::Bytes m) {
    m.back() ^= 0x01;
    return m;
}

Signer open_signer(SoftHsmToken& token, const KeyRef& ref) {
    auto s = Signer::open(token.pool(), ref.query());
    if (!s) throw std::runtime_error(s.error().message());
    return std::move(*s);
}

void check_ecdsa(EcCurve curve, HashAlg hash, std::size_t field) {
    SoftHsmToken token;
    auto ref = generate_ec_key_pair(*token.pool(), curve, {"ec", {}});
    ASSERT_TRUE(ref) << ref.error().message();
    Signer signer = open_signer(token, *ref);
    auto sig = signer.sign_ecdsa(hash, kMessage);
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_EQ(sig->raw.size(), 2 * field);
    auto spki = signer.public_key_spki();
    ASSERT_TRUE(spki) << spki.error().message();
    EXPECT_TRUE(openssl_verify(*spki, testing::md_of(hash), kMessage, sig->der));
    EXPECT_FALSE(openssl_verify(*spki, testing::md_of(hash), changed(kMessage), sig->der));
    // raw and DER are the same signature.
    auto raw_again = ecdsa_der_to_raw(sig->der, field);
    ASSERT_TRUE(raw_again);
    EXPECT_EQ(*raw_again, sig->raw);
    // A flipped signature bit fails too.
    auto bad = sig->raw;
    bad[5] ^= 0x40;
    auto bad_der = ecdsa_raw_to_der(bad);
    ASSERT_TRUE(bad_der);
    EXPECT_FALSE(openssl_verify(*spki, testing::md_of(hash), kMessage, *bad_der));
}

TEST(SignerTest, EcdsaP256Sha256VerifiesWithOpenSsl) { check_ecdsa(EcCurve::p256, HashAlg::sha256, 32); }

TEST(SignerTest, EcdsaP384Sha384VerifiesWithOpenSsl) { check_ecdsa(EcCurve::p384, HashAlg::sha384, 48); }

TEST(SignerTest, Ed25519VerifiesWithOpenSsl) {
    SoftHsmToken token;
    auto ref = generate_ed25519_key_pair(*token.pool(), {"audit", {}});
    ASSERT_TRUE(ref) << ref.error().message();
    Signer signer = open_signer(token, *ref);
    auto sig = signer.sign_ed25519(kMessage);
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_EQ(sig->size(), 64u);
    auto spki = signer.public_key_spki();
    ASSERT_TRUE(spki) << spki.error().message();
    EXPECT_TRUE(openssl_verify(*spki, nullptr, kMessage, *sig));
    EXPECT_FALSE(openssl_verify(*spki, nullptr, changed(kMessage), *sig));
    // Ed25519 is deterministic: the same message gives the same signature.
    auto again = signer.sign_ed25519(kMessage);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *sig);
}

crypto::Secret rsa_der(int bits) {
    EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(bits));
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(key, &der);  // PKCS#1 DER this time
    crypto::Secret out = crypto::Secret::copy_of({der, static_cast<std::size_t>(len)});
    OPENSSL_clear_free(der, static_cast<std::size_t>(len));
    EVP_PKEY_free(key);
    return out;
}

TEST(SignerTest, RsaPssSha256AndSha384VerifyWithOpenSsl) {
    SoftHsmToken token;
    auto ref = import_rsa_private_key(*token.pool(), rsa_der(3072), {"tls-rsa", {}});
    ASSERT_TRUE(ref) << ref.error().message();
    Signer signer = open_signer(token, *ref);
    auto spki = signer.public_key_spki();
    ASSERT_TRUE(spki) << spki.error().message();
    for (HashAlg h : {HashAlg::sha256, HashAlg::sha384}) {
        auto sig = signer.sign_rsa_pss(h, kMessage);
        ASSERT_TRUE(sig) << sig.error().message();
        EXPECT_EQ(sig->size(), 384u);
        EXPECT_TRUE(openssl_verify(*spki, testing::md_of(h), kMessage, *sig, true));
        EXPECT_FALSE(openssl_verify(*spki, testing::md_of(h), changed(kMessage), *sig, true));
    }
    // PSS is randomised: two signatures differ, both verify.
    auto a = signer.sign_rsa_pss(HashAlg::sha256, kMessage);
    auto b = signer.sign_rsa_pss(HashAlg::sha256, kMessage);
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
}

TEST(SignerTest, RefusesMechanismsThatDoNotFitTheKey) {
    SoftHsmToken token;
    auto ec = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"ec", {}});
    auto ed = generate_ed25519_key_pair(*token.pool(), {"ed", {}});
    auto kek = generate_aes_kek(*token.pool(), {"kek", {}});
    ASSERT_TRUE(ec && ed && kek);
    Signer ecs = open_signer(token, *ec);
    Signer eds = open_signer(token, *ed);
    EXPECT_EQ(ecs.sign_ed25519(kMessage).error().code(), Errc::invalid_argument);
    EXPECT_EQ(ecs.sign_rsa_pss(HashAlg::sha256, kMessage).error().code(), Errc::invalid_argument);
    EXPECT_EQ(eds.sign_ecdsa(HashAlg::sha256, kMessage).error().code(), Errc::invalid_argument);
    EXPECT_EQ(ecs.sign_ecdsa(HashAlg::sha3_256, kMessage).error().code(),
              Errc::unsupported_algorithm);
    EXPECT_EQ(ecs.sign_ecdsa_digest(crypto::Bytes(7, 1)).error().code(), Errc::invalid_argument);
    // A KEK and a public key cannot make a Signer.
    EXPECT_EQ(Signer::open(token.pool(), kek->query()).error().code(), Errc::invalid_argument);
    EXPECT_EQ(Signer::open(token.pool(), ec->query_as(ObjectType::public_key)).error().code(),
              Errc::invalid_argument);
    auto missing = Signer::open(token.pool(), KeyQuery::by_label("nope", ObjectType::private_key));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::hsm_object_not_found);
}

TEST(SignerTest, OpensFromAUri) {
    SoftHsmToken token;
    auto ec = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"tls admin", {0xab}});
    ASSERT_TRUE(ec);
    auto uri = Uri::parse("pkcs11:token=" + token.label() + ";object=tls%20admin;id=%AB");
    ASSERT_TRUE(uri) << uri.error().message();
    auto signer = Signer::open_uri(token.pool(), *uri);
    ASSERT_TRUE(signer) << signer.error().message();
    EXPECT_EQ(signer->key_type(), KeyType::ec_p256);
    auto nameless = Uri::parse("pkcs11:token=" + token.label());
    ASSERT_TRUE(nameless);
    EXPECT_EQ(Signer::open_uri(token.pool(), *nameless).error().code(), Errc::invalid_argument);
}

TEST(SignerTest, EcdsaEncodingRejectsMalformedInput) {
    EXPECT_FALSE(ecdsa_raw_to_der({}));
    EXPECT_FALSE(ecdsa_raw_to_der(crypto::Bytes(63, 1)));
    EXPECT_FALSE(ecdsa_raw_to_der(crypto::Bytes(1000, 1)));
    EXPECT_FALSE(ecdsa_der_to_raw(crypto::Bytes{0x30, 0x03, 0x02, 0x01}, 32));
    EXPECT_FALSE(ecdsa_der_to_raw(crypto::Bytes(70, 0xff), 32));
    auto der = ecdsa_raw_to_der(crypto::Bytes(64, 0x7f));
    ASSERT_TRUE(der);
    auto trailing = *der;
    trailing.push_back(0);
    EXPECT_FALSE(ecdsa_der_to_raw(trailing, 32));
    EXPECT_FALSE(ecdsa_der_to_raw(*der, 16));  // values wider than the field
    auto back = ecdsa_der_to_raw(*der, 32);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, crypto::Bytes(64, 0x7f));
}

}  // namespace
}  // namespace enclave::hsm
