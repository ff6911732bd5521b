// SPDX-License-Identifier: Apache-2.0
#pragma once
// Hashes and HMAC through OpenSSL EVP: SHA-256/384/512 and SHA3-256.

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

enum class HashAlg { sha256, sha384, sha512, sha3_256 };

/// Output length in bytes.
std::size_t digest_size(HashAlg alg) noexcept;
/// The lowercase name used on the wire and in config ("sha256", "sha3-256").
std::string_view hash_name(HashAlg alg) noexcept;
/// Parses a wire name; exact lowercase match only.
std::optional<HashAlg> hash_from_name(std::string_view name) noexcept;

/// One-shot digest.
Bytes digest(HashAlg alg, ByteView data);
/// Digest of the concatenation of several parts, without copying them together.
Bytes digest(HashAlg alg, std::initializer_list<ByteView> parts);

/// Incremental hashing (for streams and files).
class Hasher {
public:
    explicit Hasher(HashAlg alg);
    ~Hasher();
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;

    void update(ByteView data);
    /// Returns the digest and resets the hasher for reuse.
    Bytes finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// HMAC with the given hash (RFC 2104), through EVP_MAC. The key may be any length.
Bytes hmac(HashAlg alg, ByteView key, ByteView data);

}  // namespace enclave::crypto
