// SPDX-License-Identifier: Apache-2.0
// Mutual TLS with keys on a real SoftHSM2 token through the provider: the
// server's key (listeners), the client's key (the outbound LEA client), every
// key type, TLS 1.3 and 1.2, and 64 handshakes in parallel.
#include <gtest/gtest.h>
#include <openssl/obj_mac.h>
#include <openssl/provider.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "hsm/keygen.hpp"
#include "hsm/public_key.hpp"
#include "hsm/tls_context.hpp"
#include "support/softhsm_token.hpp"
#include "tls_context_test_util.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::client_spec;
using testing::handshake;
using testing::PkiDir;
using testing::server_spec;
using testing::SoftHsmToken;
using testing::TestKeyType;

enum class Kind { p256, p384, ed25519, rsa };

crypto::Secret rsa_key_der(unsigned bits) {
    testing::PkeyPtr key(EVP_RSA_gen(bits));
    unsigned char* der = nullptr;
    const int len = i2d_PrivateKey(key.get(), &der);
    crypto::Secret out = crypto::Secret::copy_of({der, static_cast<std::size_t>(len)});
    OPENSSL_clear_free(der, static_cast<std::size_t>(len));
    return out;
}

/// A key pair on the token; returns its SPKI.
crypto::Bytes make_token_key(SoftHsmToken& token, Kind kind, const std::string& label) {
    crypto::Result<KeyRef> ref = [&]() -> crypto::Result<KeyRef> {
        switch (kind) {
            case Kind::p256: return generate_ec_key_pair(*token.pool(), EcCurve::p256, {label, {}});
            case Kind::p384: return generate_ec_key_pair(*token.pool(), EcCurve::p384, {label, {}});
            case Kind::ed25519: return generate_ed25519_key_pair(*token.pool(), {label, {}});
            case Kind::rsa:
                return import_rsa_private_key(*token.pool(), rsa_key_der(2048), {label, {}});
        }
        return crypto::fail(Errc::internal, "kind");
    }();
    if (!ref) throw std::runtime_error(ref.error().message());
    auto spki = export_public_key_spki(*token.pool(), *ref);
    if (!spki) throw std::runtime_error(spki.error().message());
    return *spki;
}

std::string uri_of(const std::string& label) { return "pkcs11:object=" + label + ";type=private"; }

SslCtxPtr must(crypto::Result<SslCtxPtr> r) {
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(*r);
}

/// A token, a PKI, a resolver that allows file keys (for the other party).
struct Fixture {
    SoftHsmToken token;
    PkiDir pki;
    std::unique_ptr<PrivateKeyResolver> resolver = make_key_resolver(token.pool(), true);

    /// server.pem for a token key of `kind` (label "lea-tls").
    TlsEndpoint token_server(Kind kind, int min_version = TLS1_2_VERSION) {
        pki.issue_spki("server", make_token_key(token, kind, "lea-tls"), server_spec());
        return {pki.path("server.pem"), uri_of("lea-tls"), pki.path("ca.pem"), {}, min_version};
    }
    TlsEndpoint file_client() {
        pki.issue_file_key("client", TestKeyType::ec_p256, client_spec());
        return {pki.path("client.pem"),
                pki.path("client.key").string(),
                pki.path("ca.pem"),
                {},
                TLS1_2_VERSION};
    }
};

int expected_server_sig(Kind kind) {
    switch (kind) {
        case Kind::ed25519: return NID_ED25519;
        case Kind::rsa: return NID_rsassaPss;
        default: return NID_X9_62_id_ecPublicKey;
    }
}

void server_key_on_token(Kind kind) {
    Fixture f;
    auto server = must(make_server_context(f.token_server(kind), *f.resolver));
    auto client = must(make_client_context(f.file_client(), *f.resolver));
    auto r13 = handshake(server.get(), client.get());
    ASSERT_TRUE(r13.ok()) << r13.describe();
    EXPECT_EQ(r13.version, "TLSv1.3");
    EXPECT_EQ(r13.server_signature_nid, expected_server_sig(kind));
    EXPECT_TRUE(r13.server_saw_client_cert);
    SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
    auto r12 = handshake(server.get(), client.get());
    ASSERT_TRUE(r12.ok()) << r12.describe();
    EXPECT_EQ(r12.version, "TLSv1.2");
    EXPECT_EQ(r12.server_signature_nid, expected_server_sig(kind));
    EXPECT_EQ(r12.cipher,
              kind == Kind::rsa ? "ECDHE-RSA-AES128-GCM-SHA256" : "ECDHE-ECDSA-AES128-GCM-SHA256");
    // The SSL_CTX really holds the provider key.
    EXPECT_TRUE(is_token_key(SSL_CTX_get0_privatekey(server.get())));
}

