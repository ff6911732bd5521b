// SPDX-License-Identifier: Apache-2.0
// The provider's entry point, its library context and the key loader.
#include "hsm/provider.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <mutex>
#include <string>

#include "provider_keys.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

const OSSL_ALGORITHM* query_operation(void* /*provctx*/, int operation_id, int* no_cache) noexcept {
    *no_cache = 0;
    switch (operation_id) {
        case OSSL_OP_KEYMGMT: return detail::provider_keymgmt_algorithms();
        case OSSL_OP_SIGNATURE: return detail::provider_signature_algorithms();
        default: return nullptr;
    }
}

const OSSL_PARAM* gettable_params(void* /*provctx*/) noexcept {
    static const OSSL_PARAM kParams[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
        OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr),
        OSSL_PARAM_END,
    };
    return kParams;
}

int get_params(void* /*provctx*/, OSSL_PARAM params[]) noexcept {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, "Enclave PKCS#11 token keys") != 1) return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != nullptr && OSSL_PARAM_set_int(p, 1) != 1) return 0;
    return 1;
}

void teardown(void* /*provctx*/) noexcept {}

int provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* /*in*/,
                  const OSSL_DISPATCH** out, void** provctx) noexcept {
    static const OSSL_DISPATCH kDispatch[] = {
        {OSSL_FUNC_PROVIDER_QUERY_OPERATION, reinterpret_cast<void (*)()>(&query_operation)},
        {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, reinterpret_cast<void (*)()>(&gettable_params)},
        {OSSL_FUNC_PROVIDER_GET_PARAMS, reinterpret_cast<void (*)()>(&get_params)},
        {OSSL_FUNC_PROVIDER_TEARDOWN, reinterpret_cast<void (*)()>(&teardown)},
        {0, nullptr},
    };
    *out = kDispatch;
    // The provider keeps no per-context state; the handle is a non-null token.
    *provctx = const_cast<OSSL_CORE_HANDLE*>(handle);
    return 1;
}

/// The two library contexts (see provider.hpp for why there are two).
struct Contexts {
    OSSL_LIB_CTX* tls = nullptr;   ///< the default provider only
    OSSL_LIB_CTX* keys = nullptr;  ///< our provider (and the default one, for encoders)
    std::string error;
};

Contexts make_contexts() {
    Contexts c;
    OSSL_LIB_CTX* tls = OSSL_LIB_CTX_new();
    OSSL_LIB_CTX* keys = OSSL_LIB_CTX_new();
    // `keys` also has the default provider, only so that encoders exist for
    // i2d_PUBKEY / PEM_write_bio_PUBKEY on token keys (they export the public
    // part from our keymgmt). Our code never fetches a key type there without
    // naming our provider.
    const bool ok = tls != nullptr && keys != nullptr &&
                    OSSL_PROVIDER_load(tls, "default") != nullptr &&
                    OSSL_PROVIDER_add_builtin(keys, kProviderName, &provider_init) == 1 &&
                    OSSL_PROVIDER_load(keys, kProviderName) != nullptr &&
                    OSSL_PROVIDER_load(keys, "default") != nullptr;
    if (!ok) {
        c.error = "setting up the OpenSSL library contexts failed: " + drain_openssl_errors();
        OSSL_LIB_CTX_free(tls);  // also unloads what was loaded into it
        OSSL_LIB_CTX_free(keys);
        return c;
    }
    c.tls = tls;
    c.keys = keys;
    return c;
}

const Contexts& contexts() {
    // Never freed: SSL_CTXs and keys built in them may live until exit. The
    // pointers stay reachable, so LeakSanitizer does not count them.
    static const Contexts c = make_contexts();
    return c;
}

}  // namespace

Result<OSSL_LIB_CTX*> tls_libctx() {
    if (contexts().tls == nullptr) return fail(Errc::internal, contexts().error);
    return contexts().tls;
}

Result<OSSL_LIB_CTX*> token_key_libctx() {
    if (contexts().keys == nullptr) return fail(Errc::internal, contexts().error);
    return contexts().keys;
}

std::string drain_openssl_errors() {
    std::string out;
    char buf[256];
    const char* data = nullptr;
    int flags = 0;
    for (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags); e != 0;
         e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
        if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
            out += " (";
            out += data;
            out += ")";
        }
    }
    return out.empty() ? std::string("no OpenSSL error recorded") : out;
}

}  // namespace enclave::hsm
