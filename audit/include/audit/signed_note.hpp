// SPDX-License-Identifier: Apache-2.0
#pragma once
// C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures,
// and transparency-log checkpoints (https://c2sp.org/tlog-checkpoint): the
// signed tree heads of the audit log.
//
//   note     = body "\n" signature-line+
//   body     = text ending in "\n" (the checkpoint: origin, size, root)
//   sig line = "\u2014 " key-name " " base64(key id (4 bytes, big-endian) || signature) "\n"
//   key id   = SHA-256(key name || "\n" || 0x01 || 32-byte public key)[:4]
//   verifier key string = name "+" 8 lowercase hex digits of the key id "+"
//                         base64(0x01 || public key)
//
// Everything here is public (bodies, signatures, public keys); nothing holds a
// secret. Signing happens on the token (hsm::Signer, CKM_EDDSA) or through a
// caller's signing function; verification needs no token (OpenSSL EVP).
// Every parser treats its input as hostile: size limits first, then strict
// syntax, and errors that name the rule broken without echoing the input.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"
#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/signer.hpp"

namespace enclave::audit {

inline constexpr std::size_t kEd25519PublicKeySize = 32;
inline constexpr std::size_t kEd25519SignatureSize = 64;
/// Notes longer than this are refused before any other check. A checkpoint
/// is about 150 bytes; the spec asks verifiers to limit note size.
inline constexpr std::size_t kMaxNoteSize = 64 * 1024;
/// More signature lines than this make a note malformed (Go's sumdb/note
/// uses the same limit; the spec requires accepting at least 16).
inline constexpr std::size_t kMaxNoteSignatures = 100;
/// Key names (and checkpoint origins) longer than this are refused.
inline constexpr std::size_t kMaxKeyNameSize = 256;

/// A key name by the signed-note rules: non-empty, valid UTF-8, no Unicode
/// space, no '+'; we also refuse ASCII control characters and names over
/// kMaxKeyNameSize bytes.
[[nodiscard]] bool is_valid_key_name(std::string_view name) noexcept;

/// SHA-256(name || "\n" || 0x01 || public_key)[:4], big-endian.
[[nodiscard]] std::uint32_t note_key_id(std::string_view name, crypto::ByteView public_key);

// ---------------------------------------------------------------- keys

/// The public half of a note signing key: name, key id and Ed25519 public
/// key. A value type; the key id is always the one computed from the other two.
class NoteVerifierKey {
public:
    /// From a name and a raw 32-byte Ed25519 public key. invalid_argument for
    /// an invalid name or a key of another length.
    static crypto::Result<NoteVerifierKey> from_public_key(std::string name,
                                                           crypto::ByteView public_key);
    /// Parses "<name>+<8 lowercase hex>+<base64(0x01 || 32-byte key)>". Strict:
    /// malformed_input for any deviation (length limit, missing or extra '+',
    /// uppercase or short hex, non-canonical base64, wrong key length, a key
    /// id that does not match the name and key); unsupported_algorithm for a
    /// signature type other than 0x01 (Ed25519).
    static crypto::Result<NoteVerifierKey> parse(std::string_view text);

    /// The "<name>+<hex id>+<base64>" form (parse(to_string()) round-trips).
    [[nodiscard]] std::string to_string() const;
    /// "<name>+<hex id>", for messages.
    [[nodiscard]] std::string label() const;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] std::uint32_t key_id() const noexcept { return key_id_; }
    [[nodiscard]] crypto::ByteView public_key() const noexcept { return public_key_; }

    /// Ed25519 verification of `signature` over `message` with this key.
    [[nodiscard]] bool verify(crypto::ByteView message, crypto::ByteView signature) const;

    friend bool operator==(const NoteVerifierKey& a, const NoteVerifierKey& b) {
        return a.name_ == b.name_ && a.key_id_ == b.key_id_ && a.public_key_ == b.public_key_;
    }

private:
    NoteVerifierKey(std::string name, std::array<std::uint8_t, kEd25519PublicKeySize> key);

    std::string name_;
    std::uint32_t key_id_ = 0;
    std::array<std::uint8_t, kEd25519PublicKeySize> public_key_{};
};

/// The raw Ed25519 key inside an X.509 SubjectPublicKeyInfo (what the token
/// exports). malformed_input when the DER is not an Ed25519 SPKI.
crypto::Result<crypto::Bytes> ed25519_public_key_from_spki(crypto::ByteView spki_der);

