// SPDX-License-Identifier: Apache-2.0
// The enclave-pkcs11 provider with real SoftHSM2 keys: signatures through
// EVP verify with the default provider; private keys cannot leave; public
// parts compare with certificates; errors are clean.
#include "support/in_child.hpp"
#include "hsm/provider.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "hsm/keygen.hpp"
#include "hsm/public_key.hpp"
#include "hsm/signer.hpp"
#include "support/softhsm_token.hpp"
#include "support/test_pki.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

const std::string kMessage = "client hello, server hello, certificate";

std::string errors() { return drain_openssl_errors(); }

crypto::Secret rsa_key_der(unsigned bits) {
    testing::PkeyPtr key(EVP_RSA_gen(bits));
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(key.get(), &der);
    crypto::Secret out = crypto::Secret::copy_of({der, static_cast<std::size_t>(len)});
    OPENSSL_clear_free(der, static_cast<std::size_t>(len));
    return out;
}

enum class Kind { p256, p384, ed25519, rsa };

/// Makes a key of `kind` labelled `label` on the token.
KeyRef make_token_key(SoftHsmToken& token, Kind kind, const std::string& label) {
    crypto::Result<KeyRef> ref = [&]() -> crypto::Result<KeyRef> {
        switch (kind) {
            case Kind::p256: return generate_ec_key_pair(*token.pool(), EcCurve::p256, {label, {}});
            case Kind::p384: return generate_ec_key_pair(*token.pool(), EcCurve::p384, {label, {}});
            case Kind::ed25519: return generate_ed25519_key_pair(*token.pool(), {label, {}});
            case Kind::rsa:
                return import_rsa_private_key(*token.pool(), rsa_key_der(3072), {label, {}});
        }
        return crypto::fail(Errc::internal, "kind");
    }();
    if (!ref) throw std::runtime_error(ref.error().message());
    return *ref;
}

EvpPkeyPtr load(SoftHsmToken& token, const std::string& label) {
    auto key = load_token_private_key(token.pool(), "pkcs11:object=" + label + ";type=private");
    if (!key) throw std::runtime_error(key.error().message());
    return std::move(*key);
}

/// The provider key's public half re-parsed in the default library context
/// (independent of our provider).
testing::PkeyPtr public_copy(EVP_PKEY* key) { return testing::parse_spki(testing::spki_der(key)); }

crypto::Bytes digest_sign(EVP_PKEY* key, const char* md, bool pss = false,
                          const char* saltlen = "digest") {
    crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    auto libctx = tls_libctx();
    if (!libctx ||
        EVP_DigestSignInit_ex(ctx.get(), &pctx, md, *libctx, nullptr, key, nullptr) != 1) {
        return {};
    }
    if (pss) {
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
                                                                const_cast<char*>("pss"), 0),
                               OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                                                const_cast<char*>(saltlen), 0),
                               OSSL_PARAM_construct_end()};
        if (EVP_PKEY_CTX_set_params(pctx, params) != 1) return {};
    }
    std::size_t len = 0;
    const auto* msg = reinterpret_cast<const unsigned char*>(kMessage.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &len, msg, kMessage.size()) != 1) return {};
    crypto::Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg, kMessage.size()) != 1) return {};
    sig.resize(len);
    return sig;
}

bool verify(EVP_PKEY* pub, const char* md, const crypto::Bytes& sig, bool pss = false,
            int saltlen = RSA_PSS_SALTLEN_DIGEST, const std::string& message = kMessage) {
    crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, pub, nullptr) != 1) {
        return false;
    }
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) != 1)) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(),
                            reinterpret_cast<const unsigned char*>(message.data()),
                            message.size()) == 1;
}

