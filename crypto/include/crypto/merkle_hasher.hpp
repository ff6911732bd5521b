// SPDX-License-Identifier: Apache-2.0
#pragma once
// The RFC 9162 (RFC 6962) Merkle tree hash with SHA-256 (STYLE.md section 6).
//
//   leaf hash:      SHA-256(0x00 || data)
//   interior node:  SHA-256(0x01 || left || right)
//   empty tree:     SHA-256("")
//
// The 0x00 / 0x01 prefixes separate the two domains, so a leaf can never be
// passed off as an interior node (second-preimage attack on the tree).
//
// SHA-256 runs through OpenSSL EVP with a per-thread reused context: on CPUs
// with SHA extensions it is about 3x faster than libsodium's portable
// crypto_hash_sha256 for the 65-byte node inputs (measured with
// enclave-bench-merkle), and the result is written into a fixed-size array
// without a heap allocation. Nothing here is secret: hashes are public.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

inline constexpr std::size_t kMerkleHashSize = 32;

/// One node of the tree: a SHA-256 output.
using Hash = std::array<std::uint8_t, kMerkleHashSize>;

/// Lowercase hex of a hash (64 characters).
std::string hash_to_hex(const Hash& hash);
/// Parses 64 hex digits. malformed_input on any other length or a non-hex character.
Result<Hash> hash_from_hex(std::string_view hex);

/// The RFC 9162 section 2.1.1 hashing rules. Stateless and cheap to copy; the
/// tree functions take it by reference so that the shape matches
/// transparency-dev/merkle's LogHasher. Safe to use from several threads.
class LogHasher {
public:
    /// MTH({}) = SHA-256(""), the root of the empty tree.
    [[nodiscard]] Hash empty_root() const;
    /// SHA-256(0x00 || data): the leaf hash of one log entry.
    [[nodiscard]] Hash hash_leaf(ByteView data) const;
    /// SHA-256(0x01 || left || right): an interior node.
    [[nodiscard]] Hash hash_children(const Hash& left, const Hash& right) const;
};

}  // namespace enclave::crypto
