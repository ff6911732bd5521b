// SPDX-License-Identifier: Apache-2.0
// The incremental tree's persistent state: export, serialize, parse and
// restore, and refusal of malformed states. Also the in-memory source.
#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <string>
#include <vector>

#include "crypto/merkle.hpp"
#include "merkle_reference.hpp"

namespace enclave::crypto {
namespace {

using merkle_test::ReferenceTree;

std::vector<Hash> make_leaves(std::size_t n) {
    const LogHasher hasher;
    std::vector<Hash> out;
    for (std::size_t i = 0; i < n; ++i) {
        const std::string entry = "event " + std::to_string(i);
        out.push_back(hasher.hash_leaf(as_bytes(entry)));
    }
    return out;
}

TEST(MerkleStateTest, EmptyTree) {
    const IncrementalTree tree;
    EXPECT_EQ(tree.size(), 0u);
    EXPECT_TRUE(tree.peaks().empty());
    EXPECT_EQ(tree.root(), LogHasher().empty_root());
    EXPECT_EQ(root_from_leaves(LogHasher(), {}), LogHasher().empty_root());
    const TreeState state = tree.state();
    EXPECT_EQ(state.size, 0u);
    EXPECT_TRUE(state.peaks.empty());
}

TEST(MerkleStateTest, PeaksAreThePerfectSubtreesOfTheSize) {
    const std::vector<Hash> leaves = make_leaves(300);
    const ReferenceTree ref(leaves);
    IncrementalTree tree;
    for (std::uint64_t n = 1; n <= leaves.size(); ++n) {
        ASSERT_TRUE(tree.append(leaves[n - 1]));
        ASSERT_EQ(tree.peaks().size(), static_cast<std::size_t>(std::popcount(n))) << n;
        std::uint64_t begin = 0;
        std::size_t k = 0;
        for (int bit = 63; bit >= 0; --bit) {
            const std::uint64_t width = std::uint64_t{1} << bit;
            if ((n & width) == 0) continue;
            ASSERT_EQ(tree.peaks()[k++], ref.range_root(begin, begin + width)) << n << "/" << bit;
            begin += width;
        }
    }
}

TEST(MerkleStateTest, StateRoundTripsThroughRestoreAndBytes) {
    const std::vector<Hash> leaves = make_leaves(140);
    IncrementalTree tree;
    for (std::uint64_t n = 0; n < 130; ++n) {
        SCOPED_TRACE("size " + std::to_string(n));
        const TreeState state = tree.state();
        const Bytes bytes = state.serialize();
        ASSERT_EQ(bytes.size(), 9 + state.peaks.size() * kMerkleHashSize);
        auto parsed = TreeState::parse(bytes);
        ASSERT_TRUE(parsed) << parsed.error().message();
        EXPECT_EQ(parsed->size, n);
        EXPECT_EQ(parsed->peaks, state.peaks);

        auto restored = IncrementalTree::restore(*parsed, tree.root());
        ASSERT_TRUE(restored) << restored.error().message();
        EXPECT_EQ(restored->size(), n);
        EXPECT_EQ(restored->root(), tree.root());
        // Both continue identically.
        IncrementalTree copy = *restored;
        for (std::size_t k = n; k < n + 10; ++k) {
            ASSERT_TRUE(copy.append(leaves[k]));
        }
        IncrementalTree reference;
        for (std::size_t k = 0; k < n + 10; ++k) ASSERT_TRUE(reference.append(leaves[k]));
        EXPECT_EQ(copy.root(), reference.root());

        ASSERT_TRUE(tree.append(leaves[n]));
    }
}

TEST(MerkleStateTest, SerializedLayoutIsVersionBigEndianSizeThenPeaks) {
    TreeState state;
    state.size = 0x0102030405060705ull;
    const auto peaks = static_cast<std::size_t>(std::popcount(state.size));
    ASSERT_EQ(peaks, 14u);
    state.peaks.assign(peaks, Hash{});
    state.peaks[0][0] = 0xaa;
    const Bytes bytes = state.serialize();
    ASSERT_EQ(bytes.size(), 9u + peaks * 32);
    EXPECT_EQ(bytes[0], 0x01);
    EXPECT_EQ(bytes[1], 0x01);
    EXPECT_EQ(bytes[2], 0x02);
    EXPECT_EQ(bytes[8], 0x05);
    EXPECT_EQ(bytes[9], 0xaa);
    auto parsed = TreeState::parse(bytes);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->size, state.size);
    EXPECT_EQ(parsed->peaks, state.peaks);
}

TEST(MerkleStateTest, RestoreRefusesAPeakCountThatDoesNotMatchTheSize) {
    const Hash h = LogHasher().hash_leaf(as_bytes("x"));
    struct Case {
        std::uint64_t size;
        std::size_t peaks;
        const char* needle;
    };
    const Case cases[] = {
        {0, 1, "tree state of size 0 must have no peak hashes, got 1"},
        {0, 3, "tree state of size 0 must have no peak hashes, got 3"},
        {5, 1, "tree state of size 5 needs 2 peak hashes (one per set bit), got 1"},
        {5, 3, "tree state of size 5 needs 2 peak hashes"},
        {8, 0, "needs 1 peak hashes"},
        {~std::uint64_t{0}, 63, "needs 64 peak hashes"},
    };
    for (const Case& c : cases) {
        auto r = IncrementalTree::restore(TreeState{c.size, std::vector<Hash>(c.peaks, h)});
        ASSERT_FALSE(r) << c.needle;
        EXPECT_EQ(r.error().code(), Errc::malformed_input);
        EXPECT_NE(r.error().context().find(c.needle), std::string::npos) << r.error().context();
    }
    // The valid neighbours restore.
    EXPECT_TRUE(IncrementalTree::restore(TreeState{5, {h, h}}));
    EXPECT_TRUE(IncrementalTree::restore(TreeState{~std::uint64_t{0}, std::vector<Hash>(64, h)}));
}

TEST(MerkleStateTest, RestoreWithAnExpectedRootRefusesAnotherRoot) {
    const std::vector<Hash> leaves = make_leaves(11);
    IncrementalTree tree;
    for (const Hash& leaf : leaves) ASSERT_TRUE(tree.append(leaf));
    TreeState state = tree.state();
    Hash wrong = tree.root();
    wrong[5] ^= 0x10;
    auto r = IncrementalTree::restore(state, wrong);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("root mismatch"), std::string::npos);
    // A tampered peak changes the root.
    state.peaks[1][0] ^= 1;
    EXPECT_FALSE(IncrementalTree::restore(state, tree.root()));
}