TEST(ProviderTest, EcdsaP256AndP384SignaturesVerifyWithTheDefaultProvider) {
    SoftHsmToken token;
    for (auto [kind, md, bits] :
         {std::tuple{Kind::p256, "SHA256", 256}, std::tuple{Kind::p384, "SHA384", 384}}) {
        const std::string label = "ec" + std::to_string(bits);
        auto ref = make_token_key(token, kind, label);
        auto key = load(token, label);
        EXPECT_TRUE(is_token_key(key.get()));
        EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
        EXPECT_EQ(EVP_PKEY_get_bits(key.get()), bits);
        auto pub = public_copy(key.get());
        // The exported public key is the token's.
        auto spki = export_public_key_spki(*token.pool(), ref);
        ASSERT_TRUE(spki);
        EXPECT_EQ(testing::spki_der(key.get()), *spki);
        auto sig = digest_sign(key.get(), md);
        ASSERT_FALSE(sig.empty()) << errors();
        EXPECT_TRUE(verify(pub.get(), md, sig));
        EXPECT_FALSE(verify(pub.get(), md, sig, false, 0, kMessage + "!"));
        // Also with SHA-512 on both curves.
        auto sig512 = digest_sign(key.get(), "SHA512");
        EXPECT_TRUE(verify(pub.get(), "SHA512", sig512));
    }
}

TEST(ProviderTest, Ed25519SignaturesVerifyWithTheDefaultProvider) {
    SoftHsmToken token;
    make_token_key(token, Kind::ed25519, "ed");
    auto key = load(token, "ed");
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "ED25519"));
    EXPECT_EQ(EVP_PKEY_get_size(key.get()), 64);
    char mandatory[32] = "x";
    EXPECT_EQ(EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_MANDATORY_DIGEST, mandatory,
                                             sizeof mandatory, nullptr),
              1);
    EXPECT_STREQ(mandatory, "");
    auto pub = public_copy(key.get());
    auto sig = digest_sign(key.get(), nullptr);
    ASSERT_EQ(sig.size(), 64u) << errors();
    EXPECT_TRUE(verify(pub.get(), nullptr, sig));
    EXPECT_FALSE(verify(pub.get(), nullptr, sig, false, 0, kMessage + "!"));
    // A digest with Ed25519 is refused, not ignored.
    EXPECT_TRUE(digest_sign(key.get(), "SHA256").empty());
    ERR_clear_error();
}

TEST(ProviderTest, RsaPssSignaturesVerifyWithTheDefaultProvider) {
    SoftHsmToken token;
    make_token_key(token, Kind::rsa, "rsa");
    auto key = load(token, "rsa");
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA"));
    EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 3072);
    EXPECT_EQ(EVP_PKEY_get_security_bits(key.get()), 128);
    auto pub = public_copy(key.get());
    for (const char* md : {"SHA256", "SHA384", "SHA512"}) {
        auto sig = digest_sign(key.get(), md, true, "digest");
        ASSERT_EQ(sig.size(), 384u) << md << ": " << errors();
        EXPECT_TRUE(verify(pub.get(), md, sig, true, RSA_PSS_SALTLEN_DIGEST)) << md;
        EXPECT_FALSE(verify(pub.get(), md, sig, true, RSA_PSS_SALTLEN_DIGEST, kMessage + "!"));
    }
    // "max" salt and an explicit number.
    auto max_salt = digest_sign(key.get(), "SHA256", true, "max");
    EXPECT_TRUE(verify(pub.get(), "SHA256", max_salt, true, RSA_PSS_SALTLEN_MAX)) << errors();
    EXPECT_FALSE(verify(pub.get(), "SHA256", max_salt, true, RSA_PSS_SALTLEN_DIGEST));
    auto salt20 = digest_sign(key.get(), "SHA256", true, "20");
    EXPECT_TRUE(verify(pub.get(), "SHA256", salt20, true, 20)) << errors();
    // Libssl's way: the legacy control functions with -1 (digest).
    crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", *tls_libctx(), nullptr, key.get(),
                                    nullptr),
              1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1) << errors();
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1) << errors();
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1) << errors();
    crypto::Bytes sig(384);
    std::size_t len = sig.size();
    ASSERT_EQ(EVP_DigestSignUpdate(ctx.get(), kMessage.data(), 10), 1);
    ASSERT_EQ(EVP_DigestSignUpdate(ctx.get(), kMessage.data() + 10, kMessage.size() - 10), 1);
    ASSERT_EQ(EVP_DigestSignFinal(ctx.get(), sig.data(), &len), 1) << errors();
    sig.resize(len);
    EXPECT_TRUE(verify(pub.get(), "SHA256", sig, true));
}

