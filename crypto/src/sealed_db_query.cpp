// SPDX-License-Identifier: Apache-2.0
// SealedDb: the query API, migrations and maintenance.
#include <string>

#include "crypto/sealed_db.hpp"
#include "sealed_db_internal.hpp"

namespace enclave::crypto {
namespace {

/// True when `tail` (what sqlite3_prepare_v2 left after the first statement)
/// holds another statement; blanks, ';' and comments do not count.
bool holds_another_statement(sqlite3* db, const char* tail, const char* end) {
    if (tail == nullptr || tail >= end) {
        return false;
    }
    sqlite3_stmt* next = nullptr;
    const int rc = sqlite3_prepare_v2(db, tail, static_cast<int>(end - tail), &next, nullptr);
    sqlite3_finalize(next);
    return rc != SQLITE_OK || next != nullptr;
}

constexpr std::size_t kMaxCheckReport = 300;

}  // namespace

Result<void> SealedDb::exec(std::string_view sql) {
    const std::string text(sql);
    return detail::exec_sql(conn_->db, text.c_str(), "executing SQL");
}

Result<Statement> SealedDb::prepare(std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sql.size() > 0x7ffffffe) {
        return fail(Errc::too_large, "SQL text over 2 GiB");
    }
    const int rc = sqlite3_prepare_v2(conn_->db, sql.data(), static_cast<int>(sql.size()), &raw, &tail);
    Statement stmt(conn_, raw);
    if (rc != SQLITE_OK) {
        return tl::unexpected(detail::sqlite_error(conn_->db, rc, "preparing statement"));
    }
    if (raw == nullptr) {
        return fail(Errc::invalid_argument, "prepare: the SQL text holds no statement");
    }
    if (holds_another_statement(conn_->db, tail, sql.data() + sql.size())) {
        return fail(Errc::invalid_argument, "prepare takes exactly one statement; more SQL follows it");
    }
    return stmt;
}

Result<Transaction> SealedDb::begin(TransactionMode mode) {
    const char* sql = mode == TransactionMode::immediate   ? "BEGIN IMMEDIATE"
                      : mode == TransactionMode::exclusive ? "BEGIN EXCLUSIVE"
                                                           : "BEGIN";
    if (auto r = detail::exec_sql(conn_->db, sql, "beginning transaction"); !r) {
        return tl::unexpected(r.error());
    }
    return Transaction(conn_);
}

Result<int> SealedDb::schema_version() {
    auto text = detail::query_text(conn_->db, "PRAGMA user_version");
    if (!text) {
        return tl::unexpected(text.error());
    }
    return std::stoi(*text);  // SQLite prints a 32-bit signed integer
}

Result<int> SealedDb::migrate(std::span<const Migration> steps) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].version != static_cast<int>(i + 1)) {
            return fail(Errc::invalid_argument, "migration steps must be versions 1, 2, 3, ... in order; "
                                                "step " + std::to_string(i + 1) + " has version " +
                                                    std::to_string(steps[i].version));
        }
        if (steps[i].sql.empty()) {
            return fail(Errc::invalid_argument,
                        "migration to version " + std::to_string(steps[i].version) + " has no SQL");
        }
    }
    const int known = static_cast<int>(steps.size());
    auto current = schema_version();
    if (!current) {
        return current;
    }
    if (*current > known || *current < 0) {
        return fail(Errc::db_error, "database " + path_.string() + " has schema version " +
                                        std::to_string(*current) + ", newer than this program knows (" +
                                        std::to_string(known) + "): refusing to use it (never downgraded)");
    }
    for (const Migration& step : steps.subspan(static_cast<std::size_t>(*current))) {
        auto tx = begin(TransactionMode::immediate);
        if (!tx) {
            return tl::unexpected(tx.error());
        }
        // Another connection may have migrated while we waited for the lock.
        auto now = schema_version();
        if (!now) {
            return now;
        }
        if (*now >= step.version) {
            continue;  // tx rolls back: nothing was written
        }
        const std::string what = "migration to schema version " + std::to_string(step.version);
        {
            detail::GuardScope guard(*conn_, detail::Guard::migrating);
            const std::string sql(step.sql);
            if (auto r = detail::exec_sql(conn_->db, sql.c_str(), what); !r) {
                return tl::unexpected(r.error());
            }
        }
        const std::string set_version = "PRAGMA user_version = " + std::to_string(step.version);
        {
            detail::GuardScope guard(*conn_, detail::Guard::configuring);
            if (auto r = detail::exec_sql(conn_->db, set_version.c_str(), what); !r) {
                return tl::unexpected(r.error());
            }
        }
        if (auto r = tx->commit(); !r) {
            return tl::unexpected(r.error().wrap(what));
        }
    }
    return schema_version();
}

Result<void> SealedDb::checkpoint_truncate() {
    int log_frames = 0;
    int checkpointed = 0;
    const int rc = sqlite3_wal_checkpoint_v2(conn_->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
                                             &checkpointed);
    if (rc != SQLITE_OK) {
        return tl::unexpected(detail::sqlite_error(conn_->db, rc, "checkpointing the WAL"));
    }
    return {};
}

Result<void> SealedDb::quick_check() {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(conn_->db, "PRAGMA quick_check(5)", -1, &raw, nullptr);
    Statement stmt(conn_, raw);
    if (rc != SQLITE_OK) {
        return tl::unexpected(detail::sqlite_error(conn_->db, rc, "preparing quick_check"));
    }
    std::string report;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
        const auto* line = sqlite3_column_text(raw, 0);
        if (line != nullptr && report.size() < kMaxCheckReport) {
            report += report.empty() ? "" : "; ";
            report += reinterpret_cast<const char*>(line);
        }
    }
    const std::string p = path_.string();
    if (rc != SQLITE_DONE) {
        return fail(Errc::integrity_failure, "database " + p + " failed its integrity check: " +
                                                 detail::sqlite_error(conn_->db, rc, "quick_check").context());
    }
    if (report != "ok") {
        if (report.size() > kMaxCheckReport) {
            report.resize(kMaxCheckReport);
            report += "...";
        }
        return fail(Errc::integrity_failure, "database " + p + " failed its integrity check: " + report);
    }
    return {};
}

std::int64_t SealedDb::last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(conn_->db); }

std::int64_t SealedDb::changes() const noexcept { return sqlite3_changes(conn_->db); }

}  // namespace enclave::crypto
