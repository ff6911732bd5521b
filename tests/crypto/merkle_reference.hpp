// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test-only helpers for the Merkle suites: a naive reference tree that
// transcribes the recursive definitions of RFC 9162 (MTH in 2.1.1, PATH in
// 2.1.3.1, PROOF / SUBPROOF in 2.1.4.1) literally, as transparency-dev/merkle's
// testonly/tree.go does, so the optimised code is checked against the spec
// text rather than against itself. Also a leaf-only NodeSource (no cached
// subtrees) and a seed helper.

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crypto/merkle.hpp"

namespace enclave::crypto::merkle_test {

class ReferenceTree {
public:
    using LeafFn = std::function<Hash(std::uint64_t)>;
    /// MTH(D[b:e]) when the caller knows it without recursion (e.g. a range of
    /// identical leaves), else nullopt.
    using ShortcutFn = std::function<std::optional<Hash>(std::uint64_t, std::uint64_t)>;

    explicit ReferenceTree(std::vector<Hash> leaf_hashes)
        : leaf_([v = std::move(leaf_hashes)](std::uint64_t i) { return v.at(i); }) {}
    /// A tree too large to list: leaves by function, with a shortcut for
    /// ranges whose MTH is known.
    ReferenceTree(LeafFn leaf, ShortcutFn shortcut)
        : leaf_(std::move(leaf)), shortcut_(std::move(shortcut)) {}

    /// MTH(D[0:n]).
    Hash root(std::uint64_t n) const { return n == 0 ? hasher_.empty_root() : mth(0, n); }

    /// MTH(D[b:e]) for b < e: the root of the sub-list on its own.
    Hash range_root(std::uint64_t b, std::uint64_t e) const { return mth(b, e); }

    /// PATH(m, D[0:n]).
    std::vector<Hash> path(std::uint64_t m, std::uint64_t n) const { return path_in(m, 0, n); }

    /// PROOF(m, D[0:n]); empty for m == 0 (the RFC leaves it undefined).
    std::vector<Hash> proof(std::uint64_t m, std::uint64_t n) const {
        if (m == 0) return {};
        return subproof(m, 0, n, true);
    }

private:
    // The largest power of two smaller than n (n > 1).
    static std::uint64_t split_point(std::uint64_t n) {
        std::uint64_t k = 1;
        while (k < n - k) k *= 2;  // k * 2 < n, without overflow near 2^64
        return k;
    }

    // MTH(D[b:e]) for e > b.
    Hash mth(std::uint64_t b, std::uint64_t e) const {
        if (shortcut_) {
            if (auto known = shortcut_(b, e)) return *known;
        }
        if (e - b == 1) return leaf_(b);
        const std::uint64_t k = split_point(e - b);
        return hasher_.hash_children(mth(b, b + k), mth(b + k, e));
    }

    // PATH(m, D[b:e]) with m relative to b.
    std::vector<Hash> path_in(std::uint64_t m, std::uint64_t b, std::uint64_t e) const {
        if (e - b == 1) return {};
        const std::uint64_t k = split_point(e - b);
        std::vector<Hash> out;
        if (m < k) {
            out = path_in(m, b, b + k);
            out.push_back(mth(b + k, e));
        } else {
            out = path_in(m - k, b + k, e);
            out.push_back(mth(b, b + k));
        }
        return out;
    }

    // SUBPROOF(m, D[b:e], flag) with m relative to b.
    std::vector<Hash> subproof(std::uint64_t m, std::uint64_t b, std::uint64_t e, bool flag) const {
        if (m == e - b) {
            if (flag) return {};
            return {mth(b, e)};
        }
        const std::uint64_t k = split_point(e - b);
        std::vector<Hash> out;
        if (m <= k) {
            out = subproof(m, b, b + k, flag);
            out.push_back(mth(b + k, e));
        } else {
            out = subproof(m - k, b + k, e, false);
            out.push_back(mth(b, b + k));
        }
        return out;
    }

    LogHasher hasher_;
    LeafFn leaf_;
    ShortcutFn shortcut_;
};

/// A NodeSource with leaves only: every subtree is recomputed by the maths.
class LeafOnlySource final : public NodeSource {
public:
    explicit LeafOnlySource(const std::vector<Hash>& leaves) : leaves_(leaves) {}
    Result<Hash> leaf_hash(std::uint64_t index) const override {
        if (index >= leaves_.size()) return fail(Errc::not_found, "no such leaf");
        return leaves_[index];
    }

private:
    const std::vector<Hash>& leaves_;
};

/// The seed for a randomized test: $ENCLAVE_TEST_SEED when set (to replay a
/// failure), else a fresh one. Tests print it with SCOPED_TRACE.
inline std::uint64_t test_seed() {
    if (const char* env = std::getenv("ENCLAVE_TEST_SEED")) return std::stoull(env);
    return (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
}

/// `count` leaf hashes of random entries (0 to 300 bytes each).
inline std::vector<Hash> random_leaves(std::mt19937_64& rng, std::size_t count) {
    const LogHasher hasher;
    std::vector<Hash> out;
    out.reserve(count);
    std::uniform_int_distribution<int> len(0, 300);
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<std::uint8_t> entry;
    for (std::size_t i = 0; i < count; ++i) {
        entry.resize(static_cast<std::size_t>(len(rng)));
        for (auto& b : entry) b = static_cast<std::uint8_t>(byte(rng));
        out.push_back(hasher.hash_leaf(entry));
    }
    return out;
}

}  // namespace enclave::crypto::merkle_test
