// SPDX-License-Identifier: Apache-2.0
// verify_evidence_record: RFC 4998 section 5.3, every chain and every stamp.
//
// For chain c under algorithm H (its first stamp's digestAlgorithm, or the
// time stamp's imprint algorithm when absent):
//   - stamp 0 covers h = H(d) for c = 0, and H(H(d) + H(chains 0..c-1 as an
//     ArchiveTimeStampSequence)) for c > 0 (hash-tree renewal);
//   - stamp j > 0 covers h = H(timeStamp of stamp j-1) (time-stamp renewal);
//   - "covers": h is in the first PartialHashtree; then each list in turn is
//     hashed sorted together with the running value (section 4.3; the first
//     list already holds h), and the result is the time stamp's imprint.
// Time stamps must verify against the TSA certificates and never go back in
// time along the record.
#include <algorithm>
#include <map>
#include <string>

#include "archive/evidence.hpp"
#include "der.hpp"
#include "evidence_der.hpp"

namespace enclave::archive {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

std::string where(std::size_t chain, std::size_t stamp) {
    return "chain " + std::to_string(chain) + " stamp " + std::to_string(stamp) + ": ";
}

// The root a reduced hash tree yields for `h`; nullopt when h is not in the
// first list.
std::optional<Bytes> root_of(crypto::HashAlg alg, const detail::HashTree& tree, Bytes h) {
    if (tree.empty()) return h;
    const auto& first = tree[0];
    if (std::find(first.begin(), first.end(), h) == first.end()) return std::nullopt;
    h = detail::hash_sorted(alg, {first.begin(), first.end()});
    for (std::size_t l = 1; l < tree.size(); ++l) {
        std::vector<ByteView> values(tree[l].begin(), tree[l].end());
        values.emplace_back(h);
        h = detail::hash_sorted(alg, std::move(values));
    }
    return h;
}

struct Walk {
    const std::function<Bytes(crypto::HashAlg)>& data_digest;
    const std::vector<Bytes>& certs;
    std::map<crypto::HashAlg, Bytes> digests;  // h(data) per algorithm, asked once
    EvidenceCheck check;
    bool any = false;

    const Bytes& data(crypto::HashAlg alg) {
        auto it = digests.find(alg);
        if (it == digests.end()) it = digests.emplace(alg, data_digest(alg)).first;
        return it->second;
    }
};

Result<void> check_stamp(Walk& w, const detail::ParsedStamp& s, crypto::HashAlg alg,
                         const Bytes& covered, const std::string& at) {
    auto info = verify_timestamp(s.timestamp, w.certs);
    if (!info) return tl::unexpected(info.error().wrap(at + "time stamp"));
    if (info->alg != alg) {
        return fail(Errc::integrity_failure, at + "time stamp algorithm differs from the chain's");
    }
    auto root = root_of(alg, s.tree, covered);
    if (!root) return fail(Errc::integrity_failure, at + "hash not in the reduced hash tree");
    if (*root != info->imprint) {
        return fail(Errc::integrity_failure, at + "hash tree root is not the time-stamped value");
    }
    if (w.any && info->gen_time < w.check.last_stamp) {
        return fail(Errc::integrity_failure, at + "time stamp older than the one before it");
    }
    if (!w.any) w.check.first_stamp = info->gen_time;
    w.check.last_stamp = info->gen_time;
    w.any = true;
    ++w.check.stamps;
    return {};
}

Result<crypto::HashAlg> chain_alg(const detail::ParsedChain& chain,
                                  const std::vector<crypto::HashAlg>& declared,
                                  const std::vector<Bytes>& certs, const std::string& at) {
    crypto::HashAlg alg = crypto::HashAlg::sha256;
    if (chain.stamps.front().alg) {
        alg = *chain.stamps.front().alg;
    } else {
        auto info = verify_timestamp(chain.stamps.front().timestamp, certs);
        if (!info) return tl::unexpected(info.error().wrap(at + "time stamp"));
        alg = info->alg;
    }
    for (const auto& s : chain.stamps) {
        if (s.alg && *s.alg != alg) {
            return fail(Errc::malformed_input, at + "stamps of one chain use different algorithms");
        }
    }
    if (std::find(declared.begin(), declared.end(), alg) == declared.end()) {
        return fail(Errc::malformed_input, at + "algorithm not in digestAlgorithms");
    }
    return alg;
}

}  // namespace

Result<EvidenceCheck> verify_evidence_record(
    ByteView record, const std::function<Bytes(crypto::HashAlg)>& data_digest,
    const std::vector<Bytes>& tsa_certs, const EvidenceLimits& limits) {
    if (!data_digest) return fail(Errc::invalid_argument, "no data digest function");
    auto parsed = detail::parse_record(record, limits);
    if (!parsed) return tl::unexpected(parsed.error());
    Walk w{data_digest, tsa_certs, {}, {}, false};
    std::vector<ByteView> earlier;  // the chains before the current one
    for (std::size_t c = 0; c < parsed->chains.size(); ++c) {
        const auto& chain = parsed->chains[c];
        auto alg = chain_alg(chain, parsed->digest_algs, tsa_certs, where(c, 0));
        if (!alg) return tl::unexpected(alg.error());
        const Bytes& d = w.data(*alg);
        if (d.size() != crypto::digest_size(*alg)) {
            return fail(Errc::invalid_argument, "data digest of the wrong size");
        }
        Bytes covered = d;
        if (c > 0) {
            std::vector<Bytes> parts;
            for (auto v : earlier) parts.emplace_back(v.begin(), v.end());
            const Bytes sequence = der::constructed(der::kSequence, parts);
            covered = crypto::digest(*alg, {d, crypto::digest(*alg, sequence)});
        }
        for (std::size_t j = 0; j < chain.stamps.size(); ++j) {
            if (j > 0) covered = crypto::digest(*alg, chain.stamps[j - 1].timestamp);
            if (auto ok = check_stamp(w, chain.stamps[j], *alg, covered, where(c, j)); !ok) {
                return tl::unexpected(ok.error());
            }
        }
        earlier.push_back(chain.whole);
        w.check.current_alg = *alg;
    }
    w.check.chains = parsed->chains.size();
    return w.check;
}

}  // namespace enclave::archive
