// SPDX-License-Identifier: Apache-2.0
// The audit log's writer thread: group commit and checkpoints.
//
// One thread owns the write path. Appenders queue a request and sleep; the
// writer takes everything queued (up to max_batch, cut at the next
// checkpoint_every boundary), writes it in one BEGIN IMMEDIATE ... COMMIT,
// and only then adds the leaves to the tree and wakes the appenders with
// their indexes. The COMMIT is the durability point: SealedDb runs WAL with
// synchronous=FULL, so SQLite fsyncs the WAL before COMMIT returns. A batch
// therefore costs one fsync however many appenders it carries.
#include <algorithm>

#include "audit_log_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::string str(std::uint64_t v) { return std::to_string(v); }

constexpr auto kWriterPoll = std::chrono::seconds(1);
constexpr auto kCheckpointRetry = std::chrono::seconds(1);

}  // namespace

void AuditLog::Impl::answer(std::span<detail::AppendRequest* const> batch, std::uint64_t first,
                            const Result<void>& outcome) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
        detail::AppendRequest& request = *batch[i];
        if (outcome) {
            request.result = first + i;
        } else {
            request.result = tl::unexpected(outcome.error().wrap("audit entry not written"));
        }
        request.done.release();  // the request may be gone after this line
    }
}

Result<void> AuditLog::Impl::commit_batch(std::span<detail::AppendRequest* const> batch) {
    if (broken) return tl::unexpected(*broken);
    const std::uint64_t first = tree_size();  // only this path grows it, under write_mutex
    const std::string time = detail::format_time(now());
    std::vector<crypto::Hash> leaves;
    leaves.reserve(batch.size());
    std::string prev = last_leaf_hex;
    Result<void> written = [&]() -> Result<void> {
        auto tx = writer_db.begin(crypto::TransactionMode::immediate);
        if (!tx) return tl::unexpected(tx.error());
        if (!insert_entry) {
            auto stmt = writer_db.prepare("INSERT INTO entries (idx, entry) VALUES (?, ?)");
            if (!stmt) return tl::unexpected(stmt.error());
            insert_entry.emplace(std::move(*stmt));
        }
        crypto::Statement* insert = &*insert_entry;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const std::uint64_t index = first + i;
            const std::string text = detail::assemble_entry(batch[i]->event, index, prev, time);
            insert->reset();
            if (auto ok = insert->bind_int64(1, static_cast<std::int64_t>(index)); !ok) return ok;
            if (auto ok = insert->bind_text(2, text); !ok) return ok;
            if (auto ok = insert->run(); !ok) return ok;
            leaves.push_back(hasher.hash_leaf(crypto::as_bytes(text)));
            prev = crypto::hash_to_hex(leaves.back());
        }
        insert->reset();
        return tx->commit();
    }();
    if (!written && insert_entry) insert_entry->reset();
    if (!written) {
        // The transaction has been rolled back. Make sure the database did
        // not keep part of it anyway; if it did, stop appending until the
        // log is reopened (and verified) rather than guess.
        auto check = writer_db.prepare("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries");
        if (check && check->step().value_or(false)) {
            const auto stored = static_cast<std::uint64_t>(check->column_int64(0));
            if (stored != first) {
                broken = crypto::Error(
                    Errc::invalid_state,
                    "after a failed commit the audit database holds " + str(stored) +
                        " entries and the log " + str(first) + ": reopen the log");
            }
        }
        return written;
    }
    {
        std::unique_lock lk(tree_mutex);
        for (const crypto::Hash& leaf : leaves) nodes.append(leaf);
    }
    last_leaf_hex = std::move(prev);
    return {};
}

