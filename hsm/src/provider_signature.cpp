// SPDX-License-Identifier: Apache-2.0
// SIGNATURE of the enclave-pkcs11 provider. The private operation runs on the
// token through hsm::Signer (one leased PKCS#11 session per signature, no
// lock of ours around it); hashing runs here with the default provider.
//
//   ENCLAVE-ECDSA    sign (a digest), digest_sign_init/update/final and
//                    one-shot digest_sign; output DER ECDSA-Sig-Value
//   ENCLAVE-ED25519  digest_sign_init + one-shot digest_sign (pure Ed25519)
//   ENCLAVE-RSA      like ECDSA, RSA-PSS only: pad-mode must be set to PSS
//                    (what libssl does for rsa_pss_rsae_*); the MGF1 hash
//                    must equal the message hash; salt length "digest" (-1),
//                    "max" (-2), "auto" (-3/-4, = max when signing) or a
//                    number. PKCS#1 v1.5 is refused rather than silently
//                    replaced by PSS.
// Verification is not offered: peers' signatures are verified with their
// keys by the default provider.
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "crypto/digest.hpp"
#include "provider_keys.hpp"
#include "provider_signature_ctx.hpp"

namespace enclave::hsm::detail {
namespace {

using crypto::HashAlg;

template <KeyKind K>
void* sig_newctx(void* /*provctx*/, const char* /*propq*/) noexcept {
    return guarded<void*>("signature newctx", nullptr, [] { return new SigCtx(K); });
}

void sig_freectx(void* ctx) noexcept { delete static_cast<SigCtx*>(ctx); }

void* sig_dupctx(void* ctx) noexcept {
    return guarded<void*>("signature dupctx", nullptr,
                          [&] { return static_cast<SigCtx*>(ctx)->dup().release(); });
}

int sig_sign_init(void* ctx, void* keydata, const OSSL_PARAM params[]) noexcept {
    return guarded("sign_init", 0, [&] {
        auto* c = static_cast<SigCtx*>(ctx);
        return c->init(static_cast<const KeyData*>(keydata), nullptr, false) &&
                       c->set_params(params)
                   ? 1
                   : 0;
    });
}

int sig_sign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
             const unsigned char* tbs, size_t tbslen) noexcept {
    return guarded("sign", 0, [&] {
        return static_cast<SigCtx*>(ctx)->sign_digest({tbs, tbslen}, sig, siglen, sigsize) ? 1 : 0;
    });
}

int sig_digest_sign_init(void* ctx, const char* mdname, void* keydata,
                         const OSSL_PARAM params[]) noexcept {
    return guarded("digest_sign_init", 0, [&] {
        auto* c = static_cast<SigCtx*>(ctx);
        return c->init(static_cast<const KeyData*>(keydata), mdname, true) && c->set_params(params)
                   ? 1
                   : 0;
    });
}

int sig_digest_sign_update(void* ctx, const unsigned char* data, size_t len) noexcept {
    return guarded("digest_sign_update", 0, [&] {
        return static_cast<SigCtx*>(ctx)->update({data, len}) ? 1 : 0;
    });
}

int sig_digest_sign_final(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize) noexcept {
    return guarded("digest_sign_final", 0,
                   [&] { return static_cast<SigCtx*>(ctx)->final(sig, siglen, sigsize) ? 1 : 0; });
}

int sig_digest_sign(void* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                    const unsigned char* tbs, size_t tbslen) noexcept {
    return guarded("digest_sign", 0, [&] {
        return static_cast<SigCtx*>(ctx)->one_shot({tbs, tbslen}, sig, siglen, sigsize) ? 1 : 0;
    });
}

int sig_set_ctx_params(void* ctx, const OSSL_PARAM params[]) noexcept {
    return guarded("set_ctx_params", 0,
                   [&] { return static_cast<SigCtx*>(ctx)->set_params(params) ? 1 : 0; });
}

int sig_get_ctx_params(void* ctx, OSSL_PARAM params[]) noexcept {
    return guarded("get_ctx_params", 0,
                   [&] { return static_cast<SigCtx*>(ctx)->get_params(params) ? 1 : 0; });
}

template <KeyKind K>
const OSSL_PARAM* sig_settable_ctx_params(void* /*ctx*/, void* /*provctx*/) noexcept {
    static const OSSL_PARAM kDigestOnly[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0), OSSL_PARAM_END};
    static const OSSL_PARAM kNone[] = {OSSL_PARAM_END};
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0), OSSL_PARAM_END};
    if constexpr (K == KeyKind::ec) return kDigestOnly;
    if constexpr (K == KeyKind::ed25519) return kNone;
    return kRsa;
}

const OSSL_PARAM* sig_gettable_ctx_params(void* /*ctx*/, void* /*provctx*/) noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0), OSSL_PARAM_END};
    return kParams;
}

template <class F>
void (*fn(F* f))() {
    return reinterpret_cast<void (*)()>(f);
}

template <KeyKind K>
const OSSL_DISPATCH* signature_dispatch() noexcept {
    // Ed25519 has no pre-hashed or streaming form (pure EdDSA); OpenSSL
    // requires sign_init/sign and digest_sign_update/final in pairs, so the
    // table ends early for it.
    static const OSSL_DISPATCH kTable[] = {
        {OSSL_FUNC_SIGNATURE_NEWCTX, fn(&sig_newctx<K>)},
        {OSSL_FUNC_SIGNATURE_FREECTX, fn(&sig_freectx)},
        {OSSL_FUNC_SIGNATURE_DUPCTX, fn(&sig_dupctx)},
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, fn(&sig_digest_sign_init)},
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, fn(&sig_digest_sign)},
        {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, fn(&sig_set_ctx_params)},
        {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, fn(&sig_settable_ctx_params<K>)},
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, fn(&sig_get_ctx_params)},
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, fn(&sig_gettable_ctx_params)},
        {K == KeyKind::ed25519 ? 0 : OSSL_FUNC_SIGNATURE_SIGN_INIT, fn(&sig_sign_init)},
        {OSSL_FUNC_SIGNATURE_SIGN, fn(&sig_sign)},
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, fn(&sig_digest_sign_update)},
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, fn(&sig_digest_sign_final)},
        {0, nullptr}};
    return kTable;
}

}  // namespace

const OSSL_ALGORITHM* provider_signature_algorithms() noexcept {
    static const OSSL_ALGORITHM kAlgorithms[] = {
        {"ENCLAVE-ECDSA", "provider=enclave-pkcs11", signature_dispatch<KeyKind::ec>(),
         "ECDSA with a PKCS#11 token key"},
        {"ENCLAVE-ED25519", "provider=enclave-pkcs11", signature_dispatch<KeyKind::ed25519>(),
         "Ed25519 with a PKCS#11 token key"},
        {"ENCLAVE-RSA", "provider=enclave-pkcs11", signature_dispatch<KeyKind::rsa>(),
         "RSA-PSS with a PKCS#11 token key"},
        {nullptr, nullptr, nullptr, nullptr}};
    return kAlgorithms;
}

}  // namespace enclave::hsm::detail
