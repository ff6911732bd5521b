// SPDX-License-Identifier: Apache-2.0
#include "archive/object_id.hpp"

#include <sodium.h>

#include <array>
#include <cstdint>

#include "crypto/bytes.hpp"
#include "crypto/encoding.hpp"

namespace enclave::archive {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kBodyChars = 26;
constexpr std::string_view kArtifactPrefix = "art-";

bool crockford_char(char c) noexcept { return kCrockford.find(c) != std::string_view::npos; }

/// The remainder mod 97 of a string of decimal digits.
int mod97_decimal(std::string_view digits) noexcept {
    int r = 0;
    for (const char c : digits) r = (r * 10 + (c - '0')) % 97;
    return r;
}

/// A reference body as decimal digits: each character's Crockford value
/// (0..31) as two digits. With every character the same width, a changed
/// character alters the number by d * 100^k (0 < |d| < 32) and a swap of
/// neighbours by d * 99 * 100^k: neither is ever a multiple of the prime 97,
/// so MOD 97-10 catches both, always.
std::string body_digits(std::string_view body) {
    std::string out;
    out.reserve(body.size() * 2);
    for (const char c : body) {
        const auto v = kCrockford.find(c);
        out.push_back(static_cast<char>('0' + v / 10));
        out.push_back(static_cast<char>('0' + v % 10));
    }
    return out;
}

}  // namespace

std::string mod97_check_digits(std::string_view digits) {
    const int check = 98 - (mod97_decimal(digits) * 100) % 97;
    std::string out(2, '0');
    out[0] = static_cast<char>('0' + check / 10);
    out[1] = static_cast<char>('0' + check % 10);
    return out;
}

std::string new_object_reference() {
    std::array<std::uint8_t, 17> raw{};  // 130 bits used: 128 random, 2 zero
    randombytes_buf(raw.data(), 16);
    std::string body;
    body.reserve(kBodyChars);
    unsigned buffer = 0;
    int bits = 0;
    std::size_t i = 0;
    while (body.size() < kBodyChars) {
        if (bits < 5) {
            buffer = (buffer << 8) | raw[i++];
            bits += 8;
        }
        body.push_back(kCrockford[(buffer >> (bits - 5)) & 31u]);
        bits -= 5;
    }
    return std::string(kObjectReferencePrefix) + body + "-" + mod97_check_digits(body_digits(body));
}

bool object_reference_ok(std::string_view ref) noexcept {
    if (ref.size() != kObjectReferencePrefix.size() + kBodyChars + 3) return false;
    if (ref.substr(0, kObjectReferencePrefix.size()) != kObjectReferencePrefix) return false;
    const std::string_view body = ref.substr(kObjectReferencePrefix.size(), kBodyChars);
    const std::string_view tail = ref.substr(kObjectReferencePrefix.size() + kBodyChars);
    for (const char c : body) {
        if (!crockford_char(c)) return false;
    }
    if (tail[0] != '-' || tail[1] < '0' || tail[1] > '9' || tail[2] < '0' || tail[2] > '9') {
        return false;
    }
    // The number body||check is 1 mod 97 exactly when the check digits match.
    const int with_check =
        (mod97_decimal(body_digits(body)) * 100 + (tail[1] - '0') * 10 + (tail[2] - '0')) % 97;
    return with_check == 1;
}

std::string new_artifact() {
    std::array<std::uint8_t, 16> raw{};
    randombytes_buf(raw.data(), raw.size());
    return std::string(kArtifactPrefix) + crypto::hex_encode(raw);
}

bool artifact_ok(std::string_view artifact) noexcept {
    if (artifact.size() != kArtifactPrefix.size() + 32) return false;
    if (artifact.substr(0, kArtifactPrefix.size()) != kArtifactPrefix) return false;
    for (const char c : artifact.substr(kArtifactPrefix.size())) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace enclave::archive