TEST(TlsContextTokenTest, ServerKeyP256OnTheToken) { server_key_on_token(Kind::p256); }
TEST(TlsContextTokenTest, ServerKeyP384OnTheToken) { server_key_on_token(Kind::p384); }
TEST(TlsContextTokenTest, ServerKeyEd25519OnTheToken) { server_key_on_token(Kind::ed25519); }
TEST(TlsContextTokenTest, ServerKeyRsaPssOnTheToken) { server_key_on_token(Kind::rsa); }

TEST(TlsContextTokenTest, RsaTokenKeyWithTls12ClientOfferingOnlyPkcs1Fails) {
    // The token signs RSA with PSS only; a TLS 1.2 peer that offers only
    // rsa_pkcs1 signature algorithms cannot be served (and must not get a
    // PKCS#1 v1.5 signature made some other way).
    Fixture f;
    auto server = must(make_server_context(f.token_server(Kind::rsa), *f.resolver));
    f.file_client();
    testing::RawClientSpec spec;
    spec.ca = f.pki.path("ca.pem");
    spec.cert = f.pki.path("client.pem");
    spec.key = f.pki.path("client.key");
    spec.max_version = TLS1_2_VERSION;
    auto pss_client = testing::make_raw_client(spec);
    SSL_CTX_set1_sigalgs_list(pss_client.get(), "rsa_pss_rsae_sha256:ECDSA+SHA256");
    auto ok = handshake(server.get(), pss_client.get());
    EXPECT_TRUE(ok.ok()) << ok.describe();
    auto pkcs1_client = testing::make_raw_client(spec);
    SSL_CTX_set1_sigalgs_list(pkcs1_client.get(), "RSA+SHA256:ECDSA+SHA256");
    auto r = handshake(server.get(), pkcs1_client.get());
    EXPECT_FALSE(r.server_ok || r.client_ok) << r.describe();
}

void client_key_on_token(Kind kind) {
    Fixture f;
    f.pki.issue_file_key("server", TestKeyType::ec_p256, server_spec());
    TlsEndpoint server_ep{f.pki.path("server.pem"),
                          f.pki.path("server.key").string(),
                          f.pki.path("ca.pem"),
                          {},
                          TLS1_2_VERSION};
    f.pki.issue_spki("lea-client", make_token_key(f.token, kind, "lea-client-tls"),
                     client_spec("lea-client"));
    TlsEndpoint client_ep{f.pki.path("lea-client.pem"),
                          uri_of("lea-client-tls"),
                          f.pki.path("ca.pem"),
                          {},
                          TLS1_2_VERSION};
    auto server = must(make_server_context(server_ep, *f.resolver));
    auto client = must(make_client_context(client_ep, *f.resolver));
    EXPECT_TRUE(is_token_key(SSL_CTX_get0_privatekey(client.get())));
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        SSL_CTX_set_max_proto_version(client.get(), version);
        auto r = handshake(server.get(), client.get());
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_TRUE(r.server_saw_client_cert);
        EXPECT_EQ(r.client_signature_nid, expected_server_sig(kind));
    }
}

TEST(TlsContextTokenTest, ClientKeyP256OnTheToken) { client_key_on_token(Kind::p256); }
TEST(TlsContextTokenTest, ClientKeyEd25519OnTheToken) { client_key_on_token(Kind::ed25519); }
TEST(TlsContextTokenTest, ClientKeyRsaPssOnTheToken) { client_key_on_token(Kind::rsa); }

TEST(TlsContextTokenTest, BothKeysOnTheToken) {
    Fixture f;
    auto server = must(make_server_context(f.token_server(Kind::p384), *f.resolver));
    f.pki.issue_spki("lea-client", make_token_key(f.token, Kind::p256, "lea-client-tls"),
                     client_spec("lea-client"));
    TlsEndpoint client_ep{f.pki.path("lea-client.pem"),
                          uri_of("lea-client-tls"),
                          f.pki.path("ca.pem"),
                          {},
                          TLS1_3_VERSION};
    auto client = must(make_client_context(client_ep, *f.resolver));
    auto r = handshake(server.get(), client.get());
    EXPECT_TRUE(r.ok()) << r.describe();
}

