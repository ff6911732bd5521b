// SPDX-License-Identifier: Apache-2.0
// TaskStore: close, purge and expiry.
//
// close:  BEGIN IMMEDIATE; append "task.closed"; DELETE task_secrets and
//         task_keys rows (secure_delete overwrites them); mark the task
//         closed with the counts; COMMIT.
// purge:  wal_checkpoint(TRUNCATE) so no WAL frame holds an old page; append
//         "task.purged"; set purged_us. A crash or a failed checkpoint leaves
//         purged_us NULL, and the purge is retried (open, close_expired,
//         retry_pending_purges) until it completes.
#include "audit/task_actor.hpp"
#include "audit/task_store.hpp"
#include "crypto/encoding.hpp"
#include "task_store_internal.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Result;
using detail::run_sql;
using detail::task_event;
using detail::to_us;

/// One integer from a query; the statement is finalised on return (a
/// statement left open would hold a read snapshot through the checkpoint).
Result<std::int64_t> count_rows(crypto::SealedDb& db, std::string_view sql, std::int64_t arg) {
    auto st = detail::prepare_bound(db, sql, arg);
    if (!st) return tl::unexpected(st.error());
    auto has = st->step();
    if (!has) return tl::unexpected(has.error());
    return *has ? st->column_int64(0) : 0;
}

/// The text column 0 of every row; the statement is finalised on return.
template <class... Args>
Result<std::vector<std::string>> texts(crypto::SealedDb& db, std::string_view sql, const Args&... args) {
    auto st = detail::prepare_bound(db, sql, args...);
    if (!st) return tl::unexpected(st.error());
    std::vector<std::string> out;
    while (true) {
        auto more = st->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) return out;
        out.push_back(st->column_text(0));
    }
}

}  // namespace

Result<TaskRecord> TaskStore::close(std::string_view reference, const Actor& actor, CloseReason reason) {
    std::lock_guard lock(mu_);
    return close_locked(reference, actor, reason);
}

Result<TaskRecord> TaskStore::close_locked(std::string_view reference, const Actor& actor, CloseReason reason) {
    if (auto ok = check_actor(actor); !ok) return tl::unexpected(ok.error());
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    if (row->state == TaskState::closed) {
        return crypto::fail(Errc::invalid_state, "task \"" + row->reference + "\" is already closed");
    }
    auto deliveries = count_rows(db_, "SELECT count(*) FROM deliveries WHERE task = ?1", row->rowid);
    if (!deliveries) return tl::unexpected(deliveries.error());
    const UtcTime now = clock_();
    auto ev = task_event("task.closed", row->reference, row->task_id);
    ev["reason"] = close_reason_name(reason);
    ev["deliveries"] = *deliveries;
    ev["actor"] = actor;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("task not closed: audit log"));

    if (auto ok = run_sql(db_, "DELETE FROM task_secrets WHERE task = ?1", row->rowid); !ok) {
        return tl::unexpected(ok.error());
    }
    const std::int64_t secrets = db_.changes();
    if (auto ok = run_sql(db_, "DELETE FROM task_keys WHERE task = ?1", row->rowid); !ok) {
        return tl::unexpected(ok.error());
    }
    const std::int64_t keys = db_.changes();
    auto ok = run_sql(db_,
                      "UPDATE tasks SET state = 'closed', closed_us = ?2, closed_by = ?3, close_reason = ?4,"
                      " destroyed_secrets = ?5, destroyed_keys = ?6 WHERE id = ?1",
                      row->rowid, to_us(now), actor.dump(), close_reason_name(reason), secrets, keys);
    if (!ok) return tl::unexpected(ok.error());
    if (auto c = tx->commit(); !c) {
        auto failed = task_event("task.close_failed", row->reference, row->task_id);
        failed["error"] = crypto::errc_name(c.error().code());
        append_best_effort(std::move(failed));
        return tl::unexpected(c.error().wrap("task not closed: commit"));
    }
    auto closed = find_row(row->reference);
    if (!closed) return tl::unexpected(closed.error());
    if (auto p = purge_one_locked(*closed); !p) {
        return tl::unexpected(p.error().wrap("task \"" + row->reference +
                                             "\" is closed, but its purge is not complete (it is retried)"));
    }
    auto done = find_row(row->reference);
    if (!done) return tl::unexpected(done.error());
    return load_record(*done);
}

Result<void> TaskStore::purge_one_locked(const Row& row) {
    // Copies the WAL into the database and truncates it to zero bytes: the
    // frames that held the sealed values and the wrapped key before the
    // DELETE (and the zeroed pages after it) are gone from the WAL.
    if (auto ok = db_.checkpoint_truncate(); !ok) return ok;
    auto ev = task_event("task.purged", row.reference, row.task_id);
    // Each task_secrets row held one sealed value and one sealed salt.
    ev["values_destroyed"] = row.destroyed_secrets;
    ev["salts_destroyed"] = row.destroyed_secrets;
    ev["keys_destroyed"] = row.destroyed_keys;
    ev["wal_truncated"] = true;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("audit log"));
    if (auto ok = run_sql(db_, "UPDATE tasks SET purged_us = ?2 WHERE id = ?1", row.rowid, to_us(clock_())); !ok) {
        return ok;
    }
    // That UPDATE wrote one frame (the tasks row page, nothing sensitive);
    // checkpoint again so the WAL ends empty. Its failure changes nothing
    // that matters: the frames of the deleted rows went with the first one.
    (void)db_.checkpoint_truncate();
    return {};
}

Result<std::size_t> TaskStore::purge_pending_locked() {
    auto pending = texts(db_, "SELECT reference FROM tasks WHERE state = 'closed' AND purged_us IS NULL ORDER BY id");
    if (!pending) return tl::unexpected(pending.error());
    std::size_t done = 0;
    for (const std::string& reference : *pending) {
        auto row = find_row(reference);
        if (!row) return tl::unexpected(row.error());
        if (auto ok = purge_one_locked(*row); !ok) {
            return tl::unexpected(ok.error().wrap("purging task \"" + reference + "\""));
        }
        ++done;
    }
    return done;
}

Result<std::size_t> TaskStore::retry_pending_purges() {
    std::lock_guard lock(mu_);
    return purge_pending_locked();
}

ExpiryReport TaskStore::close_expired(UtcTime now) {
    std::lock_guard lock(mu_);
    ExpiryReport report;
    if (auto p = purge_pending_locked(); !p) report.failed.emplace_back("purge", p.error());
    auto due = texts(db_, "SELECT reference FROM tasks WHERE state = 'active' AND end_us <= ?1 ORDER BY end_us, id",
                     to_us(now));
    if (!due) {
        report.failed.emplace_back("expiry", due.error());
        return report;
    }
    for (const std::string& reference : *due) {
        auto closed = close_locked(reference, system_actor(), CloseReason::expired);
        if (closed) {
            report.closed.push_back(reference);
        } else if (closed.error().code() == Errc::invalid_state || closed.error().code() == Errc::not_found) {
            report.failed.emplace_back(reference, closed.error());
        } else {
            // Committed but not purged counts as closed; anything else failed.
            auto state = find_row(reference);
            if (state && state->state == TaskState::closed) report.closed.push_back(reference);
            report.failed.emplace_back(reference, closed.error());
        }
    }
    return report;
}

}  // namespace enclave::audit
