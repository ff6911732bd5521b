// SPDX-License-Identifier: Apache-2.0
#pragma once
// Generation of RFC 9162 roots (section 2.1.1), inclusion proofs (2.1.3.1)
// and consistency proofs (2.1.4.1) from an abstract source of hashes.
//
// Storage stays out of the maths: the functions below ask a NodeSource for
// leaf hashes and, when it has them, for the hashes of perfect subtrees (2^k
// leaves starting at a multiple of 2^k). Those are the only subtrees whose
// hash never changes as the log grows, so a storage-backed audit log can
// cache them when it writes; every other node is recomputed here. With all
// perfect subtrees at hand a proof costs O(log^2 n) lookups and hashes in the
// worst case; with leaves only, O(n) hashes.

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

/// Read access to the hashes of one append-only log. Implementations must
/// return the same hash for the same question every time (the log is
/// append-only); errors (io_error, db_error, not_found...) are passed back to
/// the caller of the generating function, with context added.
class NodeSource {
public:
    virtual ~NodeSource() = default;

    /// The leaf hash (hash_leaf of the entry) at `index`. Requires index < the
    /// number of leaves the source holds; otherwise an error, never a throw.
    [[nodiscard]] virtual Result<Hash> leaf_hash(std::uint64_t index) const = 0;

    /// The root of the perfect subtree over leaves [index * 2^level,
    /// (index + 1) * 2^level), if the source has it at hand; std::nullopt lets
    /// the caller compute it from its two halves. Called with 1 <= level <= 63
    /// and a subtree that lies inside the tree being proved. The default has
    /// nothing cached.
    [[nodiscard]] virtual Result<std::optional<Hash>> subtree_hash(unsigned level,
                                                                   std::uint64_t index) const;
};

/// An in-memory log that keeps every leaf hash and every complete perfect
/// subtree (about 2 hashes, 64 bytes, per leaf), so that proofs cost
/// O(log^2 n). For tests, tools and modest logs; the audit log brings its own
/// storage-backed NodeSource.
class MemoryNodeSource final : public NodeSource {
public:
    explicit MemoryNodeSource(LogHasher hasher = {}) : hasher_(hasher) {}
    /// A source holding `leaf_hashes`, in order.
    explicit MemoryNodeSource(std::span<const Hash> leaf_hashes, LogHasher hasher = {});

    /// Adds one leaf; amortised O(1) hashes.
    void append(const Hash& leaf_hash);
    [[nodiscard]] std::uint64_t size() const noexcept;

    /// not_found when index >= size().
    [[nodiscard]] Result<Hash> leaf_hash(std::uint64_t index) const override;
    /// The stored hash, or not_found when that subtree is not complete yet.
    [[nodiscard]] Result<std::optional<Hash>> subtree_hash(unsigned level,
                                                           std::uint64_t index) const override;

private:
    LogHasher hasher_;
    /// levels_[0] holds the leaves; levels_[l][i] the perfect subtree of
    /// 2^l leaves starting at leaf i * 2^l. A deque, not a vector: the log
    /// grows for years, and a vector's doubling would copy it and leave the
    /// old buffer as a hole in the heap each time (fragmentation that the
    /// process never gives back) and hold up to twice the hashes it needs.
    std::vector<std::deque<Hash>> levels_;
};

/// MTH(D[0:size]), the root of the first `size` leaves of `source` (the
/// empty-tree root for size 0).
[[nodiscard]] Result<Hash> tree_root(const LogHasher& hasher, const NodeSource& source,
                                     std::uint64_t size);

/// PATH(index, D[0:size]): the inclusion proof of leaf `index` in the tree of
/// the first `size` leaves, ordered from the leaf towards the root.
/// Requires 0 <= index < size (invalid_argument otherwise).
[[nodiscard]] Result<std::vector<Hash>> inclusion_proof(const LogHasher& hasher,
                                                        const NodeSource& source,
                                                        std::uint64_t index, std::uint64_t size);

/// PROOF(size1, D[0:size2]): the consistency proof between the trees of the
/// first size1 and size2 leaves. Empty when size1 == 0 or size1 == size2.
/// Requires size1 <= size2 (invalid_argument otherwise).
[[nodiscard]] Result<std::vector<Hash>> consistency_proof(const LogHasher& hasher,
                                                          const NodeSource& source,
                                                          std::uint64_t size1, std::uint64_t size2);

}  // namespace enclave::crypto