TEST(TlsContextTokenTest, TokenServerStillEnforcesThePolicy) {
    Fixture f;
    auto server = must(make_server_context(f.token_server(Kind::p256), *f.resolver));
    f.file_client();
    testing::RawClientSpec spec;
    spec.ca = f.pki.path("ca.pem");
    spec.cert = f.pki.path("client.pem");
    spec.key = f.pki.path("client.key");
    auto good = testing::make_raw_client(spec);
    EXPECT_TRUE(handshake(server.get(), good.get()).ok());
    spec.cert.clear();
    auto anonymous = testing::make_raw_client(spec);
    EXPECT_FALSE(handshake(server.get(), anonymous.get()).server_ok);
    PkiDir other("Other CA");
    other.issue_file_key("intruder", TestKeyType::ec_p256, client_spec("intruder"));
    spec.cert = other.path("intruder.pem");
    spec.key = other.path("intruder.key");
    auto intruder = testing::make_raw_client(spec);
    EXPECT_FALSE(handshake(server.get(), intruder.get()).server_ok);
}

TEST(TlsContextTokenTest, TokenKeyThatDoesNotMatchTheCertificateFailsClearly) {
    Fixture f;
    auto ep = f.token_server(Kind::p256);
    make_token_key(f.token, Kind::p256, "someone-else");
    ep.private_key = uri_of("someone-else");
    auto r = make_server_context(ep, *f.resolver);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("does not match the private key pkcs11:object=someone-else"),
              std::string::npos)
        << r.error().message();
    // A key type that does not match the certificate at all.
    make_token_key(f.token, Kind::ed25519, "ed");
    ep.private_key = uri_of("ed");
    auto r2 = make_server_context(ep, *f.resolver);
    ASSERT_FALSE(r2);
    EXPECT_NE(r2.error().message().find("does not match"), std::string::npos);
    // A key that is not on the token.
    ep.private_key = uri_of("missing");
    auto r3 = make_server_context(ep, *f.resolver);
    ASSERT_FALSE(r3);
    EXPECT_EQ(r3.error().code(), Errc::hsm_object_not_found);
    EXPECT_NE(r3.error().message().find("pkcs11:object=missing"), std::string::npos);
}

// Regression: with our keymgmt and the default provider in one library
// context, OpenSSL 3.0's method cache answered plain fetches of "EC" with our
// keymgmt once a token signature had been initialised before the first such
// fetch (the fetch of "EC" from our provider during signature set-up was
// cached under the provider-neutral key): libssl's P-256 group then became
// unusable. ctest runs each test in its own process, so the signature below
// comes before any SSL_CTX exists in this process.
TEST(TlsContextTokenTest, TokenSignaturesDoNotShadowTheDefaultProvider) {
    Fixture f;
    auto ep = f.token_server(Kind::p256);
    auto key = load_token_private_key(f.token.pool(), uri_of("lea-tls"));
    ASSERT_TRUE(key);
    crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free> md(EVP_MD_CTX_new());
    ASSERT_EQ(EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", *tls_libctx(), nullptr, key->get(),
                                    nullptr),
              1);
    crypto::CHandle<EVP_KEYMGMT, EVP_KEYMGMT_free> km(
        EVP_KEYMGMT_fetch(*tls_libctx(), "EC", nullptr));
    ASSERT_TRUE(km);
    EXPECT_STREQ(OSSL_PROVIDER_get0_name(EVP_KEYMGMT_get0_provider(km.get())), "default");
    auto server = must(make_server_context(ep, *f.resolver));
    auto client = must(make_client_context(f.file_client(), *f.resolver));
    ASSERT_EQ(SSL_CTX_set1_groups_list(client.get(), "P-256"), 1);
    for (int i = 0; i < 2; ++i) {
        auto r = handshake(server.get(), client.get());
        EXPECT_TRUE(r.ok()) << i << ": " << r.describe();
    }
}

TEST(TlsContextTokenTest, SixtyFourParallelHandshakesWithOneTokenKey) {
    Fixture f;
    auto server = must(make_server_context(f.token_server(Kind::p256), *f.resolver));
    auto client = must(make_client_context(f.file_client(), *f.resolver));
    constexpr int kHandshakes = 64;
    std::mutex mu;
    std::condition_variable cv;
    bool go = false;
    std::atomic<int> succeeded{0};
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int i = 0; i < kHandshakes; ++i) {
        threads.emplace_back([&] {
            {
                std::unique_lock lock(mu);
                cv.wait(lock, [&] { return go; });
            }
            auto r = handshake(server.get(), client.get());
            if (r.ok()) {
                ++succeeded;
            } else {
                std::lock_guard lock(mu);
                failures.push_back(r.describe());
            }
        });
    }
    {
        std::lock_guard lock(mu);
        go = true;
    }
    cv.notify_all();
    for (auto& t : threads) t.join();
    EXPECT_EQ(succeeded.load(), kHandshakes);
    for (const auto& msg : failures) ADD_FAILURE() << msg;
    EXPECT_GT(f.token.pool()->stats().peak_in_use, 1u);
}

}  // namespace
}  // namespace enclave::hsm
