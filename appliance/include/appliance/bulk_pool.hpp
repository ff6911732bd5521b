// SPDX-License-Identifier: Apache-2.0
#pragma once
// BulkPool: the threads that prepare the pieces of large streamed response
// bodies (Model A/C) off the I/O threads.
//
// A Model A/C piece is read from the blob store, decrypted and sealed into
// TLS records before it is sent. Done on the connection's I/O thread, that
// work and the socket writes run one after the other on one core, and every
// other connection pinned to that thread waits while a piece is decrypted or
// read from a cold disk. With the pool, the I/O thread sends piece N while a
// bulk thread prepares piece N+1 (http_session.hpp, "Bulk pipeline").
//
// Jobs run first in, first out; each streaming connection has at most one
// job queued or running, so concurrent downloads take turns. The threads run
// at a lower scheduling priority (a positive nice offset, Linux applies it
// per thread), so small urgent work on the I/O and delivery threads wins the
// CPU from bulk work when both want it (TS 103 707 Annex C.1).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "appliance/tls_record_sealer.hpp"

namespace enclave::appliance {

/// The buffers of one streaming response's two piece slots: the plaintext
/// pieces and their sealed records, about 1 MiB in all. The pool keeps a
/// few between responses: allocated afresh for each one (glibc maps blocks
/// this large), the first two pieces of every response paid a page fault
/// per 4 KiB and took twice as long as the rest, which a Model C client
/// asking for 8 MiB ranges pays on every range.
struct BulkBuffers {
    static constexpr std::size_t kSlots = 2;
    std::vector<std::uint8_t> plain[kSlots];  ///< wiped before they go back to the pool
    RecordSealer sealer[kSlots];              ///< ciphertext only
};

struct BulkPoolOptions {
    std::size_t threads = 2;  ///< at least 1
    /// Added to each thread's nice value (0..19); 0 keeps the process's.
    int nice_offset = 10;
};

class BulkPool {
public:
    explicit BulkPool(BulkPoolOptions options);
    /// Stops and joins; jobs still queued are dropped unrun (destroyed).
    ~BulkPool();
    BulkPool(const BulkPool&) = delete;
    BulkPool& operator=(const BulkPool&) = delete;

    /// Queues `job`; false once stop() has begun (the job is then
    /// destroyed unrun). A job that throws is logged and the pool goes on.
    bool submit(std::function<void()> job);

    /// No new jobs; the running ones finish, queued ones are dropped.
    /// Joins the threads. Idempotent.
    void stop();

    /// A set of slot buffers: a kept one, else a new one.
    std::unique_ptr<BulkBuffers> take_buffers();
    /// Keeps `buffers` for a later response (at most kKeptBuffers are kept;
    /// more are freed). The caller has wiped the plaintext.
    void give_buffers(std::unique_ptr<BulkBuffers> buffers) noexcept;
    static constexpr std::size_t kKeptBuffers = 8;
    /// Buffer sets kept now (tests).
    [[nodiscard]] std::size_t kept_buffers() const noexcept;

    [[nodiscard]] std::size_t threads() const noexcept { return threads_.size(); }
    /// Whether the nice offset was applied to every thread (false when the
    /// kernel refused it: the pool works, at the normal priority).
    [[nodiscard]] bool lowered() const noexcept;
    /// Jobs run so far (tests).
    [[nodiscard]] std::uint64_t jobs_run() const noexcept;

private:
    void run(int nice_offset);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    std::vector<std::unique_ptr<BulkBuffers>> kept_;
    bool stopping_ = false;
    std::size_t lowered_ = 0;
    std::size_t started_ = 0;
    std::uint64_t jobs_run_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace enclave::appliance
