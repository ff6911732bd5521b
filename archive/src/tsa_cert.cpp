// SPDX-License-Identifier: Apache-2.0
// The TSA's key pair and self-signed certificate (provision), and the
// certificate checks shared with open() and verify_timestamp().
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <string>

#include "archive/tsa.hpp"
#include "hsm/keygen.hpp"
#include "hsm/provider.hpp"
#include "hsm/public_key.hpp"
#include "hsm/signer.hpp"
#include "der.hpp"
#include "tsa_detail.hpp"

namespace enclave::archive {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace detail {

Result<X509Ptr> parse_certificate(ByteView der) {
    if (der.empty() || der.size() > 64 * 1024) {
        return fail(Errc::malformed_input, "TSA certificate: empty or over 64 KiB");
    }
    auto libctx = hsm::tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    X509Ptr cert(X509_new_ex(*libctx, nullptr));
    if (!cert) return fail(Errc::crypto_failure, "X509_new_ex");
    const unsigned char* p = der.data();
    X509* raw = cert.get();
    if (d2i_X509(&raw, &p, static_cast<long>(der.size())) == nullptr) {
        cert.release();  // d2i_X509 freed it on failure
        hsm::drain_openssl_errors();
        return fail(Errc::malformed_input, "TSA certificate: not a DER X.509 certificate");
    }
    if (p != der.data() + der.size()) {
        return fail(Errc::malformed_input, "TSA certificate: trailing bytes");
    }
    return cert;
}

Result<void> check_tsa_usage(X509& cert) {
    int crit = -1;
    auto* eku = static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(&cert, NID_ext_key_usage, &crit, nullptr));
    if (eku == nullptr) {
        hsm::drain_openssl_errors();
        return fail(Errc::invalid_argument,
                    crit == -2 ? "TSA certificate: several extendedKeyUsage extensions"
                               : "TSA certificate: no extendedKeyUsage extension");
    }
    const int n = sk_ASN1_OBJECT_num(eku);
    const bool only_ts = n == 1 && OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) == NID_time_stamp;
    EXTENDED_KEY_USAGE_free(eku);
    if (crit != 1) return fail(Errc::invalid_argument, "TSA certificate: extendedKeyUsage not critical");
    if (!only_ts) {
        return fail(Errc::invalid_argument,
                    "TSA certificate: extendedKeyUsage is not timeStamping alone");
    }
    return {};
}

namespace {
template <class T, auto I2d>
Result<Bytes> encode(const T* obj, const char* what) {
    unsigned char* out = nullptr;
    const int len = I2d(obj, &out);
    if (len <= 0) return fail(Errc::crypto_failure, std::string("encoding ") + what);
    Bytes der(out, out + len);
    OPENSSL_free(out);
    return der;
}
}  // namespace

Result<Bytes> issuer_der(const X509& cert) {
    return encode<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(&cert), "issuer");
}

Result<Bytes> serial_der(const X509& cert) {
    return encode<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(&cert), "serial");
}

}  // namespace detail

namespace {

using detail::X509Ptr;
using ExtPtr = crypto::CHandle<X509_EXTENSION, X509_EXTENSION_free>;
using PkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using BnPtr = crypto::CHandle<BIGNUM, BN_free>;

Result<void> openssl_ok(int rc, const char* what) {
    if (rc > 0) return {};
    return fail(Errc::crypto_failure, std::string(what) + ": " + hsm::drain_openssl_errors());
}

// Version, serial (positive, 128 random bits), names, validity, public key.
Result<void> fill_body(X509& cert, std::string_view cn, int days, ByteView spki) {
    if (auto ok = openssl_ok(X509_set_version(&cert, X509_VERSION_3), "version"); !ok) return ok;
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return fail(Errc::crypto_failure, "RAND_bytes");
    raw[0] &= 0x7f;
    raw[0] |= 0x40;  // positive and full length
    BnPtr bn(BN_bin2bn(raw, sizeof raw, nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(&cert)) == nullptr) {
        return fail(Errc::crypto_failure, "certificate serial");
    }
    X509_NAME* name = X509_get_subject_name(&cert);
    const std::string cn_text(cn);
    if (auto ok = openssl_ok(X509_NAME_add_entry_by_txt(
                                 name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn_text.c_str()), -1, -1, 0),
                             "subject CN");
        !ok) {
        return ok;
    }
    if (auto ok = openssl_ok(X509_set_issuer_name(&cert, name), "issuer"); !ok) return ok;
    // Backdated a little so a stamp made right after provisioning (whole
    // seconds) is inside the validity period.
    if (X509_gmtime_adj(X509_getm_notBefore(&cert), -300) == nullptr ||
        X509_time_adj_ex(X509_getm_notAfter(&cert), days, 0, nullptr) == nullptr) {
        return fail(Errc::crypto_failure, "certificate validity");
    }
    auto libctx = hsm::tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    const unsigned char* p = spki.data();
    PkeyPtr pub(d2i_PUBKEY_ex(nullptr, &p, static_cast<long>(spki.size()), *libctx, nullptr));
    if (!pub) return fail(Errc::crypto_failure, "TSA public key from the token");
    return openssl_ok(X509_set_pubkey(&cert, pub.get()), "public key");
}

