// SPDX-License-Identifier: Apache-2.0
// BlobWriter: fills a batch of chunks, seals each chunk in place (or straight
// from the caller's buffer when a whole chunk is available) and writes a
// batch with one pwrite.
//
// Write-behind: an object that needs a second batch gets one worker thread
// and a second batch buffer. The caller's thread seals batch N+1 into one
// buffer while the worker pwrites batch N from the other, so encryption and
// the kernel's copy into the page cache overlap. There is never more than one
// batch in flight: before the caller hands over a batch it waits for the
// previous one to be written, which also frees the buffer it turns to next.
// The file is byte for byte what a sequential writer produces: the same
// chunks at the same offsets, only written from another thread.
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "blob_format_detail.hpp"
#include "crypto/blob_format.hpp"

namespace enclave::crypto {

using detail::ChunkCipher;
using State = detail::BlobWriterState;

namespace {

/// One worker thread that pwrites sealed batches (ciphertext only) for one
/// writer. The first write error is kept and reported by every later call,
/// so a failed writer stays failed.
/// Requires: one caller thread at a time (the BlobWriter's); the buffer given
/// to post() stays untouched until wait_idle() has returned.
class WriteBehind {
public:
    WriteBehind() = default;
    ~WriteBehind() { stop(); }
    WriteBehind(const WriteBehind&) = delete;
    WriteBehind& operator=(const WriteBehind&) = delete;

    [[nodiscard]] bool running() const noexcept { return thread_.joinable(); }

    /// Starts the worker for `fd`. False (and no thread) when the system
    /// refuses a thread: the caller then writes on its own thread.
    bool start(int fd) noexcept {
        fd_ = fd;
        try {
            thread_ = std::thread([this] { run(); });
        } catch (const std::system_error&) {
            return false;
        } catch (const std::bad_alloc&) {
            return false;
        }
        return true;
    }

    /// Waits until no batch is in flight; the first write error, if any.
    Result<void> wait_idle() {
        std::unique_lock lock(mu_);
        done_cv_.wait(lock, [this] { return !busy_; });
        if (error_) return tl::unexpected(*error_);
        return {};
    }

    /// The first write error so far, without waiting.
    Result<void> status() {
        std::lock_guard lock(mu_);
        if (error_) return tl::unexpected(*error_);
        return {};
    }

    /// Hands `len` bytes at `data` to the worker for `offset`.
    /// Requires: running() and wait_idle() returned success since the last post.
    void post(const std::uint8_t* data, std::size_t len, std::uint64_t offset) {
        {
            std::lock_guard lock(mu_);
            job_ = Job{data, len, offset};
            busy_ = true;
        }
        work_cv_.notify_one();
    }

    /// Lets a batch in flight finish, then ends and joins the worker.
    void stop() noexcept {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        work_cv_.notify_one();
        thread_.join();
    }

private:
    struct Job {
        const std::uint8_t* data = nullptr;
        std::size_t len = 0;
        std::uint64_t offset = 0;
    };

    void run() noexcept {
        // Visible as such in top -H and /proc/<pid>/task/*/comm.
        ::pthread_setname_np(::pthread_self(), "enclave-blobwr");
        std::unique_lock lock(mu_);
        for (;;) {
            work_cv_.wait(lock, [this] { return stop_ || busy_; });
            if (!busy_) return;  // stop_ with nothing in flight
            const Job job = job_;
            lock.unlock();
            auto ok = detail::pwrite_all(fd_, job.data, job.len, job.offset);
            lock.lock();
            if (!ok && !error_) error_.emplace(std::move(ok).error());  // a move: cannot throw
            busy_ = false;
            done_cv_.notify_one();
        }
    }

    int fd_ = -1;
    std::mutex mu_;
    std::condition_variable work_cv_;  // caller -> worker: a job or stop
    std::condition_variable done_cv_;  // worker -> caller: the job is written
    Job job_;                          // guarded by mu_
    bool busy_ = false;                // guarded by mu_: job_ not yet written
    bool stop_ = false;                // guarded by mu_
    std::optional<Error> error_;       // guarded by mu_: first write error
    std::thread thread_;               // last: started after the rest exists
};

}  // namespace

struct detail::BlobWriterState {
    UniqueFd fd;
    ChunkCipher cipher;
    std::uint32_t chunk = 0;        // C
    std::size_t stride = 0;         // T = C + tag
    std::size_t batch_chunks = 0;   // chunks per pwrite
    // batch_chunks * stride bytes each; bufs[1] only once write-behind runs.
    std::array<std::unique_ptr<std::uint8_t[]>, 2> bufs;
    std::size_t cur = 0;            // the buffer being filled
    std::size_t slot = 0;           // sealed chunks in bufs[cur] not yet written
    std::size_t buffered = 0;       // bytes of those sealed chunks
    std::size_t pending = 0;        // plaintext bytes in the current slot
    std::uint64_t next_index = 0;   // index of the chunk in the current slot
    std::uint64_t file_offset = 0;  // where bufs[cur][0] goes
    std::uint64_t accepted = 0;     // plaintext bytes taken
    bool behind_wanted = true;      // BlobWriterOptions::write_behind, until tried
    enum class Phase { open, finished, failed } phase = Phase::open;
    // Declared after everything it touches (fd, bufs), so that even without
    // the explicit stop() below it would be joined before they go.
    WriteBehind behind;

