// SPDX-License-Identifier: Apache-2.0
// RFC 9162 section 2.1.3.2 and 2.1.4.2 proof verification.
//
// Instead of the RFC's step-by-step shifting of (fn, sn), the proof length is
// derived up front from the shape of the path, so that a proof of the wrong
// length is refused with a precise message before any hashing:
//
// Walk up from leaf `index` in a tree whose last leaf is `last = size - 1`.
// While the ancestors of `index` and `last` differ (the first `inner` =
// bit_width(index ^ last) levels), every level has a sibling: on the left
// when the ancestor is a right child (its low bit is 1), else on the right.
// Above that the path runs along the right border of the tree, where a node
// only has a (left) sibling when it is a right child: `border` =
// popcount(index >> inner) more hashes. RFC 9162 computes the same thing.
#include "crypto/merkle_proof.hpp"

#include <bit>
#include <optional>
#include <string>

#include "merkle_path.hpp"

namespace enclave::crypto {
namespace {

std::string str(std::uint64_t v) { return std::to_string(v); }

std::string hashes(std::size_t n) { return str(n) + (n == 1 ? " hash" : " hashes"); }

// Climbs from `hash`, the node numbered `node` at its level, through `proof`
// (one sibling per level): the low bit of `node` says on which side the
// sibling lies.
Hash climb_inner(const LogHasher& hasher, Hash hash, std::uint64_t node,
                 std::span<const Hash> proof) {
    for (const Hash& sibling : proof) {
        hash = (node & 1) != 0 ? hasher.hash_children(sibling, hash)
                               : hasher.hash_children(hash, sibling);
        node >>= 1;
    }
    return hash;
}

// Same walk, but only the siblings on the left are part of the tree: the
// right ones were appended after it (used for root1 of a consistency proof).
Hash climb_inner_left_only(const LogHasher& hasher, Hash hash, std::uint64_t node,
                           std::span<const Hash> proof) {
    for (const Hash& sibling : proof) {
        if ((node & 1) != 0) hash = hasher.hash_children(sibling, hash);
        node >>= 1;
    }
    return hash;
}

// Along the right border every sibling is on the left.
Hash climb_border(const LogHasher& hasher, Hash hash, std::span<const Hash> proof) {
    for (const Hash& sibling : proof) hash = hasher.hash_children(sibling, hash);
    return hash;
}

}  // namespace

std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t size) noexcept {
    if (index >= size) return 0;
    const detail::PathShape shape = detail::path_shape(index, size - 1);
    return shape.inner + shape.border;
}

std::size_t consistency_proof_size(std::uint64_t size1, std::uint64_t size2) noexcept {
    if (size1 == 0 || size1 >= size2) return 0;
    const detail::PathShape shape = detail::path_shape(size1 - 1, size2 - 1);
    const unsigned shift = static_cast<unsigned>(std::countr_zero(size1));
    const std::size_t seed = std::has_single_bit(size1) ? 0 : 1;
    return seed + (shape.inner - shift) + shape.border;
}

Result<Hash> root_from_inclusion_proof(const LogHasher& hasher, std::uint64_t index,
                                       std::uint64_t size, const Hash& leaf_hash,
                                       std::span<const Hash> proof) {
    if (index >= size) {
        return fail(Errc::integrity_failure,
                    "index " + str(index) + " is not below size " + str(size));
    }
    const detail::PathShape shape = detail::path_shape(index, size - 1);
    if (proof.size() != std::size_t{shape.inner} + shape.border) {
        return fail(Errc::integrity_failure, "inclusion proof has " + hashes(proof.size()) +
                                                 "; index " + str(index) + " in a tree of size " +
                                                 str(size) + " needs " +
                                                 str(std::size_t{shape.inner} + shape.border));
    }
    const Hash below = climb_inner(hasher, leaf_hash, index, proof.first(shape.inner));
    return climb_border(hasher, below, proof.subspan(shape.inner));
}

