// SPDX-License-Identifier: Apache-2.0
#pragma once
// Secret: holds key material, PINs and unwrapped data keys.
//
// The bytes live in sodium_malloc'd memory: guard pages on both sides, a
// canary, mlock'd so they are never swapped, excluded from core dumps where the
// kernel supports MADV_DONTDUMP, and overwritten by sodium_free when the Secret
// is destroyed. A Secret is move-only (a copy would be a second place to wipe),
// has no stream operator and no conversion to std::string, so it cannot reach a
// log line by accident.

#include <cstddef>
#include <cstdint>
#include <string>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

/// Initialise libsodium once per process (thread-safe, idempotent). Every
/// crypto entry point that needs it calls this; it is exposed for main().
void ensure_sodium();

class Secret {
public:
    /// An empty secret (size 0, no allocation).
    Secret() noexcept = default;
    /// `size` zero bytes in secure memory. Throws std::bad_alloc when the secure
    /// allocator is exhausted (mlock limits): that is an environment failure,
    /// not an input error.
    explicit Secret(std::size_t size);
    ~Secret();

    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;

    /// `size` bytes from the system CSPRNG (randombytes_buf).
    static Secret random(std::size_t size);
    /// A secure copy of `bytes`. The caller remains responsible for wiping its own copy.
    static Secret copy_of(ByteView bytes);

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::uint8_t* data() noexcept { return data_; }
    [[nodiscard]] const std::uint8_t* data() const noexcept { return data_; }
    [[nodiscard]] ByteView view() const noexcept { return {data_, size_}; }
    [[nodiscard]] MutableByteView mutable_view() noexcept { return {data_, size_}; }

    /// Shrink the visible length (e.g. a PIN read into a larger buffer). The
    /// bytes past the new size are wiped now. Requires new_size <= size().
    void truncate(std::size_t new_size) noexcept;

    /// Constant-time comparison of two secrets.
    [[nodiscard]] bool equals(const Secret& other) const noexcept;

private:
    void release() noexcept;

    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Wipe a buffer the caller owns (sodium_memzero: not optimised away).
void wipe(MutableByteView bytes) noexcept;

/// Wipe the characters of a string that held a secret (an HTTP body with a
/// value and salt, a JSON string), then empty it. Only the current buffer is
/// wiped: copies made by earlier reallocations are the caller's concern.
void wipe(std::string& text) noexcept;

}  // namespace enclave::crypto
