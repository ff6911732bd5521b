// SPDX-License-Identifier: Apache-2.0
#pragma once
// KeyWrapper: the seam between the at-rest stores (crypto/) and whoever holds
// the wrapping key. The token KEK (hsm::TokenKeyWrapper, AES key wrap with
// padding on the token) implements it, and so does SecretKeyWrapper below for
// keys that are themselves wrapped by the KEK (the blob master key wraps the
// per-object keys). The stores never see the KEK; they only ask it to wrap
// and unwrap.

#include <cstddef>
#include <string>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto {

class KeyWrapper {
public:
    virtual ~KeyWrapper() = default;
    KeyWrapper() = default;
    KeyWrapper(const KeyWrapper&) = delete;
    KeyWrapper& operator=(const KeyWrapper&) = delete;

    /// A stable, non-secret identifier of the wrapping key (stored beside each
    /// wrapped key so that the wrong KEK is named as such, not as corruption).
    [[nodiscard]] virtual std::string key_id() const = 0;

    /// Wraps `key`. Thread-safe.
    [[nodiscard]] virtual Result<Bytes> wrap(const Secret& key) = 0;

    /// Unwraps into secure memory. Fails with integrity_failure when `wrapped`
    /// was not made by this key (or was altered), and with a size mismatch as
    /// integrity_failure too. Thread-safe.
    [[nodiscard]] virtual Result<Secret> unwrap(ByteView wrapped, std::size_t expected_size) = 0;
};

/// Wraps with a key held in a Secret: XChaCha20-Poly1305 (libsodium), a random
/// 24-byte nonce per wrap, the key id bound as associated data.
/// Holds: the wrapping key, in sodium_malloc'd memory, wiped on destruction.
class SecretKeyWrapper final : public KeyWrapper {
public:
    /// Requires key.size() == 32.
    SecretKeyWrapper(std::string key_id, Secret key);

    [[nodiscard]] std::string key_id() const override { return key_id_; }
    [[nodiscard]] Result<Bytes> wrap(const Secret& key) override;
    [[nodiscard]] Result<Secret> unwrap(ByteView wrapped, std::size_t expected_size) override;

private:
    std::string key_id_;
    Secret key_;
};

}  // namespace enclave::crypto
