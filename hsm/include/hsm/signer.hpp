// SPDX-License-Identifier: Apache-2.0
#pragma once
// hsm::Signer: signatures with a private key that stays on the token.
//
// Every call leases its own session from the pool, so one Signer serves many
// threads at once. The key's object handle is cached per pool generation and
// looked up again after fork() recovery or when the module reports it stale.
//
// Mechanisms:
//   ECDSA   CKM_ECDSA over a digest hashed here (SHA-256/384/512); the token
//           returns r||s, returned as is and as DER ECDSA-Sig-Value.
//   EdDSA   CKM_EDDSA, pure Ed25519 (no pre-hash, no context).
//   RSA-PSS CKM_RSA_PKCS_PSS over a digest hashed here, MGF1 with the same
//           hash, salt length = hash length.
// Holds no secret (the private key never leaves the token).

#include <cstddef>
#include <memory>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"
#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

namespace detail {
class HandleCache;
}

struct EcdsaSignature {
    crypto::Bytes raw;  ///< r || s, each the field size (32 for P-256, 48 for P-384)
    crypto::Bytes der;  ///< ECDSA-Sig-Value (RFC 3279), what X.509 and TLS carry
};

/// r||s -> DER ECDSA-Sig-Value. malformed_input for an odd or empty length.
crypto::Result<crypto::Bytes> ecdsa_raw_to_der(crypto::ByteView raw);
/// DER ECDSA-Sig-Value -> r||s with each half `field_size` bytes.
crypto::Result<crypto::Bytes> ecdsa_der_to_raw(crypto::ByteView der, std::size_t field_size);

class Signer {
public:
    /// Finds the private key (query.type must be private_key).
    static crypto::Result<Signer> open(std::shared_ptr<SessionPool> pool, const KeyQuery& query);
    /// Finds the private key named by a URI's object/id (type defaults to private).
    static crypto::Result<Signer> open_uri(std::shared_ptr<SessionPool> pool, const Uri& uri);

    Signer(Signer&&) noexcept;
    Signer& operator=(Signer&&) noexcept;
    ~Signer();

    [[nodiscard]] const KeyRef& key() const noexcept { return key_; }
    [[nodiscard]] KeyType key_type() const noexcept { return key_.key_type; }

    /// ECDSA over `message` hashed with `hash`. EC keys only.
    [[nodiscard]] crypto::Result<EcdsaSignature> sign_ecdsa(crypto::HashAlg hash,
                                                            crypto::ByteView message);
    /// ECDSA over a digest the caller computed (TLS hands the provider digests).
    /// Returns raw r||s.
    [[nodiscard]] crypto::Result<crypto::Bytes> sign_ecdsa_digest(crypto::ByteView digest);
    /// Pure Ed25519 over `message` (64-byte signature). Ed25519 keys only.
    [[nodiscard]] crypto::Result<crypto::Bytes> sign_ed25519(crypto::ByteView message);
    /// RSA-PSS over `message` hashed with `hash` (sha256/sha384/sha512),
    /// MGF1(hash), salt = hash length.
    [[nodiscard]] crypto::Result<crypto::Bytes> sign_rsa_pss(crypto::HashAlg hash,
                                                             crypto::ByteView message);
    /// RSA-PSS over a digest the caller computed, with an explicit salt length.
    [[nodiscard]] crypto::Result<crypto::Bytes> sign_rsa_pss_digest(crypto::HashAlg hash,
                                                                    crypto::ByteView digest,
                                                                    std::size_t salt_length);
    /// SPKI DER of this key's public half.
    [[nodiscard]] crypto::Result<crypto::Bytes> public_key_spki();

private:
    Signer(std::shared_ptr<SessionPool> pool, KeyRef key);
    crypto::Result<crypto::Bytes> sign_raw(CK_MECHANISM& mechanism, crypto::ByteView data,
                                           std::size_t expected_size);

    std::shared_ptr<SessionPool> pool_;
    KeyRef key_;
    std::unique_ptr<detail::HandleCache> cache_;
    std::size_t rsa_bytes_ = 0;  ///< modulus length, for RSA keys
};

}  // namespace enclave::hsm
