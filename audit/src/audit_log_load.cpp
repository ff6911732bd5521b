// SPDX-License-Identifier: Apache-2.0
// What AuditLog::open verifies before it accepts a log: every stored entry
// is re-hashed, "index" and "prev" must chain without a gap, and every
// stored checkpoint must match the root recomputed at its size.
//
// A million entries are ~330 MB of SQLCipher pages: decrypting them and
// hashing them take about as long each, so one thread reads rows while the
// calling thread checks and hashes them (a bounded queue of chunks between
// the two). SealedDb's quick_check is not run first: the scan reads, and so
// authenticates (SQLCipher's per-page HMAC), every page of every table.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "audit_log_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::string str(std::uint64_t v) { return std::to_string(v); }

tl::unexpected<crypto::Error> tampered(const std::string& what) {
    return fail(Errc::integrity_failure, "audit log: " + what);
}

struct Row {
    std::int64_t idx = 0;
    std::string text;
};

/// Streams "SELECT idx, entry FROM entries ORDER BY idx" from a reading
/// thread to the caller in chunks. The statement is used only by the
/// reading thread, and the connection by nobody else meanwhile.
class RowStream {
public:
    static constexpr std::size_t kChunk = 4096;
    static constexpr std::size_t kQueued = 4;

    explicit RowStream(crypto::SealedDb& db) : reader_([this, &db] { read(db); }) {}
    ~RowStream() {
        {
            std::lock_guard lk(m_);
            cancelled_ = true;
        }
        cv_.notify_all();
        reader_.join();
    }
    RowStream(const RowStream&) = delete;
    RowStream& operator=(const RowStream&) = delete;

    /// The next chunk; empty at the end. An error when reading failed.
    Result<std::vector<Row>> next() {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return !queue_.empty() || done_; });
        if (!queue_.empty()) {
            std::vector<Row> chunk = std::move(queue_.front());
            queue_.pop_front();
            cv_.notify_all();
            return chunk;
        }
        if (error_) return tl::unexpected(*error_);
        return std::vector<Row>{};
    }

private:
    void read(crypto::SealedDb& db) {
        auto stmt = db.prepare("SELECT idx, entry FROM entries ORDER BY idx");
        if (!stmt) return finish(stmt.error());
        for (;;) {
            std::vector<Row> chunk;
            chunk.reserve(kChunk);
            while (chunk.size() < kChunk) {
                auto row = stmt->step();
                if (!row) return finish(row.error().wrap("reading the audit entries"));
                if (!*row) break;
                chunk.push_back({stmt->column_int64(0), stmt->column_text(1)});
            }
            const bool last = chunk.size() < kChunk;
            std::unique_lock lk(m_);
            cv_.wait(lk, [&] { return queue_.size() < kQueued || cancelled_; });
            if (cancelled_) return;
            if (!chunk.empty()) queue_.push_back(std::move(chunk));
            cv_.notify_all();
            if (last) {
                done_ = true;
                return;
            }
        }
    }

    void finish(const crypto::Error& e) {
        std::lock_guard lk(m_);
        error_ = e;
        done_ = true;
        cv_.notify_all();
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::vector<Row>> queue_;
    bool done_ = false;
    bool cancelled_ = false;
    std::optional<crypto::Error> error_;
    std::thread reader_;  // last: started once the members above exist
};

/// Checks one stored entry against its position and its predecessor.
Result<void> check_entry(std::uint64_t expected, const Row& row, std::string_view prev_hex) {
    if (row.idx < 0 || static_cast<std::uint64_t>(row.idx) != expected) {
        return tampered("index " + str(expected) + " is missing (the next stored entry is " +
                        std::to_string(row.idx) + ")");
    }
    auto head = detail::scan_entry_head(row.text);
    if (!head) {
        return tampered("index " + str(expected) + ": the stored entry is malformed (" +
                        head.error().context() + ")");
    }
    if (head->index != expected) {
        return tampered("index " + str(expected) + ": the entry says \"index\":" + str(head->index));
    }
    if (head->prev != prev_hex) {
        return tampered("index " + str(expected) + ": \"prev\" is not the leaf hash of index " +
                        (expected == 0 ? std::string("-1 (must be \"\")")
                                       : str(expected - 1) + " (entry " + str(expected - 1) +
                                             " or " + str(expected) + " was altered)"));
    }
    return {};
}

}  // namespace

Result<void> AuditLog::Impl::load_and_verify() {
    std::uint64_t expected = 0;
    std::string prev_hex;
    {
        RowStream rows(writer_db);
        for (;;) {
            auto chunk = rows.next();
            if (!chunk) return tl::unexpected(chunk.error());
            if (chunk->empty()) break;
            for (const Row& row : *chunk) {
                if (auto ok = check_entry(expected, row, prev_hex); !ok) return ok;
                const crypto::Hash leaf = hasher.hash_leaf(crypto::as_bytes(row.text));
                nodes.append(leaf);
                prev_hex = crypto::hash_to_hex(leaf);
                ++expected;
            }
        }
    }
    last_leaf_hex = prev_hex;

    auto checkpoints = detail::read_checkpoints(writer_db);
    if (!checkpoints) return tl::unexpected(checkpoints.error());
    std::uint64_t verified = 0;  // size of the last checkpoint that matched
    for (const LogCheckpoint& cp : *checkpoints) {
        if (cp.size > expected) {
            return tampered("a checkpoint covers " + str(cp.size) + " entries but only " +
                            str(expected) + " are stored: indexes " + str(expected) + ".." +
                            str(cp.size - 1) + " are missing");
        }
        if (cp.note.rfind(AuditLog::checkpoint_body(options.origin, cp.size, cp.root), 0) != 0) {
            return tampered("the checkpoint at size " + str(cp.size) +
                            " holds a note for another origin, size or root");
        }
        auto root = crypto::tree_root(hasher, nodes, cp.size);
        if (!root) return tl::unexpected(root.error());
        if (*root != cp.root) {
            return tampered("the first " + str(cp.size) +
                            " entries do not match the checkpoint at that size: an entry in "
                            "indexes " + str(verified) + ".." + str(cp.size - 1) +
                            " was altered, inserted or removed");
        }
        verified = cp.size;
    }
    if (!checkpoints->empty()) latest = checkpoints->back();
    last_checkpoint_time = latest ? latest->created : now();
    return {};
}

}  // namespace enclave::audit