TEST(ProviderTest, RsaRefusesPkcs1AndMismatchedPssSettings) {
    SoftHsmToken token;
    make_token_key(token, Kind::rsa, "rsa");
    auto key = load(token, "rsa");
    // No padding set: PKCS#1 v1.5 would be expected; we refuse instead of
    // silently producing PSS.
    EXPECT_TRUE(digest_sign(key.get(), "SHA256").empty());
    ERR_clear_error();
    crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", *tls_libctx(), nullptr, key.get(),
                                    nullptr),
              1);
    EXPECT_LE(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 0);
    const std::string err = errors();
    EXPECT_NE(err.find("PSS only"), std::string::npos) << err;
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()), 1);
    std::size_t len = 0;
    const auto* msg = reinterpret_cast<const unsigned char*>(kMessage.data());
    ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg, kMessage.size()), 1);
    crypto::Bytes sig(len);
    EXPECT_NE(EVP_DigestSign(ctx.get(), sig.data(), &len, msg, kMessage.size()), 1);
    EXPECT_NE(errors().find("MGF1"), std::string::npos);
    // A salt longer than the key allows, and salt lengths that are not numbers.
    for (const char* salt : {"400", "abc", "12abc", "", "-7", "99999999999999999999"}) {
        EXPECT_TRUE(digest_sign(key.get(), "SHA256", true, salt).empty()) << salt;
        ERR_clear_error();
    }
}

TEST(ProviderTest, UnsupportedDigestsAreRefused) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    auto key = load(token, "ec");
    for (const char* md : {"SHA1", "MD5", "SHA3-256", "no-such-digest"}) {
        EXPECT_TRUE(digest_sign(key.get(), md).empty()) << md;
        ERR_clear_error();
    }
    EXPECT_FALSE(digest_sign(key.get(), "SHA256").empty());
}

TEST(ProviderTest, PreHashedEcdsaWithEvpPkeySign) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    auto key = load(token, "ec");
    const crypto::Bytes digest =
        crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(kMessage));
    crypto::CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
        EVP_PKEY_CTX_new_from_pkey(*tls_libctx(), key.get(), nullptr));
    ASSERT_TRUE(ctx);
    ASSERT_EQ(EVP_PKEY_sign_init(ctx.get()), 1) << errors();
    std::size_t len = 0;
    ASSERT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()), 1);
    EXPECT_EQ(len, static_cast<std::size_t>(EVP_PKEY_get_size(key.get())));
    crypto::Bytes sig(len);
    ASSERT_EQ(EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()), 1)
        << errors();
    sig.resize(len);
    EXPECT_TRUE(verify(public_copy(key.get()).get(), "SHA256", sig));
    // A too-small output buffer fails instead of overflowing.
    std::size_t small = 8;
    crypto::Bytes tiny(8);
    EXPECT_NE(EVP_PKEY_sign(ctx.get(), tiny.data(), &small, digest.data(), digest.size()), 1);
    ERR_clear_error();
}

