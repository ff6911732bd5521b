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

const OSSL_ALGORITHM* query_operation(void* /*provctx*/, int operation_id,
                                      int* no_cache) noexcept {
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

struct LibCtxState {
    OSSL_LIB_CTX* libctx = nullptr;
    std::string error;
};

LibCtxState make_libctx() {
    LibCtxState st;
    OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
    if (ctx == nullptr) {
        st.error = "OSSL_LIB_CTX_new failed";
        return st;
    }
    // Default provider first: it does everything except our keys' private
    // operations, and the default property query prefers it.
    const bool ok = OSSL_PROVIDER_load(ctx, "default") != nullptr &&
                    OSSL_PROVIDER_add_builtin(ctx, kProviderName, &provider_init) == 1 &&
                    OSSL_PROVIDER_load(ctx, kProviderName) != nullptr &&
                    EVP_set_default_properties(ctx, "?provider=default") == 1;
    if (!ok) {
        st.error = "setting up the OpenSSL library context failed: " + drain_openssl_errors();
        OSSL_LIB_CTX_free(ctx);  // also unloads what was loaded into it
        return st;
    }
    st.libctx = ctx;
    return st;
}

}  // namespace

Result<OSSL_LIB_CTX*> provider_libctx() {
    // Never freed: SSL_CTXs and keys built in it may live until exit. The
    // pointer stays reachable, so LeakSanitizer does not count it.
    static const LibCtxState state = make_libctx();
    if (state.libctx == nullptr) return fail(Errc::internal, state.error);
    return state.libctx;
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
