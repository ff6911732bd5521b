// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by tsa.cpp, tsa_cert.cpp and tsa_verify.cpp: object identifiers of
// RFC 3161 / RFC 5652 / RFC 5035 and the TSA certificate checks.
// Holds no secret.

#include <openssl/x509.h>

#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"

namespace enclave::archive::detail {

using X509Ptr = crypto::CHandle<X509, X509_free>;

inline constexpr const char* kOidSignedData = "1.2.840.113549.1.7.2";
inline constexpr const char* kOidTstInfo = "1.2.840.113549.1.9.16.1.4";  // id-ct-TSTInfo
inline constexpr const char* kOidContentType = "1.2.840.113549.1.9.3";
inline constexpr const char* kOidMessageDigest = "1.2.840.113549.1.9.4";
inline constexpr const char* kOidSigningCertV2 = "1.2.840.113549.1.9.16.2.47";
inline constexpr const char* kOidEcdsaSha256 = "1.2.840.10045.4.3.2";
inline constexpr const char* kOidEcdsaSha384 = "1.2.840.10045.4.3.3";
inline constexpr const char* kOidEcdsaSha512 = "1.2.840.10045.4.3.4";

/// A certificate parsed in hsm::tls_libctx() (no trailing bytes).
/// malformed_input otherwise.
crypto::Result<X509Ptr> parse_certificate(crypto::ByteView der);

/// RFC 3161 section 2.3: one extendedKeyUsage extension, critical, whose only
/// purpose is id-kp-timeStamping. invalid_argument naming what is wrong.
crypto::Result<void> check_tsa_usage(X509& cert);

/// DER of the certificate's issuer Name and of its serialNumber INTEGER.
crypto::Result<crypto::Bytes> issuer_der(const X509& cert);
crypto::Result<crypto::Bytes> serial_der(const X509& cert);

}  // namespace enclave::archive::detail
