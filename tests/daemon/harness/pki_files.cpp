// SPDX-License-Identifier: Apache-2.0
#include "pki_files.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdio>
#include <stdexcept>

#include "process.hpp"

namespace enclave::daemon_test {
namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free>;

[[noreturn]] void die(const std::string& what) { throw std::runtime_error("test_pki: " + what); }

const EVP_MD* md_for(EVP_PKEY* key) {
    const int id = EVP_PKEY_get_id(key);
    return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? nullptr : EVP_sha256();
}

}  // namespace

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
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
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

std::vector<crypto::Bytes> private_keys_in_file(const std::filesystem::path& file,
                                                int& undecodable) {
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
            EvpPkeyPtr key(
                PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
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
