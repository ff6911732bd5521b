// SPDX-License-Identifier: Apache-2.0
#include "hsm/keygen.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "hsm/errors.hpp"
#include "hsm/object.hpp"
#include "hsm/public_key.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

// An RSA private key made by OpenSSL, as PKCS#8 PEM in a Secret (what an
// operator would import).
crypto::Secret openssl_rsa_pem(int bits) {
    EVP_PKEY* key = EVP_RSA_gen(static_cast<unsigned>(bits));
    BIO* bio = BIO_new(BIO_s_secmem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    crypto::Secret out = crypto::Secret::copy_of(
        {reinterpret_cast<const std::uint8_t*>(mem->data), mem->length});
    BIO_free(bio);
    EVP_PKEY_free(key);
    return out;
}

struct Made {
    KeyRef ref;
    const char* what;
};

std::vector<Made> make_every_key(SessionPool& pool) {
    std::vector<Made> out;
    auto kek = generate_aes_kek(pool, {"kek", {}});
    EXPECT_TRUE(kek) << kek.error().message();
    out.push_back({*kek, "AES-256 KEK"});
    auto p256 = generate_ec_key_pair(pool, EcCurve::p256, {"tls-p256", {}});
    EXPECT_TRUE(p256) << p256.error().message();
    out.push_back({*p256, "EC P-256"});
    auto p384 = generate_ec_key_pair(pool, EcCurve::p384, {"tls-p384", {}});
    EXPECT_TRUE(p384) << p384.error().message();
    out.push_back({*p384, "EC P-384"});
    auto ed = generate_ed25519_key_pair(pool, {"audit-ed25519", {}});
    EXPECT_TRUE(ed) << ed.error().message();
    out.push_back({*ed, "Ed25519"});
    auto rsa = import_rsa_private_key(pool, openssl_rsa_pem(2048), {"tls-rsa", {}});
    EXPECT_TRUE(rsa) << rsa.error().message();
    out.push_back({*rsa, "imported RSA"});
    return out;
}

// The secret parts of each key type that must never be readable.
std::vector<CK_ATTRIBUTE_TYPE> secret_attributes(KeyType t) {
    switch (t) {
        case KeyType::aes: return {CKA_VALUE};
        case KeyType::rsa:
            return {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1,
                    CKA_EXPONENT_2, CKA_COEFFICIENT};
        default: return {CKA_VALUE};  // the EC / EdDSA private scalar
    }
}

TEST(KeygenTest, EveryKeyIsSensitiveNonExtractableAndUnreadable) {
    SoftHsmToken token;
    auto keys = make_every_key(*token.pool());
    ASSERT_EQ(keys.size(), 5u);
    auto lease = token.pool()->acquire();
    ASSERT_TRUE(lease);
    const Session& s = lease->session();
    for (const auto& k : keys) {
        SCOPED_TRACE(k.what);
        auto h = find_key_handle(s, k.ref.query(), token.token());
        ASSERT_TRUE(h) << h.error().message();
        CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, on_token = CK_FALSE,
                 is_private = CK_FALSE, never_extractable = CK_FALSE;
        CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, 1},
                                {CKA_EXTRACTABLE, &extractable, 1},
                                {CKA_TOKEN, &on_token, 1},
                                {CKA_PRIVATE, &is_private, 1},
                                {CKA_NEVER_EXTRACTABLE, &never_extractable, 1}};
        ASSERT_EQ(s.fn()->C_GetAttributeValue(s.handle(), *h, flags, 5), CKR_OK);
        EXPECT_EQ(sensitive, CK_TRUE);
        EXPECT_EQ(extractable, CK_FALSE);
        EXPECT_EQ(on_token, CK_TRUE);
        EXPECT_EQ(is_private, CK_TRUE);
        // Generated keys were never extractable; the imported one was, before.
        EXPECT_EQ(never_extractable, k.ref.key_type == KeyType::rsa ? CK_FALSE : CK_TRUE);
        for (CK_ATTRIBUTE_TYPE secret : secret_attributes(k.ref.key_type)) {
            std::uint8_t buf[1024];
            CK_ATTRIBUTE a{secret, buf, sizeof buf};
            EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), *h, &a, 1), CKR_ATTRIBUTE_SENSITIVE)
                << "attribute 0x" << std::hex << secret;
            EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
        }
        // Wrapping it out under any key must fail too.
        CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
        auto kek = find_key_handle(s, keys[0].ref.query(), token.token());
        ASSERT_TRUE(kek);
        std::uint8_t out[4096];
        CK_ULONG len = sizeof out;
        EXPECT_NE(s.fn()->C_WrapKey(s.handle(), &m, *kek, *h, out, &len), CKR_OK);
    }
}

