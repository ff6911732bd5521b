// SPDX-License-Identifier: Apache-2.0
// Signed notes: the published known-answer vectors of Go's
// golang.org/x/mod/sumdb/note (note_test.go, read, not copied: the values
// below are the public PeterNeumann / EnochRoot test keys and notes), round
// trips, and hostile notes and key strings.
#include "audit/signed_note.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/encoding.hpp"
#include "soft_note_key.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using testing::SoftNoteKey;

// Go's test key pair. The private key string is
// "PRIVATE+KEY+PeterNeumann+c74f20a3+" + base64(0x01 || seed).
const std::string kPeterKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const std::string kPeterSeedB64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const std::string kEnochKey = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const std::string kText =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
const std::string kPeterSig =
    "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdn"
    "gotpRZb6KE6RyyBwJnAM=\n";
const std::string kEnochSig =
    "\xe2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGw"
    "nWLox33WWd1RvMc+QQ=\n";

NoteVerifierKey key_of(const std::string& text) {
    auto key = NoteVerifierKey::parse(text);
    EXPECT_TRUE(key) << text << ": " << (key ? "" : key.error().message());
    if (!key) throw std::runtime_error("bad test key");
    return *key;
}

SoftNoteKey peter_signer() {
    auto seed = crypto::base64_decode(kPeterSeedB64);
    if (!seed || seed->size() != 33) throw std::runtime_error("bad seed");
    return SoftNoteKey::from_seed(crypto::ByteView(*seed).subspan(1));
}

TEST(NoteKeyTest, ParsesGoVectorsAndRoundTrips) {
    const NoteVerifierKey peter = key_of(kPeterKey);
    EXPECT_EQ(peter.name(), "PeterNeumann");
    EXPECT_EQ(peter.key_id(), 0xc74f20a3u);
    EXPECT_EQ(peter.to_string(), kPeterKey);
    EXPECT_EQ(peter.label(), "PeterNeumann+c74f20a3");
    const NoteVerifierKey enoch = key_of(kEnochKey);
    EXPECT_EQ(enoch.key_id(), 0xaf0cfe78u);
    EXPECT_EQ(enoch.to_string(), kEnochKey);
    EXPECT_FALSE(peter == enoch);
    // The key id is computed from name and key, as Go computes it.
    EXPECT_EQ(note_key_id("PeterNeumann", peter.public_key()), 0xc74f20a3u);
    // The private seed derives the same public key.
    EXPECT_EQ(peter_signer().verifier_key("PeterNeumann"), peter);
}

TEST(NoteKeyTest, RejectsEveryManglingOfAValidKey) {
    // As Go's TestNewVerifier: every proper substring and every single-byte
    // change of a valid key string must be refused.
    std::string b = kPeterKey;
    for (std::size_t i = 0; i <= b.size(); ++i) {
        for (std::size_t j = i + 1; j <= b.size(); ++j) {
            if (i == 0 && j == b.size()) continue;
            EXPECT_FALSE(NoteVerifierKey::parse(b.substr(i, j - i))) << b.substr(i, j - i);
        }
    }
    for (std::size_t i = 0; i < b.size(); ++i) {
        ++b[i];
        EXPECT_FALSE(NoteVerifierKey::parse(b)) << b;
        --b[i];
    }
}

TEST(NoteKeyTest, RejectsHostileKeyStrings) {
    const std::vector<std::string> bad = {
        "",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",     // empty name
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // uppercase id
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   // 7 digits
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW=",  // bad padding
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",   // unpadded
        "PeterNeumann+c74f20a3+ ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // space
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  // Go: length
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // space in name
        "Peter\tNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter\xe2\x80\x83Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // EM SPACE
        "Peter\xc2\xa0Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // NBSP
        "Peter\xffNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // not UTF-8
        std::string(300, 'a') + "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        kPeterKey + std::string(10000, 'A'),
    };
    for (const auto& k : bad) {
        auto parsed = NoteVerifierKey::parse(k);
        ASSERT_FALSE(parsed) << k;
        EXPECT_EQ(parsed.error().code(), Errc::malformed_input) << k;
    }
    // Go's "unknown algorithm, with adjusted key hash": a well-formed key of type 0x65.
    auto alg = NoteVerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    ASSERT_FALSE(alg);
    EXPECT_EQ(alg.error().code(), Errc::unsupported_algorithm);
}