void expect_private_key_stays(EVP_PKEY* key) {
    OSSL_PARAM* params = nullptr;
    EXPECT_NE(EVP_PKEY_todata(key, EVP_PKEY_KEYPAIR, &params), 1);
    OSSL_PARAM_free(params);
    params = nullptr;
    // The public half exports fine.
    EXPECT_EQ(EVP_PKEY_todata(key, EVP_PKEY_PUBLIC_KEY, &params), 1);
    EXPECT_EQ(OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY), nullptr);
    EXPECT_EQ(OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_RSA_D), nullptr);
    OSSL_PARAM_free(params);
    unsigned char* der = nullptr;
    EXPECT_LE(i2d_PrivateKey(key, &der), 0);
    OPENSSL_free(der);
    crypto::CHandle<BIO, BIO_free> bio(BIO_new(BIO_s_mem()));
    EXPECT_NE(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
    EXPECT_NE(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
              1);
    EXPECT_EQ(BIO_ctrl_pending(bio.get()), 0u);
    ERR_clear_error();
}

TEST(ProviderTest, PrivateKeysCannotBeExported) {
    SoftHsmToken token;
    for (auto [kind, label] : {std::pair{Kind::p256, "ec"}, std::pair{Kind::ed25519, "ed"},
                               std::pair{Kind::rsa, "rsa"}}) {
        make_token_key(token, kind, label);
        auto key = load(token, label);
        SCOPED_TRACE(label);
        expect_private_key_stays(key.get());
        // A duplicate is just as closed.
        EvpPkeyPtr copy(EVP_PKEY_dup(key.get()));
        ASSERT_TRUE(copy) << errors();
        expect_private_key_stays(copy.get());
        EXPECT_FALSE(
            digest_sign(copy.get(), kind == Kind::ed25519 ? nullptr : "SHA256", kind == Kind::rsa)
                .empty());
    }
}

TEST(ProviderTest, PrivateMaterialCannotBeImported) {
    auto file_key = testing::generate_test_key(testing::TestKeyType::ec_p256);
    OSSL_PARAM* params = nullptr;
    ASSERT_EQ(EVP_PKEY_todata(file_key.get(), EVP_PKEY_KEYPAIR, &params), 1);
    crypto::CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
        EVP_PKEY_CTX_new_from_name(*token_key_libctx(), "EC", "provider=enclave-pkcs11"));
    ASSERT_TRUE(ctx);
    ASSERT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
    EVP_PKEY* out = nullptr;
    EXPECT_NE(EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_KEYPAIR, params), 1);
    EXPECT_EQ(out, nullptr);
    EXPECT_NE(errors().find("private key material cannot be imported"), std::string::npos);
    OSSL_PARAM_free(params);
    // A made-up ticket names nothing.
    std::uint64_t ticket = 0x1234567890abcdefULL;
    OSSL_PARAM forged[] = {OSSL_PARAM_construct_uint64("enclave-token-ticket", &ticket),
                           OSSL_PARAM_construct_end()};
    EXPECT_NE(EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_KEYPAIR, forged), 1);
    EXPECT_NE(errors().find("ticket"), std::string::npos);
    // A public key imports, but is not a token key and cannot sign.
    ASSERT_EQ(EVP_PKEY_todata(file_key.get(), EVP_PKEY_PUBLIC_KEY, &params), 1);
    ASSERT_EQ(EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_PUBLIC_KEY, params), 1) << errors();
    OSSL_PARAM_free(params);
    EvpPkeyPtr pub(out);
    EXPECT_FALSE(is_token_key(pub.get()));
    EXPECT_EQ(EVP_PKEY_eq(pub.get(), file_key.get()), 1);
    EXPECT_TRUE(digest_sign(pub.get(), "SHA256").empty());
    EXPECT_NE(errors().find("no private part"), std::string::npos);
}

