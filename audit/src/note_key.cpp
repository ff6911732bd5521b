// SPDX-License-Identifier: Apache-2.0
// Note verifier keys: names, key ids, the "<name>+<id>+<key>" string and
// Ed25519 verification through OpenSSL (no token needed).
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>

#include "audit/signed_note.hpp"
#include "crypto/c_handle.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "text_rules.hpp"

namespace enclave::audit {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using MdCtxPtr = crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

constexpr std::uint8_t kAlgEd25519 = 0x01;
// name + "+" + 8 hex + "+" + 44 base64 characters.
constexpr std::size_t kMaxKeyStringSize = kMaxKeyNameSize + 1 + 8 + 1 + 44;

tl::unexpected<crypto::Error> bad_key(const std::string& why) {
    return fail(Errc::malformed_input, "verifier key: " + why);
}

std::string hex8(std::uint32_t v) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

// Exactly eight lowercase hex digits (what Go's "%08x" writes).
bool parse_hex8(std::string_view s, std::uint32_t& out) {
    if (s.size() != 8) return false;
    std::uint32_t v = 0;
    for (char c : s) {
        int d = -1;
        if (c >= '0' && c <= '9') d = c - '0';
        if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        if (d < 0) return false;
        v = (v << 4) | static_cast<std::uint32_t>(d);
    }
    out = v;
    return true;
}

}  // namespace

bool is_valid_key_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > kMaxKeyNameSize) return false;
    if (name.find('+') != std::string_view::npos) return false;
    // 0x7f (DEL) is not below 0x20 but is a control character too.
    if (name.find('\x7f') != std::string_view::npos) return false;
    if (detail::scan_text(name, false).fault != detail::TextFault::none) return false;
    return !detail::contains_unicode_space(name);
}

std::uint32_t note_key_id(std::string_view name, ByteView public_key) {
    const std::uint8_t sep[2] = {'\n', kAlgEd25519};
    const Bytes h = crypto::digest(crypto::HashAlg::sha256,
                                   {crypto::as_bytes(name), ByteView(sep, 2), public_key});
    return (std::uint32_t{h[0]} << 24) | (std::uint32_t{h[1]} << 16) |
           (std::uint32_t{h[2]} << 8) | std::uint32_t{h[3]};
}

NoteVerifierKey::NoteVerifierKey(std::string name,
                                 std::array<std::uint8_t, kEd25519PublicKeySize> key)
    : name_(std::move(name)), key_id_(note_key_id(name_, key)), public_key_(key) {}

Result<NoteVerifierKey> NoteVerifierKey::from_public_key(std::string name, ByteView public_key) {
    if (!is_valid_key_name(name)) {
        return fail(Errc::invalid_argument,
                    "note key name must be 1 to 256 bytes of UTF-8 without spaces, '+' or "
                    "control characters");
    }
    if (public_key.size() != kEd25519PublicKeySize) {
        return fail(Errc::invalid_argument, "an Ed25519 public key is 32 bytes, got " +
                                                std::to_string(public_key.size()));
    }
    std::array<std::uint8_t, kEd25519PublicKeySize> key{};
    std::copy(public_key.begin(), public_key.end(), key.begin());
    return NoteVerifierKey(std::move(name), key);
}

Result<NoteVerifierKey> NoteVerifierKey::parse(std::string_view text) {
    if (text.size() > kMaxKeyStringSize) return bad_key("longer than any valid key string");
    const std::size_t p1 = text.find('+');
    if (p1 == std::string_view::npos) return bad_key("no '+' after the name");
    const std::size_t p2 = text.find('+', p1 + 1);
    if (p2 == std::string_view::npos) return bad_key("no '+' after the key id");
    const std::string_view name = text.substr(0, p1);
    const std::string_view id_hex = text.substr(p1 + 1, p2 - p1 - 1);
    const std::string_view key_b64 = text.substr(p2 + 1);
    if (!is_valid_key_name(name)) return bad_key("invalid key name");
    std::uint32_t id = 0;
    if (!parse_hex8(id_hex, id)) return bad_key("the key id is not 8 lowercase hex digits");
    // A '+' in the base64 part is part of the alphabet; base64_decode is strict.
    auto key = crypto::base64_decode(key_b64);
    if (!key) return bad_key("the key is not canonical base64");
    if (key->empty()) return bad_key("empty key");
    if ((*key)[0] != kAlgEd25519) {
        return fail(Errc::unsupported_algorithm,
                    "verifier key: signature type " + std::to_string((*key)[0]) +
                        " (only 1, Ed25519, is supported)");
    }
    if (key->size() != 1 + kEd25519PublicKeySize) {
        return bad_key("an Ed25519 key is 32 bytes, got " + std::to_string(key->size() - 1));
    }
    auto out = from_public_key(std::string(name), ByteView(*key).subspan(1));
    if (!out) return bad_key(out.error().context());
    if (out->key_id() != id) return bad_key("the key id does not match the name and key");
    return out;
}

std::string NoteVerifierKey::to_string() const {
    Bytes encoded;
    encoded.reserve(1 + public_key_.size());
    encoded.push_back(kAlgEd25519);
    encoded.insert(encoded.end(), public_key_.begin(), public_key_.end());
    return label() + "+" + crypto::base64_encode(encoded);
}

std::string NoteVerifierKey::label() const { return name_ + "+" + hex8(key_id_); }

bool NoteVerifierKey::verify(ByteView message, ByteView signature) const {
    if (signature.size() != kEd25519SignatureSize) return false;
    EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key_.data(),
                                                public_key_.size()));
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!pkey || !ctx) throw std::bad_alloc();
    // Pure Ed25519: no digest (NULL md), one-shot EVP_DigestVerify.
    if (EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey.get(),
                                nullptr) != 1) {
        return false;
    }
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                            message.size()) == 1;
}

Result<Bytes> ed25519_public_key_from_spki(ByteView spki_der) {
    const unsigned char* p = spki_der.data();
    EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
    if (!pkey || p != spki_der.data() + spki_der.size()) {
        return fail(Errc::malformed_input, "not a SubjectPublicKeyInfo (or trailing bytes)");
    }
    if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519) {
        return fail(Errc::malformed_input, "the public key is not Ed25519");
    }
    Bytes raw(kEd25519PublicKeySize);
    std::size_t len = raw.size();
    if (EVP_PKEY_get_raw_public_key(pkey.get(), raw.data(), &len) != 1 ||
        len != kEd25519PublicKeySize) {
        return fail(Errc::malformed_input, "the Ed25519 public key is not 32 bytes");
    }
    return raw;
}

}  // namespace enclave::audit
