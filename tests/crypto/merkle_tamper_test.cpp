// SPDX-License-Identifier: Apache-2.0
// Hostile input to the Merkle proof checks: every tampered proof, leaf, index,
// size or root is refused with integrity_failure and a message that names the
// check; bad arguments to generation are refused without a throw.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "crypto/merkle.hpp"
#include "merkle_reference.hpp"

namespace enclave::crypto {
namespace {

constexpr std::uint64_t kLeaves = 80;

class MerkleTamperTest : public ::testing::Test {
protected:
    MerkleTamperTest() {
        for (std::uint64_t i = 0; i < kLeaves; ++i) {
            const std::string entry = "audit record " + std::to_string(i);
            leaves_.push_back(hasher_.hash_leaf(as_bytes(entry)));
        }
        source_ = MemoryNodeSource(leaves_);
        for (std::uint64_t n = 0; n <= kLeaves; ++n)
            roots_.push_back(*tree_root(hasher_, source_, n));
    }

    std::vector<Hash> inclusion(std::uint64_t index, std::uint64_t size) const {
        auto p = inclusion_proof(hasher_, source_, index, size);
        EXPECT_TRUE(p) << p.error().message();
        return p ? *p : std::vector<Hash>{};
    }
    std::vector<Hash> consistency(std::uint64_t size1, std::uint64_t size2) const {
        auto p = consistency_proof(hasher_, source_, size1, size2);
        EXPECT_TRUE(p) << p.error().message();
        return p ? *p : std::vector<Hash>{};
    }

    // Fails the test unless `r` is an integrity_failure whose context contains `needle`.
    static void expect_refused(const Result<void>& r, const std::string& needle = "") {
        ASSERT_FALSE(r) << "accepted, expected: " << needle;
        EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
        EXPECT_NE(r.error().context().find(needle), std::string::npos)
            << "'" << r.error().context() << "' lacks '" << needle << "'";
    }

    // A sample of single-bit flips: one bit per byte, rotating, plus both ends.
    static std::vector<std::pair<std::size_t, int>> flips() {
        std::vector<std::pair<std::size_t, int>> out;
        for (std::size_t byte = 0; byte < kMerkleHashSize; ++byte) {
            out.emplace_back(byte, static_cast<int>(byte % 8));
        }
        out.emplace_back(0, 7);
        out.emplace_back(kMerkleHashSize - 1, 0);
        return out;
    }

    const std::vector<std::uint64_t> sizes_ = {1,  2,  3,  4,  5,  7,  8,  9,
                                               13, 16, 17, 31, 32, 33, 63, 80};
    LogHasher hasher_;
    std::vector<Hash> leaves_;
    MemoryNodeSource source_;
    std::vector<Hash> roots_;
};

TEST_F(MerkleTamperTest, InclusionRejectsAFlippedBitInAnyProofElement) {
    int refused = 0;
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::vector<Hash> good = inclusion(i, n);
            ASSERT_TRUE(verify_inclusion(hasher_, i, n, leaves_[i], good, roots_[n]));
            for (std::size_t e = 0; e < good.size(); ++e) {
                for (auto [byte, bit] : flips()) {
                    std::vector<Hash> bad = good;
                    bad[e][byte] ^= static_cast<std::uint8_t>(1u << bit);
                    expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], bad, roots_[n]),
                                   "root mismatch");
                    ++refused;
                }
            }
        }
    }
    EXPECT_GT(refused, 10000);
}

TEST_F(MerkleTamperTest, InclusionRejectsAWrongLeafOrRoot) {
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::vector<Hash> proof = inclusion(i, n);
            expect_refused(
                verify_inclusion(hasher_, i, n, leaves_[(i + 1) % kLeaves], proof, roots_[n]),
                "root mismatch");
            Hash flipped = leaves_[i];
            flipped[31] ^= 1;
            expect_refused(verify_inclusion(hasher_, i, n, flipped, proof, roots_[n]),
                           "root mismatch");
            // The data itself instead of its leaf hash, or the root of another size.
            expect_refused(verify_inclusion(hasher_, i, n, hasher_.empty_root(), proof, roots_[n]));
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], proof, roots_[n - 1]));
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], proof,
                                            roots_[n + 1 <= kLeaves ? n + 1 : 1]));
        }
    }
}

TEST_F(MerkleTamperTest, InclusionRejectsAWrongIndex) {
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::vector<Hash> proof = inclusion(i, n);
            for (std::uint64_t j = 0; j < n; ++j) {
                if (j == i) continue;
                expect_refused(verify_inclusion(hasher_, j, n, leaves_[i], proof, roots_[n]));
            }
        }
    }
}

TEST_F(MerkleTamperTest, InclusionRejectsAWrongSize) {
    // The claimed size comes with its own root (a tree head binds both).
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::vector<Hash> proof = inclusion(i, n);
            for (std::uint64_t m = i + 1; m <= std::min(kLeaves, n + 9); ++m) {
                if (m == n) continue;
                expect_refused(verify_inclusion(hasher_, i, m, leaves_[i], proof, roots_[m]));
            }
        }
    }
}

