// SPDX-License-Identifier: Apache-2.0
#pragma once
// PKCS#11 return values (CK_RV) as Enclave errors. Every failing C_* call is
// turned into an Error whose context names the operation and the CKR name
// ("C_Login: CKR_PIN_INCORRECT"), never a PIN or key byte.

#include <string_view>

#include <p11-kit/pkcs11.h>

#include "crypto/result.hpp"

namespace enclave::hsm {

/// "CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED+0x..." style names are not built:
/// unknown values give "CKR_UNKNOWN".
std::string_view ckr_name(CK_RV rv) noexcept;

/// The Errc for a CK_RV: CKR_PIN_INCORRECT -> hsm_pin_incorrect, CKR_PIN_LOCKED ->
/// hsm_pin_locked, CKR_SLOT_ID_INVALID / CKR_TOKEN_NOT_RECOGNIZED -> hsm_token_not_found,
/// CKR_OBJECT_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID -> hsm_object_not_found,
/// CKR_CRYPTOKI_NOT_INITIALIZED and every is_token_unavailable() code -> unavailable,
/// anything else hsm_error.
crypto::Errc ckr_errc(CK_RV rv) noexcept;

/// The codes by which a module says that the token (or our session or login
/// on it) went away while we were using it: CKR_DEVICE_REMOVED,
/// CKR_DEVICE_ERROR, CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID,
/// CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN. They map to Errc::unavailable;
/// the cure is SessionPool::recover(), not a different request.
bool is_token_unavailable(CK_RV rv) noexcept;

/// Error for a failed call: context "<what>: <CKR name> (0x<hex>)".
crypto::Error ckr_error(CK_RV rv, std::string_view what);

/// Logs "<what>: <CKR name> (0x<hex>)" without allocating (for destructors,
/// which must not throw, not even bad_alloc).
void log_ckr_failure(bool error, const char* what, CK_RV rv) noexcept;

/// `return fail_ckr(rv, "C_Sign");`
inline tl::unexpected<crypto::Error> fail_ckr(CK_RV rv, std::string_view what) {
    return tl::unexpected<crypto::Error>(ckr_error(rv, what));
}

}  // namespace enclave::hsm
