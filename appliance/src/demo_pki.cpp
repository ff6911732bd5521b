// SPDX-License-Identifier: Apache-2.0
#include "appliance/demo_pki.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <array>
#include <climits>

namespace enclave::appliance {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free_all>;
using BnPtr = crypto::CHandle<BIGNUM, BN_free>;
using Asn1IntegerPtr = crypto::CHandle<ASN1_INTEGER, ASN1_INTEGER_free>;
using X509NamePtr = crypto::CHandle<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = crypto::CHandle<X509_EXTENSION, X509_EXTENSION_free>;

// "what: <OpenSSL reason>" and the OpenSSL error queue emptied. The queue
// holds library reasons only (no key material).
crypto::Error openssl_error(Errc code, std::string_view what) {
    std::string msg(what);
    if (const unsigned long e = ERR_peek_last_error(); e != 0) {
        std::array<char, 256> buf{};
        ERR_error_string_n(e, buf.data(), buf.size());
        msg += ": ";
        msg += buf.data();
    }
    ERR_clear_error();
    return crypto::Error(code, std::move(msg));
}

tl::unexpected<crypto::Error> fail_ssl(Errc code, std::string_view what) {
    return tl::unexpected(openssl_error(code, what));
}

Result<void> check_profile(const CertProfile& p) {
    if (p.common_name.empty() || p.common_name.size() > 64) {
        return fail(Errc::invalid_argument, "certificate common name must be 1..64 bytes");
    }
    if (p.organization.size() > 64) {
        return fail(Errc::invalid_argument, "certificate organisation must be at most 64 bytes");
    }
    if (p.validity_days < 1 || p.validity_days > 3650) {
        return fail(Errc::invalid_argument, "certificate validity must be 1..3650 days");
    }
    for (const auto& names : {p.dns_names, p.ip_addresses}) {
        for (const auto& n : names) {
            // The SAN value is an OpenSSL config string: ',' or ':' inside a
            // DNS name would smuggle in another entry.
            if (n.empty() || n.size() > 253 || n.find_first_of(",\n\r") != std::string::npos) {
                return fail(Errc::invalid_argument,
                            "subjectAltName entries must be 1..253 bytes "
                            "without ',' or line breaks");
            }
        }
    }
    return {};
}

Result<void> set_random_serial(X509& cert) {
    std::array<unsigned char, 16> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        return fail_ssl(Errc::crypto_failure, "RAND_bytes for a certificate serial");
    }
    raw[0] &= 0x7f;   // positive in DER, and at most 16 octets
    raw[15] |= 0x01;  // never zero
    BnPtr bn(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr));
    if (!bn) return fail_ssl(Errc::crypto_failure, "BN_bin2bn");
    Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    if (!serial || X509_set_serialNumber(&cert, serial.get()) != 1) {
        return fail_ssl(Errc::crypto_failure, "setting the certificate serial");
    }
    return {};
}

Result<X509NamePtr> make_name(const CertProfile& p) {
    X509NamePtr name(X509_NAME_new());
    if (!name) return fail_ssl(Errc::crypto_failure, "X509_NAME_new");
    const auto add = [&](const char* field, const std::string& value) {
        return X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(value.data()),
                                          static_cast<int>(value.size()), -1, 0) == 1;
    };
    if (!p.organization.empty() && !add("O", p.organization)) {
        return fail_ssl(Errc::invalid_argument, "certificate organisation");
    }
    if (!add("CN", p.common_name)) {
        return fail_ssl(Errc::invalid_argument, "certificate common name");
    }
    return name;
}

Result<void> add_extension(X509& cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext) {
        return fail_ssl(Errc::crypto_failure, std::string("building extension ") + OBJ_nid2sn(nid));
    }
    if (X509_add_ext(&cert, ext.get(), -1) != 1) {
        return fail_ssl(Errc::crypto_failure, std::string("adding extension ") + OBJ_nid2sn(nid));
    }
    return {};
}

std::string san_value(const CertProfile& p) {
    std::string san;
    for (const auto& d : p.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    for (const auto& ip : p.ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
    return san;
}

// Extensions in a fixed order; the subjectKeyIdentifier comes before the
// authorityKeyIdentifier so a self-signed CA can name itself.
Result<void> add_extensions(X509& cert, X509& issuer, const CertProfile& p) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, &issuer, &cert, nullptr, nullptr, 0);
    std::vector<std::pair<int, std::string>> exts;
    if (p.usage == CertUsage::ca) {
        exts = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                {NID_key_usage, "critical,keyCertSign,cRLSign"}};
    } else {
        exts = {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature"},
                {NID_ext_key_usage, p.usage == CertUsage::server ? "serverAuth" : "clientAuth"}};
    }
    exts.emplace_back(NID_subject_key_identifier, "hash");
    exts.emplace_back(NID_authority_key_identifier, "keyid:always");
    if (const std::string san = san_value(p); !san.empty()) {
        exts.emplace_back(NID_subject_alt_name, san);
    }
    for (const auto& [nid, value] : exts) {
        if (auto ok = add_extension(cert, ctx, nid, value); !ok) return ok;
    }
    return {};
}