Result<void> verify_inclusion(const LogHasher& hasher, std::uint64_t index, std::uint64_t size,
                              const Hash& leaf_hash, std::span<const Hash> proof,
                              const Hash& root) {
    auto computed = root_from_inclusion_proof(hasher, index, size, leaf_hash, proof);
    if (!computed) return tl::unexpected(computed.error());
    if (*computed != root) {
        return fail(Errc::integrity_failure, "root mismatch: the inclusion proof of index " +
                                                 str(index) + " in a tree of size " + str(size) +
                                                 " leads to a different root");
    }
    return {};
}

namespace {

// The special cases of verify_consistency; nullopt when none applies.
std::optional<Result<void>> consistency_edge_cases(const LogHasher& hasher, std::uint64_t size1,
                                                   std::uint64_t size2, std::span<const Hash> proof,
                                                   const Hash& root1, const Hash& root2) {
    if (size1 > size2) {
        return fail(Errc::integrity_failure,
                    "size1 " + str(size1) + " > size2 " + str(size2) + ": a log cannot shrink");
    }
    if (size1 == size2) {
        if (!proof.empty()) {
            return fail(Errc::integrity_failure,
                        "proof is not empty for equal sizes (" + hashes(proof.size()) + ")");
        }
        if (root1 != root2) {
            return fail(Errc::integrity_failure,
                        "root mismatch: two trees of size " + str(size1) + " with different roots");
        }
        return Result<void>{};
    }
    if (size1 == 0) {
        if (!proof.empty()) {
            return fail(Errc::integrity_failure,
                        "proof is not empty for size1 0 (" + hashes(proof.size()) + ")");
        }
        if (root1 != hasher.empty_root()) {
            return fail(Errc::integrity_failure,
                        "root1 mismatch: a tree of size 0 has the empty-tree root");
        }
        return Result<void>{};
    }
    if (proof.empty()) {
        return fail(Errc::integrity_failure, "consistency proof is empty for different sizes " +
                                                 str(size1) + " and " + str(size2));
    }
    return std::nullopt;
}

}  // namespace

// Let shift = the number of trailing zero bits of size1. The last 2^shift
// leaves of the old tree form a perfect subtree (the "seed"), and the rest of
// the proof is the inclusion path of that seed in the new tree. When size1 is
// a power of two the seed is the whole old tree, so the proof leaves it out
// and root1 stands in for it.
Result<void> verify_consistency(const LogHasher& hasher, std::uint64_t size1, std::uint64_t size2,
                                std::span<const Hash> proof, const Hash& root1, const Hash& root2) {
    if (auto edge = consistency_edge_cases(hasher, size1, size2, proof, root1, root2)) {
        return *edge;
    }
    const std::size_t want = consistency_proof_size(size1, size2);
    if (proof.size() != want) {
        return fail(Errc::integrity_failure, "consistency proof has " + hashes(proof.size()) +
                                                 "; sizes " + str(size1) + " to " + str(size2) +
                                                 " need " + str(want));
    }
    const unsigned shift = static_cast<unsigned>(std::countr_zero(size1));
    const detail::PathShape shape = detail::path_shape(size1 - 1, size2 - 1);
    // The seed's own path starts at level `shift`. The low `shift` bits of
    // size1 - 1 are all ones and size2 - 1 > size1 - 1, so the two last leaves
    // part above that level: shape.inner > shift.
    const std::size_t inner = shape.inner - shift;
    const bool seed_is_root1 = std::has_single_bit(size1);
    const Hash seed = seed_is_root1 ? root1 : proof.front();
    const auto path = proof.subspan(seed_is_root1 ? 0 : 1);
    const std::uint64_t seed_node = (size1 - 1) >> shift;

    const Hash old_root =
        climb_border(hasher, climb_inner_left_only(hasher, seed, seed_node, path.first(inner)),
                     path.subspan(inner));
    if (old_root != root1) {
        return fail(Errc::integrity_failure, "root1 mismatch: the consistency proof from size " +
                                                 str(size1) + " to " + str(size2) +
                                                 " does not lead to the old root");
    }
    const Hash new_root = climb_border(
        hasher, climb_inner(hasher, seed, seed_node, path.first(inner)), path.subspan(inner));
    if (new_root != root2) {
        return fail(Errc::integrity_failure, "root2 mismatch: the consistency proof from size " +
                                                 str(size1) + " to " + str(size2) +
                                                 " does not lead to the new root");
    }
    return {};
}

}  // namespace enclave::crypto
