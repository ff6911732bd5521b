// SPDX-License-Identifier: Apache-2.0
// The certificate parsers and the PKCS#10 builder (appliance/src/cert_pki.hpp):
// labels, RFC 4514 subjects, SANs and PEM chains, each with malformed,
// oversized and hostile input; a request signed through the callback
// verifies with its public key.
#include "../../appliance/src/cert_pki.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

namespace enclave::appliance::certs {
namespace {

using crypto::Errc;
using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using MdCtxPtr = crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = crypto::CHandle<BIO, BIO_free_all>;

EvpPkeyPtr p256_key() { return EvpPkeyPtr(EVP_EC_gen("P-256")); }

/// A self-signed certificate for `key` (subject CN=<cn>), as PEM.
std::string self_signed_pem(EVP_PKEY* key, const std::string& cn, long days = 30) {
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 86400);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509_set_pubkey(cert.get(), key);
    X509_sign(cert.get(), key, EVP_sha256());
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

crypto::Bytes spki_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key, &der);
    crypto::Bytes out(der, der + n);
    OPENSSL_free(der);
    return out;
}

TEST(CertPkiTest, LabelsAreShortPlainNames) {
    EXPECT_TRUE(valid_label("lea-tls"));
    EXPECT_TRUE(valid_label("lea.tls_2026-11"));
    EXPECT_TRUE(valid_label(std::string(64, 'a')));
    for (const std::string& bad : std::vector<std::string>{"", "-lea", ".hidden", "../etc", "a/b", "a b", "a\nb", std::string(65, 'a'),
          "caf\xc3\xa9", std::string("a\0b", 3), "a;type=secret"}) {
        EXPECT_FALSE(valid_label(bad)) << bad;
    }
}

TEST(CertPkiTest, SubjectsFollowRfc4514) {
    auto n = parse_subject("CN=Enclave LEA,O=Example CSP,C=GB");
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(name_text(n->get()), "CN=Enclave LEA,O=Example CSP,C=GB");
    auto escaped = parse_subject("CN=Smith\\, John,OU=Lawful Interception \\+ Disclosure");
    ASSERT_TRUE(escaped) << escaped.error().message();
    EXPECT_NE(name_text(escaped->get()).find("Smith"), std::string::npos);
    auto utf8 = parse_subject("CN=M\xc3\xbcnchen,serialNumber=42,dc=example");
    ASSERT_TRUE(utf8) << utf8.error().message();
    EXPECT_EQ(X509_NAME_entry_count(utf8->get()), 3);
}

TEST(CertPkiTest, HostileSubjectsAreRefusedWithoutEcho) {
    const std::string marker = "CANARY-7f3e";
    const std::vector<std::string> bad{
        "",
        "CN",
        "=x",
        "CN=",
        "XX=" + marker,
        "CN=a+O=" + marker,
        "CN=" + marker + "\\",
        "CN=" + marker + "\\41",  // hex escapes are not taken
        "C=GBR",
        "C=1x",
        "CN=" + std::string(65, 'a'),
        "CN=bad\x01" + marker,
        "CN=bad\xc0\xaf",           // overlong '/'
        "CN=bad\xed\xa0\x80",       // surrogate
        "CN=trunc\xe2\x82",         // truncated sequence
        "CN=bad\"quote",
        "CN=x;O=y",
        std::string(1025, 'a'),
    };
    for (const auto& s : bad) {
        auto r = parse_subject(s);
        ASSERT_FALSE(r) << s;
        EXPECT_TRUE(r.error().code() == Errc::malformed_input || r.error().code() == Errc::too_large)
            << s;
        EXPECT_EQ(r.error().message().find(marker), std::string::npos) << r.error().message();
    }
    std::string many;
    for (int i = 0; i < 17; ++i) many += (i ? ",CN=x" : "CN=x");
    auto r = parse_subject(many);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
}

TEST(CertPkiTest, SansAreDnsNamesOrAddresses) {
    auto ok = parse_sans({"DNS:localhost", "DNS:*.lea.example", "IP:127.0.0.1", "IP:::1"});
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(sk_GENERAL_NAME_num(ok->get()), 4);
    for (const std::string& bad : std::vector<std::string>{"localhost", "DNS:", "DNS:-bad.example", "DNS:bad-.example", "DNS:a..b", "DNS:a_b",
          "DNS:*", "DNS:a.*.b", "IP:300.1.1.1", "IP:localhost", "IP:", "URI:https://x",
          "email:a@b", "DNS:" + std::string(64, 'a') + ".example", "DNS:x\n", "dns:x"}) {
        auto r = parse_sans({bad});
        EXPECT_FALSE(r) << bad;
    }
    std::vector<std::string> many(33, "DNS:x.example");
    auto r = parse_sans(many);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
}

