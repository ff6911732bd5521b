// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private to the audit log: building an entry from a caller's event, and
// reading "index" and "prev" back out of a stored entry quickly (open()
// verifies a million of them).

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::audit::detail {

/// An event validated and canonicalised on the caller's thread, cut where the
/// log's own members go. RFC 8785 sorts "index" < "prev" < "time" among the
/// caller's members; since the three names are ASCII, UTF-16 order and byte
/// order agree when comparing against them, so a byte comparison places them.
struct PreparedEvent {
    /// Comma-joined canonical members: [0] before "index", [1] between
    /// "index" and "prev", [2] between "prev" and "time", [3] after "time".
    std::array<std::string, 4> segments;
    /// Bytes of the segments and their separators.
    std::size_t size = 0;
};

/// Bytes an entry adds to its event: braces, commas, the three members with
/// the longest index (16 digits), a 64-hex prev and a 24-character time.
inline constexpr std::size_t kEntryOverhead = 2 + 3 + 24 + 73 + 33;

/// Validates an event (see AuditLog::append) and prepares it.
[[nodiscard]] crypto::Result<PreparedEvent> prepare_event(const nlohmann::json& event,
                                                          std::size_t max_entry_bytes);

/// The entry text: the event's members with "index", "prev" and "time" in
/// their canonical places. `prev_hex` is "" or 64 lowercase hex digits;
/// `time` is format_time()'s output. Both need no escaping.
[[nodiscard]] std::string assemble_entry(const PreparedEvent& event, std::uint64_t index,
                                         std::string_view prev_hex, std::string_view time);

/// RFC 3339 UTC with milliseconds: "2026-11-21T10:00:00.123Z".
[[nodiscard]] std::string format_time(std::chrono::system_clock::time_point t);

struct EntryHead {
    std::uint64_t index = 0;
    std::string_view prev;  ///< points into the scanned text
};

/// Reads the top-level "index" and "prev" members of a stored entry without
/// building a JSON value: one pass that skips nested values. Fails with
/// malformed_input (saying what is wrong) when the text is not an object of
/// that shape. It does not prove the text canonical; the leaf hash chain
/// and the checkpoints cover the bytes.
[[nodiscard]] crypto::Result<EntryHead> scan_entry_head(std::string_view entry);

}  // namespace enclave::audit::detail
