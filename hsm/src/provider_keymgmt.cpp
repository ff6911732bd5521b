// SPDX-License-Identifier: Apache-2.0
// KEYMGMT of the enclave-pkcs11 provider: EC (P-256, P-384), ED25519, RSA.
//
// What libssl and libcrypto call on our keys, and what we answer:
//   new/free/dup       KeyData lifetime (dup shares the TokenKey)
//   has                public part always (after import); private part only
//                      for token keys
//   match              public parts compared through the default provider
//                      (EVP_PKEY_eq, X509_check_private_key, libssl's
//                      SSL_CTX_check_private_key)
//   import             (a) our ticket parameter: a token key from
//                      load_token_private_key(); (b) public parameters only
//                      (EVP_PKEY_eq imports a certificate's key here to
//                      compare); any private component is refused
//   export             the public part only; a selection that includes the
//                      private key fails (nothing to export: it is on the token)
//   get_params         forwarded to the public key: bits, security-bits,
//                      max-size, default-digest / mandatory-digest, group,
//                      point-format, encoded-pub-key, pub, n, e
//   query_operation_name  "ENCLAVE-ECDSA" / "ENCLAVE-ED25519" / "ENCLAVE-RSA":
//                      names only our provider offers, so signing with our
//                      key always uses our signature implementation
// No gen, load or validate: keys are created on the token (hsm/keygen.hpp).
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>
#include <string_view>

#include "provider_keys.hpp"

namespace enclave::hsm::detail {
namespace {

using KeyDataPtr = std::unique_ptr<KeyData>;

bool is_private_param(std::string_view key) {
    return key == OSSL_PKEY_PARAM_PRIV_KEY || key == OSSL_PKEY_PARAM_RSA_D ||
           key.starts_with("rsa-factor") || key.starts_with("rsa-exponent") ||
           key.starts_with("rsa-coefficient");
}

bool has_private_param(const OSSL_PARAM* params) {
    for (const OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p) {
        if (is_private_param(p->key)) return true;
    }
    return false;
}

/// A public key of the default provider in our library context from params.
EvpPkeyPtr public_from_params(KeyKind kind, const OSSL_PARAM* params) {
    auto libctx = tls_libctx();
    if (!libctx) return nullptr;
    crypto::CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
        EVP_PKEY_CTX_new_from_name(*libctx, keymgmt_name(kind), nullptr));
    EVP_PKEY* out = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
            1) {
        return nullptr;
    }
    return EvpPkeyPtr(out);
}

template <KeyKind K>
void* km_new(void* /*provctx*/) noexcept {
    return guarded<void*>("keymgmt new", nullptr, [] { return new KeyData(K); });
}

void km_free(void* keydata) noexcept { delete static_cast<KeyData*>(keydata); }

int km_has(const void* keydata, int selection) noexcept {
    const auto* kd = static_cast<const KeyData*>(keydata);
    if (kd == nullptr) return 0;
    int ok = 1;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0) ok &= kd->pub != nullptr ? 1 : 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) ok &= kd->token != nullptr ? 1 : 0;
    if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && kd->kind == KeyKind::ec) {
        ok &= kd->pub != nullptr ? 1 : 0;
    }
    return ok;
}

int km_match(const void* a, const void* b, int selection) noexcept {
    return guarded("keymgmt match", 0, [&] {
        const auto* ka = static_cast<const KeyData*>(a);
        const auto* kb = static_cast<const KeyData*>(b);
        if (ka == nullptr || kb == nullptr || ka->kind != kb->kind || !ka->pub || !kb->pub)
            return 0;
        // Both halves of a key pair are fixed by the public key, so a private
        // or public selection compares the public keys (and their group).
        if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
            return EVP_PKEY_eq(ka->pub.get(), kb->pub.get()) == 1 ? 1 : 0;
        }
        return EVP_PKEY_parameters_eq(ka->pub.get(), kb->pub.get()) == 1 ? 1 : 0;
    });
}

