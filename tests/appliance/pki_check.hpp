// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers: verify a certificate chain with OpenSSL, read PEM files.

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "appliance/demo_pki.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::appliance::testing {

/// X509_verify_cert of `leaf` against the single trust anchor `ca` for an
/// SSL purpose (X509_PURPOSE_SSL_SERVER / _CLIENT). Returns the OpenSSL
/// verification error string, "" when it verifies.
inline std::string verify_chain(X509& leaf, X509& ca, int purpose) {
    crypto::CHandle<X509_STORE, X509_STORE_free> store(X509_STORE_new());
    crypto::CHandle<X509_STORE_CTX, X509_STORE_CTX_free> ctx(X509_STORE_CTX_new());
    if (!store || !ctx || X509_STORE_add_cert(store.get(), &ca) != 1 ||
        X509_STORE_CTX_init(ctx.get(), store.get(), &leaf, nullptr) != 1 ||
        X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1) {
        return "setup failed";
    }
    if (X509_verify_cert(ctx.get()) == 1) return "";
    return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline X509Ptr read_cert(const std::filesystem::path& p) {
    auto c = certificate_from_pem(read_text(p));
    return c ? std::move(*c) : nullptr;
}

}  // namespace enclave::appliance::testing
