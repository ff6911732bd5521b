// SPDX-License-Identifier: Apache-2.0
#include "test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

#include "process.hpp"

namespace enclave::daemon_test {
namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free>;

[[noreturn]] void die(const std::string& what) { throw std::runtime_error("test_pki: " + what); }

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) die("extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

const EVP_MD* md_for(EVP_PKEY* key) {
    const int id = EVP_PKEY_get_id(key);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

CertPtr new_cert(const std::string& cn, EVP_PKEY* subject_key, long serial) {
    CertPtr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * 30);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Enclave tests"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_pubkey(cert.get(), subject_key);
    return cert;
}

}  // namespace

EvpPkeyPtr generate_p256_key() {
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) die("EC key generation");
    return key;
}

CertPtr make_ca_certificate(const std::string& common_name, EVP_PKEY* key) {
    CertPtr cert = new_cert(common_name, key, 1);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(cert.get(), key, md_for(key)) == 0) die("CA signature");
    return cert;
}

CertPtr make_client_certificate(const std::string& common_name, EVP_PKEY* subject_key, X509* ca,
                                EVP_PKEY* ca_key, long serial) {
    CertPtr cert = new_cert(common_name, subject_key, serial);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
    add_ext(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), ca, NID_key_usage, "critical,digitalSignature");
    add_ext(cert.get(), ca, NID_ext_key_usage, "clientAuth");
    add_ext(cert.get(), ca, NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert.get(), ca_key, md_for(ca_key)) == 0) die("client signature");
    return cert;
}

CertPtr reissue(X509* cert, EVP_PKEY* ca_key, long serial) {
    CertPtr copy(X509_dup(cert));
    ASN1_INTEGER_set(X509_get_serialNumber(copy.get()), serial);
    if (X509_sign(copy.get(), ca_key, md_for(ca_key)) == 0) die("re-signing");
    return copy;
}

CertPtr read_certificate(const std::filesystem::path& pem) {
    auto all = read_certificates(pem);
    if (all.empty()) die("no certificate in " + pem.string());
    return std::move(all.front());
}

std::vector<CertPtr> read_certificates(const std::filesystem::path& pem) {
    BioPtr bio(BIO_new_file(pem.c_str(), "r"));
    if (!bio) die("cannot open " + pem.string());
    std::vector<CertPtr> out;
    while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
    ERR_clear_error();
    return out;
}

EvpPkeyPtr read_private_key(const std::filesystem::path& pem) {
    BioPtr bio(BIO_new_file(pem.c_str(), "r"));
    if (!bio) die("cannot open " + pem.string());
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) die("no private key in " + pem.string());
    return key;
}

void write_certificate(const std::filesystem::path& pem, X509* cert, bool append) {
    BioPtr bio(BIO_new_file(pem.c_str(), append ? "a" : "w"));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) die("cannot write " + pem.string());
}

void write_private_key(const std::filesystem::path& pem, EVP_PKEY* key) {
    BioPtr bio(BIO_new_file(pem.c_str(), "w"));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        die("cannot write " + pem.string());
    }
}

crypto::Bytes spki_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(key, &der);
    if (len <= 0) die("i2d_PUBKEY");
    crypto::Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

crypto::Bytes spki_der(X509* cert) { return spki_der(X509_get0_pubkey(cert)); }

std::string serial_of(X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* dec = BN_bn2dec(bn);
    std::string out(dec);
    OPENSSL_free(dec);
    BN_free(bn);
    return out;
}

std::vector<crypto::Bytes> private_keys_in_file(const std::filesystem::path& file, int& undecodable) {
    std::vector<crypto::Bytes> found;
    const std::string content = read_file(file);
    // PEM: every block whose label names a private key.
    std::size_t pos = 0;
    while ((pos = content.find("-----BEGIN ", pos)) != std::string::npos) {
        const auto label_end = content.find("-----", pos + 11);
        if (label_end == std::string::npos) break;
        const std::string label = content.substr(pos + 11, label_end - pos - 11);
        const auto block_end = content.find("-----END " + label + "-----", label_end);
        if (block_end == std::string::npos) break;
        if (label.find("PRIVATE KEY") != std::string::npos) {
            const std::string block = content.substr(pos, block_end + 14 + label.size() - pos);
            BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
            EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
            if (key) {
                found.push_back(spki_der(key.get()));
            } else {
                ++undecodable;
            }
        }
        pos = block_end + 1;
    }
    // DER: the whole file as a PKCS#8 / traditional private key.
    if (found.empty() && !content.empty() && content.size() < (1u << 20)) {
        const auto* p = reinterpret_cast<const unsigned char*>(content.data());
        EvpPkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(content.size())));
        if (key) found.push_back(spki_der(key.get()));
    }
    ERR_clear_error();
    return found;
}

}  // namespace enclave::daemon_test
