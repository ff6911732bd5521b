// SPDX-License-Identifier: Apache-2.0
#pragma once
// RFC 4998 evidence records (issue #8 "Evidence records").
//
// Objects are archived in batches: the data digests of a batch are the
// leaves of one RFC 4998 hash tree (section 4.2: child hashes sorted in
// binary ascending order before they are concatenated), and the tree's root
// is time-stamped once by the TSA (tsa.hpp). Each object gets its own
// EvidenceRecord (DER, section 3) holding its reduced hash tree and that one
// ArchiveTimeStamp.
//
// Renewals (section 5.2), both applied to a set of records at once with one
// new time stamp:
//   - time-stamp renewal: a new ArchiveTimeStamp over the hash of the last
//     one's timeStamp, appended to each record's last chain;
//   - hash-tree renewal: a new ArchiveTimeStampChain under a new digest
//     algorithm, over h(data) + h(ArchiveTimeStampSequence so far).
// Either way the records grow and still verify.
//
// The DER is what an independent RFC 4998 implementation reads: a test
// verifies our records with BouncyCastle (org.bouncycastle.tsp.ers).
//
// Holds no secret (digests of archived data, time stamps).

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "archive/tsa.hpp"
#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"

namespace enclave::archive {

/// Bounds on a record read from outside (VERIFY requests, exported files).
struct EvidenceLimits {
    std::size_t max_bytes = 1u << 20;     ///< DER size, checked first
    std::size_t max_chains = 64;          ///< ArchiveTimeStampChains
    std::size_t max_stamps = 1024;        ///< ArchiveTimeStamps over all chains
    std::size_t max_tree_levels = 64;     ///< PartialHashtrees in one reduced tree
    std::size_t max_tree_width = 1024;    ///< hashes in one PartialHashtree
};

/// One EvidenceRecord (DER) per digest, in input order, under one new time
/// stamp. `data_digests` are h(data) with `alg` (sha256/sha384/sha512), at
/// least one. invalid_argument on an empty batch or a digest of the wrong size.
crypto::Result<std::vector<crypto::Bytes>> make_evidence_records(
    crypto::HashAlg alg, const std::vector<crypto::Bytes>& data_digests,
    TimeStampAuthority& tsa);

/// Time-stamp renewal of `records` (one new time stamp for all of them).
crypto::Result<std::vector<crypto::Bytes>> renew_timestamps(
    const std::vector<crypto::Bytes>& records, TimeStampAuthority& tsa);

/// Hash-tree renewal under `new_alg`: `data_digests[i]` is h(data of
/// records[i]) with `new_alg`.
crypto::Result<std::vector<crypto::Bytes>> renew_hash_trees(
    const std::vector<crypto::Bytes>& records, const std::vector<crypto::Bytes>& data_digests,
    crypto::HashAlg new_alg, TimeStampAuthority& tsa);

/// The layout of a record, read without verifying anything (tests, EXPORT
/// listings, support). Bounded by `limits` like verification.
struct StampLayout {
    crypto::HashAlg alg = crypto::HashAlg::sha256;  ///< the chain's algorithm, as written
    std::vector<std::size_t> tree_widths;  ///< hashes per PartialHashtree (empty: no tree)
    crypto::Bytes der;                     ///< the whole ArchiveTimeStamp
    crypto::Bytes time_stamp;              ///< its timeStamp (a TimeStampToken ContentInfo)
};
struct EvidenceLayout {
    std::vector<crypto::HashAlg> digest_algs;
    std::vector<std::vector<StampLayout>> chains;
};
/// malformed_input / too_large as verify_evidence_record; invalid_argument
/// for a stamp without digestAlgorithm (we always write it).
crypto::Result<EvidenceLayout> inspect_evidence_record(crypto::ByteView record,
                                                       const EvidenceLimits& limits = {});

/// What a verified record proves.
struct EvidenceCheck {
    std::chrono::sys_seconds first_stamp;  ///< earliest time stamp: existence since
    std::chrono::sys_seconds last_stamp;   ///< latest time stamp
    std::size_t chains = 0;
    std::size_t stamps = 0;
    crypto::HashAlg current_alg = crypto::HashAlg::sha256;  ///< the last chain's algorithm
};

/// Verifies `record` for the data whose digest under an algorithm is
/// `data_digest(alg)`: every reduced hash tree, every chain link and every
/// time stamp (signed by one of `tsa_certs`, DER; times non-decreasing).
/// Errors: too_large / malformed_input (DER, limits), integrity_failure
/// (a hash, a link or a time stamp does not verify; the context says which
/// chain and stamp), unsupported_algorithm.
crypto::Result<EvidenceCheck> verify_evidence_record(
    crypto::ByteView record, const std::function<crypto::Bytes(crypto::HashAlg)>& data_digest,
    const std::vector<crypto::Bytes>& tsa_certs, const EvidenceLimits& limits = {});

}  // namespace enclave::archive
