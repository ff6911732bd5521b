// SPDX-License-Identifier: Apache-2.0
// tlog-checkpoint bodies (c2sp.org/tlog-checkpoint).
#include <stdexcept>

#include "audit/signed_note.hpp"
#include "crypto/encoding.hpp"
#include "text_rules.hpp"

namespace enclave::audit {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

tl::unexpected<crypto::Error> malformed(const std::string& why) {
    return fail(Errc::malformed_input, "checkpoint: " + why);
}

// Decimal, no sign, no leading zero (but "0"), no overflow.
bool parse_size(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

bool valid_line(std::string_view line) {
    return !line.empty() && line.find('\n') == std::string_view::npos &&
           detail::scan_text(line, false).fault == detail::TextFault::none;
}

}  // namespace

std::string checkpoint_body(const Checkpoint& checkpoint) {
    if (!is_valid_key_name(checkpoint.origin)) {
        throw std::invalid_argument("checkpoint origin is not a valid note key name");
    }
    std::string body = checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
                       crypto::base64_encode(checkpoint.root) + "\n";
    for (const auto& ext : checkpoint.extensions) {
        if (!valid_line(ext)) throw std::invalid_argument("invalid checkpoint extension line");
        body += ext + "\n";
    }
    return body;
}

Result<Checkpoint> parse_checkpoint_body(std::string_view body) {
    if (body.size() > kMaxNoteSize) return malformed("longer than a note may be");
    if (body.empty() || body.back() != '\n') return malformed("does not end in a newline");
    std::vector<std::string_view> lines;
    for (std::string_view rest = body; !rest.empty();) {
        const std::size_t nl = rest.find('\n');
        lines.push_back(rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
    }
    if (lines.size() < 3) return malformed("fewer than three lines");
    Checkpoint cp;
    if (lines[0].empty() || lines[0].size() > kMaxKeyNameSize ||
        detail::scan_text(lines[0], false).fault != detail::TextFault::none) {
        return malformed("the origin line is empty, too long or not printable UTF-8");
    }
    cp.origin.assign(lines[0]);
    if (!parse_size(lines[1], cp.size)) {
        return malformed("the size line is not a decimal number without leading zeros");
    }
    auto root = crypto::base64_decode(lines[2]);
    if (!root || root->size() != cp.root.size()) {
        return malformed("the root line is not the base64 of 32 bytes");
    }
    std::copy(root->begin(), root->end(), cp.root.begin());
    for (std::size_t i = 3; i < lines.size(); ++i) {
        if (!valid_line(lines[i])) {
            return malformed("extension line " + std::to_string(i - 2) +
                             " is empty or not printable UTF-8");
        }
        cp.extensions.emplace_back(lines[i]);
    }
    return cp;
}

Result<Checkpoint> open_checkpoint(std::string_view note, const NoteVerifierKey& key) {
    auto opened = open_note(note, key);
    if (!opened) return tl::unexpected(opened.error());
    return parse_checkpoint_body(opened->body);
}

}  // namespace enclave::audit