TEST_F(MerkleTamperTest, InclusionBindsTheSizeOnlyThroughTheRoot) {
    // Documented in merkle_proof.hpp: index 0 has the same path shape in trees
    // of 5 and 6 leaves, so the size-5 proof checks against (6, root of 5).
    // A tree head never pairs those two, and with the size-6 root it fails.
    const std::vector<Hash> proof = inclusion(0, 5);
    EXPECT_EQ(inclusion_proof_size(0, 6), proof.size());
    EXPECT_TRUE(verify_inclusion(hasher_, 0, 6, leaves_[0], proof, roots_[5]));
    expect_refused(verify_inclusion(hasher_, 0, 6, leaves_[0], proof, roots_[6]), "root mismatch");
}

TEST_F(MerkleTamperTest, InclusionRejectsAnExtraOrMissingElement) {
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::vector<Hash> good = inclusion(i, n);
            const std::string needs =
                "in a tree of size " + std::to_string(n) + " needs " + std::to_string(good.size());
            std::vector<Hash> longer = good;
            longer.push_back(roots_[n]);
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], longer, roots_[n]), needs);
            std::vector<Hash> prefixed = good;
            prefixed.insert(prefixed.begin(), leaves_[i]);
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], prefixed, roots_[n]), needs);
            if (good.empty()) continue;
            const std::vector<Hash> no_last(good.begin(), good.end() - 1);
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], no_last, roots_[n]), needs);
            const std::vector<Hash> no_first(good.begin() + 1, good.end());
            expect_refused(verify_inclusion(hasher_, i, n, leaves_[i], no_first, roots_[n]), needs);
        }
    }
    const std::vector<Hash> huge(100000, Hash{});
    expect_refused(verify_inclusion(hasher_, 3, 8, leaves_[3], huge, roots_[8]),
                   "inclusion proof has 100000 hashes; index 3 in a tree of size 8 needs 3");
}

TEST_F(MerkleTamperTest, InclusionRejectsAnIndexNotBelowTheSize) {
    const std::vector<Hash> proof = inclusion(7, 8);
    expect_refused(verify_inclusion(hasher_, 9, 8, leaves_[7], proof, roots_[8]),
                   "index 9 is not below size 8");
    expect_refused(verify_inclusion(hasher_, 8, 8, leaves_[7], proof, roots_[8]),
                   "index 8 is not below size 8");
    expect_refused(verify_inclusion(hasher_, 0, 0, leaves_[0], {}, hasher_.empty_root()),
                   "index 0 is not below size 0");
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    expect_refused(verify_inclusion(hasher_, kMax, kMax, leaves_[0], {}, roots_[1]),
                   "is not below size");
    auto r = root_from_inclusion_proof(hasher_, 8, 8, leaves_[7], proof);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    // Sizes near 2^64 with a proof of the wrong length: refused, no overflow.
    expect_refused(verify_inclusion(hasher_, kMax - 1, kMax, leaves_[0], proof, roots_[1]),
                   "needs 63");
    expect_refused(verify_inclusion(hasher_, 0, kMax, leaves_[0], proof, roots_[1]), "needs 64");
    EXPECT_EQ(inclusion_proof_size(0, kMax), 64u);
    EXPECT_EQ(inclusion_proof_size(kMax - 1, kMax), 63u);
    EXPECT_EQ(inclusion_proof_size(5, 5), 0u);
}

TEST_F(MerkleTamperTest, ConsistencyRejectsTamperedProofsAndRoots) {
    for (std::uint64_t n : sizes_) {
        for (std::uint64_t m = 1; m < n; ++m) {
            SCOPED_TRACE(std::to_string(m) + " -> " + std::to_string(n));
            const std::vector<Hash> good = consistency(m, n);
            ASSERT_TRUE(verify_consistency(hasher_, m, n, good, roots_[m], roots_[n]));
            for (std::size_t e = 0; e < good.size(); ++e) {
                for (auto [byte, bit] : flips()) {
                    std::vector<Hash> bad = good;
                    bad[e][byte] ^= static_cast<std::uint8_t>(1u << bit);
                    expect_refused(verify_consistency(hasher_, m, n, bad, roots_[m], roots_[n]),
                                   "mismatch");
                }
            }
            Hash wrong1 = roots_[m];
            wrong1[0] ^= 0x80;
            expect_refused(verify_consistency(hasher_, m, n, good, wrong1, roots_[n]), "mismatch");
            expect_refused(verify_consistency(hasher_, m, n, good, roots_[m - 1], roots_[n]));
            Hash wrong2 = roots_[n];
            wrong2[31] ^= 0x01;
            expect_refused(verify_consistency(hasher_, m, n, good, roots_[m], wrong2),
                           "root2 mismatch");
            expect_refused(verify_consistency(hasher_, m, n, good, roots_[n], roots_[m]));

            const std::string needs = "sizes " + std::to_string(m) + " to " + std::to_string(n) +
                                      " need " + std::to_string(good.size());
            std::vector<Hash> longer = good;
            longer.push_back(roots_[n]);
            expect_refused(verify_consistency(hasher_, m, n, longer, roots_[m], roots_[n]), needs);
            if (good.size() > 1) {
                const std::vector<Hash> shorter(good.begin() + 1, good.end());
                expect_refused(verify_consistency(hasher_, m, n, shorter, roots_[m], roots_[n]),
                               needs);
            }
            expect_refused(verify_consistency(hasher_, m, n, {}, roots_[m], roots_[n]),
                           "consistency proof is empty for different sizes");
            // The same proof for neighbouring sizes, with their real roots.
            if (m + 1 < n) {
                expect_refused(
                    verify_consistency(hasher_, m + 1, n, good, roots_[m + 1], roots_[n]));
            }
            if (n < kLeaves) {
                expect_refused(
                    verify_consistency(hasher_, m, n + 1, good, roots_[m], roots_[n + 1]));
            }
        }
    }
}

