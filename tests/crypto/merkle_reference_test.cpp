// SPDX-License-Identifier: Apache-2.0
// Randomized comparison of the Merkle code with a naive transcription of the
// RFC 9162 definitions (merkle_reference.hpp), for every size 0..1024, and at
// sizes around 2^63 and 2^64 - 1 where any overflow would show.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "crypto/merkle.hpp"
#include "merkle_reference.hpp"

namespace enclave::crypto {
namespace {

using merkle_test::LeafOnlySource;
using merkle_test::random_leaves;
using merkle_test::ReferenceTree;
using merkle_test::test_seed;

constexpr std::uint64_t kMaxSize = 1024;  // every size 0..kMaxSize is checked
constexpr std::uint64_t kChunk = 128;     // sizes per test case, so ctest -j spreads them

std::string seed_trace(std::uint64_t seed) {
    return "seed " + std::to_string(seed) +
           " (replay with ENCLAVE_TEST_SEED=" + std::to_string(seed) + ")";
}

// Indices to prove in a tree of size n: all of them for small trees, else the
// ends, the middle and a few random ones.
std::set<std::uint64_t> sample(std::mt19937_64& rng, std::uint64_t n, std::uint64_t all_below,
                               std::uint64_t lo = 0) {
    std::set<std::uint64_t> out;
    if (n - lo <= all_below) {
        for (std::uint64_t i = lo; i < n; ++i) out.insert(i);
        return out;
    }
    out.insert({lo, n - 1, lo + (n - lo) / 2});
    if (std::bit_floor(n - 1) >= lo) out.insert(std::bit_floor(n - 1));
    std::uniform_int_distribution<std::uint64_t> pick(lo, n - 1);
    for (int k = 0; k < 6; ++k) out.insert(pick(rng));
    return out;
}

class MerkleReferenceTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(MerkleReferenceTest, RootsAndProofsMatchTheRfcDefinitions) {
    const std::uint64_t seed = test_seed();
    SCOPED_TRACE(seed_trace(seed));
    std::mt19937_64 rng(seed);
    const std::uint64_t lo = GetParam();
    const std::uint64_t hi = std::min(lo + kChunk, kMaxSize + 1);  // sizes [lo, hi)
    const std::vector<Hash> leaves = random_leaves(rng, hi);
    const LogHasher hasher;
    const ReferenceTree ref(leaves);
    const MemoryNodeSource cached(leaves);
    const LeafOnlySource bare(leaves);

