// SPDX-License-Identifier: Apache-2.0
// BlobWriter: buffers up to one batch of chunks, seals each chunk in place
// (or straight from the caller's buffer when a whole chunk is available) and
// writes a batch with one pwrite.
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "blob_format_detail.hpp"
#include "crypto/blob_format.hpp"

namespace enclave::crypto {

using detail::ChunkCipher;
using State = detail::BlobWriterState;

struct detail::BlobWriterState {
    UniqueFd fd;
    ChunkCipher cipher;
    std::uint32_t chunk = 0;             // C
    std::size_t stride = 0;              // T = C + tag
    std::size_t batch_chunks = 0;        // chunks per pwrite
    std::unique_ptr<std::uint8_t[]> buf;  // batch_chunks * stride bytes
    std::size_t slot = 0;                // sealed chunks in buf not yet written
    std::size_t buffered = 0;            // bytes of those sealed chunks
    std::size_t pending = 0;             // plaintext bytes in the current slot
    std::uint64_t next_index = 0;        // index of the chunk in the current slot
    std::uint64_t file_offset = 0;       // where buf[0] goes
    std::uint64_t accepted = 0;          // plaintext bytes taken
    enum class Phase { open, finished, failed } phase = Phase::open;

    std::uint8_t* slot_ptr() noexcept { return buf.get() + slot * stride; }

    ~BlobWriterState() {
        // Unsealed plaintext may sit in the current slot.
        if (buf && pending > 0) sodium_memzero(slot_ptr(), pending);
    }

    Result<void> flush() {
        if (buffered == 0) return {};
        if (auto ok = detail::pwrite_all(fd.get(), buf.get(), buffered, file_offset); !ok) {
            return ok;
        }
        file_offset += buffered;
        buffered = 0;
        slot = 0;
        return {};
    }

    /// Seals `len` bytes from `src` (the current slot itself, or caller memory)
    /// as chunk next_index into the current slot, and flushes a full batch.
    Result<void> seal(const std::uint8_t* src, std::size_t len, bool final) {
        cipher.seal(next_index, final, src, len, slot_ptr());
        ++next_index;
        ++slot;
        buffered += len + kBlobTagSize;
        pending = 0;
        if (slot == batch_chunks || final) return flush();
        return {};
    }
};

BlobWriter::BlobWriter(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
BlobWriter::~BlobWriter() = default;
BlobWriter::BlobWriter(BlobWriter&&) noexcept = default;
BlobWriter& BlobWriter::operator=(BlobWriter&&) noexcept = default;

Result<BlobWriter> BlobWriter::create(UniqueFd fd, const Secret& data_key,
                                      std::string_view object_id, BlobWriterOptions options) {
    if (!fd.valid()) return fail(Errc::invalid_argument, "blob writer needs an open file");
    if (data_key.size() != kBlobKeySize) {
        return fail(Errc::invalid_argument, "blob data key must be " +
                                                std::to_string(kBlobKeySize) + " bytes");
    }
    if (auto ok = check_object_id(object_id); !ok) return tl::unexpected(ok.error());
    if (options.chunk_size < kBlobMinChunkSize || options.chunk_size > kBlobMaxChunkSize) {
        return fail(Errc::invalid_argument,
                    "blob chunk size must be " + std::to_string(kBlobMinChunkSize) + ".." +
                        std::to_string(kBlobMaxChunkSize) + " bytes");
    }
    auto keys = detail::derive_keys(data_key);
    detail::BlobHeader h;
    h.chunk_size = options.chunk_size;
    h.key_id = keys.key_id;
    randombytes_buf(h.nonce_prefix.data(), h.nonce_prefix.size());
    h.object_id = std::string(object_id);
    const Bytes header = detail::encode_header(h);

    auto s = std::make_unique<State>();
    s->fd = std::move(fd);
    s->cipher.chunk_key = std::move(keys.chunk_key);
    s->cipher.nonce_prefix = h.nonce_prefix;
    s->cipher.header_digest = detail::header_digest(header);
    s->chunk = options.chunk_size;
    s->stride = std::size_t{options.chunk_size} + kBlobTagSize;
    s->batch_chunks = std::max<std::size_t>(1, detail::kIoBatchBytes / s->stride);
    s->buf = std::make_unique_for_overwrite<std::uint8_t[]>(s->batch_chunks * s->stride);
    if (auto ok = detail::pwrite_all(s->fd.get(), header.data(), header.size(), 0); !ok) {
        return tl::unexpected(ok.error().wrap("writing blob header"));
    }
    s->file_offset = header.size();
    return BlobWriter(std::move(s));
}

Result<void> BlobWriter::write(ByteView data) {
    if (!s_ || s_->phase != State::Phase::open) {
        return fail(Errc::invalid_argument, "blob writer is finished or has failed");
    }
    State& s = *s_;
    while (!data.empty()) {
        if (s.pending == s.chunk) {
            // A full chunk was held back in case it was the last; it is not.
            if (auto ok = s.seal(s.slot_ptr(), s.chunk, false); !ok) {
                s.phase = State::Phase::failed;
                return ok;
            }
        }
        if (s.pending == 0 && data.size() > s.chunk) {
            // A whole chunk with more data after it: seal straight from the
            // caller's buffer, no copy.
            if (auto ok = s.seal(data.data(), s.chunk, false); !ok) {
                s.phase = State::Phase::failed;
                return ok;
            }
            data = data.subspan(s.chunk);
            s.accepted += s.chunk;
            continue;
        }
        const std::size_t take = std::min<std::size_t>(s.chunk - s.pending, data.size());
        std::memcpy(s.slot_ptr() + s.pending, data.data(), take);
        s.pending += take;
        s.accepted += take;
        data = data.subspan(take);
    }
    return {};
}

Result<BlobInfo> BlobWriter::finish() {
    if (!s_ || s_->phase != State::Phase::open) {
        return fail(Errc::invalid_argument, "blob writer is finished or has failed");
    }
    State& s = *s_;
    s.phase = State::Phase::failed;  // until proven otherwise
    if (auto ok = s.seal(s.slot_ptr(), s.pending, true); !ok) return tl::unexpected(ok.error());
    if (::fsync(s.fd.get()) != 0) return detail::io_failure("syncing blob file", errno);
    s.phase = State::Phase::finished;
    BlobInfo info;
    info.plaintext_size = s.accepted;
    info.file_size = s.file_offset;
    info.chunk_count = s.next_index;
    info.chunk_size = s.chunk;
    s.buf.reset();
    return info;
}

std::uint64_t BlobWriter::bytes_written() const noexcept { return s_ ? s_->accepted : 0; }

}  // namespace enclave::crypto
