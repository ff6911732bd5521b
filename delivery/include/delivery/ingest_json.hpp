// SPDX-License-Identifier: Apache-2.0
#pragma once
// parse_ingest_items: the JSON form in which a collector submits handover
// items (POST /ingest/v1/tasks/{reference}/items, docs/ingest.md).
//
// The text comes from outside the Protected Domain, so the reader is strict:
// the size is checked before parsing; duplicate member names, unknown
// members, wrong types, non-integer numbers, empty or over-long strings,
// too many items / identifiers / receivers / binaries, too deep nesting and
// bad timestamps are all malformed_input (too_large for the size and count
// limits). An error names the field by its path ("[3].sender.identifiers[0]")
// and never echoes a value, nor the name of an unknown member: the content
// is interception material.
//
// Holds nothing after it returns. The parsed strings (party identifiers,
// CSP-defined XML) are the caller's: they are as sensitive as HandoverItem
// says.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "delivery/handover_item.hpp"

namespace enclave::delivery {

struct IngestLimits {
    std::size_t max_bytes = 16u * 1024u * 1024u;  ///< the whole JSON text
    std::size_t max_items = 1000;                 ///< elements of a top-level array
    std::size_t max_identifiers = 32;             ///< per party
    std::size_t max_receivers = 256;              ///< per item
    std::size_t max_binaries = 64;                ///< per item
    /// Characters (Unicode code points) of an identifier value and of the
    /// other free strings. TS 103 280 LongString allows 65535; the appliance
    /// takes 1..1024 (handover_item.hpp), and says so in docs/ingest.md.
    std::size_t max_string_chars = 1024;
    std::size_t max_idempotency_key_chars = 128;  ///< printable ASCII
    std::size_t max_csp_xml_bytes = 1024u * 1024u;     ///< cspDefined.xml
    std::size_t max_depth = 8;                         ///< nesting of arrays and objects
};

/// One submitted item.
struct IngestItem {
    std::optional<std::string> idempotency_key;
    /// The item as submitted. Each entry of "binaries" becomes an
    /// associated_binary_data entry with only blob_id (and originalFilename /
    /// cspDefinedIdentifier when given) set: url, contentLength, contentType
    /// and checksum are filled in by the caller from the blob store.
    HandoverItem item;
    /// The "binaries" blob ids, in order (the same as item.associated_binary_data[i].blob_id).
    std::vector<std::string> blob_ids;
};

/// Parses the JSON form: one item object, or an array of 1..max_items of them.
/// Errors: too_large (size or a count limit), malformed_input (anything else),
/// each naming the path of the offending field.
crypto::Result<std::vector<IngestItem>> parse_ingest_items(std::string_view json,
                                                          const IngestLimits& limits = {});

/// True for "YYYY-MM-DDThh:mm:ss(Z|+hh:mm|-hh:mm)" and the same with exactly
/// six fractional digits (TS 103 280 QualifiedDateTime and
/// QualifiedMicrosecondDateTime), with calendar-valid fields (leap years,
/// seconds 00-59, offsets up to 14:00).
bool is_qualified_date_time(std::string_view text) noexcept;

}  // namespace enclave::delivery
