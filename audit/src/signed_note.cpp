// SPDX-License-Identifier: Apache-2.0
// Signed-note syntax (c2sp.org/signed-note): splitting, verifying, signing.
#include "audit/signed_note.hpp"

#include <algorithm>
#include <cstdio>

#include "crypto/encoding.hpp"
#include "text_rules.hpp"

namespace enclave::audit {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

// U+2014 EM DASH followed by a space.
constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";

tl::unexpected<crypto::Error> malformed(const std::string& why) {
    return fail(Errc::malformed_input, "signed note: " + why);
}

// The body rules shared by parsing and signing.
Result<void> check_text(std::string_view text, const char* what) {
    const auto scan = detail::scan_text(text, true);
    if (scan.fault != detail::TextFault::none) {
        return malformed(std::string(detail::fault_name(scan.fault)) + " in the " + what +
                         " at byte " + std::to_string(scan.offset));
    }
    return {};
}

Result<NoteSignature> parse_signature_line(std::string_view line, std::size_t number) {
    const std::string where = "signature line " + std::to_string(number) + ": ";
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
        return malformed(where + "does not start with an em dash and a space");
    }
    line.remove_prefix(kSigPrefix.size());
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return malformed(where + "no space after the key name");
    const std::string_view name = line.substr(0, space);
    const std::string_view b64 = line.substr(space + 1);
    if (!is_valid_key_name(name)) return malformed(where + "invalid key name");
    auto raw = crypto::base64_decode(b64);
    if (!raw) return malformed(where + "the signature is not canonical base64");
    if (raw->size() < 5) return malformed(where + "the signature is shorter than 5 bytes");
    NoteSignature sig;
    sig.key_name.assign(name);
    sig.key_id = (std::uint32_t{(*raw)[0]} << 24) | (std::uint32_t{(*raw)[1]} << 16) |
                 (std::uint32_t{(*raw)[2]} << 8) | std::uint32_t{(*raw)[3]};
    sig.signature.assign(raw->begin() + 4, raw->end());
    return sig;
}

std::string signature_line(const NoteVerifierKey& key, ByteView signature) {
    Bytes raw;
    raw.reserve(4 + signature.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        raw.push_back(static_cast<std::uint8_t>((key.key_id() >> shift) & 0xff));
    }
    raw.insert(raw.end(), signature.begin(), signature.end());
    return std::string(kSigPrefix) + key.name() + " " + crypto::base64_encode(raw) + "\n";
}

}  // namespace

Result<ParsedNote> parse_note(std::string_view text) {
    if (text.size() > kMaxNoteSize) {
        return fail(Errc::too_large, "signed note: longer than " + std::to_string(kMaxNoteSize) +
                                         " bytes");
    }
    if (auto ok = check_text(text, "note"); !ok) return tl::unexpected(ok.error());
    // The text ends at the last blank line; the signature block follows it.
    const std::size_t split = text.rfind("\n\n");
    if (split == std::string_view::npos) return malformed("no blank line before the signatures");
    ParsedNote note;
    note.body.assign(text.substr(0, split + 1));
    std::string_view sigs = text.substr(split + 2);
    if (sigs.empty()) return malformed("no signature line");
    if (sigs.back() != '\n') return malformed("the last signature line does not end in a newline");
    while (!sigs.empty()) {
        if (note.signatures.size() == kMaxNoteSignatures) {
            return malformed("more than " + std::to_string(kMaxNoteSignatures) + " signatures");
        }
        const std::size_t nl = sigs.find('\n');  // found: sigs ends in '\n'
        auto sig = parse_signature_line(sigs.substr(0, nl), note.signatures.size() + 1);
        if (!sig) return tl::unexpected(sig.error());
        note.signatures.push_back(std::move(*sig));
        sigs.remove_prefix(nl + 1);
    }
    return note;
}

Result<VerifiedNote> open_note(std::string_view text, const NoteVerifierKey& key) {
    auto parsed = parse_note(text);
    if (!parsed) return tl::unexpected(parsed.error());
    VerifiedNote out;
    out.body = std::move(parsed->body);
    for (auto& sig : parsed->signatures) {
        // The spec: only a signature whose name AND id both match is ours;
        // anything else is an unknown key and is ignored.
        if (sig.key_name != key.name() || sig.key_id != key.key_id()) {
            out.unverified.push_back(std::move(sig));
            continue;
        }
        // Stricter than Go (which checks the first line per key only): every
        // line that claims to be ours must verify.
        if (!key.verify(crypto::as_bytes(out.body), sig.signature)) {
            return fail(Errc::integrity_failure, "signed note: invalid signature by " + key.label());
        }
        ++out.verified_signatures;
    }
    if (out.verified_signatures == 0) {
        std::string seen;
        for (std::size_t i = 0; i < out.unverified.size() && i < 3; ++i) {
            char id[9];
            std::snprintf(id, sizeof id, "%08x", out.unverified[i].key_id);
            seen += (i ? ", " : "") + out.unverified[i].key_name + "+" + id;
        }
        return fail(Errc::integrity_failure, "signed note: no signature by " + key.label() +
                                                 " (signed by: " + seen + ")");
    }
    return out;
}

Result<std::string> sign_note(std::string_view body, const NoteVerifierKey& key,
                              const NoteSignFunction& sign) {
    if (body.empty() || body.back() != '\n') {
        return fail(Errc::invalid_argument, "signed note: the text must end in a newline");
    }
    // Leave room for the blank line and a few signature lines.
    if (body.size() > kMaxNoteSize - 1024) {
        return fail(Errc::too_large, "signed note: the text is too long to sign");
    }
    if (auto ok = check_text(body, "text"); !ok) {
        return fail(Errc::invalid_argument, ok.error().context());
    }
    auto sig = sign(crypto::as_bytes(body));
    if (!sig) return tl::unexpected(sig.error().wrap("signing a note"));
    if (sig->size() != kEd25519SignatureSize || !key.verify(crypto::as_bytes(body), *sig)) {
        return fail(Errc::integrity_failure, "signed note: the signer's signature does not verify "
                                             "with " + key.label() + " (wrong key?)");
    }
    std::string note(body);
    note += '\n';
    note += signature_line(key, *sig);
    return note;
}

}  // namespace enclave::audit
