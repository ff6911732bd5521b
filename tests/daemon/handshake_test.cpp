// SPDX-License-Identifier: Apache-2.0
// Mutual TLS on the LEA and ingest listeners of a real enclaved, over real
// TCP on loopback, with an OpenSSL client written in the test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "harness/instance.hpp"
#include "harness/metrics_reader.hpp"
#include "harness/pki_files.hpp"
#include "support/test_pki.hpp"

namespace enclave::daemon_test {
namespace {

class HandshakeTest : public ::testing::Test {
protected:
    void SetUp() override {
        daemon_ = inst_.start_ready();
        ASSERT_TRUE(daemon_->running()) << inst_.log();
    }

    std::string failures(const std::string& reason, const std::string& listener = "lea") const {
        return R"(enclave_tls_handshake_failures_total{listener=")" + listener + R"(",reason=")" +
               reason + R"("})";
    }

    /// The connection is unusable: the handshake failed, or (TLS 1.3, where the
    /// server checks the client certificate after the client's Finished) the
    /// first request gets no response.
    static bool refused(TlsConnection& c) {
        if (!c.ok()) return true;
        return c.request("GET", "/v1/whoami").status == 0;
    }

    TestInstance inst_;
    std::unique_ptr<Process> daemon_;
};

std::string sha256_hex(X509* cert) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509_digest(cert, EVP_sha256(), md, &len);
    return crypto::hex_encode(crypto::ByteView(md, len));
}

TEST_F(HandshakeTest, Tls13WithTheDemoLeaCertificateServesWhoami) {
    auto cfg = inst_.lea_client();
    cfg.min_version = cfg.max_version = TLS1_3_VERSION;
    TlsConnection c(inst_.lea_port(), cfg);
    ASSERT_TRUE(c.ok()) << c.error() << "\n" << inst_.log();
    EXPECT_EQ(c.version(), TLS1_3_VERSION);
    const auto r = c.request("GET", "/v1/whoami");
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    const auto doc = nlohmann::json::parse(r.body);
    const auto demo = read_certificate(inst_.pki("demo-lea.pem"));
    EXPECT_EQ(doc.at("sha256"), sha256_hex(demo.get()));
    EXPECT_EQ(doc.at("listener"), "lea");
    EXPECT_NE(doc.at("subject").get<std::string>().find("CN="), std::string::npos) << r.body;
    // The connection is kept alive: a second request on it works.
    EXPECT_EQ(c.request("GET", "/v1/whoami").status, 200);
    EXPECT_GE(wait_for_sample(inst_.socket(), R"(enclave_tls_handshakes_total{listener="lea"})", 1),
              1u);
}

TEST_F(HandshakeTest, Tls12WithAnRfc9325SuiteSucceeds) {
    auto cfg = inst_.lea_client();
    cfg.max_version = TLS1_2_VERSION;
    cfg.cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256";
    TlsConnection c(inst_.lea_port(), cfg);
    ASSERT_TRUE(c.ok()) << c.error() << "\n" << inst_.log();
    EXPECT_EQ(c.version(), TLS1_2_VERSION);
    EXPECT_EQ(c.cipher(), "ECDHE-ECDSA-AES128-GCM-SHA256");
    EXPECT_EQ(c.request("GET", "/v1/whoami").status, 200);
}

TEST_F(HandshakeTest, IngestListenerAcceptsTheCollectorAndAnswers404ForUnknownPaths) {
    TlsConnection c(inst_.ingest_port(), inst_.collector_client());
    ASSERT_TRUE(c.ok()) << c.error() << "\n" << inst_.log();
    const auto who = c.request("GET", "/v1/whoami");
    ASSERT_EQ(who.status, 200);
    EXPECT_EQ(nlohmann::json::parse(who.body).at("listener"), "ingest");
    const auto missing = c.request("GET", "/v1/../v1/whoami");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(nlohmann::json::parse(missing.body).at("error").at("code"), "not_found");
    const auto wrong_method = c.request("POST", "/v1/whoami", "x");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers.at("allow"), "GET");
}

TEST_F(HandshakeTest, NoClientCertificateIsRefusedOverTls13AndTls12) {
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        auto cfg = inst_.lea_client();
        cfg.certificate.clear();
        cfg.key.clear();
        cfg.min_version = cfg.max_version = version;
        TlsConnection c(inst_.lea_port(), cfg);
        EXPECT_TRUE(refused(c)) << "TLS version " << version;
    }
    EXPECT_EQ(wait_for_sample(inst_.socket(), failures("no_client_certificate"), 2), 2u);
}

TEST_F(HandshakeTest, CertificateFromAnotherCaIsRefused) {
    testing::TestCa foreign("Foreign CA");
    auto key = testing::generate_test_key(testing::TestKeyType::ec_p256);
    testing::LeafSpec spec;
    spec.common_name = "intruder";
    spec.server_auth = false;
    auto cert = foreign.issue(key.get(), spec);
    const auto cert_file = inst_.scratch() / "intruder.pem";
    const auto key_file = inst_.scratch() / "intruder.key";
    testing::write_pem_certs(cert_file, {cert.get()});
    testing::write_pem_key(key_file, key.get());
    auto cfg = inst_.lea_client();
    cfg.certificate = cert_file;
    cfg.key = key_file;
    TlsConnection c(inst_.lea_port(), cfg);
    EXPECT_TRUE(refused(c));
    EXPECT_EQ(wait_for_sample(inst_.socket(), failures("certificate_verify_failed"), 1), 1u);
}

TEST_F(HandshakeTest, Tls11IsRefused) {
    auto cfg = inst_.lea_client();
    cfg.min_version = cfg.max_version = TLS1_1_VERSION;
    cfg.security_level = 0;  // OpenSSL 3 refuses TLS 1.1 itself at the default level
    cfg.cipher_list = "DEFAULT@SECLEVEL=0";
    TlsConnection c(inst_.lea_port(), cfg);
    ASSERT_TRUE(c.tcp_connected());
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(wait_for_sample(inst_.socket(), failures("protocol_version"), 1), 1u);
}

TEST_F(HandshakeTest, NonRfc9325CipherSuiteIsRefused) {
    auto cfg = inst_.lea_client();
    cfg.max_version = TLS1_2_VERSION;
    cfg.cipher_list = "ECDHE-ECDSA-AES128-SHA";  // CBC with SHA-1 MAC: not in RFC 9325
    TlsConnection c(inst_.lea_port(), cfg);
    ASSERT_TRUE(c.tcp_connected());
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(wait_for_sample(inst_.socket(), failures("no_shared_cipher"), 1), 1u);
}

TEST_F(HandshakeTest, PlainHttpOnTheTlsPortIsCountedAsNotTls) {
    const int fd = tcp_connect(inst_.lea_port());
    ASSERT_GE(fd, 0);
    const auto reply = exchange_on_fd(fd, "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n");
    ::close(fd);
    EXPECT_EQ(reply.status, 0);
    EXPECT_EQ(wait_for_sample(inst_.socket(), failures("not_tls"), 1), 1u);
}

}  // namespace
}  // namespace enclave::daemon_test
