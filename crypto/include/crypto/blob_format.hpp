// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Enclave encrypted blob format: a file of fixed-size chunks, each sealed
// with XChaCha20-Poly1305 (libsodium, IETF variant), so that a range read
// decrypts only the chunks it touches and a damaged, swapped, truncated or
// extended file is refused.
//
// I/O model: the writer and the reader work on a POSIX file descriptor that
// the caller opens (UniqueFd owns it). They use pwrite/pread at explicit
// offsets only, never the shared file offset, so one reader may serve many
// threads at once. The caller decides where the file lives, its mode and how
// it becomes visible (BlobStore: a temp file, fsync, rename). A writer whose
// object outgrows one batch (about 1 MiB) hands its sealed batches to one
// worker thread of its own, so sealing and the kernel's copy overlap; the
// file is the same as if every pwrite were made on the caller's thread.
//
// ---------------------------------------------------------------------------
// Blob file format, version 1 (all integers unsigned, big-endian)
// ---------------------------------------------------------------------------
//
// Header (H = 48 + L bytes):
//
//   offset  size  field
//   0       8     magic, ASCII "ENCLBLOB" (45 4E 43 4C 42 4C 4F 42)
//   8       2     format version = 1
//   10      1     reserved, must be 0
//   11      1     L = object id length, 1..64
//   12      4     C = chunk size: plaintext bytes per chunk, 256..16777216
//   16      16    key id: KDF(K, subkey 2, 16 bytes), names the data key K
//                 without revealing it (see Keys)
//   32      16    nonce prefix: random, fresh for every object written
//   48      L     object id, characters [A-Za-z0-9_-]
//
// Chunks follow the header back to back; chunk i (i = 0 .. n-1) is
//
//   ciphertext (C bytes, or 0..C bytes for the last chunk) || tag (16 bytes)
//
// so every chunk but the last occupies T = C + 16 bytes. There is always at
// least one chunk (n >= 1). The last chunk is the "final" chunk: it holds
// 1..C plaintext bytes, or 0 bytes when the object is empty (then n == 1).
// A writer holds a full chunk back until it knows more data follows, so an
// object whose size is a multiple of C ends with a full final chunk, never
// with an empty one.
//
// Keys: the 32-byte data key K (random per object) is never used directly.
//   chunk key = crypto_kdf_derive_from_key(32 bytes, subkey id 1, ctx "EnclBlob", K)
//   key id    = crypto_kdf_derive_from_key(16 bytes, subkey id 2, ctx "EnclBlob", K)
// The key id lets a reader say "wrong key" before touching a chunk, and it
// commits the header to K (Poly1305 alone is not key-committing).
//
// Chunk i is sealed as
//   nonce (24 bytes) = nonce prefix (16) || u64 i
//   AD    (41 bytes) = BLAKE2b-256(header bytes [0, H)) || u64 i || u8 final
//                      (final = 1 for chunk n-1, else 0)
//   ciphertext || tag = XChaCha20-Poly1305-IETF(chunk key, nonce, AD, plaintext)
// The header hash in every AD binds version, key id, object id, chunk size
// and nonce prefix to every chunk; i binds the position; the final flag
// binds the end of the object.
//
// Size: with B = file length - H, the reader derives
//   n = ceil(B / T), last stored length S = B - (n-1)*T, plaintext size = B - 16*n.
// B < 16, 0 < B mod T < 16, or an empty final chunk after other chunks (n > 1,
// S == 16) cannot come from a writer and are refused. On open the reader
// authenticates the final chunk (one chunk), so a file cut at a chunk
// boundary or with chunks appended is refused before any range is read, and
// size() can be trusted (e.g. for Content-Length).
//
// Errors: bad magic, unknown version, a reserved byte that is not zero or an
// id character outside the alphabet are malformed_input; a chunk size or id
// length beyond the limits is too_large (or malformed_input when too small);
// everything else (wrong key, wrong object, truncation, appended data, any
// flipped bit in a chunk or tag) is integrity_failure. Errors name chunk
// indices and sizes, never key bytes or plaintext.
// ---------------------------------------------------------------------------

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto {

namespace detail {
struct BlobWriterState;
struct BlobReaderState;
}  // namespace detail

inline constexpr std::uint16_t kBlobFormatVersion = 1;
inline constexpr std::size_t kBlobKeySize = 32;
inline constexpr std::size_t kBlobTagSize = 16;
inline constexpr std::size_t kBlobFixedHeaderSize = 48;
inline constexpr std::uint32_t kBlobDefaultChunkSize = 64u * 1024u;
inline constexpr std::uint32_t kBlobMinChunkSize = 256;
inline constexpr std::uint32_t kBlobMaxChunkSize = 16u * 1024u * 1024u;
inline constexpr std::size_t kMaxObjectIdLength = 64;

/// True when `id` is 1..64 characters from [A-Za-z0-9_-]: safe as a file
/// name component (no '/', no NUL, no "." or "..").
bool is_valid_object_id(std::string_view id) noexcept;
/// The same check as an error (invalid_argument) that describes the rule and
/// the length, never the offending id itself.
Result<void> check_object_id(std::string_view id);

/// Owns a POSIX file descriptor; closes it on destruction.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Gives up ownership without closing.
    int release() noexcept;
    /// Closes the current descriptor (if any) and takes `fd`.
    void reset(int fd = -1) noexcept;

private:
    int fd_ = -1;
};

