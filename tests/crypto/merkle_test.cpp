// SPDX-License-Identifier: Apache-2.0
// The RFC 9162 hasher and the shared known-answer vectors
// (shared/test-vectors/merkle-rfc9162.json, read in place).
#include "crypto/merkle.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using enclave::testing::load_shared_json;

Hash hash_of(const std::string& hex) {
    auto h = hash_from_hex(hex);
    EXPECT_TRUE(h) << (h ? "" : h.error().message());
    return h ? *h : Hash{};
}

std::vector<Hash> hashes_of(const nlohmann::json& list) {
    std::vector<Hash> out;
    for (const auto& hex : list) out.push_back(hash_of(hex.get<std::string>()));
    return out;
}

// The vector file's leaves, hashed.
std::vector<Hash> vector_leaves(const nlohmann::json& doc) {
    const LogHasher hasher;
    std::vector<Hash> out;
    for (const auto& hex : doc.at("leaves_hex")) {
        auto data = hex_decode(hex.get<std::string>());
        EXPECT_TRUE(data);
        out.push_back(hasher.hash_leaf(data ? *data : Bytes{}));
    }
    return out;
}

TEST(MerkleHasherTest, MatchesRfc9162Definitions) {
    const LogHasher hasher;
    // SHA-256("") and SHA-256(0x00): the empty tree and the empty leaf.
    EXPECT_EQ(hash_to_hex(hasher.empty_root()),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(hash_to_hex(hasher.hash_leaf({})),
              "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    // SHA-256(0x01 || 32 zero bytes || 32 zero bytes), computed with digest.hpp.
    Bytes node(65, 0);
    node[0] = 0x01;
    const Bytes want = digest(HashAlg::sha256, node);
    const Hash got = hasher.hash_children(Hash{}, Hash{});
    EXPECT_EQ(Bytes(got.begin(), got.end()), want);
}

TEST(MerkleHasherTest, SeparatesLeavesFromNodes) {
    // A 64-byte leaf that is the concatenation of two hashes must not hash
    // like the interior node over them (the second-preimage attack).
    const LogHasher hasher;
    const Hash a = hasher.hash_leaf(as_bytes("a"));
    const Hash b = hasher.hash_leaf(as_bytes("b"));
    Bytes joined(a.begin(), a.end());
    joined.insert(joined.end(), b.begin(), b.end());
    EXPECT_NE(hasher.hash_leaf(joined), hasher.hash_children(a, b));
    EXPECT_NE(hasher.hash_children(a, b), hasher.hash_children(b, a));
}

TEST(MerkleHasherTest, HexRoundTripAndRejectsBadHex) {
    const Hash h = LogHasher().hash_leaf(as_bytes("x"));
    auto back = hash_from_hex(hash_to_hex(h));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, h);
    for (const std::string& bad : {std::string(), std::string(62, 'a'), std::string(66, 'a'),
                                   std::string(63, 'a') + "g", std::string(64, ' ')}) {
        auto r = hash_from_hex(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::malformed_input);
    }
}

TEST(MerkleVectorsTest, RootsForEverySize) {
    const auto doc = load_shared_json("test-vectors/merkle-rfc9162.json");
    ASSERT_GE(doc.at("roots").size(), 1u) << "the vector file has no root cases";
    const LogHasher hasher;
    const std::vector<Hash> leaves = vector_leaves(doc);
    const MemoryNodeSource source(leaves);
    std::size_t checked = 0;
    for (const auto& c : doc.at("roots")) {
        const std::uint64_t size = c.at("size");
        ASSERT_LE(size, leaves.size());
        const Hash want = hash_of(c.at("root_hex"));
        auto from_source = tree_root(hasher, source, size);
        ASSERT_TRUE(from_source) << from_source.error().message();
        EXPECT_EQ(*from_source, want) << "tree_root, size " << size;
        EXPECT_EQ(root_from_leaves(hasher, std::span(leaves).first(size)), want) << size;
        IncrementalTree tree;
        for (std::uint64_t i = 0; i < size; ++i) ASSERT_TRUE(tree.append(leaves[i]));
        EXPECT_EQ(tree.root(), want) << "incremental, size " << size;
        ++checked;
    }
    EXPECT_EQ(checked, doc.at("roots").size());
}

TEST(MerkleVectorsTest, InclusionProofsAreGeneratedAndVerify) {
    const auto doc = load_shared_json("test-vectors/merkle-rfc9162.json");
    ASSERT_GE(doc.at("inclusion").size(), 1u) << "the vector file has no inclusion cases";
    const LogHasher hasher;
    const std::vector<Hash> leaves = vector_leaves(doc);
    const MemoryNodeSource source(leaves);
    std::size_t checked = 0;
    for (const auto& c : doc.at("inclusion")) {
        const std::uint64_t index = c.at("index");
        const std::uint64_t size = c.at("size");
        SCOPED_TRACE("index " + std::to_string(index) + ", size " + std::to_string(size));
        ASSERT_LT(index, leaves.size());
        auto data = hex_decode(c.at("leaf_hex").get<std::string>());
        ASSERT_TRUE(data);
        const Hash leaf = hasher.hash_leaf(*data);
        EXPECT_EQ(leaf, leaves[index]) << "leaf_hex disagrees with leaves_hex";
        const std::vector<Hash> want = hashes_of(c.at("proof_hex"));

        auto generated = inclusion_proof(hasher, source, index, size);
        ASSERT_TRUE(generated) << generated.error().message();
        EXPECT_EQ(*generated, want);
        EXPECT_EQ(inclusion_proof_size(index, size), want.size());

        const Hash root = *tree_root(hasher, source, size);
        auto ok = verify_inclusion(hasher, index, size, leaf, want, root);
        EXPECT_TRUE(ok) << ok.error().message();
        ++checked;
    }
    EXPECT_EQ(checked, doc.at("inclusion").size());
}

TEST(MerkleVectorsTest, ConsistencyProofsAreGeneratedAndVerify) {
    const auto doc = load_shared_json("test-vectors/merkle-rfc9162.json");
    ASSERT_GE(doc.at("consistency").size(), 1u) << "the vector file has no consistency cases";
    const LogHasher hasher;
    const std::vector<Hash> leaves = vector_leaves(doc);
    const MemoryNodeSource source(leaves);
    std::size_t checked = 0;
    for (const auto& c : doc.at("consistency")) {
        const std::uint64_t size1 = c.at("size1");
        const std::uint64_t size2 = c.at("size2");
        SCOPED_TRACE("size1 " + std::to_string(size1) + ", size2 " + std::to_string(size2));
        ASSERT_LE(size2, leaves.size());
        const std::vector<Hash> want = hashes_of(c.at("proof_hex"));

        auto generated = consistency_proof(hasher, source, size1, size2);
        ASSERT_TRUE(generated) << generated.error().message();
        EXPECT_EQ(*generated, want);
        EXPECT_EQ(consistency_proof_size(size1, size2), want.size());

        const Hash root1 = *tree_root(hasher, source, size1);
        const Hash root2 = *tree_root(hasher, source, size2);
        auto ok = verify_consistency(hasher, size1, size2, want, root1, root2);
        EXPECT_TRUE(ok) << ok.error().message();
        ++checked;
    }
    EXPECT_EQ(checked, doc.at("consistency").size());
}

}  // namespace
}  // namespace enclave::crypto