TEST(KeygenTest, KeysHaveOnlyTheirUsages) {
    SoftHsmToken token;
    auto kek = generate_aes_kek(*token.pool(), {"kek", {}});
    auto ec = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"ec", {}});
    ASSERT_TRUE(kek && ec);
    auto lease = token.pool()->acquire();
    ASSERT_TRUE(lease);
    const Session& s = lease->session();
    auto hk = find_key_handle(s, kek->query(), token.token());
    auto he = find_key_handle(s, ec->query(), token.token());
    ASSERT_TRUE(hk && he);
    auto get = [&](CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t) {
        CK_BBOOL v = CK_FALSE;
        CK_ATTRIBUTE a{t, &v, 1};
        EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), CKR_OK);
        return v == CK_TRUE;
    };
    EXPECT_TRUE(get(*hk, CKA_WRAP));
    EXPECT_TRUE(get(*hk, CKA_UNWRAP));
    EXPECT_FALSE(get(*hk, CKA_ENCRYPT));
    EXPECT_FALSE(get(*hk, CKA_DECRYPT));
    EXPECT_TRUE(get(*he, CKA_SIGN));
    EXPECT_FALSE(get(*he, CKA_DERIVE));
    EXPECT_FALSE(get(*he, CKA_DECRYPT));
}

TEST(KeygenTest, FindsKeysByLabelIdAndUri) {
    SoftHsmToken token;
    auto made = generate_ec_key_pair(*token.pool(), EcCurve::p384, {"tls-lea", {0x01, 0x02, 0xff}});
    ASSERT_TRUE(made) << made.error().message();
    auto by_label = find_key(*token.pool(), KeyQuery::by_label("tls-lea", ObjectType::private_key));
    auto by_id = find_key(*token.pool(), KeyQuery::by_id({0x01, 0x02, 0xff}, ObjectType::public_key));
    ASSERT_TRUE(by_label) << by_label.error().message();
    ASSERT_TRUE(by_id) << by_id.error().message();
    EXPECT_EQ(by_label->key_type, KeyType::ec_p384);
    EXPECT_EQ(by_id->label, "tls-lea");
    EXPECT_EQ(by_id->type, ObjectType::public_key);

    const Uri uri = made->uri(token.token());
    EXPECT_NE(uri.to_string().find("id=%01%02%FF"), std::string::npos) << uri.to_string();
    auto reparsed = Uri::parse(uri.to_string());
    ASSERT_TRUE(reparsed);
    auto q = KeyQuery::from_uri(*reparsed, ObjectType::private_key);
    ASSERT_TRUE(q);
    auto by_uri = find_key(*token.pool(), *q);
    ASSERT_TRUE(by_uri) << by_uri.error().message();
    EXPECT_EQ(by_uri->id, made->id);
}

TEST(KeygenTest, MissingObjectIsAClearDistinctError) {
    SoftHsmToken token;
    auto r = find_key(*token.pool(), KeyQuery::by_label("no-such-key", ObjectType::private_key));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hsm_object_not_found);
    EXPECT_NE(r.error().message().find("no-such-key"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(token.label()), std::string::npos) << r.error().message();
}

TEST(KeygenTest, RefusesDuplicateLabelsAndIdsAndBadSpecs) {
    SoftHsmToken token;
    ASSERT_TRUE(generate_ed25519_key_pair(*token.pool(), {"audit", {0x07}}));
    auto again = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"audit", {}});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    auto same_id = generate_aes_kek(*token.pool(), {"other", {0x07}});
    ASSERT_FALSE(same_id);
    EXPECT_EQ(same_id.error().code(), Errc::already_exists);
    EXPECT_EQ(generate_aes_kek(*token.pool(), {"", {}}).error().code(), Errc::invalid_argument);
    EXPECT_EQ(generate_aes_kek(*token.pool(), {std::string(129, 'a'), {}}).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(generate_aes_kek(*token.pool(), {"bad\nlabel", {}}).error().code(),
              Errc::invalid_argument);
}

TEST(KeygenTest, RsaImportRefusesGarbageWeakAndEncryptedKeys) {
    SoftHsmToken token;
    auto garbage = import_rsa_private_key(*token.pool(), crypto::Secret::random(300), {"r1", {}});
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().code(), Errc::malformed_input);
    auto weak = import_rsa_private_key(*token.pool(), openssl_rsa_pem(1024), {"r2", {}});
    ASSERT_FALSE(weak);
    EXPECT_EQ(weak.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(import_rsa_private_key(*token.pool(), crypto::Secret(), {"r3", {}}));
    // Nothing was left behind by the failures.
    EXPECT_EQ(find_key(*token.pool(), KeyQuery::by_label("r2", ObjectType::private_key))
                  .error()
                  .code(),
              Errc::hsm_object_not_found);
}