Result<void> add_extensions(X509& cert) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, &cert, &cert, nullptr, nullptr, 0);
    const std::pair<int, const char*> exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
        {NID_ext_key_usage, "critical,timeStamping"},  // RFC 3161 section 2.3
        {NID_subject_key_identifier, "hash"},
    };
    for (const auto& [nid, value] : exts) {
        ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
        if (!ext) return fail(Errc::crypto_failure, std::string("extension ") + OBJ_nid2sn(nid));
        if (auto ok = openssl_ok(X509_add_ext(&cert, ext.get(), -1), "adding an extension"); !ok) {
            return ok;
        }
    }
    return {};
}

// Signs the certificate on the token: OpenSSL fills in the signature
// algorithm fields (signing once with a throwaway P-256 key of the same
// algorithm, ecdsa-with-SHA256), then the TBSCertificate is signed by
// hsm::Signer and the Certificate is assembled in DER. Signing through the
// hsm/ provider with X509_sign_ctx instead left an X509 that crashed in
// X509_free (OpenSSL 3.0.x; seen while writing this, not investigated).
Result<Bytes> sign_on_token(X509& cert, hsm::Signer& signer) {
    auto libctx = hsm::tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    PkeyPtr scratch(EVP_PKEY_Q_keygen(*libctx, nullptr, "EC", "P-256"));
    if (!scratch) return fail(Errc::crypto_failure, "scratch key");
    if (X509_sign(&cert, scratch.get(), EVP_sha256()) <= 0) {
        return fail(Errc::crypto_failure, "certificate algorithm fields: " + hsm::drain_openssl_errors());
    }
    unsigned char* out = nullptr;
    const int len = i2d_re_X509_tbs(&cert, &out);
    if (len <= 0) return fail(Errc::crypto_failure, "encoding the TBSCertificate");
    const Bytes tbs(out, out + len);
    OPENSSL_free(out);
    auto sig = signer.sign_ecdsa(crypto::HashAlg::sha256, tbs);
    if (!sig) return tl::unexpected(sig.error());
    Bytes bits{0x00};  // BIT STRING: no unused bits
    bits.insert(bits.end(), sig->der.begin(), sig->der.end());
    return der::constructed(
        der::kSequence,
        {tbs, der::constructed(der::kSequence, {der::oid(detail::kOidEcdsaSha256)}),
         der::tlv(0x03, bits)});
}

Result<Bytes> make_certificate(hsm::SessionPool& pool, const hsm::KeyRef& key,
                               std::string_view cn, int days) {
    auto spki = hsm::export_public_key_spki(pool, key);
    if (!spki) return tl::unexpected(spki.error());
    auto libctx = hsm::tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    X509Ptr cert(X509_new_ex(*libctx, nullptr));
    if (!cert) return fail(Errc::crypto_failure, "X509_new_ex");
    if (auto ok = fill_body(*cert, cn, days, *spki); !ok) return tl::unexpected(ok.error());
    if (auto ok = add_extensions(*cert); !ok) return tl::unexpected(ok.error());
    // Signer wants shared ownership; the pool outlives this call and the
    // Signer does not, so a non-owning pointer is enough.
    std::shared_ptr<hsm::SessionPool> borrowed(&pool, [](hsm::SessionPool*) {});
    auto signer = hsm::Signer::open(borrowed, key.query());
    if (!signer) return tl::unexpected(signer.error());
    auto der = sign_on_token(*cert, *signer);
    if (!der) return der;
    // The result must read back as the certificate of the token key.
    auto parsed = detail::parse_certificate(*der);
    if (!parsed) return tl::unexpected(parsed.error());
    return der;
}

}  // namespace

Result<Bytes> TimeStampAuthority::provision(hsm::SessionPool& pool, std::string_view subject_cn,
                                            int days) {
    if (subject_cn.empty() || subject_cn.size() > 64) {
        return fail(Errc::invalid_argument, "TSA subject CN must be 1..64 characters");
    }
    if (days < 1 || days > 36525) return fail(Errc::invalid_argument, "TSA validity days 1..36525");
    auto key = hsm::generate_ec_key_pair(pool, hsm::EcCurve::p256,
                                         hsm::KeySpec{std::string(kTsaKeyLabel), {}});
    if (!key) return tl::unexpected(key.error());
    auto cert = make_certificate(pool, *key, subject_cn, days);
    if (!cert) {
        // Do not leave a key without a certificate behind: a retry must work.
        (void)hsm::destroy_key(pool, *key, true);
        return tl::unexpected(cert.error().wrap("provisioning the TSA"));
    }
    return cert;
}

}  // namespace enclave::archive
