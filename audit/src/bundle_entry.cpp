// SPDX-License-Identifier: Apache-2.0
#include "bundle_entry.hpp"

#include "text_rules.hpp"

namespace enclave::audit::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

Result<EntryFields> parse_entry(std::string_view line) {
    if (line.empty()) return fail(Errc::malformed_input, "empty line");
    const TextScan scan = scan_text(line, false);
    if (scan.fault != TextFault::none) {
        return fail(Errc::malformed_input, std::string(fault_name(scan.fault)) + " at byte " +
                                               std::to_string(scan.offset));
    }
    if (line.front() != '{') return fail(Errc::malformed_input, "not a JSON object");
    EntryFields fields;
    const EntryScan scan_json = scan_entry_json(line, fields);
    if (scan_json.error != nullptr) return fail(Errc::malformed_input, scan_json.error);
    if (!scan_json.has_index) return fail(Errc::malformed_input, "no unsigned integer \"index\"");
    if (!scan_json.has_prev) return fail(Errc::malformed_input, "no string \"prev\"");
    return fields;
}

LinkCheck Chain::add(std::string_view line) {
    auto fields = parse_entry(line);
    if (!fields) return {LinkFault::malformed, 0, fields.error().context()};
    const std::uint64_t position = count();
    if (fields->index != position) return {LinkFault::index_mismatch, fields->index, {}};
    if (position == 0) {
        if (fields->prev_size != 0) return {LinkFault::prev_not_empty, 0, {}};
    } else if (fields->prev_hex() !=
               std::string_view(last_leaf_hex_.data(), last_leaf_hex_.size())) {
        return {LinkFault::prev_mismatch, position, {}};
    }
    last_leaf_ = hasher_.hash_leaf(crypto::as_bytes(line));
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < last_leaf_.size(); ++i) {
        last_leaf_hex_[2 * i] = kHex[last_leaf_[i] >> 4];
        last_leaf_hex_[2 * i + 1] = kHex[last_leaf_[i] & 0x0f];
    }
    if (auto appended = tree_.append(last_leaf_); !appended) {
        return {LinkFault::malformed, position, appended.error().context()};
    }
    return {};
}

}  // namespace enclave::audit::detail
