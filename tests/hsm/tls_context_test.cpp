// SPDX-License-Identifier: Apache-2.0
// TLS policy with file keys (the token-key cases are in
// tls_context_token_test.cpp): every negative case has a positive control
// that differs only in the property under test.
#include "hsm/tls_context.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tls_context_test_util.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::client_spec;
using testing::handshake;
using testing::make_raw_client;
using testing::PkiDir;
using testing::RawClientSpec;
using testing::server_spec;
using testing::TestKeyType;

/// A server and a client identity (file keys, P-256) from one CA.
struct Parties {
    PkiDir pki;
    testing::CertPtr server_cert;
    testing::CertPtr client_cert;
    std::unique_ptr<PrivateKeyResolver> resolver = make_key_resolver(nullptr, true);

    explicit Parties(TestKeyType server_key = TestKeyType::ec_p256,
                     TestKeyType client_key = TestKeyType::ec_p256) {
        server_cert = pki.issue_file_key("server", server_key, server_spec());
        client_cert = pki.issue_file_key("client", client_key, client_spec());
    }
    [[nodiscard]] TlsEndpoint server(int min_version = TLS1_2_VERSION) const {
        return {pki.path("server.pem"),
                pki.path("server.key").string(),
                pki.path("ca.pem"),
                {},
                min_version};
    }
    [[nodiscard]] TlsEndpoint client() const {
        return {pki.path("client.pem"),
                pki.path("client.key").string(),
                pki.path("ca.pem"),
                {},
                TLS1_2_VERSION};
    }
    [[nodiscard]] RawClientSpec raw() const {
        RawClientSpec r;
        r.ca = pki.path("ca.pem");
        r.cert = pki.path("client.pem");
        r.key = pki.path("client.key");
        return r;
    }
};

SslCtxPtr must(crypto::Result<SslCtxPtr> r) {
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(*r);
}

