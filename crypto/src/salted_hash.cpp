// SPDX-License-Identifier: Apache-2.0
#include "crypto/salted_hash.hpp"

#include <array>
#include <string>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto {
namespace {

constexpr SaltedHashAlg kAll[] = {SaltedHashAlg::sha256, SaltedHashAlg::sha384,
                                  SaltedHashAlg::sha512, SaltedHashAlg::sha3_256,
                                  SaltedHashAlg::hmac_sha256};

HashAlg underlying(SaltedHashAlg alg) noexcept {
    switch (alg) {
        case SaltedHashAlg::sha256: return HashAlg::sha256;
        case SaltedHashAlg::sha384: return HashAlg::sha384;
        case SaltedHashAlg::sha512: return HashAlg::sha512;
        case SaltedHashAlg::sha3_256: return HashAlg::sha3_256;
        case SaltedHashAlg::hmac_sha256: return HashAlg::sha256;
    }
    return HashAlg::sha256;
}

Result<void> check_inputs(ByteView salt, std::string_view value) {
    if (salt.size() < kMinSaltBytes) {
        return fail(Errc::salt_too_short, "salt is " + std::to_string(salt.size()) +
                                              " bytes; at least " + std::to_string(kMinSaltBytes) +
                                              " are required");
    }
    if (salt.size() > kMaxSaltBytes) {
        return fail(Errc::too_large, "salt is longer than " + std::to_string(kMaxSaltBytes) + " bytes");
    }
    if (value.empty()) {
        return fail(Errc::malformed_input, "value is empty");
    }
    if (value.size() > kMaxSaltedValueBytes) {
        return fail(Errc::too_large,
                    "value is longer than " + std::to_string(kMaxSaltedValueBytes) + " bytes");
    }
    if (!is_valid_utf8(value)) {
        return fail(Errc::malformed_input, "value is not valid UTF-8");
    }
    return {};
}

}  // namespace

std::string_view salted_hash_name(SaltedHashAlg alg) noexcept {
    if (alg == SaltedHashAlg::hmac_sha256) return "hmac-sha256";
    return hash_name(underlying(alg));
}

std::optional<SaltedHashAlg> salted_hash_from_name(std::string_view name) noexcept {
    for (SaltedHashAlg a : kAll) {
        if (salted_hash_name(a) == name) return a;
    }
    return std::nullopt;
}

std::string_view salted_hash_supported_names() noexcept {
    return "sha256, sha384, sha512, sha3-256, hmac-sha256";
}

std::size_t salted_hash_size(SaltedHashAlg alg) noexcept { return digest_size(underlying(alg)); }

Result<Bytes> compute_salted_hash(SaltedHashAlg alg, ByteView salt, std::string_view value) {
    if (auto ok = check_inputs(salt, value); !ok) {
        return tl::unexpected(ok.error());
    }
    if (alg == SaltedHashAlg::hmac_sha256) {
        return hmac(HashAlg::sha256, salt, as_bytes(value));
    }
    return digest(underlying(alg), {salt, as_bytes(value)});
}

Result<void> verify_salted_hash(SaltedHashAlg alg, ByteView salt, std::string_view value,
                                ByteView expected_hash) {
    if (auto ok = check_inputs(salt, value); !ok) {
        return tl::unexpected(ok.error());
    }
    if (expected_hash.size() != salted_hash_size(alg)) {
        return fail(Errc::malformed_input,
                    "hash is " + std::to_string(expected_hash.size()) + " bytes; " +
                        std::string(salted_hash_name(alg)) + " gives " +
                        std::to_string(salted_hash_size(alg)));
    }
    auto computed = compute_salted_hash(alg, salt, value);
    if (!computed) {
        return tl::unexpected(computed.error());
    }
    const bool same = constant_time_equal(*computed, expected_hash);
    wipe(*computed);
    if (!same) {
        return fail(Errc::hash_mismatch, "hash does not match value and salt");
    }
    return {};
}

Result<void> verify_salted_hash(std::string_view algorithm, std::string_view salt_hex,
                                std::string_view value, std::string_view hash_hex) {
    const auto alg = salted_hash_from_name(algorithm);
    if (!alg) {
        // The offered name is not echoed: it is attacker-chosen text.
        return fail(Errc::unsupported_algorithm, "unknown salted-hash algorithm; supported: " +
                                                     std::string(salted_hash_supported_names()));
    }
    // Decoded on the stack and wiped on every path: a sodium_malloc per call
    // (guard pages, mlock) would cost more than the hash itself.
    struct WipedBuffer {
        std::array<std::uint8_t, kMaxSaltBytes> bytes{};
        ~WipedBuffer() { wipe(bytes); }
    } salt;
    if (salt_hex.size() > 2 * kMaxSaltBytes) {
        return fail(Errc::too_large, "salt is longer than " + std::to_string(kMaxSaltBytes) + " bytes");
    }
    auto salt_len = hex_decode_to(salt_hex, salt.bytes);
    if (!salt_len) {
        return tl::unexpected(salt_len.error().wrap("salt"));
    }
    std::array<std::uint8_t, 64> hash{};
    if (hash_hex.size() > 2 * hash.size()) {
        return fail(Errc::malformed_input, "hash is longer than any supported algorithm gives");
    }
    auto hash_len = hex_decode_to(hash_hex, hash);
    if (!hash_len) {
        return tl::unexpected(hash_len.error().wrap("hash"));
    }
    return verify_salted_hash(*alg, ByteView(salt.bytes).first(*salt_len), value,
                              ByteView(hash).first(*hash_len));
}

bool is_valid_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        std::uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;  // continuation byte, overlong lead (c0, c1) or > f4
        }
        if (i + len > n) return false;
        for (std::size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

}  // namespace enclave::crypto
