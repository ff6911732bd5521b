// SPDX-License-Identifier: Apache-2.0
#include "crypto/encoding.hpp"

#include <array>

namespace enclave::crypto {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr std::array<int, 256> make_b64_table() {
    std::array<int, 256> t{};
    for (auto& v : t) v = -1;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = i;
    return t;
}
constexpr auto kB64Table = make_b64_table();

// Decodes `hex` into `out` (exactly hex.size()/2 bytes). Returns the offset of
// the first bad character, or npos.
std::size_t hex_decode_into(std::string_view hex, std::uint8_t* out) noexcept {
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_value(hex[i]);
        if (hi < 0) return i;
        const int lo = hex_value(hex[i + 1]);
        if (lo < 0) return i + 1;
        out[i / 2] = static_cast<std::uint8_t>((hi << 4) | lo);
    }
    return std::string_view::npos;
}

Result<void> check_hex_shape(std::string_view hex) {
    if (hex.size() > kMaxEncodedLength) {
        return fail(Errc::too_large, "hex input longer than the decoder limit");
    }
    if (hex.size() % 2 != 0) {
        return fail(Errc::malformed_input, "hex input has an odd number of digits");
    }
    return {};
}

}  // namespace

std::string hex_encode(ByteView bytes) {
    std::string out;
    out.resize(bytes.size() * 2);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = kHexDigits[bytes[i] >> 4];
        out[2 * i + 1] = kHexDigits[bytes[i] & 0x0f];
    }
    return out;
}

Result<Bytes> hex_decode(std::string_view hex) {
    if (auto shape = check_hex_shape(hex); !shape) {
        return tl::unexpected(shape.error());
    }
    Bytes out(hex.size() / 2);
    const std::size_t bad = hex_decode_into(hex, out.data());
    if (bad != std::string_view::npos) {
        return fail(Errc::malformed_input, "non-hex character at offset " + std::to_string(bad));
    }
    return out;
}

Result<std::size_t> hex_decode_to(std::string_view hex, MutableByteView out) {
    if (auto shape = check_hex_shape(hex); !shape) {
        return tl::unexpected(shape.error());
    }
    if (hex.size() / 2 > out.size()) {
        return fail(Errc::too_large, "hex input decodes to more than " + std::to_string(out.size()) +
                                         " bytes");
    }
    const std::size_t bad = hex_decode_into(hex, out.data());
    if (bad != std::string_view::npos) {
        wipe(out.first(hex.size() / 2));
        return fail(Errc::malformed_input, "non-hex character at offset " + std::to_string(bad));
    }
    return hex.size() / 2;
}

Result<Secret> hex_decode_secret(std::string_view hex) {
    if (auto shape = check_hex_shape(hex); !shape) {
        return tl::unexpected(shape.error());
    }
    Secret out(hex.size() / 2);
    const std::size_t bad = hex_decode_into(hex, out.data());
    if (bad != std::string_view::npos) {
        return fail(Errc::malformed_input, "non-hex character at offset " + std::to_string(bad));
    }
    return out;
}

std::string base64_encode(ByteView bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                                std::uint32_t{bytes[i + 2]};
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += "==";
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

Result<Bytes> base64_decode(std::string_view text) {
    if (text.size() > kMaxEncodedLength) {
        return fail(Errc::too_large, "base64 input longer than the decoder limit");
    }
    if (text.size() % 4 != 0) {
        return fail(Errc::malformed_input, "base64 length is not a multiple of 4");
    }
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
    Bytes out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = text[i + j];
            int d;
            if (c == '=') {
                if (!last || j < 4 - pad) {
                    return fail(Errc::malformed_input, "misplaced base64 padding at offset " +
                                                           std::to_string(i + j));
                }
                d = 0;
            } else {
                d = kB64Table[static_cast<unsigned char>(c)];
                if (d < 0) {
                    return fail(Errc::malformed_input,
                                "non-base64 character at offset " + std::to_string(i + j));
                }
            }
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        const std::size_t keep = last ? 3 - pad : 3;
        // Canonical encoding: the bits that padding hides must be zero.
        if (last && pad == 1 && (v & 0xff) != 0) {
            return fail(Errc::malformed_input, "non-canonical base64 trailing bits");
        }
        if (last && pad == 2 && (v & 0xffff) != 0) {
            return fail(Errc::malformed_input, "non-canonical base64 trailing bits");
        }
        out.push_back(static_cast<std::uint8_t>(v >> 16));
        if (keep > 1) out.push_back(static_cast<std::uint8_t>(v >> 8));
        if (keep > 2) out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

}  // namespace enclave::crypto
