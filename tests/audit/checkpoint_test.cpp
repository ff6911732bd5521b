// SPDX-License-Identifier: Apache-2.0
// tlog-checkpoint bodies: the spec example, round trips, hostile bodies; and
// checkpoints signed with an Ed25519 key on a fresh SoftHSM token.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/signed_note.hpp"
#include "crypto/encoding.hpp"
#include "hsm/keygen.hpp"
#include "soft_note_key.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;

crypto::Hash some_root(std::uint8_t seed) {
    crypto::Hash h{};
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(seed + i * 7);
    return h;
}

TEST(CheckpointTest, SpecExampleParses) {
    const std::string body =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    auto cp = parse_checkpoint_body(body);
    ASSERT_TRUE(cp) << cp.error().message();
    EXPECT_EQ(cp->origin, "example.com/behind-the-sofa");
    EXPECT_EQ(cp->size, 20852163u);
    EXPECT_EQ(crypto::base64_encode(cp->root), "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    EXPECT_TRUE(cp->extensions.empty());
    EXPECT_EQ(checkpoint_body(*cp), body);
}

TEST(CheckpointTest, RoundTripsWithAndWithoutExtensions) {
    Checkpoint cp{"enclave.example/audit", 0, some_root(1), {}};
    EXPECT_EQ(parse_checkpoint_body(checkpoint_body(cp)).value(), cp);
    cp.size = UINT64_MAX;
    EXPECT_EQ(parse_checkpoint_body(checkpoint_body(cp)).value(), cp);
    cp.extensions = {"ext one", "\xe2\x80\x94 two"};
    EXPECT_EQ(parse_checkpoint_body(checkpoint_body(cp)).value(), cp);
}

TEST(CheckpointTest, BodyRefusesInvalidOriginsAndExtensions) {
    EXPECT_THROW((void)checkpoint_body({"", 1, some_root(1), {}}), std::invalid_argument);
    EXPECT_THROW((void)checkpoint_body({"a b", 1, some_root(1), {}}), std::invalid_argument);
    EXPECT_THROW((void)checkpoint_body({"a\nb", 1, some_root(1), {}}), std::invalid_argument);
    EXPECT_THROW((void)checkpoint_body({"ok", 1, some_root(1), {""}}), std::invalid_argument);
    EXPECT_THROW((void)checkpoint_body({"ok", 1, some_root(1), {"a\nb"}}), std::invalid_argument);
}

TEST(CheckpointTest, RejectsHostileBodies) {
    const std::string root = crypto::base64_encode(some_root(3));
    const std::vector<std::string> bad = {
        "",
        "origin\n5\n" + root,                 // no final newline
        "origin\n5\n",                        // two lines
        "\n5\n" + root + "\n",                // empty origin
        "origin\n05\n" + root + "\n",         // leading zero
        "origin\n+5\n" + root + "\n",         // sign
        "origin\n-5\n" + root + "\n",
        "origin\n 5\n" + root + "\n",
        "origin\n5 \n" + root + "\n",
        "origin\n\n" + root + "\n",
        "origin\n0x10\n" + root + "\n",
        "origin\n18446744073709551616\n" + root + "\n",  // 2^64
        "origin\n99999999999999999999\n" + root + "\n",
        "origin\n5\n" + root.substr(0, 43) + "\n",       // unpadded
        "origin\n5\n" + crypto::base64_encode(crypto::Bytes(31, 1)) + "\n",  // 31 bytes
        "origin\n5\n" + crypto::base64_encode(crypto::Bytes(33, 1)) + "\n",  // 33 bytes
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",        // non-canonical bits
        "origin\n5\n" + root + "\n\n",          // empty extension line
        "origin\r\n5\n" + root + "\n",          // CR
        "ori\xffgin\n5\n" + root + "\n",        // not UTF-8
        std::string(300, 'o') + "\n5\n" + root + "\n",
    };
    for (const auto& body : bad) {
        auto cp = parse_checkpoint_body(body);
        ASSERT_FALSE(cp) << body;
        EXPECT_EQ(cp.error().code(), Errc::malformed_input) << body;
        EXPECT_EQ(cp.error().context().rfind("checkpoint: ", 0), 0u) << cp.error().context();
    }
    EXPECT_EQ(parse_checkpoint_body("origin\n18446744073709551615\n" + root + "\n")->size,
              UINT64_MAX);
}

TEST(CheckpointTest, OpenCheckpointVerifiesThenParses) {
    const testing::SoftNoteKey key = testing::SoftNoteKey::generate();
    const NoteVerifierKey vkey = key.verifier_key("enclave.example/audit");
    const Checkpoint cp{"enclave.example/audit", 42, some_root(9), {}};
    const std::string note = key.sign_note(checkpoint_body(cp), vkey.name());
    EXPECT_EQ(open_checkpoint(note, vkey).value(), cp);
    // A signed body that is not a checkpoint.
    const std::string not_cp = key.sign_note("hello\n", vkey.name());
    EXPECT_EQ(open_checkpoint(not_cp, vkey).error().code(), Errc::malformed_input);
}

// The checkpoint signed on the token verifies with a verifier key built from
// the token's public key, and the key id covers the name.
TEST(CheckpointTokenTest, SignsWithTheEd25519KeyOnTheToken) {
    testing::SoftHsmToken token;
    auto ref = hsm::generate_ed25519_key_pair(*token.pool(), {"audit-note", {}});
    ASSERT_TRUE(ref) << ref.error().message();
    auto signer = hsm::Signer::open(token.pool(), ref->query());
    ASSERT_TRUE(signer) << signer.error().message();
    const Checkpoint cp{"enclave.example/audit", 1000, some_root(5), {}};
    auto note = sign_note(checkpoint_body(cp), "enclave.example/audit", *signer);
    ASSERT_TRUE(note) << note.error().message();

    auto vkey = note_verifier_key(*token.pool(), *ref, "enclave.example/audit");
    ASSERT_TRUE(vkey) << vkey.error().message();
    EXPECT_EQ(open_checkpoint(*note, *vkey).value(), cp);
    auto from_signer = note_verifier_key(*signer, "enclave.example/audit");
    ASSERT_TRUE(from_signer);
    EXPECT_EQ(*from_signer, *vkey);
    // Round trip through the key string, as an auditor receives it.
    EXPECT_EQ(open_checkpoint(*note, NoteVerifierKey::parse(vkey->to_string()).value()).value(), cp);
    // Same key, another name: another key id, so the signature is unknown.
    auto renamed = note_verifier_key(*token.pool(), *ref, "other.example/audit");
    ASSERT_TRUE(renamed);
    EXPECT_NE(renamed->key_id(), vkey->key_id());
    EXPECT_EQ(open_checkpoint(*note, *renamed).error().code(), Errc::integrity_failure);
    // The variant with a prepared key signs identically (Ed25519 is deterministic).
    EXPECT_EQ(sign_note(checkpoint_body(cp), *vkey, *signer).value(), *note);
}

TEST(CheckpointTokenTest, RefusesNonEd25519KeysAndMismatchedVerifierKeys) {
    testing::SoftHsmToken token;
    auto ec = hsm::generate_ec_key_pair(*token.pool(), hsm::EcCurve::p256, {"tls", {}});
    auto ed = hsm::generate_ed25519_key_pair(*token.pool(), {"audit-note", {}});
    ASSERT_TRUE(ec && ed);
    auto ec_signer = hsm::Signer::open(token.pool(), ec->query());
    auto ed_signer = hsm::Signer::open(token.pool(), ed->query());
    ASSERT_TRUE(ec_signer && ed_signer);
    EXPECT_EQ(note_verifier_key(*token.pool(), *ec, "log").error().code(), Errc::invalid_argument);
    EXPECT_EQ(sign_note("body\n", std::string("log"), *ec_signer).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(sign_note("body\n", std::string("bad name"), *ed_signer).error().code(),
              Errc::invalid_argument);
    // A verifier key for another key: the token's signature is caught before
    // a note is returned.
    const NoteVerifierKey wrong = testing::SoftNoteKey::generate().verifier_key("log");
    auto refused = sign_note("body\n", wrong, *ed_signer);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::integrity_failure);
}

TEST(CheckpointTokenTest, SpkiParsingIsStrict) {
    const testing::SoftNoteKey key = testing::SoftNoteKey::generate();
    // 12-byte Ed25519 SPKI prefix (RFC 8410) + key.
    crypto::Bytes spki = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    const crypto::Bytes pk = key.public_key();
    spki.insert(spki.end(), pk.begin(), pk.end());
    EXPECT_EQ(ed25519_public_key_from_spki(spki).value(), pk);
    crypto::Bytes trailing = spki;
    trailing.push_back(0);
    EXPECT_EQ(ed25519_public_key_from_spki(trailing).error().code(), Errc::malformed_input);
    crypto::Bytes cut(spki.begin(), spki.end() - 1);
    EXPECT_EQ(ed25519_public_key_from_spki(cut).error().code(), Errc::malformed_input);
    EXPECT_EQ(ed25519_public_key_from_spki({}).error().code(), Errc::malformed_input);
}

}  // namespace
}  // namespace enclave::audit
