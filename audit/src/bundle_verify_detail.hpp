// SPDX-License-Identifier: Apache-2.0
#pragma once
// The words of verify_bundle's failures (docs/audit-bundle.md lists them),
// and the look-ahead that tells a deleted entry from a reordered or an
// inserted one.

#include <cstdint>
#include <string>

#include "bundle_entry.hpp"
#include "crypto/result.hpp"
#include "line_reader.hpp"

namespace enclave::audit::detail {

/// An integrity_failure with this context.
[[nodiscard]] tl::unexpected<crypto::Error> bad(std::string context);

/// "entry <i>: " (i is the 0-based log index; the file line is i + 2).
[[nodiscard]] std::string entry_prefix(std::uint64_t index);

/// The file ended after `position` entries of `size`.
[[nodiscard]] std::string missing_tail(std::uint64_t position, std::uint64_t size);

/// A malformed entry, or a "prev" that does not link (reported at the entry
/// whose bytes no longer match: the previous one).
[[nodiscard]] std::string link_fault(const LinkCheck& check, std::uint64_t position);

/// Position `position` holds index `found`. Reads ahead (consuming `reader`)
/// to tell deleted, reordered, inserted and duplicated entries apart.
[[nodiscard]] std::string classify_index_fault(LineReader& reader, std::uint64_t position,
                                               std::uint64_t found, std::uint64_t size,
                                               std::size_t max_entry_size);

/// Older checkpoint `k` (1-based) at `size` does not match; the entries from
/// `from` (the previous matching checkpoint's size) were rewritten.
[[nodiscard]] std::string older_root_mismatch(std::size_t k, std::uint64_t size,
                                              std::uint64_t from);

/// The root of all `size` entries does not match the signed checkpoint.
[[nodiscard]] std::string final_root_mismatch(std::uint64_t size, std::uint64_t from);

}  // namespace enclave::audit::detail