int km_import(void* keydata, int selection, const OSSL_PARAM params[]) noexcept {
    return guarded("keymgmt import", 0, [&] {
        auto* kd = static_cast<KeyData*>(keydata);
        if (kd == nullptr || params == nullptr) return 0;
        if (const OSSL_PARAM* t = OSSL_PARAM_locate_const(params, kTicketParam); t != nullptr) {
            std::uint64_t ticket = 0;
            if (OSSL_PARAM_get_uint64(t, &ticket) != 1 ||
                !redeem_ticket(ticket, kd->token, kd->pub)) {
                raise_error(ERR_R_PASSED_INVALID_ARGUMENT, "keymgmt import",
                            "unknown or already used token key ticket");
                return 0;
            }
            return 1;
        }
        if (has_private_param(params)) {
            raise_error(ERR_R_UNSUPPORTED, "keymgmt import",
                        "private key material cannot be imported: enclave-pkcs11 keys live on "
                        "the PKCS#11 token");
            return 0;
        }
        if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0) {
            raise_error(ERR_R_UNSUPPORTED, "keymgmt import", "only public keys can be imported");
            return 0;
        }
        kd->pub = public_from_params(kd->kind, params);
        if (!kd->pub) {
            raise_error(ERR_R_PASSED_INVALID_ARGUMENT, "keymgmt import", "not a valid public key");
            return 0;
        }
        return 1;
    });
}

int km_export(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) noexcept {
    return guarded("keymgmt export", 0, [&] {
        auto* kd = static_cast<KeyData*>(keydata);
        if (kd == nullptr || !kd->pub || cb == nullptr) return 0;
        if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
            raise_error(ERR_R_UNSUPPORTED, "keymgmt export",
                        "the private key stays on the PKCS#11 token and cannot be exported");
            return 0;
        }
        const int what = (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0
                             ? EVP_PKEY_PUBLIC_KEY
                             : EVP_PKEY_KEY_PARAMETERS;
        OSSL_PARAM* out = nullptr;
        if (EVP_PKEY_todata(kd->pub.get(), what, &out) != 1) return 0;
        const int rc = cb(out, cbarg);
        OSSL_PARAM_free(out);
        return rc;
    });
}

int km_get_params(void* keydata, OSSL_PARAM params[]) noexcept {
    return guarded("keymgmt get_params", 0, [&] {
        auto* kd = static_cast<KeyData*>(keydata);
        if (kd == nullptr || !kd->pub) return 0;
        OSSL_PARAM* p = OSSL_PARAM_locate(params, kHasTokenParam);
        if (p != nullptr && OSSL_PARAM_set_int(p, kd->token ? 1 : 0) != 1) return 0;
        return EVP_PKEY_get_params(kd->pub.get(), params) == 1 ? 1 : 0;
    });
}

template <KeyKind K>
const OSSL_PARAM* km_gettable_params(void* /*provctx*/) noexcept {
    static const OSSL_PARAM kEc[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_END};
    static const OSSL_PARAM kEd[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
        OSSL_PARAM_END};
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
        OSSL_PARAM_END};
    if constexpr (K == KeyKind::ec) return kEc;
    if constexpr (K == KeyKind::ed25519) return kEd;
    return kRsa;
}

/// Import and export take the public parameters (and our ticket on import).
template <KeyKind K>
const OSSL_PARAM* km_import_types(int /*selection*/) noexcept {
    static const OSSL_PARAM kEc[] = {OSSL_PARAM_uint64(kTicketParam, nullptr),
                                     OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
                                     OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
                                     OSSL_PARAM_END};
    static const OSSL_PARAM kEd[] = {OSSL_PARAM_uint64(kTicketParam, nullptr),
                                     OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
                                     OSSL_PARAM_END};
    static const OSSL_PARAM kRsa[] = {
        OSSL_PARAM_uint64(kTicketParam, nullptr), OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0), OSSL_PARAM_END};
    if constexpr (K == KeyKind::ec) return kEc;
    if constexpr (K == KeyKind::ed25519) return kEd;
    return kRsa;
}

