// SPDX-License-Identifier: Apache-2.0
// Sealing of task values and salts under the per-task key.
#include <sodium.h>

#include <array>
#include <stdexcept>

#include "task_store_internal.hpp"

namespace enclave::audit::detail {
namespace {

constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kTaskKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

constexpr std::string_view kDomain = "enclave/task-secret/v1";

/// Not secret: the domain, the task id, the index and the purpose.
crypto::Bytes associated_data(crypto::ByteView task_id, std::size_t index, std::string_view what) {
    if (task_id.size() != kTaskIdBytes || index > 0xffffffffu || (what != "value" && what != "salt")) {
        throw std::logic_error("task secret: bad associated data");  // a broken invariant in the caller
    }
    crypto::Bytes ad(kDomain.begin(), kDomain.end());
    ad.push_back(0);
    ad.insert(ad.end(), task_id.begin(), task_id.end());
    for (int shift = 24; shift >= 0; shift -= 8) ad.push_back(static_cast<std::uint8_t>(index >> shift));
    ad.insert(ad.end(), what.begin(), what.end());
    return ad;
}

}  // namespace

crypto::Bytes seal_task_secret(const crypto::Secret& key, crypto::ByteView task_id, std::size_t index,
                               std::string_view what, crypto::ByteView plaintext) {
    if (key.size() != kTaskKeyBytes) throw std::logic_error("task secret: key must be 32 bytes");
    crypto::ensure_sodium();
    const crypto::Bytes ad = associated_data(task_id, index, what);
    crypto::Bytes out(kNonce + plaintext.size() + kTag);
    randombytes_buf(out.data(), kNonce);
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonce, &written, plaintext.data(), plaintext.size(),
                                               ad.data(), ad.size(), nullptr, out.data(), key.data());
    out.resize(kNonce + written);
    return out;
}

crypto::Result<crypto::Secret> open_task_secret(const crypto::Secret& key, crypto::ByteView task_id,
                                                std::size_t index, std::string_view what,
                                                crypto::ByteView sealed) {
    if (key.size() != kTaskKeyBytes) throw std::logic_error("task secret: key must be 32 bytes");
    if (sealed.size() < kNonce + kTag) {
        return crypto::fail(crypto::Errc::integrity_failure, "sealed " + std::string(what) + " is truncated");
    }
    crypto::ensure_sodium();
    const crypto::Bytes ad = associated_data(task_id, index, what);
    crypto::Secret out(sealed.size() - kNonce - kTag);
    unsigned long long written = 0;
    // An empty Secret has no buffer; libsodium needs a valid pointer even for 0 bytes.
    std::array<std::uint8_t, 1> none{};
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.empty() ? none.data() : out.data(), &written, nullptr,
                                                   sealed.data() + kNonce, sealed.size() - kNonce, ad.data(),
                                                   ad.size(), sealed.data(), key.data()) != 0) {
        return crypto::fail(crypto::Errc::integrity_failure,
                            "sealed " + std::string(what) + " of field " + std::to_string(index) +
                                " does not authenticate under the task key");
    }
    return out;
}

}  // namespace enclave::audit::detail