TEST(TlsContextTest, PolicyStringsAreRfc9325) {
    EXPECT_EQ(tls12_cipher_list().find("CBC"), std::string_view::npos);
    EXPECT_EQ(tls12_cipher_list().find("-SHA:"), std::string_view::npos);
    for (std::string_view part : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                                  "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
        EXPECT_NE(tls12_cipher_list().find(part), std::string_view::npos) << part;
    }
    EXPECT_EQ(tls13_ciphersuites(),
              "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    EXPECT_EQ(tls_groups(), "X25519:P-256:P-384");
    EXPECT_EQ(tls_sigalgs().find("pkcs1"), std::string_view::npos);
}

TEST(TlsContextTest, MutualHandshakeWithFileKeysOverTls13AndTls12) {
    Parties p;
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto client = must(make_client_context(p.client(), *p.resolver));
    auto r13 = handshake(server.get(), client.get());
    EXPECT_TRUE(r13.ok()) << r13.describe();
    EXPECT_EQ(r13.version, "TLSv1.3");
    EXPECT_TRUE(r13.server_saw_client_cert);
    SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
    auto r12 = handshake(server.get(), client.get());
    EXPECT_TRUE(r12.ok()) << r12.describe();
    EXPECT_EQ(r12.version, "TLSv1.2");
    EXPECT_EQ(r12.cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST(TlsContextTest, MinVersionTls13RefusesTls12Client) {
    Parties p;
    auto server = must(make_server_context(p.server(TLS1_3_VERSION), *p.resolver));
    auto client = must(make_client_context(p.client(), *p.resolver));
    EXPECT_TRUE(handshake(server.get(), client.get()).ok());
    SSL_CTX_set_max_proto_version(client.get(), TLS1_2_VERSION);
    auto r = handshake(server.get(), client.get());
    EXPECT_FALSE(r.server_ok || r.client_ok) << r.describe();
}

TEST(TlsContextTest, RefusesAMinVersionOutsideTls12And13) {
    Parties p;
    auto ep = p.server(TLS1_1_VERSION);
    auto r = make_server_context(ep, *p.resolver);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

TEST(TlsContextTest, ServerRequiresAClientCertificate) {
    Parties p;
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto with_cert = make_raw_client(p.raw());
    EXPECT_TRUE(handshake(server.get(), with_cert.get()).ok());
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        auto spec = p.raw();
        spec.cert.clear();
        spec.max_version = version;
        auto without = make_raw_client(spec);
        auto r = handshake(server.get(), without.get());
        EXPECT_FALSE(r.server_ok) << r.describe();
        EXPECT_FALSE(r.client_ok) << r.describe();
        EXPECT_NE(r.server_error.find("peer did not return a certificate"), std::string::npos)
            << r.server_error;
    }
}

TEST(TlsContextTest, ServerRefusesAClientCertificateFromAnotherCa) {
    Parties p;
    PkiDir other("Some Other CA");
    other.issue_file_key("intruder", TestKeyType::ec_p256, client_spec("intruder"));
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto spec = p.raw();
    spec.cert = other.path("intruder.pem");
    spec.key = other.path("intruder.key");
    auto intruder = make_raw_client(spec);
    auto r = handshake(server.get(), intruder.get());
    EXPECT_FALSE(r.server_ok) << r.describe();
    EXPECT_FALSE(r.client_ok);
    EXPECT_NE(r.server_error.find("certificate verify failed"), std::string::npos)
        << r.server_error;
}

TEST(TlsContextTest, ServerRefusesTls11) {
    Parties p;
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto spec = p.raw();
    spec.security_level = 0;
    spec.tls12_ciphers = "DEFAULT:@SECLEVEL=0";
    spec.min_version = TLS1_VERSION;
    auto control = make_raw_client(spec);  // same client allowed up to 1.3: fine
    EXPECT_TRUE(handshake(server.get(), control.get()).ok());
    spec.max_version = TLS1_1_VERSION;
    auto old = make_raw_client(spec);
    auto r = handshake(server.get(), old.get());
    EXPECT_FALSE(r.server_ok || r.client_ok) << r.describe();
    EXPECT_NE(r.server_error.find("unsupported protocol"), std::string::npos) << r.server_error;
}

TEST(TlsContextTest, ServerRefusesNonRfc9325Tls12Suites) {
    Parties p;
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto spec = p.raw();
    spec.max_version = TLS1_2_VERSION;
    spec.tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
    auto control = make_raw_client(spec);
    EXPECT_TRUE(handshake(server.get(), control.get()).ok());
    for (const char* suite : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                              "ECDHE-RSA-AES128-SHA", "AES128-SHA", "AES128-GCM-SHA256"}) {
        spec.tls12_ciphers = suite;
        auto weak = make_raw_client(spec);
        auto r = handshake(server.get(), weak.get());
        EXPECT_FALSE(r.server_ok || r.client_ok) << suite << ": " << r.describe();
        EXPECT_NE(r.server_error.find("no shared cipher"), std::string::npos)
            << suite << ": " << r.server_error;
    }
}

TEST(TlsContextTest, RevokedClientCertificateFailsWithCrl) {
    Parties p;
    auto crl = p.pki.ca().crl({p.client_cert.get()});
    testing::write_pem_crl(p.pki.path("crl.pem"), crl.get());
    auto empty_crl = p.pki.ca().crl({});
    testing::write_pem_crl(p.pki.path("empty-crl.pem"), empty_crl.get());

    auto ep = p.server();
    ep.crl = p.pki.path("empty-crl.pem");
    auto control = must(make_server_context(ep, *p.resolver));
    auto client = make_raw_client(p.raw());
    auto ok = handshake(control.get(), client.get());
    EXPECT_TRUE(ok.ok()) << ok.describe();

    ep.crl = p.pki.path("crl.pem");
    auto server = must(make_server_context(ep, *p.resolver));
    auto r = handshake(server.get(), client.get());
    EXPECT_FALSE(r.server_ok || r.client_ok) << r.describe();
    EXPECT_NE(r.server_error.find("certificate verify failed"), std::string::npos)
        << r.server_error;
}

TEST(TlsContextTest, ClientChecksTheServerNameAndIp) {
    Parties p;
    auto server = must(make_server_context(p.server(), *p.resolver));
    auto client = must(make_client_context(p.client(), *p.resolver));
    EXPECT_TRUE(handshake(server.get(), client.get(), "localhost").ok());
    EXPECT_TRUE(handshake(server.get(), client.get(), "127.0.0.1").ok());
    auto wrong_name = handshake(server.get(), client.get(), "lea.example");
    EXPECT_FALSE(wrong_name.client_ok);
    EXPECT_NE(wrong_name.client_error.find("certificate verify failed"), std::string::npos);
    EXPECT_FALSE(handshake(server.get(), client.get(), "127.0.0.2").client_ok);
    EXPECT_FALSE(set_expected_host(nullptr, "x"));
}

TEST(TlsContextTest, ClientRefusesAServerFromAnotherCa) {
    Parties p;
    PkiDir other("Some Other CA");
    other.issue_file_key("server", TestKeyType::ec_p256, server_spec());
    TlsEndpoint ep{other.path("server.pem"),
                   other.path("server.key").string(),
                   p.pki.path("ca.pem"),
                   {},
                   TLS1_2_VERSION};
    auto server = must(make_server_context(ep, *p.resolver));
    auto client = must(make_client_context(p.client(), *p.resolver));
    auto r = handshake(server.get(), client.get());
    EXPECT_FALSE(r.client_ok);
    EXPECT_NE(r.client_error.find("certificate verify failed"), std::string::npos)
        << r.client_error;
}

TEST(TlsContextTest, WrongKeyForTheCertificateFailsClearly) {
    Parties p;
    auto ep = p.server();
    ep.private_key = p.pki.path("client.key").string();  // a valid key, but not the server's
    auto r = make_server_context(ep, *p.resolver);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("does not match the private key " + ep.private_key),
              std::string::npos)
        << r.error().message();
}

TEST(TlsContextTest, FileKeysNeedExplicitPermission) {
    Parties p;
    auto strict = make_key_resolver(nullptr, false);
    auto r = make_server_context(p.server(), *strict);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().message().find("not a pkcs11: URI"), std::string::npos);
    // A pkcs11: URI without a pool is unavailable, not a crash.
    auto token = strict->load("pkcs11:object=lea-tls");
    ASSERT_FALSE(token);
    EXPECT_EQ(token.error().code(), Errc::unavailable);
    EXPECT_FALSE(strict->load(""));
}

