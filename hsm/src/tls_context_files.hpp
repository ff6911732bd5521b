// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading the PEM files a TLS endpoint names: certificate chains, trust
// bundles, CRLs and (for tests and demo peers only) private-key files.
//
// Every file must be a regular file (symlinks to one are followed) of at most
// kMaxPemFileSize bytes, and must hold at least one PEM block, every block of
// the expected kind. Errors name the file and the reason, never file content.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>
#include <vector>

#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"
#include "hsm/provider.hpp"

namespace enclave::hsm::detail {

using X509Ptr = crypto::CHandle<X509, X509_free>;
using X509CrlPtr = crypto::CHandle<X509_CRL, X509_CRL_free>;
using X509StorePtr = crypto::CHandle<X509_STORE, X509_STORE_free>;

/// Certificates of a PEM file in file order ("CERTIFICATE" blocks only).
crypto::Result<std::vector<X509Ptr>> read_certificates(const std::filesystem::path& path,
                                                       OSSL_LIB_CTX* libctx);

/// CRLs of a PEM file ("X509 CRL" blocks only).
crypto::Result<std::vector<X509CrlPtr>> read_crls(const std::filesystem::path& path,
                                                  OSSL_LIB_CTX* libctx);

/// A PEM private key file (unencrypted PKCS#8 or traditional). The file's
/// bytes pass through a crypto::Secret only.
crypto::Result<EvpPkeyPtr> read_private_key_file(const std::filesystem::path& path,
                                                 OSSL_LIB_CTX* libctx);

/// A verification store holding exactly the certificates of `anchors` (no
/// system default paths) and, when `crl` is not empty, its CRLs with
/// X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL. `subjects` receives the
/// anchors' subject names (the client CA list a server sends).
crypto::Result<X509StorePtr> make_trust_store(const std::filesystem::path& anchors,
                                              const std::filesystem::path& crl,
                                              OSSL_LIB_CTX* libctx, STACK_OF(X509_NAME) * subjects);

}  // namespace enclave::hsm::detail
