// SPDX-License-Identifier: Apache-2.0
// What an auditor feeds `enclavectl audit verify`:
//  - audit_bundle: verify_bundle on the input written as a bundle file
//    (header line, checkpoints, entries), with the bundle's own key;
//  - signed_note: parse_note, open_note with the seeds' fixed key,
//    parse_checkpoint_body on an accepted note's body, and
//    NoteVerifierKey::parse on the first line (verifier keys are pasted
//    from provisioning records). Round trips: checkpoint_body and
//    NoteVerifierKey::to_string parse back to the same value.
#include <string>

#include "audit/bundle.hpp"
#include "audit/signed_note.hpp"
#include "crypto/bytes.hpp"
#include "fuzz_harness.hpp"
#include "fuzz_seed_keys.hpp"
#include "fuzz_support.hpp"
#include "audit/soft_note_key.hpp"

using namespace enclave;
using namespace enclave::fuzz;

extern "C" int enclave_fuzz_audit_bundle(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "audit_bundle";
    static const auto path = scratch_file("bundle.jsonl");
    write_file(path, data, size);
    auto report = audit::verify_bundle(path);
    const int result = outcome(report, kName);
    if (report) {
        fuzz_require(report->checkpoints_checked >= 1, kName, "a verified bundle with no checkpoint checked");
        fuzz_require(!report->key_pinned, kName, "a pinned key that nobody pinned");
    } else {
        const auto code = report.error().code();
        fuzz_require(code == crypto::Errc::integrity_failure, kName,
                     "a bundle refused with another code than integrity_failure");
    }
    return result;
}

extern "C" int enclave_fuzz_signed_note(const std::uint8_t* data, std::size_t size) {
    constexpr const char* kName = "signed_note";
    static const audit::NoteVerifierKey key =
        testing::SoftNoteKey::from_seed(crypto::ByteView(kNoteSeedKey)).verifier_key(kNoteSeedOrigin);
    const auto text = as_text(data, size);
    int result = kRejected;
    if (auto parsed = audit::parse_note(text); parsed) {
        result = kAccepted;
        auto cp = audit::parse_checkpoint_body(parsed->body);
        // checkpoint_body writes only origins that are note key names (it
        // throws otherwise); parse_checkpoint_body reads any non-empty origin.
        if (cp && audit::is_valid_key_name(cp->origin)) {
            auto again = audit::parse_checkpoint_body(audit::checkpoint_body(*cp));
            fuzz_require(again.has_value() && *again == *cp, kName, "checkpoint_body does not parse back");
        } else if (!cp) {
            (void)outcome(cp, kName);
        }
    } else {
        (void)outcome(parsed, kName);
    }
    if (auto opened = audit::open_note(text, key); opened) {
        fuzz_require(opened->verified_signatures >= 1, kName, "an opened note without a verified signature");
        result = kAccepted;
    } else {
        (void)outcome(opened, kName);
    }
    const auto first_line = text.substr(0, text.find('\n'));
    if (auto vkey = audit::NoteVerifierKey::parse(first_line); vkey) {
        auto again = audit::NoteVerifierKey::parse(vkey->to_string());
        fuzz_require(again.has_value() && *again == *vkey, kName, "NoteVerifierKey::to_string does not parse back");
        result = kAccepted;
    } else {
        (void)outcome(vkey, kName);
    }
    return result;
}