    IncrementalTree tree;
    for (std::uint64_t i = 0; i < lo; ++i) ASSERT_TRUE(tree.append(leaves[i]));
    for (std::uint64_t n = lo; n < hi; ++n) {
        SCOPED_TRACE("size " + std::to_string(n));
        const Hash root = ref.root(n);
        ASSERT_EQ(tree.size(), n);
        ASSERT_EQ(tree.root(), root) << "incremental root";
        ASSERT_EQ(*tree_root(hasher, cached, n), root) << "tree_root, cached source";
        ASSERT_EQ(*tree_root(hasher, bare, n), root) << "tree_root, leaf-only source";
        ASSERT_EQ(root_from_leaves(hasher, std::span(leaves).first(n)), root);

        for (std::uint64_t i : sample(rng, n, 64)) {
            const std::vector<Hash> want = ref.path(i, n);
            auto got = inclusion_proof(hasher, cached, i, n);
            ASSERT_TRUE(got) << got.error().message();
            ASSERT_EQ(*got, want) << "inclusion proof of " << i;
            ASSERT_EQ(inclusion_proof_size(i, n), want.size());
            auto ok = verify_inclusion(hasher, i, n, leaves[i], want, root);
            ASSERT_TRUE(ok) << i << ": " << ok.error().message();
        }
        if (n > 0) {  // one proof from the leaf-only source per size
            const std::uint64_t i = rng() % n;
            ASSERT_EQ(*inclusion_proof(hasher, bare, i, n), ref.path(i, n)) << i;
        }

        for (std::uint64_t m : sample(rng, n + 1, 40)) {
            const std::vector<Hash> want = ref.proof(m, n);
            auto got = consistency_proof(hasher, cached, m, n);
            ASSERT_TRUE(got) << got.error().message();
            ASSERT_EQ(*got, want) << "consistency proof from " << m;
            ASSERT_EQ(consistency_proof_size(m, n), want.size());
            auto ok = verify_consistency(hasher, m, n, want, ref.root(m), root);
            ASSERT_TRUE(ok) << m << ": " << ok.error().message();
        }
        if (n > 0) {
            const std::uint64_t m = rng() % (n + 1);
            ASSERT_EQ(*consistency_proof(hasher, bare, m, n), ref.proof(m, n)) << m;
        }
        ASSERT_TRUE(tree.append(leaves[n]));
    }
}

std::vector<std::uint64_t> chunk_starts() {
    std::vector<std::uint64_t> out;
    for (std::uint64_t lo = 0; lo <= kMaxSize; lo += kChunk) out.push_back(lo);
    return out;
}

INSTANTIATE_TEST_SUITE_P(Sizes, MerkleReferenceTest, ::testing::ValuesIn(chunk_starts()),
                         [](const auto& param_info) {
                             return "from" + std::to_string(param_info.param);
                         });

// ---------------------------------------------------------------------------
// Trees of up to 2^64 - 1 leaves. All leaves are equal except a window of 16
// distinct ones, so the hash of any range outside the window depends on its
// width only and both the source and the reference can skip it.

constexpr std::uint64_t kWindow = 16;
constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

class WindowTree {
public:
    explicit WindowTree(std::uint64_t window_begin) : w0_(window_begin) {
        uniform_ = hasher_.hash_leaf(as_bytes("uniform"));
        perfect_.push_back(uniform_);
        for (int level = 1; level < 64; ++level) {
            perfect_.push_back(hasher_.hash_children(perfect_.back(), perfect_.back()));
        }
    }

    [[nodiscard]] bool in_window(std::uint64_t i) const { return i >= w0_ && i - w0_ < kWindow; }

    [[nodiscard]] Hash leaf(std::uint64_t i) const {
        if (!in_window(i)) return uniform_;
        const std::string entry = "entry " + std::to_string(i);
        return hasher_.hash_leaf(as_bytes(entry));
    }

    // [b, e) misses the window.
    [[nodiscard]] bool outside(std::uint64_t b, std::uint64_t e) const {
        return e <= w0_ || b >= w0_ + kWindow;
    }

    // MTH of `width` uniform leaves, by the RFC split on widths alone.
    [[nodiscard]] Hash uniform_range(std::uint64_t width) const {
        if (std::has_single_bit(width)) return perfect_[std::countr_zero(width)];
        if (auto it = memo_.find(width); it != memo_.end()) return it->second;
        const std::uint64_t k = std::bit_floor(width - 1);
        const Hash h =
            hasher_.hash_children(perfect_[std::countr_zero(k)], uniform_range(width - k));
        memo_.emplace(width, h);
        return h;
    }

    [[nodiscard]] const Hash& perfect(unsigned level) const { return perfect_[level]; }

