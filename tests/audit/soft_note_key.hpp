// SPDX-License-Identifier: Apache-2.0
#pragma once
// TEST AND BENCHMARK ONLY: an Ed25519 signing key in ordinary process memory
// (an OpenSSL EVP_PKEY), for known-answer vectors (Go's PeterNeumann key) and
// for building many signed checkpoints quickly. The appliance signs notes
// with the key on the token only (audit::sign_note with an hsm::Signer);
// nothing outside tests/ includes this file.
//
// Holds: an Ed25519 private key, in OpenSSL-owned memory that EVP_PKEY_free
// cleanses. Test keys only; never a production key.

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "audit/signed_note.hpp"
#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::testing {

class SoftNoteKey {
public:
    /// A fresh random key.
    static SoftNoteKey generate() {
        EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        if (key == nullptr) throw std::runtime_error("Ed25519 key generation failed");
        return SoftNoteKey(key);
    }
    /// The key with this 32-byte RFC 8032 seed (known-answer tests).
    static SoftNoteKey from_seed(crypto::ByteView seed) {
        EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(),
                                                     seed.size());
        if (key == nullptr) throw std::runtime_error("not an Ed25519 seed");
        return SoftNoteKey(key);
    }

    [[nodiscard]] crypto::Bytes public_key() const {
        crypto::Bytes out(32);
        std::size_t len = out.size();
        if (EVP_PKEY_get_raw_public_key(key_.get(), out.data(), &len) != 1 || len != 32) {
            throw std::runtime_error("EVP_PKEY_get_raw_public_key failed");
        }
        return out;
    }

    /// Pure Ed25519 signature (64 bytes).
    [[nodiscard]] crypto::Bytes sign(crypto::ByteView message) const {
        return sign_with(*key_, message);
    }

    [[nodiscard]] audit::NoteVerifierKey verifier_key(const std::string& name) const {
        auto key = audit::NoteVerifierKey::from_public_key(name, public_key());
        if (!key) throw std::runtime_error(key.error().message());
        return *key;
    }

    /// A signing function that shares ownership of the key (outlives this object).
    [[nodiscard]] audit::NoteSignFunction sign_function() const {
        return [key = key_](crypto::ByteView message) -> crypto::Result<crypto::Bytes> {
            return sign_with(*key, message);
        };
    }

    /// A signed note over `body` under `name`; throws on failure (test set-up).
    [[nodiscard]] std::string sign_note(const std::string& body, const std::string& name) const {
        auto note = audit::sign_note(body, verifier_key(name), sign_function());
        if (!note) throw std::runtime_error(note.error().message());
        return *note;
    }

private:
    using MdCtxPtr = crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

    explicit SoftNoteKey(EVP_PKEY* key) : key_(key, EVP_PKEY_free) {}

    static crypto::Bytes sign_with(EVP_PKEY& key, crypto::ByteView message) {
        MdCtxPtr ctx(EVP_MD_CTX_new());
        crypto::Bytes sig(64);
        std::size_t len = sig.size();
        if (!ctx ||
            EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, &key,
                                  nullptr) != 1 ||
            EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
            len != 64) {
            throw std::runtime_error("Ed25519 signing failed");
        }
        return sig;
    }

    std::shared_ptr<EVP_PKEY> key_;
};

}  // namespace enclave::testing
