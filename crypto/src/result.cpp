// SPDX-License-Identifier: Apache-2.0
#include "crypto/result.hpp"

namespace enclave::crypto {

std::string_view errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::invalid_argument: return "invalid_argument";
        case Errc::malformed_input: return "malformed_input";
        case Errc::too_large: return "too_large";
        case Errc::unsupported_algorithm: return "unsupported_algorithm";
        case Errc::salt_too_short: return "salt_too_short";
        case Errc::hash_mismatch: return "hash_mismatch";
        case Errc::integrity_failure: return "integrity_failure";
        case Errc::not_found: return "not_found";
        case Errc::already_exists: return "already_exists";
        case Errc::io_error: return "io_error";
        case Errc::crypto_failure: return "crypto_failure";
        case Errc::hsm_module: return "hsm_module";
        case Errc::hsm_token_not_found: return "hsm_token_not_found";
        case Errc::hsm_object_not_found: return "hsm_object_not_found";
        case Errc::hsm_pin_incorrect: return "hsm_pin_incorrect";
        case Errc::hsm_pin_locked: return "hsm_pin_locked";
        case Errc::hsm_error: return "hsm_error";
        case Errc::db_error: return "db_error";
        case Errc::db_wrong_key: return "db_wrong_key";
        case Errc::unavailable: return "unavailable";
        case Errc::invalid_state: return "invalid_state";
        case Errc::expired: return "expired";
        case Errc::permission_denied: return "permission_denied";
        case Errc::resource_exhausted: return "resource_exhausted";
        case Errc::internal: return "internal";
    }
    return "unknown";
}

std::string Error::message() const {
    std::string out(errc_name(code_));
    if (!context_.empty()) {
        out += ": ";
        out += context_;
    }
    return out;
}

Error Error::wrap(std::string_view outer) const {
    std::string ctx(outer);
    ctx += ": ";
    ctx += context_;
    return Error(code_, std::move(ctx));
}

}  // namespace enclave::crypto
