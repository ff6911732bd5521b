// SPDX-License-Identifier: Apache-2.0
#pragma once
// The OpenSSL 3 bridge: an in-process provider ("enclave-pkcs11") that lets
// OpenSSL, and TLS in particular, sign with private keys that never leave the
// PKCS#11 token. No ENGINE API (deprecated in 3.0, removed in 4.0).
//
// Library contexts. Two dedicated OSSL_LIB_CTXs, neither of them the
// process-wide default:
//   - tls_libctx(): OpenSSL's default provider only. Every SSL_CTX,
//     certificate, trust store and file key of tls_context.hpp lives here,
//     and so does the public half of each token key. Everything that is not
//     a private-key operation on a token key (hashing, verification, key
//     exchange, decoding peer certificates) runs here.
//   - token_key_libctx(): our provider, plus the default provider only so
//     that encoders exist there (i2d_PUBKEY / PEM_write_bio_PUBKEY of a token
//     key). Token keys are EVP_PKEYs of our keymgmt in this context; nothing
//     of ours fetches a key type there without naming our provider.
// Why not one context with both providers: our keymgmt must answer to the
// names "EC", "ED25519" and "RSA" (libssl classifies keys with
// EVP_PKEY_is_a), so in a shared context a plain fetch of "EC" (ECDHE key
// generation, peer key decoding, libssl's group list) may return our keymgmt,
// which cannot generate keys. A default property query ("?provider=default")
// is not enough in OpenSSL 3.0: signing with a provider key makes libcrypto
// fetch "EC" from that key's provider, and 3.0's method cache then answers
// later provider-neutral fetches of "EC" with our keymgmt (seen: once a token
// signature had been set up before any other fetch of "EC", new SSL_CTXs
// could not use the P-256 group; regression test in
// tls_context_token_test.cpp). With the
// keys in a context of their own, no fetch can mix the two up. Why not the
// process default context: it would change every other OpenSSL user in the
// process.
// How signing finds our code: libssl calls EVP_DigestSignInit_ex with
// tls_libctx() and our key; OpenSSL asks our keymgmt for its signature
// (query_operation_name: "ENCLAVE-ECDSA", "ENCLAVE-ED25519", "ENCLAVE-RSA"),
// does not find it in tls_libctx() and then fetches it from the key's own
// provider (OpenSSL 3.0's second fetch round in signature initialisation).
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

/// The library context for TLS (default provider only; see above), created
/// on first use (thread-safe) and kept for the process lifetime. internal
/// when OpenSSL cannot create it.
crypto::Result<OSSL_LIB_CTX*> tls_libctx();

/// The library context of the token keys (see above). Needed only to inspect
/// the provider (tests); load_token_private_key() uses it.
crypto::Result<OSSL_LIB_CTX*> token_key_libctx();

/// The private key named by `pkcs11_uri` (its object/id/type attributes) on
/// `pool`'s token, as an EVP_PKEY in token_key_libctx() whose private
/// operations run on the token. EC P-256/P-384, Ed25519 and RSA keys. Token
/// attributes in the URI (token, serial, manufacturer, model) must match the
/// pool's token; module and pin-source attributes are not used here (the
/// pool is already logged in).
/// Errors: malformed_input / invalid_argument (URI), hsm_token_not_found (the
/// URI names another token), hsm_object_not_found, unsupported_algorithm (an
/// AES key), unavailable (fork), crypto_failure.
crypto::Result<EvpPkeyPtr> load_token_private_key(std::shared_ptr<SessionPool> pool,
                                                  std::string_view pkcs11_uri);

/// True when `key` is backed by the token through our provider.
bool is_token_key(const EVP_PKEY* key) noexcept;

/// The OpenSSL error queue as "reason; reason" text (emptied). Used to add
/// OpenSSL's reasons to our error contexts; it names functions and reasons
/// only.
std::string drain_openssl_errors();

}  // namespace enclave::hsm