void write_file(const std::filesystem::path& path, const std::string& content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

TEST(TlsContextTest, RefusesBadCertificateFiles) {
    Parties p;
    auto ep = p.server();
    auto expect_fail = [&](Errc code, const std::string& needle) {
        auto r = make_server_context(ep, *p.resolver);
        ASSERT_FALSE(r) << needle;
        EXPECT_EQ(r.error().code(), code) << r.error().message();
        EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    };
    ep.certificate = p.pki.path("missing.pem");
    expect_fail(Errc::not_found, "missing.pem");
    write_file(p.pki.path("empty.pem"), "");
    ep.certificate = p.pki.path("empty.pem");
    expect_fail(Errc::malformed_input, "is empty");
    write_file(p.pki.path("text.pem"), "just some text\n");
    ep.certificate = p.pki.path("text.pem");
    expect_fail(Errc::malformed_input, "holds no CERTIFICATE");
    ep.certificate = p.pki.path("server.key");  // a PEM, but a key
    expect_fail(Errc::malformed_input, "is not a CERTIFICATE");
    write_file(p.pki.path("broken.pem"),
               "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    ep.certificate = p.pki.path("broken.pem");
    expect_fail(Errc::malformed_input, "does not parse");
    write_file(p.pki.path("big.pem"), std::string(kMaxPemFileSize + 1, '#'));
    ep.certificate = p.pki.path("big.pem");
    expect_fail(Errc::too_large, "over 1 MiB");
    ep.certificate = p.pki.path("");  // the directory itself
    expect_fail(Errc::invalid_argument, "not a regular file");
    // The key file must not be sent where a cert is expected: error text
    // never quotes file content.
    ep = p.server();
    ep.trust_anchors = p.pki.path("empty.pem");
    expect_fail(Errc::malformed_input, "trust anchors");
    ep = p.server();
    ep.crl = p.pki.path("ca.pem");
    expect_fail(Errc::malformed_input, "is not a X509 CRL");
}

TEST(TlsContextTest, AcceptsAChainWithAnIntermediate) {
    PkiDir root("Root CA");
    testing::TestCa sub("Issuing CA");
    auto sub_cert = root.ca().issue_ca(sub);
    auto leaf_key = testing::generate_test_key(TestKeyType::ec_p384);
    auto leaf = sub.issue(leaf_key.get(), server_spec());
    testing::write_pem_certs(root.path("chain.pem"), {leaf.get(), sub_cert.get()});
    testing::write_pem_key(root.path("leaf.key"), leaf_key.get());
    root.issue_file_key("client", TestKeyType::ec_p256, client_spec());
    auto resolver = make_key_resolver(nullptr, true);
    TlsEndpoint server_ep{root.path("chain.pem"),
                          root.path("leaf.key").string(),
                          root.path("ca.pem"),
                          {},
                          TLS1_2_VERSION};
    TlsEndpoint client_ep{root.path("client.pem"),
                          root.path("client.key").string(),
                          root.path("ca.pem"),
                          {},
                          TLS1_2_VERSION};
    auto server = must(make_server_context(server_ep, *resolver));
    auto client = must(make_client_context(client_ep, *resolver));
    auto r = handshake(server.get(), client.get());
    EXPECT_TRUE(r.ok()) << r.describe();
    // Leaf only (no intermediate): the client cannot build the chain.
    testing::write_pem_certs(root.path("leaf.pem"), {leaf.get()});
    server_ep.certificate = root.path("leaf.pem");
    auto bare = must(make_server_context(server_ep, *resolver));
    EXPECT_FALSE(handshake(bare.get(), client.get()).client_ok);
}

// Deployed CAs often sign with RSA PKCS#1 v1.5 (sha256WithRSAEncryption).
// Our handshake signature list has no rsa_pkcs1_* entry; that must not make
// such certificate chains unverifiable (it governs handshake signatures),
// and a peer with an RSA key must still authenticate (with RSA-PSS).
TEST(TlsContextTest, ChainsFromAnRsaCaAndRsaClientKeysWork) {
    PkiDir pki("RSA Root CA", TestKeyType::rsa3072);
    pki.issue_file_key("server", TestKeyType::ec_p256, server_spec());
    pki.issue_file_key("client", TestKeyType::rsa2048, client_spec());
    auto resolver = make_key_resolver(nullptr, true);
    TlsEndpoint server_ep{pki.path("server.pem"), pki.path("server.key").string(),
                          pki.path("ca.pem"), {}, TLS1_2_VERSION};
    TlsEndpoint client_ep{pki.path("client.pem"), pki.path("client.key").string(),
                          pki.path("ca.pem"), {}, TLS1_2_VERSION};
    auto server = must(make_server_context(server_ep, *resolver));
    auto client = must(make_client_context(client_ep, *resolver));
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        SSL_CTX_set_max_proto_version(client.get(), version);
        auto r = handshake(server.get(), client.get());
        EXPECT_TRUE(r.ok()) << r.describe();
        EXPECT_EQ(r.client_signature_nid, NID_rsassaPss);
    }
    // The same with a raw peer (default OpenSSL settings) as the client.
    RawClientSpec raw;
    raw.ca = pki.path("ca.pem");
    raw.cert = pki.path("client.pem");
    raw.key = pki.path("client.key");
    auto raw_client = make_raw_client(raw);
    EXPECT_TRUE(handshake(server.get(), raw_client.get()).ok());
}

TEST(TlsContextTest, RefusesAnEncryptedOrMalformedKeyFile) {
    Parties p;
    auto ep = p.server();
    write_file(p.pki.path("bad.key"),
               "-----BEGIN " "PRIVATE KEY-----\nAAAA\n-----END " "PRIVATE KEY-----\n");
    ep.private_key = p.pki.path("bad.key").string();
    auto r = make_server_context(ep, *p.resolver);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input);
    EXPECT_NE(r.error().message().find("bad.key"), std::string::npos);
}

}  // namespace
}  // namespace enclave::hsm
