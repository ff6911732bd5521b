// SPDX-License-Identifier: Apache-2.0
#pragma once
// Public keys out of the token as X.509 SubjectPublicKeyInfo DER, so OpenSSL
// can verify token signatures and a certificate can be matched to its token
// key (compare the certificate's SPKI DER with this one).

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "hsm/object.hpp"
#include "hsm/session.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

/// SPKI DER of the key pair `key` (either half may be named: EC and Ed25519
/// read the public key object with the same label and id; RSA falls back to
/// the private object's public attributes when there is no public object).
crypto::Result<crypto::Bytes> export_public_key_spki(SessionPool& pool, const KeyRef& key);

/// The same on a session the caller holds (e.g. the OpenSSL provider).
crypto::Result<crypto::Bytes> export_public_key_spki(const Session& session, const KeyRef& key,
                                                     const TokenInfo& token);

}  // namespace enclave::hsm
