// SPDX-License-Identifier: Apache-2.0
// BlobReader: opens and checks a blob, then serves full and range reads by
// reading batches of whole chunks with one pread and authenticating each
// chunk before any of its plaintext leaves.
#include <sodium.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "blob_format_detail.hpp"
#include "crypto/blob_format.hpp"

namespace enclave::crypto {

using detail::ChunkCipher;

namespace {
constexpr std::size_t kMaxPooledBuffers = 4;
}  // namespace

using State = detail::BlobReaderState;

struct detail::BlobReaderState {
    UniqueFd fd;
    ChunkCipher cipher;
    std::string object_id;
    std::uint32_t chunk = 0;        // C
    std::size_t stride = 0;         // T = C + tag
    std::uint64_t header_len = 0;   // H
    std::uint64_t chunks = 0;       // n >= 1
    std::size_t last_len = 0;       // plaintext bytes in chunk n-1
    std::uint64_t size = 0;         // plaintext size
    std::size_t batch_chunks = 0;   // chunks per pread
    std::size_t buf_size = 0;       // bytes per pooled buffer
    mutable std::atomic<std::uint64_t> decrypted{0};
    mutable std::mutex pool_mu;
    mutable std::vector<std::unique_ptr<std::uint8_t[]>> pool;

    std::size_t plain_len(std::uint64_t i) const noexcept {
        return i + 1 == chunks ? last_len : chunk;
    }
    std::uint64_t file_offset(std::uint64_t i) const noexcept { return header_len + i * stride; }

    bool open_chunk(std::uint64_t i, const std::uint8_t* in, std::uint8_t* out) const noexcept {
        decrypted.fetch_add(1, std::memory_order_relaxed);
        return cipher.open(i, i + 1 == chunks, in, plain_len(i), out);
    }

