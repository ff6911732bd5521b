// SPDX-License-Identifier: Apache-2.0
#include "support/test_pki.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

namespace enclave::testing {
namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free>;
using NamesPtr = crypto::CHandle<GENERAL_NAMES, GENERAL_NAMES_free>;
using Asn1IntPtr = crypto::CHandle<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = crypto::CHandle<ASN1_TIME, ASN1_TIME_free>;
using ExtPtr = crypto::CHandle<X509_EXTENSION, X509_EXTENSION_free>;
using RevokedPtr = crypto::CHandle<X509_REVOKED, X509_REVOKED_free>;

[[noreturn]] void die(const std::string& what) {
    char buf[256] = "";
    const unsigned long e = ERR_get_error();
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    throw std::runtime_error("test_pki: " + what + (e != 0 ? std::string(": ") + buf : ""));
}

void check(bool ok, const std::string& what) {
    if (!ok) die(what);
}

X509_NAME* make_name(const std::string& cn) {
    X509_NAME* n = X509_NAME_new();
    check(n != nullptr &&
              X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>("Enclave tests"),
                                         -1, -1, 0) == 1 &&
              X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                         0) == 1,
          "building a name");
    return n;
}

void set_random_serial(X509* x) {
    unsigned char raw[16];
    check(RAND_bytes(raw, sizeof raw) == 1, "RAND_bytes");
    raw[0] &= 0x7f;  // positive
    raw[0] |= 0x01;  // and non-zero
    BIGNUM* bn = BN_bin2bn(raw, sizeof raw, nullptr);
    Asn1IntPtr serial(BN_to_ASN1_INTEGER(bn, nullptr));
    BN_free(bn);
    check(serial && X509_set_serialNumber(x, serial.get()) == 1, "serial");
}

void add_ext(X509* issuer, X509* subject, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    check(ext && X509_add_ext(subject, ext.get(), -1) == 1, "extension " + std::string(value));
}

/// Subject, issuer, validity and key of a new certificate.
CertPtr new_cert(const std::string& cn, X509* issuer, EVP_PKEY* pub, int days, int offset) {
    CertPtr x(X509_new());
    check(x != nullptr && X509_set_version(x.get(), 2) == 1, "X509_new");
    set_random_serial(x.get());
    X509_NAME* name = make_name(cn);
    check(X509_set_subject_name(x.get(), name) == 1, "subject");
    check(X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name) ==
              1,
          "issuer");
    X509_NAME_free(name);
    check(X509_gmtime_adj(X509_getm_notBefore(x.get()), 86400L * offset) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400L * (offset + days)) != nullptr,
          "validity");
    check(X509_set_pubkey(x.get(), pub) == 1, "public key");
    return x;
}

/// The digest for X509_sign: none for Ed25519 (pure EdDSA), else SHA-256.
const EVP_MD* sign_md(EVP_PKEY* key) {
    return EVP_PKEY_is_a(key, "ED25519") ? nullptr : EVP_sha256();
}

void add_sans(X509* x, const LeafSpec& spec) {
    if (spec.dns.empty() && spec.ips.empty()) return;
    std::string value;
    for (const auto& d : spec.dns) value += (value.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : spec.ips) value += (value.empty() ? "" : ",") + std::string("IP:") + ip;
    add_ext(nullptr, x, NID_subject_alt_name, value.c_str());
}

}  // namespace

PkeyPtr generate_test_key(TestKeyType type) {
    EVP_PKEY* key = nullptr;
    switch (type) {
        case TestKeyType::ec_p256: key = EVP_EC_gen("P-256"); break;
        case TestKeyType::ec_p384: key = EVP_EC_gen("P-384"); break;
        case TestKeyType::ed25519: key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
        case TestKeyType::rsa2048: key = EVP_RSA_gen(2048); break;
        case TestKeyType::rsa3072: key = EVP_RSA_gen(3072); break;
    }
    check(key != nullptr, "generating a test key");
    return PkeyPtr(key);
}

crypto::Bytes spki_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key, &der);
    check(len > 0, "i2d_PUBKEY");
    crypto::Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

PkeyPtr parse_spki(crypto::ByteView spki) {
    const unsigned char* p = spki.data();
    PkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    check(key != nullptr && p == spki.data() + spki.size(), "d2i_PUBKEY");
    return key;
}

