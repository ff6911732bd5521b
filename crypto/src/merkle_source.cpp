// SPDX-License-Identifier: Apache-2.0
// RFC 9162 root, inclusion-proof and consistency-proof generation over a
// NodeSource, and the in-memory source.
//
// The RFC defines PATH and SUBPROOF recursively over lists of leaves. Here the
// same hashes are read off the shape of the path (merkle_path.hpp): every
// proof element is the root of a subtree that starts at a multiple of its
// width 2^level, either a perfect subtree (asked of the source) or the ragged
// right edge of the tree (folded from perfect subtrees). The test suite checks
// the result against a literal transcription of the RFC recursion.
#include "crypto/merkle_source.hpp"

#include <algorithm>
#include <bit>
#include <string>

#include "merkle_path.hpp"

namespace enclave::crypto {
namespace {

std::string str(std::uint64_t v) { return std::to_string(v); }

// The hashing side of generation, bound to one hasher and one source.
class Prover {
public:
    Prover(const LogHasher& hasher, const NodeSource& source) : hasher_(hasher), source_(source) {}

    // Root of the perfect subtree over leaves [index * 2^level, (index + 1) * 2^level).
    [[nodiscard]] Result<Hash> perfect(unsigned level, std::uint64_t index) const {
        if (level == 0) return source_.leaf_hash(index);
        auto cached = source_.subtree_hash(level, index);
        if (!cached) return tl::unexpected(cached.error());
        if (*cached) return **cached;
        auto left = perfect(level - 1, 2 * index);
        if (!left) return left;
        auto right = perfect(level - 1, 2 * index + 1);
        if (!right) return right;
        return hasher_.hash_children(*left, *right);
    }

    // MTH(D[begin:end]) for begin < end, split as RFC 9162 section 2.1.1 does:
    // the left part has the largest power of two below the width.
    [[nodiscard]] Result<Hash> range(std::uint64_t begin, std::uint64_t end) const {
        const std::uint64_t width = end - begin;
        if (std::has_single_bit(width) && begin % width == 0) {
            return perfect(static_cast<unsigned>(std::countr_zero(width)), begin / width);
        }
        const std::uint64_t split = begin + std::bit_floor(width - 1);
        auto left = range(begin, split);
        if (!left) return left;
        auto right = range(split, end);
        if (!right) return right;
        return hasher_.hash_children(*left, *right);
    }

    // Appends the audit path, from level `from` up to the root, of the node
    // at level `from` that holds leaf `leaf`, in the tree of `size` leaves.
    // Requires leaf < size.
    [[nodiscard]] Result<void> append_path(std::uint64_t leaf, std::uint64_t size, unsigned from,
                                           std::vector<Hash>& out) const {
        const detail::PathShape shape = detail::path_shape(leaf, size - 1);
        for (unsigned level = from; level < shape.inner; ++level) {
            // Below the split with the last leaf there is a sibling at every
            // level; when it is on the right it may be the ragged edge.
            const std::uint64_t begin = ((leaf >> level) ^ 1) << level;
            const std::uint64_t end = begin + std::min(std::uint64_t{1} << level, size - begin);
            auto hash = range(begin, end);
            if (!hash) return tl::unexpected(hash.error());
            out.push_back(*hash);
        }
        for (unsigned level = shape.inner; level < 64; ++level) {
            // On the right border only right children have a (left, perfect) sibling.
            if (((leaf >> level) & 1) == 0) continue;
            auto hash = perfect(level, (leaf >> level) - 1);
            if (!hash) return tl::unexpected(hash.error());
            out.push_back(*hash);
        }
        return {};
    }

private:
    const LogHasher& hasher_;
    const NodeSource& source_;
};

}  // namespace

Result<std::optional<Hash>> NodeSource::subtree_hash(unsigned /*level*/,
                                                     std::uint64_t /*index*/) const {
    return std::optional<Hash>{};
}

MemoryNodeSource::MemoryNodeSource(std::span<const Hash> leaf_hashes, LogHasher hasher)
    : hasher_(hasher) {
    levels_.emplace_back();
    for (const Hash& leaf : leaf_hashes) append(leaf);
}

void MemoryNodeSource::append(const Hash& leaf_hash) {
    if (levels_.empty()) levels_.emplace_back();
    levels_[0].push_back(leaf_hash);
    // Each level that now has an even count completed a node one level up.
    for (std::size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
        const auto& row = levels_[level];
        const Hash parent = hasher_.hash_children(row[row.size() - 2], row[row.size() - 1]);
        if (levels_.size() == level + 1) levels_.emplace_back();
        levels_[level + 1].push_back(parent);
    }
}

std::uint64_t MemoryNodeSource::size() const noexcept {
    return levels_.empty() ? 0 : levels_[0].size();
}

Result<Hash> MemoryNodeSource::leaf_hash(std::uint64_t index) const {
    if (index >= size()) {
        return fail(Errc::not_found,
                    "leaf " + str(index) + " is beyond the " + str(size()) + " leaves held");
    }
    return levels_[0][index];
}

Result<std::optional<Hash>> MemoryNodeSource::subtree_hash(unsigned level,
                                                           std::uint64_t index) const {
    if (level >= levels_.size() || index >= levels_[level].size()) {
        return fail(Errc::not_found, "subtree " + str(index) + " at level " + str(level) +
                                         " is not complete in a log of " + str(size()) + " leaves");
    }
    return std::optional<Hash>(levels_[level][index]);
}

Result<Hash> tree_root(const LogHasher& hasher, const NodeSource& source, std::uint64_t size) {
    if (size == 0) return hasher.empty_root();
    auto root = Prover(hasher, source).range(0, size);
    if (!root) return tl::unexpected(root.error().wrap("root of size " + str(size)));
    return root;
}

Result<std::vector<Hash>> inclusion_proof(const LogHasher& hasher, const NodeSource& source,
                                          std::uint64_t index, std::uint64_t size) {
    if (index >= size) {
        return fail(Errc::invalid_argument,
                    "index " + str(index) + " is not below size " + str(size));
    }
    const detail::PathShape shape = detail::path_shape(index, size - 1);
    std::vector<Hash> proof;
    proof.reserve(std::size_t{shape.inner} + shape.border);
    if (auto ok = Prover(hasher, source).append_path(index, size, 0, proof); !ok) {
        return tl::unexpected(
            ok.error().wrap("inclusion proof of index " + str(index) + " in size " + str(size)));
    }
    return proof;
}

Result<std::vector<Hash>> consistency_proof(const LogHasher& hasher, const NodeSource& source,
                                            std::uint64_t size1, std::uint64_t size2) {
    if (size1 > size2) {
        return fail(Errc::invalid_argument, "size1 " + str(size1) + " > size2 " + str(size2));
    }
    std::vector<Hash> proof;
    if (size1 == 0 || size1 == size2) return proof;
    // The last perfect subtree of the old tree (the "seed"), unless it is the
    // whole old tree, then its inclusion path in the new tree.
    const auto shift = static_cast<unsigned>(std::countr_zero(size1));
    const Prover prover(hasher, source);
    const auto context = [&] {
        return "consistency proof from size " + str(size1) + " to " + str(size2);
    };
    if (!std::has_single_bit(size1)) {
        auto seed = prover.perfect(shift, (size1 - 1) >> shift);
        if (!seed) return tl::unexpected(seed.error().wrap(context()));
        proof.push_back(*seed);
    }
    if (auto ok = prover.append_path(size1 - 1, size2, shift, proof); !ok) {
        return tl::unexpected(ok.error().wrap(context()));
    }
    return proof;
}

}  // namespace enclave::crypto
