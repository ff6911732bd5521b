// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals shared by the blob writer, reader and store: header encoding,
// key derivation, chunk sealing, and pread/pwrite loops. Not installed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/blob_format.hpp"
#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto::detail {

inline constexpr std::size_t kKeyIdSize = 16;
inline constexpr std::size_t kNoncePrefixSize = 16;
inline constexpr std::size_t kHeaderDigestSize = 32;
inline constexpr std::size_t kNonceSize = 24;
inline constexpr std::size_t kChunkAdSize = kHeaderDigestSize + 8 + 1;
/// Chunks are read and written in batches of about this many bytes, so that
/// a 64 KiB-chunk blob moves in 1 MiB system calls.
inline constexpr std::size_t kIoBatchBytes = 1024u * 1024u;

inline void store_be(std::uint8_t* p, std::uint64_t v, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) p[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint64_t load_be(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    return v;
}

/// The fields of a blob header (format version 1).
struct BlobHeader {
    std::uint32_t chunk_size = 0;
    std::array<std::uint8_t, kKeyIdSize> key_id{};
    std::array<std::uint8_t, kNoncePrefixSize> nonce_prefix{};
    std::string object_id;
};

/// Serialises a header. Requires a valid id and chunk size.
Bytes encode_header(const BlobHeader& h);
/// Parses the fixed part of a header from the first bytes of a file (fewer
/// than 48 when the file is that short: a good magic followed by too few
/// bytes is truncation, integrity_failure). Returns the object id length L
/// still to be read after the fixed part.
Result<std::size_t> parse_fixed_header(ByteView available, BlobHeader& out);
/// Checks the object id bytes that follow the fixed header.
Result<void> parse_header_object_id(ByteView id_bytes, BlobHeader& out);

/// Keys derived from a data key; see the format comment in blob_format.hpp.
struct DerivedKeys {
    Secret chunk_key;
    std::array<std::uint8_t, kKeyIdSize> key_id{};
};
DerivedKeys derive_keys(const Secret& data_key);

/// Everything needed to seal or open chunk i of one object.
/// Holds: the derived chunk key in a Secret (sodium_malloc'd, wiped when the
/// writer or reader that owns it goes).
struct ChunkCipher {
    Secret chunk_key;
    std::array<std::uint8_t, kNoncePrefixSize> nonce_prefix{};
    std::array<std::uint8_t, kHeaderDigestSize> header_digest{};

    /// Encrypts `len` bytes from `in` to `out` (which may equal `in`) and
    /// writes the tag at `out + len`.
    void seal(std::uint64_t index, bool final, const std::uint8_t* in, std::size_t len,
              std::uint8_t* out) const noexcept;
    /// Decrypts `len` bytes to `out` (which may equal `in`) and verifies the
    /// tag at `in + len`. False when the chunk does not authenticate; `out`
    /// then holds zeros, never unauthenticated plaintext.
    [[nodiscard]] bool open(std::uint64_t index, bool final, const std::uint8_t* in,
                            std::size_t len, std::uint8_t* out) const noexcept;
};

/// BLAKE2b-256 of the encoded header.
std::array<std::uint8_t, kHeaderDigestSize> header_digest(ByteView header);

/// pwrite until all bytes are written (EINTR and short writes retried).
Result<void> pwrite_all(int fd, const std::uint8_t* data, std::size_t len, std::uint64_t offset);
/// pread until `len` bytes or end of file; returns the count read.
Result<std::size_t> pread_upto(int fd, std::uint8_t* data, std::size_t len, std::uint64_t offset);
/// "<what>: <strerror(errno)>" as an io_error.
tl::unexpected<Error> io_failure(std::string_view what, int err);

}  // namespace enclave::crypto::detail