TEST(ProviderTest, PublicPartsMatchCertificates) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    make_token_key(token, Kind::p256, "other");
    make_token_key(token, Kind::rsa, "rsa");
    auto key = load(token, "ec");
    auto other = load(token, "other");
    auto rsa = load(token, "rsa");
    testing::TestCa ca("Provider Test CA");
    auto cert = ca.issue(testing::spki_der(key.get()), {});
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
    EXPECT_NE(X509_check_private_key(cert.get(), other.get()), 1);
    EXPECT_NE(X509_check_private_key(cert.get(), rsa.get()), 1);
    ERR_clear_error();
    EXPECT_EQ(EVP_PKEY_eq(key.get(), public_copy(key.get()).get()), 1);
    EXPECT_EQ(EVP_PKEY_eq(public_copy(key.get()).get(), key.get()), 1);
    EXPECT_NE(EVP_PKEY_eq(key.get(), other.get()), 1);
    auto again = load(token, "ec");
    EXPECT_EQ(EVP_PKEY_eq(key.get(), again.get()), 1);
    auto rsa_cert = ca.issue(testing::spki_der(rsa.get()), {});
    EXPECT_EQ(X509_check_private_key(rsa_cert.get(), rsa.get()), 1);
    ERR_clear_error();
}

TEST(ProviderTest, LoaderErrorsAreClear) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    ASSERT_TRUE(generate_aes_kek(*token.pool(), {"kek", {}}));
    auto missing = load_token_private_key(token.pool(), "pkcs11:object=nope;type=private");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::hsm_object_not_found);
    auto aes = load_token_private_key(token.pool(), "pkcs11:object=kek;type=secret-key");
    ASSERT_FALSE(aes);
    auto pin = load_token_private_key(token.pool(), "pkcs11:object=ec?pin-value=1234");
    ASSERT_FALSE(pin);
    EXPECT_EQ(pin.error().code(), Errc::invalid_argument);
    EXPECT_EQ(pin.error().message().find("1234"), std::string::npos);
    auto other_token =
        load_token_private_key(token.pool(), "pkcs11:token=someone-else;object=ec;type=private");
    ASSERT_FALSE(other_token);
    EXPECT_EQ(other_token.error().code(), Errc::hsm_token_not_found);
    auto same_token = load_token_private_key(
        token.pool(), "pkcs11:token=" + token.label() + ";object=ec;type=private");
    EXPECT_TRUE(same_token) << same_token.error().message();
    auto garbage = load_token_private_key(token.pool(), "pkcs11:object=%zz");
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().code(), Errc::malformed_input);
    EXPECT_FALSE(load_token_private_key(nullptr, "pkcs11:object=ec"));
    EXPECT_FALSE(is_token_key(nullptr));
    auto file_key = testing::generate_test_key(testing::TestKeyType::ec_p256);
    EXPECT_FALSE(is_token_key(file_key.get()));
}

TEST(ProviderTest, ParallelSignersUseSeparateSessions) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    auto key = load(token, "ec");
    auto pub = public_copy(key.get());
    constexpr int kThreads = 8;
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                auto sig = digest_sign(key.get(), "SHA256");
                if (!sig.empty() && verify(pub.get(), "SHA256", sig)) ++good;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(good.load(), kThreads * 25);
    EXPECT_GT(token.pool()->stats().peak_in_use, 1u);
}

using enclave::testing::in_child;

TEST(ProviderTest, SigningInAForkedChildFailsCleanlyUntilReinitialised) {
    SoftHsmToken token;
    make_token_key(token, Kind::p256, "ec");
    auto key = load(token, "ec");
    auto pub = public_copy(key.get());
    ASSERT_FALSE(digest_sign(key.get(), "SHA256").empty());
    const int status = in_child([&] {
        ERR_clear_error();
        if (!digest_sign(key.get(), "SHA256").empty()) return 1;  // must fail
        const std::string err = errors();
        if (err.find("fork") == std::string::npos) return 2;  // and say why
        if (!token.module()->reinitialize_after_fork()) return 3;
        if (!token.pool()->reset_after_fork()) return 4;
        auto sig = digest_sign(key.get(), "SHA256");  // the same EVP_PKEY works again
        if (sig.empty() || !verify(pub.get(), "SHA256", sig)) return 5;
        return 0;
    });
    EXPECT_EQ(status, 0);
    auto sig = digest_sign(key.get(), "SHA256");
    EXPECT_TRUE(verify(pub.get(), "SHA256", sig)) << "the parent is untouched";
}

}  // namespace
}  // namespace enclave::hsm
