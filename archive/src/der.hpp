// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small DER writer and a strict DER reader, enough for the structures of
// RFC 3161 (TSTInfo), RFC 5652 (SignedData) and RFC 4998 (EvidenceRecord).
//
// The reader accepts DER only: single-byte tags (tag numbers 0..30), definite
// lengths in minimal form, no trailing bytes where one element is expected.
// It never recurses on its own: callers walk the structures they expect, one
// level at a time, so input cannot drive the stack depth. Every view it
// returns points into the caller's buffer.
//
// Holds no secret.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"

namespace enclave::archive::der {

// Universal tags and the context tags used here.
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kSet = 0x31;
/// [n] constructed (EXPLICIT, or IMPLICIT over a constructed type).
constexpr std::uint8_t context(int n) { return static_cast<std::uint8_t>(0xa0 | n); }

// ---- writer ----------------------------------------------------------------

/// tag || length || content.
crypto::Bytes tlv(std::uint8_t tag, crypto::ByteView content);
/// A constructed element over the concatenation of `parts`.
crypto::Bytes constructed(std::uint8_t tag, std::initializer_list<crypto::ByteView> parts);
crypto::Bytes constructed(std::uint8_t tag, const std::vector<crypto::Bytes>& parts);
/// SET OF: the elements sorted by their encodings (X.690 11.6).
crypto::Bytes set_of(std::vector<crypto::Bytes> elements);
/// A non-negative INTEGER from big-endian magnitude bytes (leading zeros
/// stripped, a 0x00 added when the top bit is set).
crypto::Bytes unsigned_integer(crypto::ByteView magnitude);
crypto::Bytes small_integer(std::uint8_t value);
crypto::Bytes octet_string(crypto::ByteView value);
/// GeneralizedTime "YYYYMMDDHHMMSSZ".
crypto::Bytes generalized_time(std::chrono::sys_seconds t);
/// The full DER of a dotted OID (tag included). Throws std::invalid_argument
/// on a malformed literal (a programming error: only constants are passed).
crypto::Bytes oid(std::string_view dotted);

// ---- reader ----------------------------------------------------------------

struct Tlv {
    std::uint8_t tag = 0;
    crypto::ByteView content;  ///< the value octets
    crypto::ByteView whole;    ///< tag, length and value
};

/// Reads consecutive elements from a buffer (the content of a constructed
/// element, or a whole document).
class Reader {
public:
    explicit Reader(crypto::ByteView data) noexcept : rest_(data) {}
    [[nodiscard]] bool done() const noexcept { return rest_.empty(); }
    /// The next element's tag, without consuming it.
    [[nodiscard]] std::optional<std::uint8_t> peek() const noexcept;
    /// The next element; malformed_input names `what` on bad DER.
    crypto::Result<Tlv> next(std::string_view what);
    /// The next element, which must have tag `tag`.
    crypto::Result<Tlv> expect(std::uint8_t tag, std::string_view what);
    /// malformed_input unless every byte has been read.
    crypto::Result<void> finish(std::string_view what) const;

private:
    crypto::ByteView rest_;
};

/// The one element that fills `data` exactly, with tag `tag`.
crypto::Result<Tlv> parse_one(crypto::ByteView data, std::uint8_t tag, std::string_view what);

/// Dotted text of an OID element's content (for messages and comparisons).
crypto::Result<std::string> oid_text(crypto::ByteView content);
/// The magnitude of a non-negative INTEGER's content (malformed_input for a
/// negative or non-minimal encoding).
crypto::Result<crypto::Bytes> unsigned_integer_value(crypto::ByteView content);
/// A small non-negative INTEGER (fits in 32 bits).
crypto::Result<std::uint32_t> small_integer_value(crypto::ByteView content);
/// GeneralizedTime "YYYYMMDDHHMMSS[.fff]Z" (fractions are dropped).
crypto::Result<std::chrono::sys_seconds> generalized_time_value(crypto::ByteView content);

// ---- algorithm identifiers -------------------------------------------------

/// AlgorithmIdentifier of a hash (parameters absent, RFC 5754 section 2).
crypto::Bytes hash_algorithm_id(crypto::HashAlg alg);
/// The hash named by an AlgorithmIdentifier element's content (parameters
/// absent or NULL). unsupported_algorithm for anything but SHA-256/384/512.
crypto::Result<crypto::HashAlg> hash_algorithm_from(crypto::ByteView alg_id_content);

}  // namespace enclave::archive::der