TEST(NoteKeyTest, FromPublicKeyChecksNameAndLength) {
    const crypto::Bytes pk(32, 7);
    EXPECT_TRUE(NoteVerifierKey::from_public_key("enclave.example/audit", pk));
    EXPECT_EQ(NoteVerifierKey::from_public_key("", pk).error().code(), Errc::invalid_argument);
    EXPECT_EQ(NoteVerifierKey::from_public_key("a+b", pk).error().code(), Errc::invalid_argument);
    EXPECT_EQ(NoteVerifierKey::from_public_key("a b", pk).error().code(), Errc::invalid_argument);
    EXPECT_EQ(NoteVerifierKey::from_public_key("a\x7f", pk).error().code(), Errc::invalid_argument);
    EXPECT_EQ(NoteVerifierKey::from_public_key("ok", crypto::Bytes(31, 7)).error().code(),
              Errc::invalid_argument);
    EXPECT_TRUE(is_valid_key_name("\xc3\xa9t\xc3\xa9/log"));  // UTF-8 is fine
    EXPECT_FALSE(is_valid_key_name("\xed\xa0\x80"));             // a surrogate is not UTF-8
    EXPECT_FALSE(is_valid_key_name("\xc0\xaf"));                 // overlong '/'
}

TEST(SignedNoteTest, OpensGoVectorAndIgnoresUnknownKeys) {
    const NoteVerifierKey peter = key_of(kPeterKey);
    auto note = open_note(kText + "\n" + kPeterSig + kEnochSig, peter);
    ASSERT_TRUE(note) << note.error().message();
    EXPECT_EQ(note->body, kText);
    EXPECT_EQ(note->verified_signatures, 1u);
    ASSERT_EQ(note->unverified.size(), 1u);
    EXPECT_EQ(note->unverified[0].key_name, "EnochRoot");
    EXPECT_EQ(note->unverified[0].key_id, 0xaf0cfe78u);
    // Enoch's signature is valid too.
    auto both = open_note(kText + "\n" + kPeterSig + kEnochSig, key_of(kEnochKey));
    ASSERT_TRUE(both) << both.error().message();
    EXPECT_EQ(both->unverified[0].key_name, "PeterNeumann");
}

TEST(SignedNoteTest, SoftwareSignatureReproducesGoSignOutput) {
    // Ed25519 is deterministic: our note writer must produce Go's exact bytes.
    const SoftNoteKey peter = peter_signer();
    EXPECT_EQ(peter.sign_note(kText, "PeterNeumann"), kText + "\n" + kPeterSig);
}

TEST(SignedNoteTest, RoundTripWithAFreshKey) {
    const SoftNoteKey key = SoftNoteKey::generate();
    const NoteVerifierKey vkey = key.verifier_key("enclave.example/audit");
    const std::string body = "a\n\nb with an empty line above\n";
    const std::string note = key.sign_note(body, vkey.name());
    auto opened = open_note(note, vkey);
    ASSERT_TRUE(opened) << opened.error().message();
    EXPECT_EQ(opened->body, body);
    auto parsed = parse_note(note);
    ASSERT_TRUE(parsed);
    ASSERT_EQ(parsed->signatures.size(), 1u);
    EXPECT_EQ(parsed->signatures[0].key_id, vkey.key_id());
    EXPECT_EQ(parsed->signatures[0].signature.size(), 64u);
    // Another key with the same name (a different id) does not open it.
    const NoteVerifierKey other = SoftNoteKey::generate().verifier_key(vkey.name());
    auto refused = open_note(note, other);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::integrity_failure);
    EXPECT_NE(refused.error().context().find("no signature by"), std::string::npos);
}

TEST(SignedNoteTest, RejectsMalformedNotes) {
    const NoteVerifierKey peter = key_of(kPeterKey);
    const std::string good = kText + "\n" + kPeterSig;
    const std::vector<std::string> bad = {
        kText,
        kText + "\n",
        kText + "\n" + kPeterSig.substr(0, kPeterSig.size() - 1),
        "\x01" + good,
        "\xff" + good,
        kText + "\r\n" + kPeterSig,
        kText + "\n\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
                "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        good + "Unexpected line.\n",
        kText + "\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
                "fqdngotpRZb6KE6RyyBwJnAM=\n",                 // ASCII hyphen
        kText + "\n\xe2\x80\x94 PeterNeumann\n",             // no signature
        kText + "\n\xe2\x80\x94 PeterNeumann AAAA\n",        // 3 bytes
        kText + "\n\xe2\x80\x94 PeterNeumann x08go/ZJ!!\n",  // not base64
        kText + "\n\xe2\x80\x94  PeterNeumann AAAAAAA=\n",   // empty name
        kText + "\n\xe2\x80\x94 PeterNeumann AAAAAAA= \n",   // trailing space
    };
    for (const auto& note : bad) {
        auto opened = open_note(note, peter);
        ASSERT_FALSE(opened) << note;
        EXPECT_EQ(opened.error().code(), Errc::malformed_input) << note;
    }
    // Too many signature lines (Go refuses 101 too).
    std::string many = kText + "\n";
    for (int i = 0; i < 101; ++i) many += kPeterSig;
    EXPECT_EQ(open_note(many, peter).error().code(), Errc::malformed_input);
    std::string hundred = kText + "\n";
    for (int i = 0; i < 100; ++i) hundred += kPeterSig;
    EXPECT_TRUE(open_note(hundred, peter));
    // Oversized before anything else.
    const std::string huge = std::string(kMaxNoteSize, 'a') + "\n\n" + kPeterSig;
    EXPECT_EQ(open_note(huge, peter).error().code(), Errc::too_large);
}

