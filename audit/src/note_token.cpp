// SPDX-License-Identifier: Apache-2.0
// Signed notes with the Ed25519 audit key on the token (CKM_EDDSA).
#include "audit/signed_note.hpp"
#include "hsm/public_key.hpp"

namespace enclave::audit {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

Result<NoteVerifierKey> key_from_spki(const Result<crypto::Bytes>& spki, std::string name) {
    if (!spki) return tl::unexpected(spki.error().wrap("reading the note key's public key"));
    auto raw = ed25519_public_key_from_spki(*spki);
    if (!raw) return tl::unexpected(raw.error().wrap("the token's note key"));
    return NoteVerifierKey::from_public_key(std::move(name), *raw);
}

}  // namespace

Result<NoteVerifierKey> note_verifier_key(hsm::SessionPool& pool, const hsm::KeyRef& key,
                                          std::string name) {
    if (key.key_type != hsm::KeyType::ed25519) {
        return fail(Errc::invalid_argument, "a note key must be Ed25519; " +
                                                key.query().describe() + " is " +
                                                std::string(hsm::key_type_name(key.key_type)));
    }
    return key_from_spki(hsm::export_public_key_spki(pool, key), std::move(name));
}

Result<NoteVerifierKey> note_verifier_key(hsm::Signer& signer, std::string name) {
    if (signer.key_type() != hsm::KeyType::ed25519) {
        return fail(Errc::invalid_argument, "a note key must be Ed25519; " +
                                                signer.key().query().describe() + " is " +
                                                std::string(hsm::key_type_name(signer.key_type())));
    }
    return key_from_spki(signer.public_key_spki(), std::move(name));
}

Result<std::string> sign_note(std::string_view body, const NoteVerifierKey& key,
                              hsm::Signer& signer) {
    return sign_note(body, key,
                     [&signer](crypto::ByteView message) { return signer.sign_ed25519(message); });
}

Result<std::string> sign_note(std::string_view body, const std::string& key_name,
                              hsm::Signer& signer) {
    auto key = note_verifier_key(signer, key_name);
    if (!key) return tl::unexpected(key.error());
    return sign_note(body, *key, signer);
}

}  // namespace enclave::audit