TEST_F(MerkleTamperTest, ConsistencyRejectsImpossibleSizes) {
    const std::vector<Hash> proof = consistency(3, 8);
    expect_refused(verify_consistency(hasher_, 8, 3, proof, roots_[8], roots_[3]),
                   "size1 8 > size2 3");
    expect_refused(verify_consistency(hasher_, 5, 5, proof, roots_[5], roots_[5]),
                   "proof is not empty for equal sizes");
    expect_refused(verify_consistency(hasher_, 5, 5, {}, roots_[5], roots_[6]), "root mismatch");
    EXPECT_TRUE(verify_consistency(hasher_, 5, 5, {}, roots_[5], roots_[5]));
    expect_refused(verify_consistency(hasher_, 0, 8, proof, hasher_.empty_root(), roots_[8]),
                   "proof is not empty for size1 0");
    expect_refused(verify_consistency(hasher_, 0, 8, {}, roots_[1], roots_[8]), "root1 mismatch");
    EXPECT_TRUE(verify_consistency(hasher_, 0, 8, {}, hasher_.empty_root(), roots_[8]));
    EXPECT_TRUE(verify_consistency(hasher_, 0, 0, {}, hasher_.empty_root(), hasher_.empty_root()));
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    expect_refused(verify_consistency(hasher_, kMax - 1, kMax, proof, roots_[1], roots_[2]),
                   "need 64");
    expect_refused(
        verify_consistency(hasher_, std::uint64_t{1} << 63, kMax, proof, roots_[1], roots_[2]),
        "need 1");  // the old tree is the whole left half
    expect_refused(verify_consistency(hasher_, 1, kMax, proof, roots_[1], roots_[2]), "need 64");
    const std::vector<Hash> huge(100000, Hash{});
    expect_refused(verify_consistency(hasher_, 3, 8, huge, roots_[3], roots_[8]),
                   "consistency proof has 100000 hashes; sizes 3 to 8 need 4");
}

TEST_F(MerkleTamperTest, GenerationRefusesBadArgumentsWithoutThrowing) {
    auto past = inclusion_proof(hasher_, source_, 8, 8);
    ASSERT_FALSE(past);
    EXPECT_EQ(past.error().code(), Errc::invalid_argument);
    EXPECT_EQ(past.error().context(), "index 8 is not below size 8");

    auto beyond = inclusion_proof(hasher_, source_, 3, kLeaves + 5);
    ASSERT_FALSE(beyond);
    EXPECT_EQ(beyond.error().code(), Errc::not_found) << beyond.error().message();
    EXPECT_NE(beyond.error().context().find("inclusion proof of index 3"), std::string::npos);

    auto shrink = consistency_proof(hasher_, source_, 9, 4);
    ASSERT_FALSE(shrink);
    EXPECT_EQ(shrink.error().code(), Errc::invalid_argument);
    auto cbeyond = consistency_proof(hasher_, source_, 3, kLeaves + 1);
    ASSERT_FALSE(cbeyond);
    EXPECT_EQ(cbeyond.error().code(), Errc::not_found);
    auto rbeyond = tree_root(hasher_, source_, kLeaves + 1);
    ASSERT_FALSE(rbeyond);
    EXPECT_EQ(rbeyond.error().code(), Errc::not_found);

    // A leaf-only source fails the same way when asked past its end.
    const merkle_test::LeafOnlySource bare(leaves_);
    EXPECT_FALSE(inclusion_proof(hasher_, bare, 0, 1000));
    EXPECT_FALSE(tree_root(hasher_, bare, std::numeric_limits<std::uint64_t>::max()));
    // Degenerate but valid requests.
    EXPECT_TRUE(consistency_proof(hasher_, source_, 0, 5)->empty());
    EXPECT_TRUE(consistency_proof(hasher_, source_, 5, 5)->empty());
    EXPECT_TRUE(inclusion_proof(hasher_, source_, 0, 1)->empty());
}

}  // namespace
}  // namespace enclave::crypto
