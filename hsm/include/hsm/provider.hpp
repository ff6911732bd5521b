// SPDX-License-Identifier: Apache-2.0
#pragma once
// The OpenSSL 3 bridge: an in-process provider ("enclave-pkcs11") that lets
// OpenSSL, and TLS in particular, sign with private keys that never leave the
// PKCS#11 token. No ENGINE API (deprecated in 3.0, removed in 4.0).
//
// Library context. The provider lives in a dedicated OSSL_LIB_CTX
// (provider_libctx()) together with OpenSSL's default provider, and that
// context's default property query is "?provider=default". Why not the
// process-wide default context:
//   - our keymgmt answers to the names "EC", "ED25519" and "RSA" (libssl
//     classifies keys with EVP_PKEY_is_a), so in a context without a
//     property preference a plain fetch of "EC" (ECDHE key generation, peer
//     key decoding) could pick our keymgmt, which cannot generate keys;
//   - setting the preference on the default context would change every other
//     OpenSSL user in the process (and override any default_properties from
//     openssl.cnf).
// In our own context the default provider does everything (hashing,
// verification, key exchange, decoding peer certificates) and our
// implementations are reached only through keys that were built by our
// keymgmt: EVP_PKEY_CTX_new_from_name(libctx, type, "provider=enclave-pkcs11")
// for creation, and, for signing, OpenSSL fetches the signature named by our
// keymgmt's query_operation_name ("ENCLAVE-ECDSA", "ENCLAVE-ED25519",
// "ENCLAVE-RSA"), which only our provider offers. tls_context.cpp builds
// every SSL_CTX, trust store and file key in this context.
//
// Keys. A provider key (keydata) holds a reference to the token key (an
// hsm::Signer, which holds the SessionPool) and the public key (parsed from
// the token's SubjectPublicKeyInfo). It never holds private key bytes: there
// are none in memory. load_token_private_key() hands the token key to
// OpenSSL through EVP_PKEY_fromdata with a single provider-specific parameter
// carrying a one-shot ticket number (see provider_keys.hpp): the keydata is
// registered under a random 64-bit ticket before the call and the import
// takes it out of the registry, so a ticket cannot be replayed or guessed
// into another key.
//
// What OpenSSL may do with a provider key: sign (ECDSA P-256/P-384, Ed25519,
// RSA-PSS), compare public halves (EVP_PKEY_eq, X509_check_private_key,
// SSL_CTX_check_private_key), read parameters (bits, security bits, maximum
// signature size, group, encoded public key, default digest) and export the
// PUBLIC part only. Export or encoding of the private key fails
// (EVP_PKEY_todata with a private selection, i2d_PrivateKey,
// PEM_write_bio_PrivateKey). Verification is left to the default provider
// (libssl verifies the peer's signatures with the peer's key).
//
// Concurrency: every signature leases its own PKCS#11 session from the pool
// (hsm::Signer); there is no lock of ours around signing.
//
// fork(): in a child, the provider's keys fail cleanly (signing returns an
// error, never touches the parent's session handles) until the module and
// the pool are re-initialised (Module::reinitialize_after_fork(), then
// SessionPool::reset_after_fork()); afterwards the same EVP_PKEYs work again.
//
// Holds no secret.

#include <openssl/evp.h>
#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;

/// The provider's name (OSSL_PROVIDER_add_builtin) and property value.
inline constexpr const char* kProviderName = "enclave-pkcs11";

/// The library context holding the default provider and ours, created on
/// first use (thread-safe) and kept for the process lifetime. internal when
/// OpenSSL cannot create it.
crypto::Result<OSSL_LIB_CTX*> provider_libctx();

/// The private key named by `pkcs11_uri` (its object/id/type attributes; the
/// token is `pool`'s) as an EVP_PKEY in provider_libctx() whose private
/// operations run on the token. EC P-256/P-384, Ed25519 and RSA keys.
/// Errors: malformed_input / invalid_argument (URI), hsm_object_not_found,
/// unsupported_algorithm (an AES key), unavailable (fork), crypto_failure.
crypto::Result<EvpPkeyPtr> load_token_private_key(std::shared_ptr<SessionPool> pool,
                                                  std::string_view pkcs11_uri);

/// True when `key` is backed by the token through our provider.
bool is_token_key(const EVP_PKEY* key) noexcept;

/// The OpenSSL error queue as "reason; reason" text (emptied). Used to add
/// OpenSSL's reasons to our error contexts; it names functions and reasons
/// only.
std::string drain_openssl_errors();

}  // namespace enclave::hsm
