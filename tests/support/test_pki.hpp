// SPDX-License-Identifier: Apache-2.0
#pragma once
// A throw-away PKI for tests and benchmarks, generated at run time with
// OpenSSL: a CA with a file key (P-256) that issues leaf certificates for any
// public key (e.g. a token key's SPKI), with SANs and key usages, CRLs, and
// PEM writers. Nothing here is fit for production: the CA key sits in memory
// and on disk in the clear. Failures throw std::runtime_error.
//
// Holds: the CA's private key (an EVP_PKEY; test material, not a secret of
// the appliance).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::testing {

using PkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using CertPtr = crypto::CHandle<X509, X509_free>;
using CrlPtr = crypto::CHandle<X509_CRL, X509_CRL_free>;

/// File key algorithms for test keys.
enum class TestKeyType { ec_p256, ec_p384, ed25519, rsa2048, rsa3072 };

/// A fresh key pair in the default library context.
PkeyPtr generate_test_key(TestKeyType type);
/// SubjectPublicKeyInfo DER of a key.
crypto::Bytes spki_der(EVP_PKEY* key);
/// The public key of an SPKI DER.
PkeyPtr parse_spki(crypto::ByteView spki);

struct LeafSpec {
    std::string common_name = "enclave-test";
    std::vector<std::string> dns;  ///< subjectAltName dNSName entries
    std::vector<std::string> ips;  ///< subjectAltName iPAddress entries (v4 or v6 text)
    bool server_auth = true;       ///< extendedKeyUsage serverAuth
    bool client_auth = true;       ///< extendedKeyUsage clientAuth
    int days = 30;
    int not_before_offset_days = -1;  ///< validity starts this many days from now
};

class TestCa {
public:
    /// A self-signed CA ("CN=<name>") with a fresh key of `key_type` (P-256
    /// by default; an RSA CA signs with sha256WithRSAEncryption, PKCS#1 v1.5,
    /// as most deployed CAs do; an Ed25519 CA with pure Ed25519).
    explicit TestCa(const std::string& name, TestKeyType key_type = TestKeyType::ec_p256);

    /// A leaf certificate for `public_key` (SPKI DER), signed by this CA, with
    /// a random serial, keyUsage digitalSignature (critical), the requested
    /// extendedKeyUsage and SANs.
    [[nodiscard]] CertPtr issue(crypto::ByteView public_key, const LeafSpec& spec) const;
    [[nodiscard]] CertPtr issue(EVP_PKEY* public_key, const LeafSpec& spec) const;
    /// An intermediate CA certificate for `sub` signed by this CA.
    [[nodiscard]] CertPtr issue_ca(const TestCa& sub) const;
    /// A CRL (valid from now for a day) revoking `revoked`.
    [[nodiscard]] CrlPtr crl(const std::vector<const X509*>& revoked) const;

    [[nodiscard]] X509* cert() const noexcept { return cert_.get(); }
    [[nodiscard]] EVP_PKEY* key() const noexcept { return key_.get(); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
    PkeyPtr key_;
    CertPtr cert_;
};

/// PEM writers (the file is replaced; mode 0600 for private keys).
void write_pem_certs(const std::filesystem::path& path, const std::vector<const X509*>& certs);
void write_pem_key(const std::filesystem::path& path, EVP_PKEY* key);
void write_pem_crl(const std::filesystem::path& path, const X509_CRL* crl);

}  // namespace enclave::testing