Result<LogCheckpoint> AuditLog::Impl::make_checkpoint() {
    LogCheckpoint cp;
    {
        std::shared_lock lk(tree_mutex);
        cp.size = nodes.size();
        if (latest && latest->size == cp.size) return *latest;
        auto root = crypto::tree_root(hasher, nodes, cp.size);
        if (!root) return tl::unexpected(root.error());
        cp.root = *root;
    }
    const std::string body = AuditLog::checkpoint_body(options.origin, cp.size, cp.root);
    if (options.signer) {
        auto note = options.signer(body);
        if (!note) {
            return tl::unexpected(note.error().wrap("signing the checkpoint at size " + str(cp.size)));
        }
        if (note->size() <= body.size() || note->compare(0, body.size(), body) != 0) {
            return fail(Errc::crypto_failure, "the checkpoint signer returned a note that is not "
                                              "a signed note of the body at size " + str(cp.size));
        }
        cp.note = std::move(*note);
    } else {
        cp.note = body;
    }
    cp.created = now();
    auto insert = writer_db.prepare(
        "INSERT INTO checkpoints (size, root, note, created_ms) VALUES (?, ?, ?, ?)");
    if (!insert) return tl::unexpected(insert.error());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        cp.created.time_since_epoch());
    if (auto ok = insert->bind_int64(1, static_cast<std::int64_t>(cp.size)); !ok) return tl::unexpected(ok.error());
    if (auto ok = insert->bind_blob(2, cp.root); !ok) return tl::unexpected(ok.error());
    if (auto ok = insert->bind_text(3, cp.note); !ok) return tl::unexpected(ok.error());
    if (auto ok = insert->bind_int64(4, ms.count()); !ok) return tl::unexpected(ok.error());
    if (auto ok = insert->run(); !ok) {
        return tl::unexpected(ok.error().wrap("storing the checkpoint at size " + str(cp.size)));
    }
    {
        std::unique_lock lk(tree_mutex);
        latest = cp;
    }
    last_checkpoint_time = cp.created;
    return cp;
}

Result<bool> AuditLog::Impl::checkpoint_if_due_locked() {
    std::uint64_t size = 0;
    std::uint64_t latest_size = 0;
    {
        std::shared_lock lk(tree_mutex);
        size = nodes.size();
        latest_size = latest ? latest->size : 0;
    }
    if (size == latest_size) return false;
    const bool by_count =
        options.checkpoint_every > 0 && size - latest_size >= options.checkpoint_every;
    const bool by_time = options.checkpoint_interval.count() > 0 &&
                         now() - last_checkpoint_time >= options.checkpoint_interval;
    if (!by_count && !by_time) return false;
    auto cp = make_checkpoint();
    std::unique_lock lk(tree_mutex);
    if (!cp) {
        checkpoint_error = cp.error();
        return tl::unexpected(cp.error());
    }
    checkpoint_error.reset();
    return true;
}

void AuditLog::Impl::writer_loop() {
    std::vector<detail::AppendRequest*> batch;
    for (;;) {
        batch.clear();
        {
            std::unique_lock lk(queue_mutex);
            queue_cv.wait_for(lk, kWriterPoll, [&] { return stopping || !queue.empty(); });
            if (queue.empty() && stopping) return;
            const std::size_t n = std::min(queue.size(), options.max_batch);
            batch.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
            queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
        }
        std::lock_guard wl(write_mutex);
        std::size_t done = 0;
        do {
            // Cut the batch where the next count-triggered checkpoint falls.
            std::size_t n = batch.size() - done;
            if (options.checkpoint_every > 0 && n > 0) {
                const std::uint64_t since = tree_size() - checkpointed_size();
                const std::uint64_t room = since < options.checkpoint_every
                                               ? options.checkpoint_every - since
                                               : options.checkpoint_every;
                n = static_cast<std::size_t>(std::min<std::uint64_t>(n, room));
            }
            const std::span<detail::AppendRequest* const> chunk(batch.data() + done, n);
            if (n > 0) {
                const std::uint64_t first = tree_size();
                answer(chunk, first, commit_batch(chunk));
                done += n;
            }
            if (std::chrono::steady_clock::now() >= auto_retry_after) {
                if (!checkpoint_if_due_locked()) {
                    auto_retry_after = std::chrono::steady_clock::now() + kCheckpointRetry;
                }
            }
        } while (done < batch.size());
    }
}

}  // namespace enclave::audit
