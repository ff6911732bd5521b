// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bundle's first line, and the checks on the checkpoints it carries that
// the writer and the verifier share.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/signed_note.hpp"
#include "crypto/result.hpp"

namespace enclave::audit::detail {

struct BundleHeader {
    std::string origin;
    std::string public_key;  ///< verifier key string
    std::uint64_t size = 0;
    std::string checkpoint;
    std::vector<std::string> checkpoints;
};

/// The header as one line of JSON (no newline), members in the documented
/// order: format, version, origin, public_key, size, checkpoint, checkpoints.
[[nodiscard]] std::string header_line(const BundleHeader& header);

/// Strict: a JSON object with exactly the seven members, each once and of
/// the right type, format "enclave-audit-bundle", version 1, at most
/// kMaxBundleCheckpoints older checkpoints. malformed_input with the reason.
[[nodiscard]] crypto::Result<BundleHeader> parse_header_line(std::string_view line);

/// The latest and older checkpoints, opened and checked against each other.
struct OpenedCheckpoints {
    Checkpoint latest;
    std::vector<Checkpoint> older;
};

/// Opens `latest` and every note in `older` with `key`; each must carry
/// `origin` (when not empty, else the latest's origin is taken); older sizes
/// must be strictly ascending and below the latest size. The error context
/// starts with "checkpoint: " or "older checkpoint <k> (size S): " (k counts
/// from 1); signature failures keep integrity_failure, the rest are
/// malformed_input.
[[nodiscard]] crypto::Result<OpenedCheckpoints> open_checkpoints(
    const std::string& latest, const std::vector<std::string>& older, const NoteVerifierKey& key,
    std::string_view origin);

}  // namespace enclave::audit::detail
