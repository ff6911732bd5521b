// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small X.509 issuer for the demo PKI that `enclavectl init` builds (and,
// later, for the `cert` commands). OpenSSL 3 only; every handle is RAII.
//
// The issuer signs with a key it holds (the demo CA's file key); the subject
// key is only a public key. For the appliance's own certificates that public
// key comes from the token (hsm::export_public_key_spki): the private half
// never leaves the token and is never seen here.
//
// Holds: private_key_to_pem() returns the PEM of a file key in a
// crypto::Secret (sodium_malloc'd, wiped on destruction); the intermediate
// OpenSSL buffer is a secure-heap BIO (BIO_s_secmem), cleansed when freed.
// Nothing else here carries secret material: EVP_PKEY objects free their
// private parts with OpenSSL's clearing free.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = crypto::CHandle<X509, X509_free>;

/// Subject of the demo CA: says plainly what it is.
inline constexpr std::string_view kDemoCaCommonName = "Enclave DEMO CA - not for production";
/// Organisation of every demo certificate.
inline constexpr std::string_view kDemoOrganization = "Enclave DEMO - not for production";

enum class CertUsage {
    ca,      ///< CA:TRUE, pathlen 0, keyCertSign + cRLSign
    server,  ///< CA:FALSE, digitalSignature, EKU serverAuth
    client,  ///< CA:FALSE, digitalSignature, EKU clientAuth
};

struct CertProfile {
    std::string common_name;                      ///< 1..64 bytes UTF-8
    std::string organization{kDemoOrganization};  ///< "" = none
    CertUsage usage = CertUsage::server;
    std::vector<std::string> dns_names;     ///< subjectAltName DNS entries
    std::vector<std::string> ip_addresses;  ///< subjectAltName IP entries (v4 or v6 literals)
    int validity_days = 365;                ///< 1..3650; notBefore is now - 5 minutes
};

/// A fresh EC P-256 key pair in memory (for the demo CA and the demo
/// parties' client keys, which are files by design).
crypto::Result<EvpPkeyPtr> generate_p256_key();

/// Parses a DER SubjectPublicKeyInfo (e.g. a token key's). malformed_input
/// for anything that is not exactly one SPKI.
crypto::Result<EvpPkeyPtr> public_key_from_spki(crypto::ByteView spki_der);
/// DER SubjectPublicKeyInfo of a key (public part only).
crypto::Result<crypto::Bytes> public_key_spki(const EVP_PKEY& key);

/// A self-signed CA certificate for `ca_key` (profile.usage must be ca).
crypto::Result<X509Ptr> make_ca_certificate(EVP_PKEY& ca_key, const CertProfile& profile);
/// A certificate for `subject_key` (its public part is used) issued by
/// `issuer` / `issuer_key`: random positive 128-bit serial, SHA-256
/// signature, subjectKeyIdentifier and authorityKeyIdentifier.
crypto::Result<X509Ptr> issue_certificate(X509& issuer, EVP_PKEY& issuer_key, EVP_PKEY& subject_key,
                                          const CertProfile& profile);

/// PEM encodings.
crypto::Result<std::string> certificate_to_pem(const X509& cert);
/// PKCS#8 PEM, unencrypted (the file's mode protects it), in secure memory.
crypto::Result<crypto::Secret> private_key_to_pem(const EVP_PKEY& key);
/// The first certificate of a PEM text. malformed_input when there is none.
crypto::Result<X509Ptr> certificate_from_pem(std::string_view pem);
/// Every certificate of a PEM text (at least one; at most 64).
crypto::Result<std::vector<X509Ptr>> certificates_from_pem(std::string_view pem);
/// A private key from PEM held in a Secret.
crypto::Result<EvpPkeyPtr> private_key_from_pem(const crypto::Secret& pem);

/// DER SubjectPublicKeyInfo of a certificate's key.
crypto::Result<crypto::Bytes> certificate_spki(const X509& cert);

}  // namespace enclave::appliance
