// SPDX-License-Identifier: Apache-2.0
// Building and renewing RFC 4998 evidence records.
//
// The hash tree (section 4.2) is binary: level by level, nodes 2i and 2i+1
// are joined as h(sorted(a, b)); an odd last node is carried up unchanged.
// A leaf's reduced hash tree lists the sibling met at each level where there
// is one: the first PartialHashtree holds the leaf's own hash and its first
// sibling, every later one holds one sibling. With one value per later list,
// RFC 4998 section 4.3 (hash the list sorted together with the running
// value) and BouncyCastle's reading (hash the list, then join it with the
// running value) compute the same root, and no list but the first holds
// the leaf. A batch of one has no reduced hash tree: its time stamp covers
// the object's hash directly (section 4.2, last paragraph).
//
// The first list may also be a group of several hashes (time-stamp renewal
// of a chain that already has several stamps): then the group's value is the
// hash of its sorted concatenation, and the group takes the leaf's place.
#include <algorithm>
#include <map>
#include <string>

#include "archive/evidence.hpp"
#include "evidence_der.hpp"

namespace enclave::archive {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using detail::HashTree;

namespace {

template <class T>
tl::unexpected<crypto::Error> pass(const Result<T>& r) {
    return tl::unexpected(r.error());
}

bool stampable(crypto::HashAlg alg) {
    return alg == crypto::HashAlg::sha256 || alg == crypto::HashAlg::sha384 ||
           alg == crypto::HashAlg::sha512;
}

struct Batch {
    Bytes root;
    std::vector<HashTree> trees;  ///< one reduced hash tree per group
};

// The binary tree over `leaves`, level by level (levels[0] = leaves).
std::vector<std::vector<Bytes>> build_levels(crypto::HashAlg alg, std::vector<Bytes> leaves) {
    std::vector<std::vector<Bytes>> levels;
    levels.push_back(std::move(leaves));
    while (levels.back().size() > 1) {
        const auto& below = levels.back();
        std::vector<Bytes> up;
        up.reserve((below.size() + 1) / 2);
        for (std::size_t i = 0; i + 1 < below.size(); i += 2) {
            up.push_back(detail::hash_sorted(alg, {below[i], below[i + 1]}));
        }
        if (below.size() % 2 == 1) up.push_back(below.back());
        levels.push_back(std::move(up));
    }
    return levels;
}

// The reduced hash tree of leaf `idx` whose first list is `group`.
HashTree path_of(const std::vector<std::vector<Bytes>>& levels, std::size_t idx,
                 std::vector<Bytes> group) {
    HashTree tree;
    tree.push_back(std::move(group));
    const bool merge_first = tree[0].size() == 1;
    for (std::size_t l = 0; l + 1 < levels.size(); ++l, idx /= 2) {
        const std::size_t sib = idx ^ 1u;
        if (sib >= levels[l].size()) continue;  // carried up unchanged
        if (merge_first && tree.size() == 1 && tree[0].size() == 1) {
            tree[0].push_back(levels[l][sib]);
        } else {
            tree.push_back({levels[l][sib]});
        }
    }
    if (merge_first && tree[0].size() == 1) tree.clear();  // a tree of one leaf
    return tree;
}

// `groups[i]` is record i's first list: one leaf hash, or several hashes.
// Records with the same leaf value (a renewal of records that share their
// last time stamp) share one leaf, so renewing a whole batch costs one leaf.
Batch build_batch(crypto::HashAlg alg, std::vector<std::vector<Bytes>> groups) {
    std::vector<Bytes> leaves;
    std::vector<std::size_t> leaf_of(groups.size());
    std::map<Bytes, std::size_t> seen;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        Bytes value = g.size() == 1 ? g[0] : detail::hash_sorted(alg, {g.begin(), g.end()});
        auto [it, fresh] = seen.emplace(std::move(value), leaves.size());
        if (fresh) leaves.push_back(it->first);
        leaf_of[i] = it->second;
    }
    const auto levels = build_levels(alg, std::move(leaves));
    Batch out;
    out.root = levels.back()[0];
    out.trees.reserve(groups.size());
    for (std::size_t i = 0; i < groups.size(); ++i) {
        out.trees.push_back(path_of(levels, leaf_of[i], std::move(groups[i])));
    }
    return out;
}

// Stamps the batch root and returns one ArchiveTimeStamp per group.
Result<std::vector<Bytes>> stamp_batch(crypto::HashAlg alg, std::vector<std::vector<Bytes>> groups,
                                       TimeStampAuthority& tsa) {
    Batch batch = build_batch(alg, std::move(groups));
    auto token = tsa.stamp(alg, batch.root);
    if (!token) return pass(token);
    std::vector<Bytes> stamps;
    stamps.reserve(batch.trees.size());
    for (const auto& tree : batch.trees) stamps.push_back(detail::encode_stamp(alg, tree, *token));
    return stamps;
}

std::vector<std::vector<Bytes>> chains_of(const detail::ParsedRecord& r) {
    std::vector<std::vector<Bytes>> chains;
    for (const auto& c : r.chains) {
        std::vector<Bytes> stamps;
        for (const auto& s : c.stamps) stamps.emplace_back(s.whole.begin(), s.whole.end());
        chains.push_back(std::move(stamps));
    }
    return chains;
}

Result<std::vector<detail::ParsedRecord>> parse_all(const std::vector<Bytes>& records) {
    if (records.empty()) return fail(Errc::invalid_argument, "no records to renew");
    std::vector<detail::ParsedRecord> out;
    out.reserve(records.size());
    const EvidenceLimits limits;
    for (std::size_t i = 0; i < records.size(); ++i) {
        auto p = detail::parse_record(records[i], limits);
        if (!p) return tl::unexpected(p.error().wrap("record " + std::to_string(i)));
        // A renewal adds a stamp (and maybe a chain): the result must still
        // be readable under the default limits.
        std::size_t stamps = 0;
        for (const auto& c : p->chains) stamps += c.stamps.size();
        if (stamps + 1 > limits.max_stamps || p->chains.size() + 1 > limits.max_chains ||
            p->chains.back().stamps.size() + 1 > limits.max_tree_width) {
            return fail(Errc::too_large, "record " + std::to_string(i) + " cannot grow further");
        }
        out.push_back(std::move(*p));
    }
    return out;
}

}  // namespace

