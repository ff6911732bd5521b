// SPDX-License-Identifier: Apache-2.0
#include "crypto/key_wrapper.hpp"

#include <sodium.h>

#include <stdexcept>

namespace enclave::crypto {
namespace {
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
}  // namespace

SecretKeyWrapper::SecretKeyWrapper(std::string key_id, Secret key)
    : key_id_(std::move(key_id)), key_(std::move(key)) {
    if (key_.size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
        throw std::invalid_argument("SecretKeyWrapper needs a 32-byte key");
    }
}

Result<Bytes> SecretKeyWrapper::wrap(const Secret& key) {
    Bytes out(kNonce + key.size() + kTag);
    randombytes_buf(out.data(), kNonce);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.data() + kNonce, &clen, key.data(), key.size(),
        reinterpret_cast<const unsigned char*>(key_id_.data()), key_id_.size(), nullptr,
        out.data(), key_.data());
    out.resize(kNonce + clen);
    return out;
}

Result<Secret> SecretKeyWrapper::unwrap(ByteView wrapped, std::size_t expected_size) {
    if (wrapped.size() != kNonce + expected_size + kTag) {
        return fail(Errc::integrity_failure, "wrapped key has the wrong length");
    }
    Secret out(expected_size);
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &plen, nullptr, wrapped.data() + kNonce, wrapped.size() - kNonce,
            reinterpret_cast<const unsigned char*>(key_id_.data()), key_id_.size(),
            wrapped.data(), key_.data()) != 0) {
        return fail(Errc::integrity_failure,
                    "wrapped key does not authenticate under key '" + key_id_ + "'");
    }
    return out;
}

}  // namespace enclave::crypto