TEST(SignedNoteTest, RejectsBadSignaturesFromTheTrustedKey) {
    const NoteVerifierKey peter = key_of(kPeterKey);
    // Go's "invalid signature" case: base64 altered in the middle.
    const std::string altered = kPeterSig.substr(0, 60) + "ABCD" + kPeterSig.substr(60);
    auto bad = open_note(kText + "\n" + altered, peter);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::integrity_failure);
    EXPECT_NE(bad.error().context().find("invalid signature by PeterNeumann+c74f20a3"),
              std::string::npos);
    // A changed body.
    std::string text = kText;
    text[3] = 'X';
    EXPECT_EQ(open_note(text + "\n" + kPeterSig, peter).error().code(), Errc::integrity_failure);
    // A good line followed by a bad line from the same key: refused (Go
    // would only look at the first).
    EXPECT_EQ(open_note(kText + "\n" + kPeterSig + altered, peter).error().code(),
              Errc::integrity_failure);
    // A blank line among the signatures: the text ends at the LAST blank
    // line, so the first signature becomes part of the text and fails.
    EXPECT_EQ(open_note(kText + "\n" + kPeterSig + "\n" + kPeterSig, peter).error().code(),
              Errc::integrity_failure);
    // Only unknown keys: refused, and the message names who did sign.
    auto unknown = open_note(kText + "\n" + kEnochSig, peter);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), Errc::integrity_failure);
    EXPECT_NE(unknown.error().context().find("EnochRoot"), std::string::npos);
}

TEST(SignedNoteTest, SignRefusesBadBodiesAndMismatchedSigners) {
    const SoftNoteKey key = SoftNoteKey::generate();
    const NoteVerifierKey vkey = key.verifier_key("log");
    EXPECT_EQ(sign_note("no newline", vkey, key.sign_function()).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(sign_note("", vkey, key.sign_function()).error().code(), Errc::invalid_argument);
    EXPECT_EQ(sign_note("tab\there\n", vkey, key.sign_function()).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(sign_note("bad \xff utf8\n", vkey, key.sign_function()).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(sign_note(std::string(kMaxNoteSize, 'a') + "\n", vkey, key.sign_function())
                  .error()
                  .code(),
              Errc::too_large);
    // A signer whose key does not match the verifier key never yields a note.
    const SoftNoteKey other = SoftNoteKey::generate();
    auto mismatch = sign_note("body\n", vkey, other.sign_function());
    ASSERT_FALSE(mismatch);
    EXPECT_EQ(mismatch.error().code(), Errc::integrity_failure);
    // A failing signer's error comes back with context.
    auto failing = sign_note("body\n", vkey, [](crypto::ByteView) -> crypto::Result<crypto::Bytes> {
        return crypto::fail(Errc::unavailable, "token removed");
    });
    ASSERT_FALSE(failing);
    EXPECT_EQ(failing.error().code(), Errc::unavailable);
}

TEST(SignedNoteTest, SpecExamplesParse) {
    // The example note of c2sp.org/signed-note (key not published): syntax only.
    const std::string note =
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \xc3\xa8 "
        "subito sera.\n\n\xe2\x80\x94 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/"
        "5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    auto parsed = parse_note(note);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_TRUE(parsed->body.ends_with("\n\ned \xc3\xa8 subito sera.\n"));
    ASSERT_EQ(parsed->signatures.size(), 1u);
    EXPECT_EQ(parsed->signatures[0].key_name, "quasimodo.example/salvatore");
    EXPECT_EQ(parsed->signatures[0].signature.size(), 64u);
}

}  // namespace
}  // namespace enclave::audit