Result<std::vector<Bytes>> make_evidence_records(crypto::HashAlg alg,
                                                 const std::vector<Bytes>& data_digests,
                                                 TimeStampAuthority& tsa) {
    if (!stampable(alg)) return fail(Errc::unsupported_algorithm, "evidence records: SHA-2 only");
    if (data_digests.empty()) return fail(Errc::invalid_argument, "an empty batch");
    std::vector<std::vector<Bytes>> groups;
    groups.reserve(data_digests.size());
    for (const auto& d : data_digests) {
        if (d.size() != crypto::digest_size(alg)) {
            return fail(Errc::invalid_argument, "a data digest of the wrong size");
        }
        groups.push_back({d});
    }
    auto stamps = stamp_batch(alg, std::move(groups), tsa);
    if (!stamps) return pass(stamps);
    std::vector<Bytes> records;
    records.reserve(stamps->size());
    for (auto& s : *stamps) records.push_back(detail::encode_record({alg}, {{std::move(s)}}));
    return records;
}

Result<std::vector<Bytes>> renew_timestamps(const std::vector<Bytes>& records,
                                            TimeStampAuthority& tsa) {
    auto parsed = parse_all(records);
    if (!parsed) return pass(parsed);
    std::optional<crypto::HashAlg> alg;
    std::vector<std::vector<Bytes>> groups;
    for (const auto& r : *parsed) {
        const auto& chain = r.chains.back();
        const auto chain_alg = chain.stamps.front().alg;
        if (!chain_alg) {
            return fail(Errc::invalid_argument, "renewal of a chain without a digestAlgorithm");
        }
        if (alg && *alg != *chain_alg) {
            return fail(Errc::invalid_argument, "records of one renewal must share the chain's algorithm");
        }
        alg = chain_alg;
        // The new stamp covers every earlier stamp of the chain (section 5.2
        // needs the last one; BouncyCastle checks them all).
        std::vector<Bytes> group;
        for (const auto& s : chain.stamps) group.push_back(crypto::digest(*alg, s.timestamp));
        groups.push_back(std::move(group));
    }
    auto stamps = stamp_batch(*alg, std::move(groups), tsa);
    if (!stamps) return pass(stamps);
    std::vector<Bytes> out;
    out.reserve(records.size());
    for (std::size_t i = 0; i < parsed->size(); ++i) {
        auto chains = chains_of((*parsed)[i]);
        chains.back().push_back(std::move((*stamps)[i]));
        out.push_back(detail::encode_record((*parsed)[i].digest_algs, chains));
    }
    return out;
}

Result<std::vector<Bytes>> renew_hash_trees(const std::vector<Bytes>& records,
                                            const std::vector<Bytes>& data_digests,
                                            crypto::HashAlg new_alg, TimeStampAuthority& tsa) {
    if (!stampable(new_alg)) return fail(Errc::unsupported_algorithm, "hash-tree renewal: SHA-2 only");
    if (records.size() != data_digests.size()) {
        return fail(Errc::invalid_argument, "one data digest per record");
    }
    auto parsed = parse_all(records);
    if (!parsed) return pass(parsed);
    std::vector<std::vector<Bytes>> groups;
    for (std::size_t i = 0; i < parsed->size(); ++i) {
        if (data_digests[i].size() != crypto::digest_size(new_alg)) {
            return fail(Errc::invalid_argument, "a data digest of the wrong size");
        }
        // Section 5.2: h(h(d) + h(ArchiveTimeStampSequence)).
        const Bytes ha = crypto::digest(new_alg, (*parsed)[i].sequence);
        groups.push_back({crypto::digest(new_alg, {data_digests[i], ha})});
    }
    auto stamps = stamp_batch(new_alg, std::move(groups), tsa);
    if (!stamps) return pass(stamps);
    std::vector<Bytes> out;
    out.reserve(records.size());
    for (std::size_t i = 0; i < parsed->size(); ++i) {
        auto algs = (*parsed)[i].digest_algs;
        if (std::find(algs.begin(), algs.end(), new_alg) == algs.end()) algs.push_back(new_alg);
        auto chains = chains_of((*parsed)[i]);
        chains.push_back({std::move((*stamps)[i])});
        out.push_back(detail::encode_record(algs, chains));
    }
    return out;
}

}  // namespace enclave::archive
