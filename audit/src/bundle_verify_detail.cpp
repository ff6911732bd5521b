// SPDX-License-Identifier: Apache-2.0
#include "bundle_verify_detail.hpp"

#include <optional>

namespace enclave::audit::detail {

using crypto::Errc;

namespace {

std::string str(std::uint64_t v) { return std::to_string(v); }
std::string line_of(std::uint64_t position) { return "line " + str(position + 2); }

struct LookAhead {
    std::optional<std::uint64_t> next_index;  ///< index of the line right after
    std::optional<std::uint64_t> found_at;    ///< where index `wanted` sits
};

// Reads the lines after `position` (the rest of the file at most; malformed
// lines are skipped): the next line's index, and where `wanted` sits.
LookAhead look_ahead(LineReader& reader, std::uint64_t position, std::uint64_t wanted,
                     std::size_t max_entry_size) {
    LookAhead out;
    for (std::uint64_t p = position + 1;; ++p) {
        auto line = reader.next(max_entry_size);
        if (!line || line->status == LineReader::Status::eof ||
            line->status == LineReader::Status::too_long) {
            return out;
        }
        auto fields = parse_entry(line->text);
        if (!fields) continue;
        if (p == position + 1) out.next_index = fields->index;
        if (fields->index == wanted) {
            out.found_at = p;
            return out;
        }
    }
}

}  // namespace

tl::unexpected<crypto::Error> bad(std::string context) {
    return tl::unexpected(crypto::Error(Errc::integrity_failure, std::move(context)));
}

std::string entry_prefix(std::uint64_t index) { return "entry " + str(index) + ": "; }

std::string missing_tail(std::uint64_t position, std::uint64_t size) {
    return entry_prefix(position) + "missing: the file ends after " + str(position) +
           " entries, the checkpoint covers " + str(size) + " (entries " + str(position) + " to " +
           str(size - 1) + " deleted, or the file is truncated)";
}

std::string link_fault(const LinkCheck& check, std::uint64_t position) {
    switch (check.fault) {
        case LinkFault::malformed:
            return entry_prefix(position) + "malformed (" + line_of(position) + "): " + check.reason;
        case LinkFault::prev_not_empty:
            return entry_prefix(position) + "malformed (" + line_of(position) +
                   "): the first entry's \"prev\" must be empty";
        case LinkFault::prev_mismatch:
            return entry_prefix(position - 1) + "modified: its leaf hash does not match the " +
                   "\"prev\" of entry " + str(position) + " (" + line_of(position) +
                   "), or that \"prev\" was altered";
        case LinkFault::index_mismatch:
            return entry_prefix(position) + "\"index\" is " + str(check.found_index);
        case LinkFault::none: break;
    }
    return entry_prefix(position) + "unknown fault";
}

std::string classify_index_fault(LineReader& reader, std::uint64_t position, std::uint64_t found,
                                 std::uint64_t size, std::size_t max_entry_size) {
    if (found < position) {
        // Every index below `position` was at its own place already.
        return entry_prefix(found) + "duplicated or inserted: index " + str(found) + " is on " +
               line_of(found) + " and again on " + line_of(position);
    }
    const LookAhead ahead = look_ahead(reader, position, position, max_entry_size);
    const auto& at = ahead.found_at;
    if (!at && ahead.next_index == found) {
        // Index `found` twice in a row and `position` nowhere: this line was
        // entry `position`, with its "index" changed.
        return entry_prefix(position) + "modified: its \"index\" reads " + str(found) + " (" +
               line_of(position) + "), and the next line holds index " + str(found) + " too";
    }
    if (!at) {
        const std::string missing =
            found == position + 1 ? "entry " + str(position) + " is missing"
                                  : "entries " + str(position) + " to " + str(found - 1) +
                                        " are missing";
        return entry_prefix(position) + "deleted: " + line_of(position) + " holds index " +
               str(found) + " (" + missing + ")";
    }
    if (found >= size) {
        return entry_prefix(position) + "an inserted line precedes it: " + line_of(position) +
               " holds index " + str(found) + ", beyond the log's " + str(size) +
               " entries; entry " + str(position) + " follows at " + line_of(*at);
    }
    return entry_prefix(position) + "reordered: it is at " + line_of(*at) + ", and " +
           line_of(position) + " holds index " + str(found);
}

std::string older_root_mismatch(std::size_t k, std::uint64_t size, std::uint64_t from) {
    return "older checkpoint " + str(k) + " (size " + str(size) + "): the first " + str(size) +
           " entries do not have its signed root: entries " + str(from) + " to " + str(size - 1) +
           " were rewritten (the chain was re-linked after the change)";
}

std::string final_root_mismatch(std::uint64_t size, std::uint64_t from) {
    if (size == 0) return "checkpoint: size 0, but its root is not the empty tree's root";
    return entry_prefix(size - 1) + "root mismatch: the " + str(size) +
           " entries do not have the checkpoint's signed root: the last entry was modified, or "
           "entries " + str(from) + " to " + str(size - 1) + " were rewritten";
}

}  // namespace enclave::audit::detail
