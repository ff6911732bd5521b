// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private to the audit log sources: the state behind AuditLog and who may
// touch which part of it.
//
// Locks, always taken in this order and never while holding a later one:
//   write_mutex   the writer connection and the append/checkpoint state
//                 (held by the writer thread for a batch, or by checkpoint())
//   tree_mutex    what readers see: the tree, the latest checkpoint
//                 (shared for reads, unique for the short update after a commit)
//   read_mutex    the read connection (entry bytes, checkpoint rows)
//   queue_mutex   the queue between appenders and the writer thread
// queue_mutex and read_mutex are taken alone.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <semaphore>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit_entry.hpp"
#include "crypto/merkle_source.hpp"
#include "crypto/sealed_db.hpp"

namespace enclave::audit {
namespace detail {

/// An exclusive flock(2) on "<db>.lock", released when destroyed. flock, not
/// fcntl: closing any descriptor of a file drops the process's fcntl locks on
/// it, SQLite's own included, so the lock lives on a file of its own.
class LockFile {
public:
    static crypto::Result<LockFile> acquire(const std::filesystem::path& path);
    LockFile(LockFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    LockFile& operator=(LockFile&&) = delete;
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    ~LockFile();

private:
    explicit LockFile(int fd) noexcept : fd_(fd) {}
    int fd_ = -1;
};

/// One append() waiting for the writer thread. Lives on the caller's stack:
/// the writer sets `result`, then releases `done`, and never touches the
/// request again (the caller may return at once). A semaphore per request
/// wakes exactly the callers whose entries were committed, not all of them.
struct AppendRequest {
    explicit AppendRequest(PreparedEvent e) : event(std::move(e)) {}
    PreparedEvent event;
    std::optional<crypto::Result<std::uint64_t>> result;
    std::binary_semaphore done{0};
};

/// The stored checkpoints, ascending size.
[[nodiscard]] crypto::Result<std::vector<LogCheckpoint>> read_checkpoints(crypto::SealedDb& db);

}  // namespace detail

struct AuditLog::Impl {
    Impl(AuditLogOptions opts, detail::LockFile lock_file, crypto::SealedDb writer,
         crypto::SealedDb reader);

    AuditLogOptions options;
    crypto::LogHasher hasher;
    AuditLog::Observer observer;
    detail::LockFile lock;

    // ---- under write_mutex
    std::mutex write_mutex;
    crypto::SealedDb writer_db;
    std::optional<crypto::Statement> insert_entry;  ///< prepared once, reused per batch
    std::string last_leaf_hex;            ///< "prev" of the next entry
    std::optional<crypto::Error> broken;  ///< set when database and memory may disagree
    std::chrono::system_clock::time_point last_checkpoint_time;
    std::chrono::steady_clock::time_point auto_retry_after;  ///< after a failed automatic checkpoint

    // ---- under tree_mutex
    mutable std::shared_mutex tree_mutex;
    crypto::MemoryNodeSource nodes;
    std::optional<LogCheckpoint> latest;
    std::optional<crypto::Error> checkpoint_error;

    // ---- under read_mutex
    mutable std::mutex read_mutex;
    crypto::SealedDb reader_db;

    // ---- under queue_mutex
    std::mutex queue_mutex;
    std::condition_variable queue_cv;  ///< wakes the writer thread
    std::deque<detail::AppendRequest*> queue;
    bool stopping = false;
    std::thread writer;
    std::once_flag close_once;

    [[nodiscard]] std::chrono::system_clock::time_point now() const {
        return options.clock ? options.clock() : std::chrono::system_clock::now();
    }
    [[nodiscard]] std::uint64_t tree_size() const {
        std::shared_lock lk(tree_mutex);
        return nodes.size();
    }
    /// Size of the latest checkpoint (0 without one).
    [[nodiscard]] std::uint64_t checkpointed_size() const {
        std::shared_lock lk(tree_mutex);
        return latest ? latest->size : 0;
    }

    // audit_log_store.cpp (open time, before the writer thread runs)
    [[nodiscard]] crypto::Result<void> prepare_schema();
    [[nodiscard]] crypto::Result<void> load_and_verify();

    // audit_log_writer.cpp
    void writer_loop();
    /// Commits `batch` as one transaction; on success the tree includes it.
    /// Requires write_mutex.
    [[nodiscard]] crypto::Result<void> commit_batch(std::span<detail::AppendRequest* const> batch);
    /// Requires write_mutex.
    [[nodiscard]] crypto::Result<LogCheckpoint> make_checkpoint();
    /// Makes a checkpoint when the cadence says so and records the outcome in
    /// checkpoint_error. Requires write_mutex.
    [[nodiscard]] crypto::Result<bool> checkpoint_if_due_locked();
    /// Sets each request's result and wakes its appender.
    void answer(std::span<detail::AppendRequest* const> batch, std::uint64_t first,
                const crypto::Result<void>& outcome);
};

}  // namespace enclave::audit
