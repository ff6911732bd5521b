// SPDX-License-Identifier: Apache-2.0
#pragma once
// Verification of RFC 9162 inclusion proofs (section 2.1.3.2) and consistency
// proofs (section 2.1.4.2), as pure free functions (STYLE.md section 6).
//
// These functions take everything as arguments and touch no storage, so an
// auditor's offline verifier and the appliance run exactly the same code.
// Every input may be hostile: a wrong size, index or proof length is an
// integrity_failure with a context naming the check, never an exception and
// never an out-of-range read. Any 64-bit size is handled (no arithmetic here
// can overflow). Proof hashes are ordered from the leaf towards the root, as
// in RFC 9162.

#include <cstdint>
#include <span>

#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

/// Number of hashes in the inclusion proof of leaf `index` in a tree of `size`
/// leaves (0 for a one-leaf tree). Requires index < size.
[[nodiscard]] std::size_t inclusion_proof_size(std::uint64_t index, std::uint64_t size) noexcept;

/// Number of hashes in the consistency proof from `size1` to `size2` leaves
/// (0 when size1 == 0 or size1 == size2). Requires size1 <= size2.
[[nodiscard]] std::size_t consistency_proof_size(std::uint64_t size1, std::uint64_t size2) noexcept;

/// The root that `proof` proves for `leaf_hash` at `index` in a tree of
/// `size` leaves. The caller compares it with a root it trusts; prefer
/// verify_inclusion, which does the comparison.
/// Requires 0 <= index < size and proof.size() == inclusion_proof_size(index, size);
/// otherwise integrity_failure.
[[nodiscard]] Result<Hash> root_from_inclusion_proof(const LogHasher& hasher, std::uint64_t index,
                                                     std::uint64_t size, const Hash& leaf_hash,
                                                     std::span<const Hash> proof);

/// Succeeds when `proof` shows that `leaf_hash` is leaf `index` of the tree of
/// `size` leaves whose root is `root`. `size` and `root` must come from the
/// same (signed) tree head: the size only fixes the shape of the path, so two
/// sizes with the same path shape accept the same proof for the same root.
/// Requires 0 <= index < size. Fails with integrity_failure ("index 9 is not
/// below size 8", "inclusion proof has 4 hashes; index 3 in a tree of size 8
/// needs 3", "root mismatch").
[[nodiscard]] Result<void> verify_inclusion(const LogHasher& hasher, std::uint64_t index,
                                            std::uint64_t size, const Hash& leaf_hash,
                                            std::span<const Hash> proof, const Hash& root);

/// Succeeds when `proof` shows that the tree of `size1` leaves with root
/// `root1` is a prefix of the tree of `size2` leaves with root `root2`.
/// Requires size1 <= size2. The cases RFC 9162 leaves open are decided as
/// transparency-dev/merkle does, and a little stricter:
///   - size1 == size2: the proof must be empty and root1 == root2;
///   - size1 == 0: the proof must be empty and root1 must be the empty-tree
///     root (every tree extends the empty tree);
///   - otherwise the proof must have consistency_proof_size(size1, size2) hashes.
/// Fails with integrity_failure naming the check ("size1 8 > size2 5", "proof
/// is not empty for equal sizes", "root1 mismatch", "root2 mismatch", ...).
[[nodiscard]] Result<void> verify_consistency(const LogHasher& hasher, std::uint64_t size1,
                                              std::uint64_t size2, std::span<const Hash> proof,
                                              const Hash& root1, const Hash& root2);

}  // namespace enclave::crypto