TestCa::TestCa(const std::string& name, TestKeyType key_type)
    : name_(name), key_(generate_test_key(key_type)) {
    cert_ = new_cert(name, nullptr, key_.get(), 365, -1);
    add_ext(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    check(X509_sign(cert_.get(), key_.get(), sign_md(key_.get())) > 0, "self-signing the CA");
}

CertPtr TestCa::issue(crypto::ByteView public_key, const LeafSpec& spec) const {
    PkeyPtr pub = parse_spki(public_key);
    return issue(pub.get(), spec);
}

CertPtr TestCa::issue(EVP_PKEY* public_key, const LeafSpec& spec) const {
    CertPtr x =
        new_cert(spec.common_name, cert_.get(), public_key, spec.days, spec.not_before_offset_days);
    add_ext(cert_.get(), x.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert_.get(), x.get(), NID_key_usage, "critical,digitalSignature");
    std::string eku;
    if (spec.server_auth) eku = "serverAuth";
    if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
    if (!eku.empty()) add_ext(cert_.get(), x.get(), NID_ext_key_usage, eku.c_str());
    add_sans(x.get(), spec);
    add_ext(cert_.get(), x.get(), NID_subject_key_identifier, "hash");
    add_ext(cert_.get(), x.get(), NID_authority_key_identifier, "keyid:always");
    check(X509_sign(x.get(), key_.get(), sign_md(key_.get())) > 0, "signing a leaf");
    return x;
}

CertPtr TestCa::issue_ca(const TestCa& sub) const {
    CertPtr x = new_cert(sub.name(), cert_.get(), sub.key(), 365, -1);
    add_ext(cert_.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(cert_.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), x.get(), NID_subject_key_identifier, "hash");
    add_ext(cert_.get(), x.get(), NID_authority_key_identifier, "keyid:always");
    check(X509_sign(x.get(), key_.get(), sign_md(key_.get())) > 0, "signing an intermediate");
    return x;
}

CrlPtr TestCa::crl(const std::vector<const X509*>& revoked) const {
    CrlPtr c(X509_CRL_new());
    check(c && X509_CRL_set_version(c.get(), 1) == 1 &&
              X509_CRL_set_issuer_name(c.get(), X509_get_subject_name(cert_.get())) == 1,
          "X509_CRL_new");
    Asn1TimePtr now(X509_gmtime_adj(nullptr, -60));
    Asn1TimePtr next(X509_gmtime_adj(nullptr, 86400));
    check(now && next && X509_CRL_set1_lastUpdate(c.get(), now.get()) == 1 &&
              X509_CRL_set1_nextUpdate(c.get(), next.get()) == 1,
          "CRL times");
    for (const X509* x : revoked) {
        RevokedPtr r(X509_REVOKED_new());
        check(r &&
                  X509_REVOKED_set_serialNumber(
                      r.get(), const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(x))) == 1 &&
                  X509_REVOKED_set_revocationDate(r.get(), now.get()) == 1 &&
                  X509_CRL_add0_revoked(c.get(), r.get()) == 1,
              "revoking");
        (void)r.release();  // owned by the CRL now
    }
    check(X509_CRL_sort(c.get()) == 1 && X509_CRL_sign(c.get(), key_.get(), sign_md(key_.get())) > 0,
          "signing the CRL");
    return c;
}

namespace {
BioPtr open_out(const std::filesystem::path& path, bool private_file) {
    std::filesystem::remove(path);
    BioPtr bio(BIO_new_file(path.c_str(), "w"));
    check(bio != nullptr, "creating " + path.string());
    if (private_file)
        std::filesystem::permissions(
            path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return bio;
}
}  // namespace

void write_pem_certs(const std::filesystem::path& path, const std::vector<const X509*>& certs) {
    BioPtr bio = open_out(path, false);
    for (const X509* x : certs) {
        check(PEM_write_bio_X509(bio.get(), const_cast<X509*>(x)) == 1, "writing " + path.string());
    }
}

void write_pem_key(const std::filesystem::path& path, EVP_PKEY* key) {
    BioPtr bio = open_out(path, true);
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "writing " + path.string());
}

void write_pem_crl(const std::filesystem::path& path, const X509_CRL* crl) {
    BioPtr bio = open_out(path, false);
    check(PEM_write_bio_X509_CRL(bio.get(), const_cast<X509_CRL*>(crl)) == 1,
          "writing " + path.string());
}

}  // namespace enclave::testing
