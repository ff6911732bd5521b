// SPDX-License-Identifier: Apache-2.0
#include "evidence_der.hpp"

#include <algorithm>
#include <string>

#include "der.hpp"

namespace enclave::archive::detail {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

template <class T>
tl::unexpected<crypto::Error> pass(const Result<T>& r) {
    return tl::unexpected(r.error());
}

Result<HashTree> parse_tree(ByteView content, const EvidenceLimits& limits) {
    HashTree tree;
    der::Reader r(content);
    while (!r.done()) {
        if (tree.size() == limits.max_tree_levels) {
            return fail(Errc::too_large, "reduced hash tree: too many levels");
        }
        auto level = r.expect(der::kSequence, "PartialHashtree");
        if (!level) return pass(level);
        std::vector<Bytes> values;
        der::Reader lr(level->content);
        while (!lr.done()) {
            if (values.size() == limits.max_tree_width) {
                return fail(Errc::too_large, "PartialHashtree: too many hashes");
            }
            auto v = lr.expect(der::kOctetString, "PartialHashtree value");
            if (!v) return pass(v);
            values.emplace_back(v->content.begin(), v->content.end());
        }
        if (values.empty()) return fail(Errc::malformed_input, "PartialHashtree: empty");
        tree.push_back(std::move(values));
    }
    if (tree.empty()) return fail(Errc::malformed_input, "reducedHashtree: empty");
    return tree;
}

Result<ParsedStamp> parse_stamp(ByteView whole, ByteView content, const EvidenceLimits& limits) {
    ParsedStamp out;
    out.whole = whole;
    der::Reader r(content);
    if (r.peek() == der::context(0)) {
        auto alg_id = r.next("ArchiveTimeStamp digestAlgorithm");
        if (!alg_id) return pass(alg_id);
        auto alg = der::hash_algorithm_from(alg_id->content);
        if (!alg) return pass(alg);
        out.alg = *alg;
    }
    if (r.peek() == der::context(1)) {
        // We never write attributes and nothing here would read them;
        // accepting them unread would let bytes of a record change freely.
        return fail(Errc::malformed_input, "ArchiveTimeStamp attributes unsupported");
    }
    if (r.peek() == der::context(2)) {
        auto tree = r.next("ArchiveTimeStamp reducedHashtree");
        if (!tree) return pass(tree);
        auto parsed = parse_tree(tree->content, limits);
        if (!parsed) return pass(parsed);
        out.tree = std::move(*parsed);
    }
    auto ts = r.expect(der::kSequence, "ArchiveTimeStamp timeStamp");
    if (!ts) return pass(ts);
    if (auto ok = r.finish("ArchiveTimeStamp"); !ok) return pass(ok);
    out.timestamp = ts->whole;
    return out;
}

Result<std::vector<ParsedChain>> parse_chains(ByteView content, const EvidenceLimits& limits) {
    std::vector<ParsedChain> chains;
    std::size_t stamps = 0;
    der::Reader r(content);
    while (!r.done()) {
        if (chains.size() == limits.max_chains) return fail(Errc::too_large, "too many chains");
        auto chain = r.expect(der::kSequence, "ArchiveTimeStampChain");
        if (!chain) return pass(chain);
        ParsedChain pc;
        pc.whole = chain->whole;
        der::Reader cr(chain->content);
        while (!cr.done()) {
            if (++stamps > limits.max_stamps) return fail(Errc::too_large, "too many time stamps");
            auto ats = cr.expect(der::kSequence, "ArchiveTimeStamp");
            if (!ats) return pass(ats);
            auto parsed = parse_stamp(ats->whole, ats->content, limits);
            if (!parsed) return pass(parsed);
            pc.stamps.push_back(std::move(*parsed));
        }
        if (pc.stamps.empty()) return fail(Errc::malformed_input, "ArchiveTimeStampChain: empty");
        chains.push_back(std::move(pc));
    }
    if (chains.empty()) return fail(Errc::malformed_input, "ArchiveTimeStampSequence: empty");
    return chains;
}

}  // namespace

