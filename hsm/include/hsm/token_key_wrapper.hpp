// SPDX-License-Identifier: Apache-2.0
#pragma once
// hsm::TokenKeyWrapper: crypto::KeyWrapper backed by the token's AES-256 KEK,
// using CKM_AES_KEY_WRAP_PAD (RFC 5649, AES key wrap with padding).
//
// wrap(): the data key is put into a temporary session object (CKA_TOKEN=false,
// CKK_GENERIC_SECRET, CKA_SENSITIVE=true, CKA_EXTRACTABLE=true so that
// C_WrapKey may export it under the KEK), wrapped, and the object destroyed.
// unwrap(): C_UnwrapKey into a temporary session object (CKA_TOKEN=false,
// CKA_SENSITIVE=false, CKA_EXTRACTABLE=true, CKK_GENERIC_SECRET), whose
// CKA_VALUE is read straight into a crypto::Secret; the object is destroyed on
// every path, success or failure (RAII guard).
//
// Holds: no key material of its own. The KEK stays on the token (sensitive,
// non-extractable); data keys pass through only the caller's Secrets and the
// token's temporary objects.
//
// A tampered blob, a blob wrapped under another KEK, or the wrong expected
// size all fail with Errc::integrity_failure (RFC 5649's integrity check).
//
// Module quirks: SoftHSM 2.6 implements RFC 5649 under CKM_AES_KEY_WRAP_PAD
// (PKCS#11 3.0 later named it CKM_AES_KEY_WRAP_KWP) and returns the *padded*
// plaintext from C_UnwrapKey. The padding and the length indicator's range are
// still checked inside the token, so we accept a value of round_up8(expected)
// bytes whose extra bytes are zero. The one thing such a module cannot tell
// us is the exact length inside the last 8-byte block: a key of n bytes
// unwrapped with an expected size e > n in the same block (e.g. 31 vs 32) is
// not detected there. Our stores only wrap 32-byte keys and record sizes in
// their own formats, so this does not arise; a conforming module detects it.
// Thread-safe: each call leases its own session from the pool.

#include <memory>
#include <string>

#include "crypto/key_wrapper.hpp"
#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

namespace detail {
class HandleCache;
}

class TokenKeyWrapper final : public crypto::KeyWrapper {
public:
    /// Data keys of 1..kMaxKeySize bytes can be wrapped.
    static constexpr std::size_t kMaxKeySize = 1024;

    /// Finds the KEK (an AES secret key with CKA_WRAP and CKA_UNWRAP).
    static crypto::Result<std::unique_ptr<TokenKeyWrapper>> open(std::shared_ptr<SessionPool> pool,
                                                                 const KeyQuery& kek);
    ~TokenKeyWrapper() override;

    /// "pkcs11:object=<label>;id=<percent-encoded id>": stable across token
    /// re-labelling and module paths, never secret.
    [[nodiscard]] std::string key_id() const override { return key_id_; }
    [[nodiscard]] crypto::Result<crypto::Bytes> wrap(const crypto::Secret& key) override;
    [[nodiscard]] crypto::Result<crypto::Secret> unwrap(crypto::ByteView wrapped,
                                                        std::size_t expected_size) override;

    [[nodiscard]] const KeyRef& kek() const noexcept { return kek_; }

private:
    TokenKeyWrapper(std::shared_ptr<SessionPool> pool, KeyRef kek);

    std::shared_ptr<SessionPool> pool_;
    KeyRef kek_;
    std::string key_id_;
    std::unique_ptr<detail::HandleCache> cache_;
};

/// Length of an RFC 5649 wrapping of `key_size` bytes: 8 * ceil(n/8) + 8.
constexpr std::size_t aes_kwp_wrapped_size(std::size_t key_size) noexcept {
    return ((key_size + 7) / 8) * 8 + 8;
}

}  // namespace enclave::hsm