    tl::unexpected<Error> chunk_failure(std::uint64_t i) const {
        if (i + 1 == chunks) {
            return fail(Errc::integrity_failure,
                        "final chunk " + std::to_string(i) + " of blob '" + object_id +
                            "' failed authentication: the file was truncated or extended, or "
                            "is damaged");
        }
        return fail(Errc::integrity_failure,
                    "chunk " + std::to_string(i) + " of " + std::to_string(chunks) + " of blob '" +
                        object_id +
                        "' failed authentication: damaged, reordered, or taken from another blob");
    }
};

namespace {

/// A pooled chunk buffer; wipes the bytes that held plaintext before it
/// returns the buffer to the pool.
class Lease {
public:
    explicit Lease(const State& s) : s_(s) {
        {
            std::lock_guard lock(s_.pool_mu);
            if (!s_.pool.empty()) {
                buf_ = std::move(s_.pool.back());
                s_.pool.pop_back();
            }
        }
        if (!buf_) buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(s_.buf_size);
    }
    ~Lease() {
        if (plaintext_end_ > 0) sodium_memzero(buf_.get(), plaintext_end_);
        std::lock_guard lock(s_.pool_mu);
        if (s_.pool.size() < kMaxPooledBuffers) s_.pool.push_back(std::move(buf_));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    std::uint8_t* data() noexcept { return buf_.get(); }
    /// Records that plaintext now lies in the buffer up to `end`.
    void holds_plaintext_to(const std::uint8_t* end) noexcept {
        plaintext_end_ = std::max<std::size_t>(plaintext_end_, end - buf_.get());
    }

private:
    const State& s_;
    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t plaintext_end_ = 0;
};

/// Reads chunks [first, last] in batches and calls on_chunk(i, bytes) for
/// each, where `bytes` points at the stored chunk (ciphertext || tag).
template <class F>
Result<void> for_chunks(const State& s, Lease& lease, std::uint64_t first,
                        std::uint64_t last, F&& on_chunk) {
    for (std::uint64_t i = first; i <= last;) {
        const std::uint64_t k = std::min<std::uint64_t>(s.batch_chunks, last - i + 1);
        const std::size_t bytes =
            static_cast<std::size_t>(k - 1) * s.stride + s.plain_len(i + k - 1) + kBlobTagSize;
        auto got = detail::pread_upto(s.fd.get(), lease.data(), bytes, s.file_offset(i));
        if (!got) return tl::unexpected(got.error());
        if (*got != bytes) {
            return fail(Errc::integrity_failure,
                        "blob '" + s.object_id + "' shrank while it was being read");
        }
        for (std::uint64_t j = 0; j < k; ++j) {
            if (auto ok = on_chunk(i + j, lease.data() + j * s.stride); !ok) return ok;
        }
        i += k;
    }
    return {};
}

Result<void> check_range(const State& s, std::uint64_t offset, std::uint64_t length) {
    if (offset > s.size || length > s.size - offset) {
        return fail(Errc::invalid_argument,
                    "range offset " + std::to_string(offset) + " length " +
                        std::to_string(length) + " lies outside blob '" + s.object_id +
                        "' of size " + std::to_string(s.size));
    }
    return {};
}

/// Derives chunk count, final chunk length and plaintext size from the
/// number of bytes after the header (see "Size" in blob_format.hpp).
Result<void> set_layout(State& s, std::uint64_t body) {
    const std::uint64_t t = s.stride;
    if (body < kBlobTagSize) {
        return fail(Errc::integrity_failure,
                    "blob '" + s.object_id + "' has no final chunk: truncated after its header");
    }
    const std::uint64_t n = (body + t - 1) / t;
    const std::uint64_t last_stored = body - (n - 1) * t;
    if (last_stored < kBlobTagSize) {
        return fail(Errc::integrity_failure,
                    "blob '" + s.object_id + "' is not a whole number of chunks: truncated "
                    "inside a chunk or followed by trailing bytes");
    }
    if (n > 1 && last_stored == kBlobTagSize) {
        return fail(Errc::integrity_failure,
                    "blob '" + s.object_id + "' ends with an empty chunk after data: "
                    "trailing bytes were appended");
    }
    s.chunks = n;
    s.last_len = static_cast<std::size_t>(last_stored - kBlobTagSize);
    s.size = body - kBlobTagSize * n;
    s.batch_chunks = static_cast<std::size_t>(
        std::min<std::uint64_t>(n, std::max<std::size_t>(1, detail::kIoBatchBytes / s.stride)));
    s.buf_size = static_cast<std::size_t>(std::min<std::uint64_t>(body, s.batch_chunks * t));
    return {};
}

/// Reads and checks the header; fills cipher, object id, chunk size and H.
Result<void> read_header(State& s, std::uint64_t file_len, const Secret& data_key,
                         std::string_view expected_id) {
    std::array<std::uint8_t, kBlobFixedHeaderSize + kMaxObjectIdLength> head{};
    const auto want = static_cast<std::size_t>(
        std::min<std::uint64_t>(file_len, kBlobFixedHeaderSize));
    auto got = detail::pread_upto(s.fd.get(), head.data(), want, 0);
    if (!got) return tl::unexpected(got.error());
    detail::BlobHeader h;
    auto id_len = detail::parse_fixed_header(ByteView(head.data(), *got), h);
    if (!id_len) return tl::unexpected(id_len.error());
    auto got_id = detail::pread_upto(s.fd.get(), head.data() + kBlobFixedHeaderSize, *id_len,
                                     kBlobFixedHeaderSize);
    if (!got_id) return tl::unexpected(got_id.error());
    if (*got_id != *id_len) {
        return fail(Errc::integrity_failure, "blob file is truncated inside its header");
    }
    const ByteView header(head.data(), kBlobFixedHeaderSize + *id_len);
    if (auto ok = detail::parse_header_object_id(header.subspan(kBlobFixedHeaderSize), h); !ok) {
        return ok;
    }
    if (h.object_id != expected_id) {
        return fail(Errc::integrity_failure, "blob file holds object '" + h.object_id +
                                                 "' where '" + std::string(expected_id) +
                                                 "' was expected");
    }
    s.object_id = h.object_id;
    auto keys = detail::derive_keys(data_key);
    if (!constant_time_equal(keys.key_id, h.key_id)) {
        return fail(Errc::integrity_failure,
                    "wrong key: blob '" + s.object_id +
                        "' was sealed under a different data key (or its header is damaged)");
    }
    s.cipher.chunk_key = std::move(keys.chunk_key);
    s.cipher.nonce_prefix = h.nonce_prefix;
    s.cipher.header_digest = detail::header_digest(header);
    s.chunk = h.chunk_size;
    s.stride = std::size_t{h.chunk_size} + kBlobTagSize;
    s.header_len = header.size();
    return {};
}

}  // namespace

Result<BlobReader> BlobReader::open(UniqueFd fd, const Secret& data_key,
                                    std::string_view expected_object_id) {
    if (!fd.valid()) return fail(Errc::invalid_argument, "blob reader needs an open file");
    if (data_key.size() != kBlobKeySize) {
        return fail(Errc::invalid_argument, "blob data key must be " +
                                                std::to_string(kBlobKeySize) + " bytes");
    }
    if (auto ok = check_object_id(expected_object_id); !ok) return tl::unexpected(ok.error());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return detail::io_failure("inspecting blob file", errno);
    if (!S_ISREG(st.st_mode)) return fail(Errc::invalid_argument, "blob is not a regular file");
    const auto file_len = static_cast<std::uint64_t>(st.st_size);

    auto s = std::make_unique<State>();
    s->fd = std::move(fd);
    if (auto ok = read_header(*s, file_len, data_key, expected_object_id); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = set_layout(*s, file_len - s->header_len); !ok) {
        return tl::unexpected(ok.error());
    }
    // Authenticate the final chunk now: it fixes the size and the end.
    {
        Lease lease(*s);
        const std::uint64_t last = s->chunks - 1;
        auto ok = for_chunks(*s, lease, last, last, [&](std::uint64_t i, std::uint8_t* p) {
            const bool good = s->open_chunk(i, p, p);
            if (good) lease.holds_plaintext_to(p + s->plain_len(i));
            return good ? Result<void>{} : s->chunk_failure(i);
        });
        if (!ok) return tl::unexpected(ok.error());
    }
    return BlobReader(std::move(s));
}

BlobReader::BlobReader(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
BlobReader::~BlobReader() = default;
BlobReader::BlobReader(BlobReader&&) noexcept = default;
BlobReader& BlobReader::operator=(BlobReader&&) noexcept = default;

std::uint64_t BlobReader::size() const noexcept { return s_->size; }
std::uint32_t BlobReader::chunk_size() const noexcept { return s_->chunk; }
std::uint64_t BlobReader::chunk_count() const noexcept { return s_->chunks; }
const std::string& BlobReader::object_id() const noexcept { return s_->object_id; }
std::uint64_t BlobReader::chunks_decrypted() const noexcept {
    return s_->decrypted.load(std::memory_order_relaxed);
}

Result<void> BlobReader::read_all(const BlobSink& sink) const {
    return read_range(0, s_->size, sink);
}

Result<void> BlobReader::read_range(std::uint64_t offset, std::uint64_t length,
                                    const BlobSink& sink) const {
    const State& s = *s_;
    if (auto ok = check_range(s, offset, length); !ok) return ok;
    if (length == 0) return {};
    const std::uint64_t end = offset + length;
    Lease lease(s);
    return for_chunks(s, lease, offset / s.chunk, (end - 1) / s.chunk,
                      [&](std::uint64_t i, std::uint8_t* p) -> Result<void> {
                          const std::size_t len = s.plain_len(i);
                          if (!s.open_chunk(i, p, p)) return s.chunk_failure(i);
                          lease.holds_plaintext_to(p + len);
                          const std::uint64_t start = i * s.chunk;
                          const std::uint64_t lo = std::max(offset, start) - start;
                          const std::uint64_t hi = std::min<std::uint64_t>(end, start + len) - start;
                          return sink(ByteView(p + lo, hi - lo));
                      });
}

Result<void> BlobReader::read_into(std::uint64_t offset, MutableByteView out) const {
    const State& s = *s_;
    if (auto ok = check_range(s, offset, out.size()); !ok) return ok;
    if (out.empty()) return {};
    const std::uint64_t end = offset + out.size();
    Lease lease(s);
    auto ok = for_chunks(
        s, lease, offset / s.chunk, (end - 1) / s.chunk,
        [&](std::uint64_t i, std::uint8_t* p) -> Result<void> {
            const std::size_t len = s.plain_len(i);
            const std::uint64_t start = i * s.chunk;
            const std::uint64_t lo = std::max(offset, start) - start;
            const std::uint64_t hi = std::min<std::uint64_t>(end, start + len) - start;
            std::uint8_t* dst = out.data() + (start + lo - offset);
            if (lo == 0 && hi == len) {
                // The whole chunk is wanted: decrypt straight into `out`.
                return s.open_chunk(i, p, dst) ? Result<void>{} : s.chunk_failure(i);
            }
            if (!s.open_chunk(i, p, p)) return s.chunk_failure(i);
            std::memcpy(dst, p + lo, hi - lo);
            sodium_memzero(p, len);
            return {};
        });
    if (!ok) wipe(out);
    return ok;
}

}  // namespace enclave::crypto
