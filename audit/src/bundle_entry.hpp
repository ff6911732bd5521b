// SPDX-License-Identifier: Apache-2.0
#pragma once
// One audit log entry as the bundle writer and verifier see it: a line of
// UTF-8 JSON, an object whose "index" and "prev" link it into the chain
// (the entry contract of issue #4). The rest of the entry is opaque here.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/merkle_hasher.hpp"
#include "crypto/merkle_tree.hpp"
#include "crypto/result.hpp"

namespace enclave::audit::detail {

/// Nesting deeper than this inside an entry is malformed (entries are flat
/// events with small arrays and objects).
inline constexpr std::size_t kMaxEntryDepth = 64;

/// The chain fields of one entry.
struct EntryFields {
    std::uint64_t index = 0;
    /// "prev" as written: "" or 64 lowercase hex digits (anything else is
    /// refused while parsing).
    std::array<char, 2 * crypto::kMerkleHashSize> prev{};
    std::size_t prev_size = 0;

    [[nodiscard]] std::string_view prev_hex() const { return {prev.data(), prev_size}; }
};

/// What scan_entry_json found: an error (nullptr when the line is a valid
/// JSON object) and whether the top level had "index" and "prev".
struct EntryScan {
    const char* error = nullptr;
    bool has_index = false;
    bool has_prev = false;
};

/// The JSON part of parse_entry (entry_scanner.cpp): strict RFC 8259 for an
/// object, no floating-point numbers, integers within 64 bits, depth limit,
/// duplicate top-level "index"/"prev" refused, "prev" written without escapes.
/// Requires a line already free of invalid UTF-8 and control characters.
[[nodiscard]] EntryScan scan_entry_json(std::string_view line, EntryFields& fields);

/// Parses the line as a JSON object (strict RFC 8259, depth limit, no
/// floating-point numbers, no control character or invalid UTF-8 anywhere in
/// the line) with exactly one unsigned integer "index" and one string "prev"
/// at the top level. malformed_input whose context is the reason
/// ("not a JSON object", "no \"index\"", ...), without the entry's bytes.
[[nodiscard]] crypto::Result<EntryFields> parse_entry(std::string_view line);

/// Why an entry does not continue the chain.
enum class LinkFault {
    none,
    malformed,       ///< parse_entry failed (reason in `reason`)
    index_mismatch,  ///< "index" differs from the position (`found_index`)
    prev_mismatch,   ///< "prev" is not the leaf hash of the previous entry
    prev_not_empty,  ///< entry 0 has a non-empty "prev"
};

struct LinkCheck {
    LinkFault fault = LinkFault::none;
    std::uint64_t found_index = 0;
    std::string reason;
};

/// The running state of a chain of entries: position, last leaf hash and the
/// Merkle tree over all leaves so far. Shared by the writer (which refuses to
/// write a bundle that would not verify) and the verifier.
class Chain {
public:
    /// Checks `line` as entry number count() and, when it links, appends its
    /// leaf to the tree. On a fault nothing changes.
    [[nodiscard]] LinkCheck add(std::string_view line);

    [[nodiscard]] std::uint64_t count() const noexcept { return tree_.size(); }
    [[nodiscard]] crypto::Hash root() const { return tree_.root(); }
    /// Leaf hash of the last entry added (valid when count() > 0).
    [[nodiscard]] const crypto::Hash& last_leaf() const noexcept { return last_leaf_; }

private:
    crypto::LogHasher hasher_;
    crypto::IncrementalTree tree_;
    crypto::Hash last_leaf_{};
    std::array<char, 2 * crypto::kMerkleHashSize> last_leaf_hex_{};
};

}  // namespace enclave::audit::detail