struct BlobWriterOptions {
    /// Plaintext bytes per chunk; kBlobMinChunkSize..kBlobMaxChunkSize.
    std::uint32_t chunk_size = kBlobDefaultChunkSize;
    /// Write-behind: once an object needs a second batch of chunks (about
    /// 1 MiB), one worker thread writes each sealed batch while the caller's
    /// thread seals the next. false keeps every pwrite on the caller's
    /// thread. The file is the same either way.
    bool write_behind = true;
};

/// What a finished blob looks like (nothing secret).
struct BlobInfo {
    std::uint64_t plaintext_size = 0;
    std::uint64_t file_size = 0;
    std::uint64_t chunk_count = 0;
    std::uint32_t chunk_size = 0;
};

/// Streams plaintext into a new blob file.
/// Holds: the derived chunk key (sodium_malloc'd Secret, wiped on
/// destruction) and at most two batches of chunks (about 1 MiB each, or one
/// chunk when chunks are larger) in ordinary buffers: the one being filled,
/// where plaintext waits until its chunk is sealed in place, and, with
/// write-behind, one sealed batch (ciphertext only) that the writer's worker
/// thread is writing. Plaintext still pending when the writer fails or is
/// destroyed unfinished is wiped.
/// Threads: an object larger than one batch gets one worker thread (see
/// BlobWriterOptions::write_behind), joined by finish() or the destructor. A
/// write error on the worker is reported by the next write() or finish().
/// Not thread-safe: one thread calls the writer at a time.
class BlobWriter {
public:
    /// Starts a blob in `fd`, a new empty file open for writing, and writes
    /// the header at offset 0. Requires data_key.size() == kBlobKeySize and a
    /// valid object id (invalid_argument otherwise). Never reuse a nonce
    /// prefix: one is drawn from the CSPRNG here for every writer.
    static Result<BlobWriter> create(UniqueFd fd, const Secret& data_key,
                                     std::string_view object_id, BlobWriterOptions options = {});

    ~BlobWriter();
    BlobWriter(BlobWriter&&) noexcept;
    BlobWriter& operator=(BlobWriter&&) noexcept;
    BlobWriter(const BlobWriter&) = delete;
    BlobWriter& operator=(const BlobWriter&) = delete;

    /// Appends plaintext; may be called any number of times with any sizes.
    /// After any failure the writer refuses further calls.
    Result<void> write(ByteView data);
    /// Seals the final chunk, writes what is buffered and fsyncs the file.
    /// The writer is spent afterwards.
    Result<BlobInfo> finish();

    /// Plaintext bytes accepted so far.
    [[nodiscard]] std::uint64_t bytes_written() const noexcept;

private:
    explicit BlobWriter(std::unique_ptr<detail::BlobWriterState> state) noexcept;
    std::unique_ptr<detail::BlobWriterState> s_;
};

/// Receives plaintext from a streaming read, one piece (at most one chunk) at
/// a time, in order. The view is valid only during the call. Returning an
/// error stops the read and is passed through unchanged.
using BlobSink = std::function<Result<void>(ByteView plaintext)>;

/// Reads a blob: size, streaming full reads and random-access ranges.
/// Holds: the derived chunk key (sodium_malloc'd Secret, wiped on
/// destruction) and a small pool of chunk buffers; buffers that held
/// plaintext are wiped before they go back to the pool.
/// Every plaintext byte a reader hands out comes from a chunk whose tag has
/// been verified; the final chunk (and so size()) is verified by open().
/// Thread-safe: the const members may be called from many threads at once.
class BlobReader {
public:
    /// Opens a blob in `fd` (open for reading), checks the header, the key id
    /// and the object id against `expected_object_id`, derives the layout
    /// from the file length and authenticates the final chunk.
    static Result<BlobReader> open(UniqueFd fd, const Secret& data_key,
                                   std::string_view expected_object_id);

    ~BlobReader();
    BlobReader(BlobReader&&) noexcept;
    BlobReader& operator=(BlobReader&&) noexcept;
    BlobReader(const BlobReader&) = delete;
    BlobReader& operator=(const BlobReader&) = delete;

    /// Plaintext size, authenticated by open().
    [[nodiscard]] std::uint64_t size() const noexcept;
    [[nodiscard]] std::uint32_t chunk_size() const noexcept;
    [[nodiscard]] std::uint64_t chunk_count() const noexcept;
    [[nodiscard]] const std::string& object_id() const noexcept;

    /// Streams the whole plaintext to `sink`, chunk by chunk, with memory
    /// bounded by one batch. On an error the sink may already have received
    /// an authenticated prefix; the caller must then discard what it got.
    Result<void> read_all(const BlobSink& sink) const;
    /// Streams bytes [offset, offset + length) to `sink`, decrypting only the
    /// chunks that range touches. A range outside [0, size()] is
    /// invalid_argument; a zero length at offset <= size() reads nothing.
    Result<void> read_range(std::uint64_t offset, std::uint64_t length,
                            const BlobSink& sink) const;
    /// Fills `out` with bytes [offset, offset + out.size()), decrypting whole
    /// chunks straight into `out` where they fit. On failure `out` is wiped.
    Result<void> read_into(std::uint64_t offset, MutableByteView out) const;

    /// Number of chunk decryptions this reader has attempted, including the
    /// final-chunk check in open(): lets tests prove a range read touched
    /// only the chunks it needed.
    [[nodiscard]] std::uint64_t chunks_decrypted() const noexcept;

private:
    explicit BlobReader(std::unique_ptr<detail::BlobReaderState> state) noexcept;
    std::unique_ptr<detail::BlobReaderState> s_;
};

}  // namespace enclave::crypto