/// The verifier key of a token key pair (either half may be named; the
/// public key object is read through hsm::export_public_key_spki).
/// invalid_argument when the key is not Ed25519 or the name is invalid.
crypto::Result<NoteVerifierKey> note_verifier_key(hsm::SessionPool& pool, const hsm::KeyRef& key,
                                                  std::string name);
/// The verifier key of the key a Signer signs with.
crypto::Result<NoteVerifierKey> note_verifier_key(hsm::Signer& signer, std::string name);

// ---------------------------------------------------------------- notes

/// One signature line, as found (not necessarily verified).
struct NoteSignature {
    std::string key_name;
    std::uint32_t key_id = 0;
    crypto::Bytes signature;  ///< the bytes after the key id
};

/// A note split into body and signature lines, nothing verified.
struct ParsedNote {
    std::string body;  ///< the signed text, ending in "\n"
    std::vector<NoteSignature> signatures;
};

/// A note with at least one valid signature by the trusted key.
struct VerifiedNote {
    std::string body;
    std::size_t verified_signatures = 0;    ///< lines by the trusted key (all valid)
    std::vector<NoteSignature> unverified;  ///< lines by other keys, ignored
};

/// Splits a note by the signed-note syntax. malformed_input (context starts
/// "signed note: ") when: longer than kMaxNoteSize (too_large), not valid
/// UTF-8, a control character other than "\n", no blank line before the
/// signatures, no signature line, a line without the em dash prefix, an
/// invalid key name, bad base64, a signature shorter than 5 bytes, more than
/// kMaxNoteSignatures lines, or no final "\n".
[[nodiscard]] crypto::Result<ParsedNote> parse_note(std::string_view text);

/// Parses and verifies. Signatures from other keys (a different name or key
/// id) are ignored, as the spec requires. Every signature line from `key`
/// must verify, and there must be at least one: integrity_failure
/// ("invalid signature by <name+id>", "no signature by <name+id>").
[[nodiscard]] crypto::Result<VerifiedNote> open_note(std::string_view text,
                                                     const NoteVerifierKey& key);

/// Produces the signature bytes over a message (pure Ed25519, 64 bytes).
using NoteSignFunction = std::function<crypto::Result<crypto::Bytes>(crypto::ByteView message)>;

/// Signs `body` (a valid note text: non-empty, ends in "\n", UTF-8, no control
/// characters but "\n") with `sign`, checks the signature against `key`
/// before returning it (a signer that does not match its public key is an
/// integrity_failure, never a published note), and returns the note.
[[nodiscard]] crypto::Result<std::string> sign_note(std::string_view body,
                                                    const NoteVerifierKey& key,
                                                    const NoteSignFunction& sign);

/// Signs with the Ed25519 key on the token (CKM_EDDSA through `signer`); the
/// verifier key is built from the token's public key under `key_name`.
[[nodiscard]] crypto::Result<std::string> sign_note(std::string_view body,
                                                    const std::string& key_name,
                                                    hsm::Signer& signer);
/// The same with a verifier key the caller already built (no public key read).
[[nodiscard]] crypto::Result<std::string> sign_note(std::string_view body,
                                                    const NoteVerifierKey& key,
                                                    hsm::Signer& signer);

// ---------------------------------------------------------------- checkpoints

/// A tree head: the log's origin, its size and the RFC 9162 root at that size.
struct Checkpoint {
    std::string origin;
    std::uint64_t size = 0;
    crypto::Hash root{};
    /// Extension lines (tlog-checkpoint allows them; we never emit any).
    std::vector<std::string> extensions;

    friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

/// "<origin>\n<size>\n<base64 root>\n" plus any extension lines. Requires
/// is_valid_key_name(origin) and extension lines that are non-empty note text
/// without "\n"; throws std::invalid_argument otherwise (the origin comes from
/// validated configuration, so a bad one is a broken invariant).
[[nodiscard]] std::string checkpoint_body(const Checkpoint& checkpoint);

/// Strict tlog-checkpoint parsing: at least three lines, each ending in
/// "\n"; a non-empty origin without control characters (limit
/// kMaxKeyNameSize); a decimal size without sign, leading zeros (except "0")
/// or overflow; the canonical base64 of exactly 32 bytes; extension lines
/// non-empty. malformed_input, context "checkpoint: ...".
[[nodiscard]] crypto::Result<Checkpoint> parse_checkpoint_body(std::string_view body);

/// open_note + parse_checkpoint_body.
[[nodiscard]] crypto::Result<Checkpoint> open_checkpoint(std::string_view note,
                                                         const NoteVerifierKey& key);

}  // namespace enclave::audit