TEST(CertPkiTest, ChainsAreCertificatesOnly) {
    auto key = p256_key();
    const std::string a = self_signed_pem(key.get(), "a");
    const std::string b = self_signed_pem(key.get(), "b");
    auto chain = parse_chain_pem(a + "\n" + b);
    ASSERT_TRUE(chain) << chain.error().message();
    EXPECT_EQ(chain->size(), 2u);

    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    const std::string private_pem(data, static_cast<std::size_t>(n));
    auto with_key = parse_chain_pem(a + private_pem);
    ASSERT_FALSE(with_key);
    EXPECT_NE(with_key.error().message().find("private key"), std::string::npos);
    EXPECT_EQ(with_key.error().message().find(private_pem.substr(40, 20)), std::string::npos);

    // A line of base64 missing from the middle: the DER lengths no longer
    // add up. (A flipped byte in the signature still parses; chain
    // verification catches that.)
    std::string corrupt = a;
    const auto first_nl = corrupt.find('\n');
    const auto second_nl = corrupt.find('\n', first_nl + 1);
    corrupt.erase(first_nl + 1, second_nl - first_nl);
    const std::vector<std::string> bad{
        "",
        "   \n",
        "not a certificate",
        "junk before\n" + a,
        a + "junk after",
        a.substr(0, a.size() - 30),                                       // no END line
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",  // not DER
        corrupt,
        std::string("\0", 1) + a,
    };
    for (const auto& pem : bad) EXPECT_FALSE(parse_chain_pem(pem)) << pem.substr(0, 40);
    std::string nine;
    for (int i = 0; i < 9; ++i) nine += a;
    auto too_many = parse_chain_pem(nine);
    ASSERT_FALSE(too_many);
    EXPECT_EQ(too_many.error().code(), Errc::too_large);
    auto huge = parse_chain_pem(a + std::string(kMaxChainBytes, '\n'));
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().code(), Errc::too_large);
}

TEST(CertPkiTest, SummaryNamesFingerprintAndExpiry) {
    auto key = p256_key();
    auto chain = parse_chain_pem(self_signed_pem(key.get(), "summary", 10));
    ASSERT_TRUE(chain);
    auto s = summarize(chain->front().get());
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->subject, "CN=summary");
    EXPECT_EQ(s->issuer, "CN=summary");
    EXPECT_EQ(s->serial, "07");
    EXPECT_EQ(s->sha256.size(), 64u);
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    EXPECT_GT(s->not_after, now + 9 * 86400);
    EXPECT_LT(s->not_after, now + 11 * 86400);
    auto spki = spki_of(chain->front().get());
    ASSERT_TRUE(spki);
    EXPECT_EQ(*spki, spki_der(key.get()));
}

TEST(CertPkiTest, RequestSignedThroughTheCallbackVerifies) {
    auto key = p256_key();
    auto subject = parse_subject("CN=Enclave LEA,O=Example CSP,C=GB");
    auto sans = parse_sans({"DNS:localhost", "IP:127.0.0.1"});
    ASSERT_TRUE(subject && sans);
    int calls = 0;
    const TokenSign sign = [&](crypto::ByteView tbs) -> crypto::Result<crypto::Bytes> {
        ++calls;
        MdCtxPtr ctx(EVP_MD_CTX_new());
        std::size_t len = 0;
        if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
            EVP_DigestSign(ctx.get(), nullptr, &len, tbs.data(), tbs.size()) != 1) {
            return crypto::fail(Errc::crypto_failure, "sign");
        }
        crypto::Bytes sig(len);
        EVP_DigestSign(ctx.get(), sig.data(), &len, tbs.data(), tbs.size());
        sig.resize(len);
        return sig;
    };
    auto pem = make_csr(subject->get(), sans->get(), spki_der(key.get()), sign);
    ASSERT_TRUE(pem) << pem.error().message();
    EXPECT_EQ(calls, 1);
    BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    ASSERT_TRUE(req);
    EXPECT_EQ(X509_REQ_verify(req.get(), key.get()), 1);
    EXPECT_EQ(name_text(X509_REQ_get_subject_name(req.get())), "CN=Enclave LEA,O=Example CSP,C=GB");
    auto subj = csr_subject(*pem);
    ASSERT_TRUE(subj);
    EXPECT_EQ(*subj, "CN=Enclave LEA,O=Example CSP,C=GB");

    // A signature by another key is caught before the request is returned.
    auto other = p256_key();
    const TokenSign wrong = [&](crypto::ByteView tbs) -> crypto::Result<crypto::Bytes> {
        MdCtxPtr ctx(EVP_MD_CTX_new());
        std::size_t len = 0;
        EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, other.get());
        EVP_DigestSign(ctx.get(), nullptr, &len, tbs.data(), tbs.size());
        crypto::Bytes sig(len);
        EVP_DigestSign(ctx.get(), sig.data(), &len, tbs.data(), tbs.size());
        sig.resize(len);
        return sig;
    };
    auto bad = make_csr(subject->get(), sans->get(), spki_der(key.get()), wrong);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::crypto_failure);
}

TEST(CertPkiTest, ChainVerificationUsesOnlyTheGivenAnchors) {
    auto ca_key = p256_key();
    const std::string ca_pem = self_signed_pem(ca_key.get(), "anchor");
    const auto dir = std::filesystem::temp_directory_path() /
                     ("cert-pki-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream(dir / "ca.pem") << ca_pem;
        std::ofstream(dir / "empty.pem") << "";
    }
    auto self = parse_chain_pem(ca_pem);
    ASSERT_TRUE(self);
    EXPECT_TRUE(verify_chain(*self, {dir / "ca.pem"}, ChainPurpose::any));
    auto stranger_key = p256_key();
    auto stranger = parse_chain_pem(self_signed_pem(stranger_key.get(), "stranger"));
    ASSERT_TRUE(stranger);
    auto refused = verify_chain(*stranger, {dir / "ca.pem"}, ChainPurpose::any);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message().find("does not verify"), std::string::npos);
    EXPECT_FALSE(verify_chain(*self, {dir / "empty.pem"}, ChainPurpose::any));
    EXPECT_FALSE(verify_chain(*self, {dir / "missing.pem"}, ChainPurpose::any));
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace enclave::appliance::certs