TEST(MerkleStateTest, ParseRefusesMalformedBytes) {
    TreeState good{6, {Hash{}, Hash{}}};
    const Bytes bytes = good.serialize();
    const auto refused = [](const Bytes& b, const std::string& needle) {
        auto r = TreeState::parse(b);
        ASSERT_FALSE(r) << needle;
        EXPECT_EQ(r.error().code(), Errc::malformed_input);
        EXPECT_NE(r.error().context().find(needle), std::string::npos) << r.error().context();
    };
    refused({}, "tree state is 0 bytes");
    refused(Bytes(bytes.begin(), bytes.begin() + 8), "tree state is 8 bytes");
    for (std::uint8_t version : {0x00, 0x02, 0xff}) {
        Bytes b = bytes;
        b[0] = version;
        refused(b, "unknown version");
    }
    refused(Bytes(bytes.begin(), bytes.end() - 1), "needs 2 peak hashes (64 bytes), got 63 bytes");
    Bytes longer = bytes;
    longer.push_back(0);
    refused(longer, "got 65 bytes");
    Bytes more_peaks = bytes;
    more_peaks.insert(more_peaks.end(), 32, 0);
    refused(more_peaks, "got 96 bytes");
    Bytes size_zero = bytes;
    for (int i = 1; i < 9; ++i) size_zero[i] = 0;
    refused(size_zero, "tree state of size 0 needs 0 peak hashes");
    Bytes max_size(9, 0xff);
    max_size[0] = 0x01;
    refused(max_size, "needs 64 peak hashes (2048 bytes), got 0 bytes");
}

TEST(MerkleStateTest, ParseOfRandomBytesNeverYieldsAnUnrestorableState) {
    const std::uint64_t seed = merkle_test::test_seed();
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    int parsed = 0;
    for (int round = 0; round < 20000; ++round) {
        // Mostly a valid version byte and a small popcount, so that some parse.
        Bytes b(static_cast<std::size_t>(rng() % 300));
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        if (!b.empty() && round % 2 == 0) b[0] = 0x01;
        if (b.size() >= 9 && round % 4 == 0) {
            for (int i = 1; i < 8; ++i) b[i] = 0;
            b.resize(9 + 32 * static_cast<std::size_t>(std::popcount(b[8])));
        }
        auto state = TreeState::parse(b);
        if (!state) continue;
        ++parsed;
        ASSERT_TRUE(IncrementalTree::restore(*state)) << round;
        EXPECT_EQ(state->serialize(), b);
    }
    EXPECT_GT(parsed, 100);
}

TEST(MerkleStateTest, AppendDataHashesTheEntry) {
    IncrementalTree tree;
    auto leaf = tree.append_data(as_bytes("first record"));
    ASSERT_TRUE(leaf);
    EXPECT_EQ(*leaf, LogHasher().hash_leaf(as_bytes("first record")));
    EXPECT_EQ(tree.root(), *leaf);  // a one-leaf tree's root is its leaf hash
    EXPECT_EQ(tree.size(), 1u);
}

TEST(MerkleStateTest, MemorySourceAnswersOnlyWhatItHolds) {
    const std::vector<Hash> leaves = make_leaves(6);
    MemoryNodeSource source(leaves);
    EXPECT_EQ(source.size(), 6u);
    EXPECT_EQ(*source.leaf_hash(5), leaves[5]);
    auto past = source.leaf_hash(6);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().code(), Errc::not_found);
    EXPECT_EQ(past.error().context(), "leaf 6 is beyond the 6 leaves held");
    // Leaves 0-3 form a complete level-2 subtree; 4-7 do not yet.
    auto four = source.subtree_hash(2, 0);
    ASSERT_TRUE(four);
    ASSERT_TRUE(four->has_value());
    EXPECT_EQ(**four, root_from_leaves(LogHasher(), std::span(leaves).first(4)));
    EXPECT_FALSE(source.subtree_hash(2, 1));
    EXPECT_FALSE(source.subtree_hash(40, 0));
    source.append(leaves[0]);
    source.append(leaves[1]);
    EXPECT_TRUE(source.subtree_hash(2, 1));
    EXPECT_TRUE(source.subtree_hash(3, 0));
    const MemoryNodeSource empty;
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_FALSE(empty.leaf_hash(0));
    EXPECT_EQ(*tree_root(LogHasher(), empty, 0), LogHasher().empty_root());
}

}  // namespace
}  // namespace enclave::crypto
