// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals of the enclave-pkcs11 provider shared by its source files.
//
// KeyData is the provider's keydata (what OpenSSL's EVP_PKEY points to). It
// holds the public key (an EVP_PKEY of the default provider in our library
// context, parsed from the token's SPKI) and, for token keys, a TokenKey: the
// hsm::Signer that runs private operations on the token. It never holds
// private key bytes.

#include <openssl/core.h>
#include <openssl/err.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "hsm/provider.hpp"
#include "hsm/signer.hpp"

namespace enclave::hsm::detail {

/// The algorithm family of a keymgmt / signature implementation.
enum class KeyKind { ec, ed25519, rsa };

/// One private key on the token, shared by every EVP_PKEY made from it.
struct TokenKey {
    Signer signer;    ///< thread-safe: each signature leases its own session
    std::string uri;  ///< for messages (names the key; never a PIN)
};

struct KeyData {
    explicit KeyData(KeyKind k) : kind(k) {}
    KeyKind kind;
    std::shared_ptr<TokenKey> token;  ///< null: a public key only (e.g. a certificate's)
    EvpPkeyPtr pub;                   ///< null until imported
};

/// The name of the provider-specific import parameter (an unsigned 64-bit
/// ticket issued by register_ticket()).
inline constexpr const char* kTicketParam = "enclave-token-ticket";

/// A provider-specific key parameter (int, get only): 1 for a token key, 0
/// for a public key imported into our keymgmt.
inline constexpr const char* kHasTokenParam = "enclave-token-key";

/// Stores `token` and `pub` under a fresh random ticket for one import.
std::uint64_t register_ticket(std::shared_ptr<TokenKey> token, EvpPkeyPtr pub);
/// Takes the entry out of the registry (one use only). False when unknown.
bool redeem_ticket(std::uint64_t ticket, std::shared_ptr<TokenKey>& token, EvpPkeyPtr& pub);

/// Keymgmt names as the default provider spells them ("EC", "ED25519", "RSA").
const char* keymgmt_name(KeyKind kind) noexcept;

/// The KEYMGMT algorithm table (EC, ED25519, RSA).
const OSSL_ALGORITHM* provider_keymgmt_algorithms() noexcept;
/// The SIGNATURE algorithm table (ENCLAVE-ECDSA, ENCLAVE-ED25519, ENCLAVE-RSA).
const OSSL_ALGORITHM* provider_signature_algorithms() noexcept;

/// Puts a provider error on the OpenSSL error queue: "<what>: <detail>".
/// Neither may carry a secret (they name operations, keys by URI, CKR
/// names). Does not allocate.
void raise_error(int reason, const char* what, std::string_view detail) noexcept;

/// Runs a provider callback body; any exception becomes an OpenSSL error and
/// `failure` (callbacks are C entry points: nothing may escape them).
template <class R, class F>
R guarded(const char* what, R failure, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        raise_error(ERR_R_MALLOC_FAILURE, what, "out of memory");
    } catch (...) {
        raise_error(ERR_R_INTERNAL_ERROR, what, "internal error (exception)");
    }
    return failure;
}

}  // namespace enclave::hsm::detail
