// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helper: verify token signatures with OpenSSL from an exported SPKI, an
// implementation independent of the token.

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"

namespace enclave::testing {

inline EVP_PKEY* parse_spki(const crypto::Bytes& spki) {
    const unsigned char* p = spki.data();
    EVP_PKEY* key = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
    return (key != nullptr && p == spki.data() + spki.size()) ? key : nullptr;
}

inline const EVP_MD* md_of(crypto::HashAlg h) {
    switch (h) {
        case crypto::HashAlg::sha256: return EVP_sha256();
        case crypto::HashAlg::sha384: return EVP_sha384();
        case crypto::HashAlg::sha512: return EVP_sha512();
        default: return nullptr;
    }
}

/// ECDSA (DER signature) or Ed25519 (md == nullptr) or RSA-PSS (pss == true,
/// salt = hash length) verification. True only when the signature verifies.
inline bool openssl_verify(const crypto::Bytes& spki, const EVP_MD* md, crypto::ByteView message,
                           crypto::ByteView signature, bool pss = false) {
    EVP_PKEY* key = parse_spki(spki);
    if (key == nullptr) return false;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key) == 1;
    if (ok && pss) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
    }
    ok = ok && EVP_DigestVerify(ctx, signature.data(), signature.size(), message.data(),
                                message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}

}  // namespace enclave::testing