template <KeyKind K>
const OSSL_PARAM* km_export_types(int selection) noexcept {
    // The same list without the ticket.
    return km_import_types<K>(selection) + 1;
}

template <KeyKind K>
const char* km_query_operation_name(int operation_id) noexcept {
    if (operation_id != OSSL_OP_SIGNATURE) return nullptr;
    if constexpr (K == KeyKind::ec) return "ENCLAVE-ECDSA";
    if constexpr (K == KeyKind::ed25519) return "ENCLAVE-ED25519";
    return "ENCLAVE-RSA";
}

void* km_dup(const void* from, int selection) noexcept {
    return guarded<void*>("keymgmt dup", nullptr, [&]() -> void* {
        const auto* src = static_cast<const KeyData*>(from);
        if (src == nullptr) return nullptr;
        auto out = std::make_unique<KeyData>(src->kind);
        if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) out->token = src->token;
        if (src->pub && (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
                                      OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) != 0) {
            if (EVP_PKEY_up_ref(src->pub.get()) != 1) return nullptr;
            out->pub.reset(src->pub.get());
        }
        return out.release();
    });
}

template <class F>
void (*fn(F* f))() {
    return reinterpret_cast<void (*)()>(f);
}

template <KeyKind K>
const OSSL_DISPATCH* keymgmt_dispatch() noexcept {
    static const OSSL_DISPATCH kTable[] = {
        {OSSL_FUNC_KEYMGMT_NEW, fn(&km_new<K>)},
        {OSSL_FUNC_KEYMGMT_FREE, fn(&km_free)},
        {OSSL_FUNC_KEYMGMT_DUP, fn(&km_dup)},
        {OSSL_FUNC_KEYMGMT_HAS, fn(&km_has)},
        {OSSL_FUNC_KEYMGMT_MATCH, fn(&km_match)},
        {OSSL_FUNC_KEYMGMT_IMPORT, fn(&km_import)},
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, fn(&km_import_types<K>)},
        {OSSL_FUNC_KEYMGMT_EXPORT, fn(&km_export)},
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, fn(&km_export_types<K>)},
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, fn(&km_get_params)},
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, fn(&km_gettable_params<K>)},
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, fn(&km_query_operation_name<K>)},
        {0, nullptr}};
    return kTable;
}

}  // namespace

const char* keymgmt_name(KeyKind kind) noexcept {
    switch (kind) {
        case KeyKind::ec: return "EC";
        case KeyKind::ed25519: return "ED25519";
        case KeyKind::rsa: return "RSA";
    }
    return "EC";
}

const OSSL_ALGORITHM* provider_keymgmt_algorithms() noexcept {
    // The names (with aliases) of the default provider, so EVP_PKEY_is_a(k,
    // "EC") and the legacy type id work on our keys.
    static const OSSL_ALGORITHM kAlgorithms[] = {
        {"EC:id-ecPublicKey:1.2.840.10045.2.1", "provider=enclave-pkcs11",
         keymgmt_dispatch<KeyKind::ec>(), "EC keys on a PKCS#11 token"},
        {"ED25519:1.3.101.112", "provider=enclave-pkcs11", keymgmt_dispatch<KeyKind::ed25519>(),
         "Ed25519 keys on a PKCS#11 token"},
        {"RSA:rsaEncryption:1.2.840.113549.1.1.1", "provider=enclave-pkcs11",
         keymgmt_dispatch<KeyKind::rsa>(), "RSA keys on a PKCS#11 token"},
        {nullptr, nullptr, nullptr, nullptr}};
    return kAlgorithms;
}

void raise_error(int reason, const char* what, std::string_view detail) noexcept {
    ERR_raise_data(ERR_LIB_PROV, reason, "enclave-pkcs11 %s: %.*s", what,
                   static_cast<int>(detail.size()), detail.data());
}

}  // namespace enclave::hsm::detail