Result<ParsedRecord> parse_record(ByteView record, const EvidenceLimits& limits) {
    if (record.size() > limits.max_bytes) return fail(Errc::too_large, "evidence record too large");
    auto er = der::parse_one(record, der::kSequence, "EvidenceRecord");
    if (!er) return pass(er);
    der::Reader r(er->content);
    auto version = r.expect(der::kInteger, "EvidenceRecord version");
    auto algs = version ? r.expect(der::kSequence, "EvidenceRecord digestAlgorithms") : version;
    if (!algs) return pass(algs);
    auto v = der::small_integer_value(version->content);
    if (!v || *v != 1) return fail(Errc::malformed_input, "EvidenceRecord: version is not 1");
    if (r.peek() == der::context(0) || r.peek() == der::context(1)) {
        return fail(Errc::malformed_input, "EvidenceRecord: cryptoInfos/encryptionInfo unsupported");
    }
    auto seq = r.expect(der::kSequence, "ArchiveTimeStampSequence");
    if (!seq) return pass(seq);
    if (auto ok = r.finish("EvidenceRecord"); !ok) return pass(ok);
    ParsedRecord out;
    der::Reader ar(algs->content);
    while (!ar.done()) {
        if (out.digest_algs.size() == 8) return fail(Errc::too_large, "too many digest algorithms");
        auto id = ar.expect(der::kSequence, "digestAlgorithms");
        if (!id) return pass(id);
        auto alg = der::hash_algorithm_from(id->content);
        if (!alg) return pass(alg);
        out.digest_algs.push_back(*alg);
    }
    auto chains = parse_chains(seq->content, limits);
    if (!chains) return pass(chains);
    out.chains = std::move(*chains);
    out.sequence = seq->whole;
    return out;
}

Bytes encode_stamp(crypto::HashAlg alg, const HashTree& tree, ByteView token) {
    Bytes alg_id = der::hash_algorithm_id(alg);
    alg_id[0] = der::context(0);  // [0] IMPLICIT AlgorithmIdentifier
    std::vector<Bytes> parts{alg_id};
    if (!tree.empty()) {
        std::vector<Bytes> levels;
        levels.reserve(tree.size());
        for (const auto& level : tree) {
            std::vector<Bytes> values;
            values.reserve(level.size());
            for (const auto& h : level) values.push_back(der::octet_string(h));
            levels.push_back(der::constructed(der::kSequence, values));
        }
        parts.push_back(der::constructed(der::context(2), levels));
    }
    parts.emplace_back(token.begin(), token.end());
    return der::constructed(der::kSequence, parts);
}

Bytes encode_record(const std::vector<crypto::HashAlg>& algs,
                    const std::vector<std::vector<Bytes>>& chains) {
    std::vector<Bytes> alg_ids;
    for (auto a : algs) alg_ids.push_back(der::hash_algorithm_id(a));
    std::vector<Bytes> encoded_chains;
    for (const auto& c : chains) encoded_chains.push_back(der::constructed(der::kSequence, c));
    return der::constructed(der::kSequence, {der::small_integer(1),
                                             der::constructed(der::kSequence, alg_ids),
                                             der::constructed(der::kSequence, encoded_chains)});
}

Bytes hash_sorted(crypto::HashAlg alg, std::vector<ByteView> values) {
    std::sort(values.begin(), values.end(), [](ByteView a, ByteView b) {
        return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    });
    crypto::Hasher h(alg);
    for (const auto& v : values) h.update(v);
    return h.finish();
}

}  // namespace enclave::archive::detail

namespace enclave::archive {

crypto::Result<EvidenceLayout> inspect_evidence_record(crypto::ByteView record,
                                                       const EvidenceLimits& limits) {
    auto parsed = detail::parse_record(record, limits);
    if (!parsed) return tl::unexpected(parsed.error());
    EvidenceLayout out;
    out.digest_algs = parsed->digest_algs;
    for (const auto& c : parsed->chains) {
        std::vector<StampLayout> chain;
        for (const auto& s : c.stamps) {
            if (!s.alg) {
                return crypto::fail(crypto::Errc::invalid_argument,
                                    "ArchiveTimeStamp without digestAlgorithm");
            }
            StampLayout l;
            l.alg = *s.alg;
            for (const auto& level : s.tree) l.tree_widths.push_back(level.size());
            l.der.assign(s.whole.begin(), s.whole.end());
            l.time_stamp.assign(s.timestamp.begin(), s.timestamp.end());
            chain.push_back(std::move(l));
        }
        out.chains.push_back(std::move(chain));
    }
    return out;
}

}  // namespace enclave::archive