    [[nodiscard]] ReferenceTree reference() const {
        return ReferenceTree([this](std::uint64_t i) { return leaf(i); },
                             [this](std::uint64_t b, std::uint64_t e) -> std::optional<Hash> {
                                 if (!outside(b, e)) return std::nullopt;
                                 return uniform_range(e - b);
                             });
    }

private:
    LogHasher hasher_;
    std::uint64_t w0_;
    Hash uniform_{};
    std::vector<Hash> perfect_;
    mutable std::map<std::uint64_t, Hash> memo_;
};

// The source side: cached perfect subtrees outside the window only, so the
// maths must recurse into the window's subtrees itself.
class WindowSource final : public NodeSource {
public:
    explicit WindowSource(const WindowTree& tree) : tree_(tree) {}
    Result<Hash> leaf_hash(std::uint64_t index) const override {
        if (index == kMax) return fail(Errc::not_found, "past the largest tree");
        return tree_.leaf(index);
    }
    Result<std::optional<Hash>> subtree_hash(unsigned level, std::uint64_t index) const override {
        const std::uint64_t begin = index << level;
        const std::uint64_t last = begin + ((std::uint64_t{1} << level) - 1);
        if (last < begin) return fail(Errc::internal, "subtree past 2^64 asked for");
        if (last < kMax && tree_.outside(begin, last + 1))
            return std::optional(tree_.perfect(level));
        return std::optional<Hash>{};
    }

private:
    const WindowTree& tree_;
};

// The peaks of a tree of `size` leaves, per the reference.
TreeState reference_state(const ReferenceTree& ref, std::uint64_t size);

TEST(MerkleHugeTreeTest, ProofsRootsAndStateNearTwoToThe64) {
    const LogHasher hasher;
    const std::uint64_t two63 = std::uint64_t{1} << 63;
    const std::uint64_t sizes[] = {two63 - 1,           two63,    two63 + 1, two63 + 12345,
                                   3 * (two63 / 2) + 5, kMax - 1, kMax};
    for (std::uint64_t size : sizes) {
        for (std::uint64_t w0 : {std::uint64_t{0}, two63 - 8, size - kWindow, size / 3}) {
            SCOPED_TRACE("size " + std::to_string(size) + ", window at " + std::to_string(w0));
            const WindowTree shape(w0);
            const WindowSource source(shape);
            const ReferenceTree ref = shape.reference();
            const Hash root = ref.root(size);
            auto got_root = tree_root(hasher, source, size);
            ASSERT_TRUE(got_root) << got_root.error().message();
            ASSERT_EQ(*got_root, root);

            for (std::uint64_t i = w0; i < w0 + kWindow && i < size; ++i) {
                auto proof = inclusion_proof(hasher, source, i, size);
                ASSERT_TRUE(proof) << proof.error().message();
                ASSERT_EQ(*proof, ref.path(i, size)) << i;
                ASSERT_TRUE(verify_inclusion(hasher, i, size, shape.leaf(i), *proof, root)) << i;
                auto wrong = verify_inclusion(hasher, i, size, shape.leaf(i + 1), *proof, root);
                ASSERT_FALSE(wrong) << i;

                const std::uint64_t m = i + 1;  // consistency from inside the window
                auto cproof = consistency_proof(hasher, source, m, size);
                ASSERT_TRUE(cproof) << cproof.error().message();
                ASSERT_EQ(*cproof, ref.proof(m, size)) << m;
                ASSERT_TRUE(verify_consistency(hasher, m, size, *cproof, ref.root(m), root)) << m;
            }

            auto restored = IncrementalTree::restore(reference_state(ref, size), root);
            ASSERT_TRUE(restored) << restored.error().message();
            if (size < kMax) {
                ASSERT_TRUE(restored->append(shape.leaf(size)));
                EXPECT_EQ(restored->root(), ref.root(size + 1));
            } else {
                auto full = restored->append(shape.leaf(0));
                ASSERT_FALSE(full);
                EXPECT_EQ(full.error().code(), Errc::too_large);
                EXPECT_EQ(restored->size(), kMax);
            }
        }
    }
}

TreeState reference_state(const ReferenceTree& ref, std::uint64_t size) {
    // One peak per set bit of the size, largest first: MTH of its leaves.
    TreeState state;
    state.size = size;
    std::uint64_t begin = 0;
    for (int bit = 63; bit >= 0; --bit) {
        const std::uint64_t width = std::uint64_t{1} << bit;
        if ((size & width) == 0) continue;
        state.peaks.push_back(ref.range_root(begin, begin + width));
        begin += width;
    }
    return state;
}

}  // namespace
}  // namespace enclave::crypto
