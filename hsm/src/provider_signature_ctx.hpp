// SPDX-License-Identifier: Apache-2.0
#pragma once
// The state of one signature operation of the enclave-pkcs11 provider (the
// "algctx" OpenSSL keeps in an EVP_PKEY_CTX). Holds a reference to the token
// key, the hash state of a streaming digest-sign and the RSA-PSS settings;
// no secret (the data being signed is public handshake data, and the key is
// on the token).

#include <openssl/core.h>
#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <optional>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "provider_keys.hpp"

namespace enclave::hsm::detail {

class SigCtx {
public:
    explicit SigCtx(KeyKind kind) : kind_(kind) {}

    [[nodiscard]] std::unique_ptr<SigCtx> dup() const;

    /// Binds the key (which must be a token key) and resets the settings.
    /// `mdname` names the message hash (digest_sign_init) or is null;
    /// `streaming` (digest_sign_init) defaults the hash to SHA-256; the hash
    /// state itself is made on the first update.
    bool init(const KeyData* key, const char* mdname, bool streaming);
    bool set_params(const OSSL_PARAM* params);
    bool get_params(OSSL_PARAM* params) const;

    /// Signs a digest the caller computed (EVP_PKEY_sign).
    bool sign_digest(crypto::ByteView digest, unsigned char* sig, size_t* siglen, size_t sigsize);
    bool update(crypto::ByteView data);
    bool final(unsigned char* sig, size_t* siglen, size_t sigsize);
    /// EVP_DigestSign: hash (not for Ed25519) and sign `tbs`.
    bool one_shot(crypto::ByteView tbs, unsigned char* sig, size_t* siglen, size_t sigsize);

private:
    using MdCtxPtr = crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

    bool set_digest(const char* name);
    bool set_pad_mode(const OSSL_PARAM& p);
    bool set_saltlen(const OSSL_PARAM& p);
    bool set_mgf1(const OSSL_PARAM& p);
    bool start_hash();
    [[nodiscard]] std::size_t max_size() const;
    crypto::Result<crypto::Bytes> token_sign(crypto::ByteView digest);
    bool emit(crypto::Result<crypto::Bytes> signature, unsigned char* sig, size_t* siglen,
              size_t sigsize);

    KeyKind kind_;
    std::shared_ptr<TokenKey> token_;
    EvpPkeyPtr pub_;
    std::optional<crypto::HashAlg> hash_;
    MdCtxPtr md_;  ///< streaming hash state (digest_sign_update/final)
    bool pss_ = false;
    std::optional<crypto::HashAlg> mgf1_;
    int saltlen_ = -1;  ///< RSA_PSS_SALTLEN_DIGEST
};

}  // namespace enclave::hsm::detail
