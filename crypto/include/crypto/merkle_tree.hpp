// SPDX-License-Identifier: Apache-2.0
#pragma once
// An append-only RFC 9162 Merkle tree that keeps O(log n) state: the roots
// ("peaks") of the perfect subtrees that the binary form of the size
// describes. A tree of 13 = 8 + 4 + 1 leaves keeps three peaks, covering
// leaves [0, 8), [8, 12) and [12, 13). Appending a leaf merges equal-sized
// peaks, like a carry in binary addition (amortised one hash_children per
// append); the root folds the peaks from the right.
//
// The state (size and peaks) is what the audit log persists between runs:
// restore() refuses a state whose peak count does not match its size, and can
// check the restored root against the last signed tree head.

#include <cstdint>
#include <span>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

/// The persistent state of an IncrementalTree. `peaks` run from the leftmost
/// (largest) perfect subtree to the rightmost (smallest); there is one per
/// set bit of `size`, so peaks.size() == popcount(size).
struct TreeState {
    std::uint64_t size = 0;
    std::vector<Hash> peaks;

    /// A fixed binary form for storage: version byte 0x01, size as 8 bytes
    /// big-endian, then the peaks (32 bytes each).
    [[nodiscard]] Bytes serialize() const;
    /// Parses serialize()'s form. malformed_input on a wrong version, a
    /// truncated or over-long buffer, or a peak count that does not match the
    /// size. The result is fit for IncrementalTree::restore.
    [[nodiscard]] static Result<TreeState> parse(ByteView bytes);
};

/// MTH of a list of leaf hashes, computed in one pass with O(log n) memory.
[[nodiscard]] Hash root_from_leaves(const LogHasher& hasher, std::span<const Hash> leaf_hashes);

class IncrementalTree {
public:
    /// The empty tree.
    explicit IncrementalTree(LogHasher hasher = {}) : hasher_(hasher) {}

    /// Rebuilds a tree from a persisted state. Fails with malformed_input when
    /// peaks.size() != popcount(size) (this covers size 0 with peaks).
    [[nodiscard]] static Result<IncrementalTree> restore(TreeState state, LogHasher hasher = {});
    /// Same, and also fails with integrity_failure ("root mismatch") unless the
    /// restored root equals `expected_root` (e.g. from the last signed tree head).
    [[nodiscard]] static Result<IncrementalTree> restore(TreeState state, const Hash& expected_root,
                                                         LogHasher hasher = {});

    /// Appends one leaf hash (hash_leaf of the entry). Fails with too_large
    /// only when the size would pass 2^64 - 1.
    [[nodiscard]] Result<void> append(const Hash& leaf_hash);
    /// Appends hash_leaf(data) and returns that leaf hash.
    [[nodiscard]] Result<Hash> append_data(ByteView data);

    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
    /// MTH of all leaves appended so far (the empty-tree root for size 0);
    /// popcount(size) - 1 hashes.
    [[nodiscard]] Hash root() const;
    /// The peaks, leftmost (largest subtree) first.
    [[nodiscard]] const std::vector<Hash>& peaks() const noexcept { return peaks_; }
    /// A copy of the state, for storage.
    [[nodiscard]] TreeState state() const { return TreeState{size_, peaks_}; }

private:
    LogHasher hasher_;
    std::uint64_t size_ = 0;
    std::vector<Hash> peaks_;
};

}  // namespace enclave::crypto
