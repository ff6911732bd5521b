// SPDX-License-Identifier: Apache-2.0
#pragma once
// WrappedKeyFile: the on-disk record of one data key wrapped by a KEK (the
// token key-encryption key, or a key that the KEK itself wraps).
//
// Holds no secret: the key inside is wrapped (encrypted and authenticated by
// the KEK); the KEK id is a public label. Destroying the file is
// crypto-erasure of everything the key protects.
//
// Format (version 1), all integers big-endian, nothing before or after:
//
//   offset  size  field
//   0       8     magic "ENCLWKEY"
//   8       2     format version = 1
//   10      2     L = length of the KEK id, 1..255
//   12      L     KEK id, printable ASCII (0x20..0x7e)
//   12+L    2     W = length of the wrapped key, 1..1024
//   14+L    W     wrapped key bytes, as KeyWrapper::wrap returned them
//
// The parser is strict: a wrong magic or version, a length outside its range,
// a field that runs past the end, a non-printable KEK id or any byte after the
// wrapped key is malformed_input. Error texts never echo file content.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

struct WrappedKeyFile {
    /// Magic bytes at offset 0.
    static constexpr char kMagic[8] = {'E', 'N', 'C', 'L', 'W', 'K', 'E', 'Y'};
    static constexpr std::uint16_t kVersion = 1;
    static constexpr std::size_t kMaxKekIdLength = 255;
    static constexpr std::size_t kMaxWrappedLength = 1024;
    /// No valid file is larger than this; readers refuse bigger ones unread.
    static constexpr std::size_t kMaxFileSize = 8 + 2 + 2 + kMaxKekIdLength + 2 + kMaxWrappedLength;

    /// KeyWrapper::key_id() of the KEK that made `wrapped`.
    std::string kek_id;
    /// The wrapped key.
    Bytes wrapped;

    /// The file bytes. invalid_argument when a field is empty, too long, or the
    /// KEK id is not printable ASCII.
    [[nodiscard]] Result<Bytes> encode() const;

    /// Strict parse of file bytes; every failure is malformed_input.
    static Result<WrappedKeyFile> parse(ByteView bytes);

    /// Reads and parses `path`. not_found when it does not exist; io_error when
    /// it cannot be read; malformed_input when it is not a regular file (a
    /// symbolic link is refused, not followed), is larger than kMaxFileSize or
    /// does not parse.
    static Result<WrappedKeyFile> read(const std::filesystem::path& path);

    /// Creates `path` (mode 0600, O_EXCL: already_exists when anything is
    /// there, a symbolic link included), writes it, fsyncs the file and its
    /// directory. On failure nothing is left at `path`.
    [[nodiscard]] Result<void> write_new(const std::filesystem::path& path) const;

    /// Atomically replaces an existing `path` (write a 0600 temporary file in
    /// the same directory, fsync, rename over, fsync the directory): a crash
    /// leaves either the old or the new record, never a mix. not_found when
    /// `path` does not exist. For re-wrapping under a new KEK.
    [[nodiscard]] Result<void> replace(const std::filesystem::path& path) const;
};

}  // namespace enclave::crypto
