// SPDX-License-Identifier: Apache-2.0
#pragma once
// Hex and base64 (RFC 4648) codecs. Decoders are strict: any character outside
// the alphabet, an odd hex length, wrong or missing base64 padding, or
// non-zero trailing bits is malformed_input. Errors say where, never echo the
// input (it may be a salt or a key).

#include <string>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto {

/// Lowercase hex.
std::string hex_encode(ByteView bytes);
/// Accepts upper- and lowercase digits; rejects odd length and any other character.
Result<Bytes> hex_decode(std::string_view hex);
/// Decodes into a caller's buffer (e.g. a stack buffer it wipes afterwards);
/// returns the number of bytes written. too_large when `out` is too small.
Result<std::size_t> hex_decode_to(std::string_view hex, MutableByteView out);
/// Decodes straight into secure memory (for keys and salts read from files).
Result<Secret> hex_decode_secret(std::string_view hex);

/// Standard alphabet with '=' padding.
std::string base64_encode(ByteView bytes);
/// Standard alphabet; padding required; no whitespace; canonical trailing bits.
Result<Bytes> base64_decode(std::string_view text);

/// Decoders refuse inputs longer than this many characters (a 16 MiB encoded
/// value is far beyond any key, salt, hash or signature we take).
inline constexpr std::size_t kMaxEncodedLength = 16u * 1024u * 1024u;

}  // namespace enclave::crypto