TEST(KeygenTest, DestroyKeyRemovesBothHalves) {
    SoftHsmToken token;
    auto ec = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"gone", {}});
    ASSERT_TRUE(ec);
    ASSERT_TRUE(destroy_key(*token.pool(), *ec));
    EXPECT_EQ(find_key(*token.pool(), ec->query()).error().code(), Errc::hsm_object_not_found);
    EXPECT_EQ(find_key(*token.pool(), ec->query_as(ObjectType::public_key)).error().code(),
              Errc::hsm_object_not_found);
    EXPECT_EQ(destroy_key(*token.pool(), *ec).error().code(), Errc::hsm_object_not_found);
}

TEST(KeygenTest, PublicKeysExportAsSpki) {
    SoftHsmToken token;
    auto keys = make_every_key(*token.pool());
    for (const auto& k : keys) {
        SCOPED_TRACE(k.what);
        auto spki = export_public_key_spki(*token.pool(), k.ref);
        if (k.ref.key_type == KeyType::aes) {
            ASSERT_FALSE(spki);
            continue;
        }
        ASSERT_TRUE(spki) << spki.error().message();
        const unsigned char* p = spki->data();
        EVP_PKEY* pk = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki->size()));
        ASSERT_NE(pk, nullptr);
        const int want = k.ref.key_type == KeyType::rsa       ? EVP_PKEY_RSA
                         : k.ref.key_type == KeyType::ed25519 ? EVP_PKEY_ED25519
                                                              : EVP_PKEY_EC;
        EXPECT_EQ(EVP_PKEY_get_base_id(pk), want);
        EXPECT_EQ(EVP_PKEY_get_bits(pk), k.ref.key_type == KeyType::rsa       ? 2048
                                         : k.ref.key_type == KeyType::ec_p384 ? 384
                                         : k.ref.key_type == KeyType::ed25519 ? 256
                                                                              : 256);
        EVP_PKEY_free(pk);
    }
}

}  // namespace
}  // namespace enclave::hsm

namespace enclave::hsm {
namespace {

// A daemon's pool is read-only; an officer's key is made on a read-write
// session of its own (SessionPool::open_read_write_session) with the same
// protections, and destroyed the same way.
TEST(KeygenTest, ReadOnlyPoolMakesKeysOnlyOnItsReadWriteSession) {
    SoftHsmToken::Options options;
    options.pool.read_write = false;
    SoftHsmToken token(options);
    auto refused = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"ro", {}});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("CKR_SESSION_READ_ONLY"), std::string::npos)
        << refused.error().message();

    auto rw = token.pool()->open_read_write_session();
    ASSERT_TRUE(rw) << rw.error().message();
    auto key = generate_ec_key_pair(*rw, token.token(), EcCurve::p256, {"officer-tls", {}});
    ASSERT_TRUE(key) << key.error().message();
    EXPECT_EQ(key->id.size(), 16u);
    auto again = generate_ec_key_pair(*rw, token.token(), EcCurve::p256, {"officer-tls", {}});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);

    // The pool's read-only sessions see the new key at once.
    auto found = find_key(*token.pool(), key->query());
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->key_type, KeyType::ec_p256);
    auto lease = token.pool()->acquire();
    ASSERT_TRUE(lease);
    const Session& s = lease->session();
    auto h = find_key_handle(s, key->query(), token.token());
    ASSERT_TRUE(h);
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, sign = CK_FALSE;
    CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, 1},
                            {CKA_EXTRACTABLE, &extractable, 1},
                            {CKA_SIGN, &sign, 1}};
    ASSERT_EQ(s.fn()->C_GetAttributeValue(s.handle(), *h, flags, 3), CKR_OK);
    EXPECT_EQ(sensitive, CK_TRUE);
    EXPECT_EQ(extractable, CK_FALSE);
    EXPECT_EQ(sign, CK_TRUE);
    EXPECT_TRUE(export_public_key_spki(*token.pool(), *key));

    EXPECT_FALSE(destroy_key(*token.pool(), *key)) << "read-only sessions destroy nothing";
    ASSERT_TRUE(destroy_key(*rw, token.token(), *key));
    EXPECT_EQ(find_key(*token.pool(), key->query()).error().code(), Errc::hsm_object_not_found);
    EXPECT_EQ(find_key(*token.pool(), key->query_as(ObjectType::public_key)).error().code(),
              Errc::hsm_object_not_found);
}

}  // namespace
}  // namespace enclave::hsm