    std::uint8_t* slot_ptr() noexcept { return bufs[cur].get() + slot * stride; }

    ~BlobWriterState() {
        behind.stop();  // a batch in flight finishes writing (ciphertext only)
        wipe_pending();
    }

    /// Unsealed plaintext may sit in the current slot.
    void wipe_pending() noexcept {
        if (bufs[cur] && pending > 0) sodium_memzero(slot_ptr(), pending);
        pending = 0;
    }

    /// Marks the writer failed and wipes the plaintext it still holds.
    tl::unexpected<Error> failed(Error e) {
        phase = Phase::failed;
        wipe_pending();
        return tl::unexpected(std::move(e));
    }

    /// Starts write-behind on first need. False: write on this thread (the
    /// option is off, or the system refused memory or a thread).
    bool ensure_behind() noexcept {
        if (behind.running()) return true;
        if (!behind_wanted) return false;
        behind_wanted = false;  // one attempt only
        bufs[1].reset(new (std::nothrow) std::uint8_t[batch_chunks * stride]);
        if (!bufs[1]) return false;
        if (!behind.start(fd.get())) {
            bufs[1].reset();
            return false;
        }
        return true;
    }

    /// Writes the sealed chunks of bufs[cur]. Once the worker runs, every
    /// batch goes through it (so its error, if any, is the one reported):
    /// a full batch that more data follows is handed over and the caller
    /// moves on to the other buffer; the final batch is handed over and
    /// waited for. Without a worker the batch is written here.
    Result<void> flush(bool final) {
        if (buffered == 0) return {};
        const bool hand_over = final ? behind.running() : ensure_behind();
        if (hand_over) {
            if (auto ok = behind.wait_idle(); !ok) return ok;  // frees bufs[cur ^ 1]
            behind.post(bufs[cur].get(), buffered, file_offset);
            if (final) {
                if (auto ok = behind.wait_idle(); !ok) return ok;
            } else {
                cur ^= 1;
            }
        } else if (auto ok = detail::pwrite_all(fd.get(), bufs[cur].get(), buffered, file_offset);
                   !ok) {
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
        if (slot == batch_chunks || final) return flush(final);
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
    s->bufs[0] = std::make_unique_for_overwrite<std::uint8_t[]>(s->batch_chunks * s->stride);
    s->behind_wanted = options.write_behind;
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
    if (s.behind.running()) {
        // A batch the worker wrote since the last call may have failed.
        if (auto ok = s.behind.status(); !ok) return s.failed(ok.error());
    }
    while (!data.empty()) {
        if (s.pending == s.chunk) {
            // A full chunk was held back in case it was the last; it is not.
            if (auto ok = s.seal(s.slot_ptr(), s.chunk, false); !ok) return s.failed(ok.error());
        }
        if (s.pending == 0 && data.size() > s.chunk) {
            // A whole chunk with more data after it: seal straight from the
            // caller's buffer, no copy.
            if (auto ok = s.seal(data.data(), s.chunk, false); !ok) return s.failed(ok.error());
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
    // Seals the final chunk and writes the last batch; with a worker, this
    // waits until it has written every batch or says why it could not.
    if (auto ok = s.seal(s.slot_ptr(), s.pending, true); !ok) return s.failed(ok.error());
    s.behind.stop();  // idle after the final flush: joins at once
    if (::fsync(s.fd.get()) != 0) {
        return s.failed(detail::io_failure("syncing blob file", errno).value());
    }
    s.phase = State::Phase::finished;
    BlobInfo info;
    info.plaintext_size = s.accepted;
    info.file_size = s.file_offset;
    info.chunk_count = s.next_index;
    info.chunk_size = s.chunk;
    s.bufs[0].reset();
    s.bufs[1].reset();
    return info;
}

std::uint64_t BlobWriter::bytes_written() const noexcept { return s_ ? s_->accepted : 0; }

}  // namespace enclave::crypto