// The unsigned body: version, serial, names, validity, key.
Result<X509Ptr> make_body(const X509_NAME& issuer_name, EVP_PKEY& subject_key,
                          const CertProfile& p) {
    if (auto ok = check_profile(p); !ok) return tl::unexpected(ok.error());
    X509Ptr cert(X509_new());
    if (!cert) return fail_ssl(Errc::crypto_failure, "X509_new");
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1) {
        return fail_ssl(Errc::crypto_failure, "X509_set_version");
    }
    if (auto ok = set_random_serial(*cert); !ok) return tl::unexpected(ok.error());
    auto name = make_name(p);
    if (!name) return tl::unexpected(name.error());
    if (X509_set_subject_name(cert.get(), name->get()) != 1 ||
        X509_set_issuer_name(cert.get(), &issuer_name) != 1) {
        return fail_ssl(Errc::crypto_failure, "setting certificate names");
    }
    // 5 minutes of slack for clocks that lag the issuer's.
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(cert.get()), p.validity_days, 0, nullptr) == nullptr) {
        return fail_ssl(Errc::crypto_failure, "setting certificate validity");
    }
    if (X509_set_pubkey(cert.get(), &subject_key) != 1) {
        return fail_ssl(Errc::invalid_argument, "setting the certificate public key");
    }
    return cert;
}

Result<void> sign(X509& cert, EVP_PKEY& key) {
    // Ed25519 signs without a separate digest; EC and RSA with SHA-256.
    const EVP_MD* md = EVP_PKEY_get_id(&key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
    if (X509_sign(&cert, &key, md) <= 0) {
        return fail_ssl(Errc::crypto_failure, "signing the certificate");
    }
    return {};
}

}  // namespace

Result<EvpPkeyPtr> generate_p256_key() {
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) return fail_ssl(Errc::crypto_failure, "generating an EC P-256 key");
    return key;
}

Result<EvpPkeyPtr> public_key_from_spki(crypto::ByteView spki_der) {
    if (spki_der.empty() || spki_der.size() > 16 * 1024) {
        return fail(Errc::malformed_input, "public key: SPKI must be 1..16384 bytes");
    }
    const unsigned char* p = spki_der.data();
    EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
    if (!key) return fail_ssl(Errc::malformed_input, "public key: not a DER SubjectPublicKeyInfo");
    if (p != spki_der.data() + spki_der.size()) {
        return fail(Errc::malformed_input, "public key: trailing bytes after the SPKI");
    }
    return key;
}

Result<Bytes> public_key_spki(const EVP_PKEY& key) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(&key, &der);
    if (len <= 0) return fail_ssl(Errc::crypto_failure, "encoding a public key");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Result<X509Ptr> make_ca_certificate(EVP_PKEY& ca_key, const CertProfile& profile) {
    if (profile.usage != CertUsage::ca) {
        return fail(Errc::invalid_argument, "make_ca_certificate needs a CA profile");
    }
    auto name = make_name(profile);
    if (!name) return tl::unexpected(name.error());
    auto cert = make_body(**name, ca_key, profile);
    if (!cert) return cert;
    if (auto ok = add_extensions(**cert, **cert, profile); !ok) return tl::unexpected(ok.error());
    if (auto ok = sign(**cert, ca_key); !ok) return tl::unexpected(ok.error());
    return cert;
}

Result<X509Ptr> issue_certificate(X509& issuer, EVP_PKEY& issuer_key, EVP_PKEY& subject_key,
                                  const CertProfile& profile) {
    if (X509_check_private_key(&issuer, &issuer_key) != 1) {
        ERR_clear_error();
        return fail(Errc::invalid_argument, "the issuer key does not match the issuer certificate");
    }
    auto cert = make_body(*X509_get_subject_name(&issuer), subject_key, profile);
    if (!cert) return cert;
    if (auto ok = add_extensions(**cert, issuer, profile); !ok) return tl::unexpected(ok.error());
    if (auto ok = sign(**cert, issuer_key); !ok) return tl::unexpected(ok.error());
    return cert;
}

Result<std::string> certificate_to_pem(const X509& cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), &cert) != 1) {
        return fail_ssl(Errc::crypto_failure, "writing a certificate as PEM");
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Result<crypto::Secret> private_key_to_pem(const EVP_PKEY& key) {
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), &key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return fail_ssl(Errc::crypto_failure, "writing a private key as PEM");
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return crypto::Secret::copy_of(
        {reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(len)});
}

Result<std::vector<X509Ptr>> certificates_from_pem(std::string_view pem) {
    if (pem.size() > 4 * 1024 * 1024) return fail(Errc::too_large, "PEM text over 4 MiB");
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return fail_ssl(Errc::crypto_failure, "BIO_new_mem_buf");
    std::vector<X509Ptr> out;
    while (out.size() <= 64) {
        X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
        if (!cert) break;
        out.push_back(std::move(cert));
    }
    // End of input leaves PEM_R_NO_START_LINE; anything else is a broken block.
    const unsigned long e = ERR_peek_last_error();
    const bool clean_end =
        e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
    ERR_clear_error();
    if (out.size() > 64) return fail(Errc::too_large, "PEM text holds more than 64 certificates");
    if (!clean_end) return fail(Errc::malformed_input, "PEM text holds a broken certificate block");
    if (out.empty()) return fail(Errc::malformed_input, "PEM text holds no certificate");
    return out;
}

Result<X509Ptr> certificate_from_pem(std::string_view pem) {
    auto all = certificates_from_pem(pem);
    if (!all) return tl::unexpected(all.error());
    return std::move(all->front());
}

Result<EvpPkeyPtr> private_key_from_pem(const crypto::Secret& pem) {
    if (pem.size() > INT_MAX) return fail(Errc::too_large, "private key PEM too large");
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return fail_ssl(Errc::crypto_failure, "BIO_new_mem_buf");
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) return fail_ssl(Errc::malformed_input, "not a PEM private key");
    return key;
}

Result<Bytes> certificate_spki(const X509& cert) {
    const X509_PUBKEY* pub = X509_get_X509_PUBKEY(&cert);
    unsigned char* der = nullptr;
    const int len = pub == nullptr ? -1 : i2d_X509_PUBKEY(pub, &der);
    if (len <= 0) return fail_ssl(Errc::malformed_input, "certificate has no encodable public key");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

}  // namespace enclave::appliance
