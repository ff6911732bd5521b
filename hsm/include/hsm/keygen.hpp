// SPDX-License-Identifier: Apache-2.0
#pragma once
// Creating keys on the token. Every private or secret key the project makes
// is a token object with CKA_TOKEN=true, CKA_PRIVATE=true, CKA_SENSITIVE=true
// and CKA_EXTRACTABLE=false, and only the usages it needs (a KEK wraps and
// unwraps; a signing key signs). Public key objects are token objects with
// CKA_PRIVATE=false and CKA_VERIFY=true, so SPKI export needs no login.
//
// Creation refuses (already_exists) a label or an id already used by a key
// object on the token: a duplicate would make lookups ambiguous.

#include <string>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

/// Name of a new key. The label is required (1..128 bytes, no control
/// characters); an empty id means "16 random bytes".
struct KeySpec {
    std::string label;
    crypto::Bytes id;
};

enum class EcCurve { p256, p384 };

/// AES-256 key-encryption key (CKA_WRAP and CKA_UNWRAP only). Returns the
/// secret-key object.
crypto::Result<KeyRef> generate_aes_kek(SessionPool& pool, const KeySpec& spec);

/// EC key pair on P-256 or P-384 (CKM_EC_KEY_PAIR_GEN). Returns the private key.
crypto::Result<KeyRef> generate_ec_key_pair(SessionPool& pool, EcCurve curve,
                                            const KeySpec& spec);

/// The same on a read-write session the caller holds (a daemon whose pool
/// is read-only: SessionPool::open_read_write_session). `token` names the
/// token in messages.
crypto::Result<KeyRef> generate_ec_key_pair(const Session& session, const TokenInfo& token,
                                            EcCurve curve, const KeySpec& spec);

/// Ed25519 key pair (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKA_EC_PARAMS = the DER OID
/// 1.3.101.112, id-Ed25519). PKCS#11 3.0 also allows the PrintableString
/// "edwards25519"; SoftHSM 2.6.1 accepts both (checked by hand), and the OID
/// is what X.509 uses, so we write the OID and accept both when reading.
/// Returns the private key.
crypto::Result<KeyRef> generate_ed25519_key_pair(SessionPool& pool, const KeySpec& spec);

/// Imports an RSA private key (2048..8192 bits; PKCS#8 or PKCS#1, PEM or DER,
/// unencrypted, held in a Secret) as a sensitive, non-extractable token
/// object with CKA_SIGN only, plus its public key object. Returns the private
/// key. The caller's Secret is not modified; the CRT components pass through
/// secure memory only.
crypto::Result<KeyRef> import_rsa_private_key(SessionPool& pool, const crypto::Secret& key,
                                              const KeySpec& spec);

/// Destroys the key object(s) named by `query` (both halves of a pair when
/// `both_halves`). Used by provisioning to roll back; destroying a KEK is
/// crypto-erasure of everything it wrapped.
crypto::Result<void> destroy_key(SessionPool& pool, const KeyRef& key, bool both_halves = true);
/// The same on a read-write session the caller holds.
crypto::Result<void> destroy_key(const Session& session, const TokenInfo& token, const KeyRef& key,
                                 bool both_halves = true);

}  // namespace enclave::hsm
