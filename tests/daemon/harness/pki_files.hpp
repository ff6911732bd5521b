// SPDX-License-Identifier: Apache-2.0
#pragma once
// Certificate and key files for the daemon tests: reading what an instance
// holds, re-issuing a server certificate for the same token key (SIGHUP
// reload), and finding every private key in a file (the "no listener key on
// disk" check). Fresh CAs come from tests/support/test_pki.hpp.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::daemon_test {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using CertPtr = crypto::CHandle<X509, X509_free>;

/// A copy of `cert` with a new serial, re-signed by `ca_key` (same subject,
/// same public key, same extensions).
CertPtr reissue(X509* cert, EVP_PKEY* ca_key, long serial);

CertPtr read_certificate(const std::filesystem::path& pem);
std::vector<CertPtr> read_certificates(const std::filesystem::path& pem);
EvpPkeyPtr read_private_key(const std::filesystem::path& pem);
void write_certificate(const std::filesystem::path& pem, X509* cert, bool append = false);
void write_private_key(const std::filesystem::path& pem, EVP_PKEY* key);

/// SubjectPublicKeyInfo DER of a certificate's or key's public key.
crypto::Bytes spki_der(X509* cert);
crypto::Bytes spki_der(EVP_PKEY* key);
/// The serial as a decimal string.
std::string serial_of(X509* cert);

/// Every private key found in a file: PEM blocks of any private-key type
/// (PKCS#8, traditional EC/RSA, encrypted ones are reported as undecodable),
/// or the whole file as DER. Returns the public halves of the keys it decoded;
/// `undecodable` counts private-key PEM blocks it could not read.
std::vector<crypto::Bytes> private_keys_in_file(const std::filesystem::path& file,
                                                int& undecodable);

}  // namespace enclave::daemon_test
