// SPDX-License-Identifier: Apache-2.0
#pragma once
// The DER of RFC 4998 (module ERS, IMPLICIT TAGS), shared by evidence.cpp
// (building, renewing) and evidence_verify.cpp:
//
//   EvidenceRecord ::= SEQUENCE {
//       version                  INTEGER { v1(1) },
//       digestAlgorithms         SEQUENCE OF AlgorithmIdentifier,
//       cryptoInfos              [0] CryptoInfos OPTIONAL,       -- refused here
//       encryptionInfo           [1] EncryptionInfo OPTIONAL,    -- refused here
//       archiveTimeStampSequence ArchiveTimeStampSequence }
//   ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain
//   ArchiveTimeStampChain    ::= SEQUENCE OF ArchiveTimeStamp
//   ArchiveTimeStamp ::= SEQUENCE {
//       digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
//       attributes      [1] Attributes OPTIONAL,                 -- refused here
//       reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
//       timeStamp       ContentInfo }
//   PartialHashtree ::= SEQUENCE OF OCTET STRING
//
// Holds no secret.

#include <optional>
#include <vector>

#include "archive/evidence.hpp"
#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"

namespace enclave::archive::detail {

/// A reduced hash tree: lists of hash values, the leaf's own list first.
using HashTree = std::vector<std::vector<crypto::Bytes>>;

struct ParsedStamp {
    std::optional<crypto::HashAlg> alg;  ///< [0], when present
    HashTree tree;                       ///< [2], empty when absent
    crypto::ByteView timestamp;          ///< the ContentInfo (whole DER)
    crypto::ByteView whole;
};

struct ParsedChain {
    std::vector<ParsedStamp> stamps;
    crypto::ByteView whole;
};

struct ParsedRecord {
    std::vector<crypto::HashAlg> digest_algs;
    std::vector<ParsedChain> chains;
    crypto::ByteView sequence;  ///< the ArchiveTimeStampSequence (whole DER)
};

/// Parses and bounds a record (views point into `record`). too_large for a
/// limit, malformed_input for bad DER or an unsupported field.
crypto::Result<ParsedRecord> parse_record(crypto::ByteView record, const EvidenceLimits& limits);

/// One ArchiveTimeStamp: [0] alg, [2] tree when not empty, the token.
crypto::Bytes encode_stamp(crypto::HashAlg alg, const HashTree& tree, crypto::ByteView token);

/// A whole EvidenceRecord from its algorithms and chains (each a list of
/// encoded ArchiveTimeStamps).
crypto::Bytes encode_record(const std::vector<crypto::HashAlg>& algs,
                            const std::vector<std::vector<crypto::Bytes>>& chains);

/// The hash of the sorted concatenation of `values` (RFC 4998 section 4.2).
crypto::Bytes hash_sorted(crypto::HashAlg alg, std::vector<crypto::ByteView> values);

}  // namespace enclave::archive::detail
