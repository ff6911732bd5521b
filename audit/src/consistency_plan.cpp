// SPDX-License-Identifier: Apache-2.0
#include "consistency_plan.hpp"

#include <algorithm>
#include <set>

namespace enclave::audit::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Hash;
using crypto::Result;

namespace {

// Answers every question with a placeholder and records it.
class ProbeSource final : public crypto::NodeSource {
public:
    mutable std::set<std::uint64_t> leaves;
    mutable std::set<std::pair<unsigned, std::uint64_t>> subtrees;

    Result<Hash> leaf_hash(std::uint64_t index) const override {
        leaves.insert(index);
        return Hash{};
    }
    Result<std::optional<Hash>> subtree_hash(unsigned level, std::uint64_t index) const override {
        subtrees.emplace(level, index);
        return std::optional<Hash>(Hash{});
    }
};

// Answers from what the stream computed; anything else is a broken invariant
// (the generator asked a different question the second time).
class ReplaySource final : public crypto::NodeSource {
public:
    std::map<std::uint64_t, Hash> leaves;
    std::map<std::pair<unsigned, std::uint64_t>, Hash> subtrees;

    Result<Hash> leaf_hash(std::uint64_t index) const override {
        auto it = leaves.find(index);
        if (it == leaves.end()) return fail(Errc::internal, "consistency plan: unplanned leaf");
        return it->second;
    }
    Result<std::optional<Hash>> subtree_hash(unsigned level, std::uint64_t index) const override {
        auto it = subtrees.find({level, index});
        if (it == subtrees.end()) return fail(Errc::internal, "consistency plan: unplanned subtree");
        return std::optional<Hash>(it->second);
    }
};

}  // namespace

Result<ConsistencyPlan> ConsistencyPlan::make(std::uint64_t size1, std::uint64_t size2) {
    if (size1 == 0 || size1 >= size2) {
        return fail(Errc::invalid_argument, "consistency plan needs 0 < size1 < size2");
    }
    const crypto::LogHasher hasher;
    ProbeSource probe;
    auto dry = crypto::consistency_proof(hasher, probe, size1, size2);
    if (!dry) return tl::unexpected(dry.error());
    ConsistencyPlan plan;
    plan.size1_ = size1;
    plan.size2_ = size2;
    for (auto index : probe.leaves) plan.leaves_.emplace(index, Hash{});
    for (auto [level, index] : probe.subtrees) {
        Subtree s;
        s.level = level;
        s.index = index;
        s.begin = index << level;
        s.end = s.begin + (std::uint64_t{1} << level);
        plan.subtrees_.push_back(std::move(s));
    }
    std::sort(plan.subtrees_.begin(), plan.subtrees_.end(),
              [](const Subtree& a, const Subtree& b) { return a.begin < b.begin; });
    return plan;
}

void ConsistencyPlan::add_leaf(std::uint64_t index, const Hash& leaf) {
    if (auto it = leaves_.find(index); it != leaves_.end()) it->second = leaf;
    while (next_ < subtrees_.size() && subtrees_[next_].begin == index) active_.push_back(next_++);
    for (std::size_t k = 0; k < active_.size();) {
        Subtree& s = subtrees_[active_[k]];
        (void)s.tree.append(leaf);  // fails only past 2^64 leaves
        if (index + 1 == s.end) {
            active_[k] = active_.back();
            active_.pop_back();
        } else {
            ++k;
        }
    }
}

Result<std::vector<Hash>> ConsistencyPlan::proof() const {
    ReplaySource replay;
    replay.leaves = leaves_;
    for (const auto& s : subtrees_) {
        if (s.tree.size() != s.end - s.begin) {
            return fail(Errc::internal, "consistency plan: a subtree was not fed completely");
        }
        replay.subtrees.emplace(std::pair{s.level, s.index}, s.tree.root());
    }
    return crypto::consistency_proof(crypto::LogHasher{}, replay, size1_, size2_);
}

}  // namespace enclave::audit::detail
