// SPDX-License-Identifier: Apache-2.0
#include "crypto/merkle_tree.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <string>
#include <utility>

namespace enclave::crypto {
namespace {

constexpr std::uint8_t kStateVersion = 0x01;
constexpr std::size_t kStateHeader = 1 + 8;  // version + big-endian size

std::string str(std::uint64_t v) { return std::to_string(v); }

// Adds one leaf to the peaks of a tree of `size` leaves: each trailing 1 bit
// of the size is a peak of the same width as the carry, so they merge.
void push_leaf(const LogHasher& hasher, std::vector<Hash>& peaks, std::uint64_t size,
               const Hash& leaf_hash) {
    Hash carry = leaf_hash;
    for (std::uint64_t s = size; (s & 1) != 0; s >>= 1) {
        carry = hasher.hash_children(peaks.back(), carry);
        peaks.pop_back();
    }
    peaks.push_back(carry);
}

// MTH from the peaks: RFC 9162 splits at the largest power of two, which is
// the leftmost peak, so the root nests to the right.
Hash fold_peaks(const LogHasher& hasher, const std::vector<Hash>& peaks) {
    if (peaks.empty()) return hasher.empty_root();
    Hash root = peaks.back();
    for (auto it = peaks.rbegin() + 1; it != peaks.rend(); ++it) {
        root = hasher.hash_children(*it, root);
    }
    return root;
}

Result<void> check_state(const TreeState& state) {
    const auto want = static_cast<std::size_t>(std::popcount(state.size));
    if (state.size == 0 && !state.peaks.empty()) {
        return fail(Errc::malformed_input, "tree state of size 0 must have no peak hashes, got " +
                                               str(state.peaks.size()));
    }
    if (state.peaks.size() != want) {
        return fail(Errc::malformed_input, "tree state of size " + str(state.size) + " needs " +
                                               str(want) + " peak hashes (one per set bit), got " +
                                               str(state.peaks.size()));
    }
    return {};
}

}  // namespace

Bytes TreeState::serialize() const {
    Bytes out;
    out.reserve(kStateHeader + peaks.size() * kMerkleHashSize);
    out.push_back(kStateVersion);
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<std::uint8_t>(size >> shift));
    }
    for (const Hash& peak : peaks) out.insert(out.end(), peak.begin(), peak.end());
    return out;
}

Result<TreeState> TreeState::parse(ByteView bytes) {
    if (bytes.size() < kStateHeader) {
        return fail(Errc::malformed_input, "tree state is " + str(bytes.size()) +
                                               " bytes; the header alone is " + str(kStateHeader));
    }
    if (bytes[0] != kStateVersion) {
        return fail(Errc::malformed_input, "tree state has unknown version " + str(bytes[0]));
    }
    TreeState state;
    for (std::size_t i = 1; i < kStateHeader; ++i) state.size = (state.size << 8) | bytes[i];
    const std::size_t body = bytes.size() - kStateHeader;
    const auto want = static_cast<std::size_t>(std::popcount(state.size));
    if (body != want * kMerkleHashSize) {
        return fail(Errc::malformed_input, "tree state of size " + str(state.size) + " needs " +
                                               str(want) + " peak hashes (" +
                                               str(want * kMerkleHashSize) + " bytes), got " +
                                               str(body) + " bytes");
    }
    state.peaks.resize(want);
    for (std::size_t i = 0; i < want; ++i) {
        const auto src = bytes.subspan(kStateHeader + i * kMerkleHashSize, kMerkleHashSize);
        std::copy(src.begin(), src.end(), state.peaks[i].begin());
    }
    return state;
}

Hash root_from_leaves(const LogHasher& hasher, std::span<const Hash> leaf_hashes) {
    std::vector<Hash> peaks;
    std::uint64_t size = 0;
    for (const Hash& leaf : leaf_hashes) push_leaf(hasher, peaks, size++, leaf);
    return fold_peaks(hasher, peaks);
}

Result<IncrementalTree> IncrementalTree::restore(TreeState state, LogHasher hasher) {
    if (auto ok = check_state(state); !ok) return tl::unexpected(ok.error());
    IncrementalTree tree(hasher);
    tree.size_ = state.size;
    tree.peaks_ = std::move(state.peaks);
    return tree;
}

Result<IncrementalTree> IncrementalTree::restore(TreeState state, const Hash& expected_root,
                                                 LogHasher hasher) {
    auto tree = restore(std::move(state), hasher);
    if (!tree) return tree;
    if (tree->root() != expected_root) {
        return fail(Errc::integrity_failure, "root mismatch: the restored tree of size " +
                                                 str(tree->size()) +
                                                 " does not have the expected root");
    }
    return tree;
}

Result<void> IncrementalTree::append(const Hash& leaf_hash) {
    if (size_ == std::numeric_limits<std::uint64_t>::max()) {
        return fail(Errc::too_large, "the tree holds 2^64 - 1 leaves and cannot grow");
    }
    push_leaf(hasher_, peaks_, size_, leaf_hash);
    ++size_;
    return {};
}

Result<Hash> IncrementalTree::append_data(ByteView data) {
    const Hash leaf = hasher_.hash_leaf(data);
    if (auto ok = append(leaf); !ok) return tl::unexpected(ok.error());
    return leaf;
}

Hash IncrementalTree::root() const { return fold_peaks(hasher_, peaks_); }

}  // namespace enclave::crypto
