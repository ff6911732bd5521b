// SPDX-License-Identifier: Apache-2.0
// TaskStore: opening, schema, create and reveal (close and purge are in
// task_store_close.cpp, queries in task_store_query.cpp).
#include "audit/task_store.hpp"

#include <sodium.h>

#include <array>

#include "audit/task_actor.hpp"
#include "crypto/encoding.hpp"
#include "task_store_internal.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Result;
using crypto::Secret;
using detail::prepare_bound;
using detail::run_sql;
using detail::to_us;

// Version 1. Nothing sensitive is in clear in any column: task_secrets holds
// only ciphertext under the per-task key, task_keys only the key wrapped by
// the KEK. Both are deleted at close (secure_delete is on for SealedDb).
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE tasks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id BLOB NOT NULL UNIQUE CHECK(length(task_id) = 16),
  reference TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK(kind IN ('LI', 'LD')),
  start_us INTEGER NOT NULL,
  end_us INTEGER NOT NULL CHECK(end_us > start_us),
  endpoint TEXT,
  state TEXT NOT NULL CHECK(state IN ('active', 'closed')),
  created_us INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  closed_us INTEGER,
  closed_by TEXT,
  close_reason TEXT CHECK(close_reason IN ('operator', 'expired')),
  purged_us INTEGER,
  destroyed_secrets INTEGER NOT NULL DEFAULT 0,
  destroyed_keys INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_state_end ON tasks(state, end_us);
CREATE TABLE task_fields(
  task INTEGER NOT NULL REFERENCES tasks(id),
  idx INTEGER NOT NULL CHECK(idx >= 0),
  format_name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY(task, idx)
);
CREATE TABLE task_keys(
  task INTEGER PRIMARY KEY REFERENCES tasks(id),
  kek_id TEXT NOT NULL,
  wrapped BLOB NOT NULL
);
CREATE TABLE task_secrets(
  task INTEGER NOT NULL REFERENCES tasks(id),
  idx INTEGER NOT NULL,
  value BLOB NOT NULL,
  salt BLOB NOT NULL,
  PRIMARY KEY(task, idx)
);
CREATE TABLE deliveries(
  task INTEGER NOT NULL REFERENCES tasks(id),
  delivery_id TEXT NOT NULL,
  size INTEGER NOT NULL CHECK(size >= 0),
  sha256 BLOB NOT NULL CHECK(length(sha256) = 32),
  recorded_us INTEGER NOT NULL,
  PRIMARY KEY(task, delivery_id)
);
)sql";

constexpr std::array<crypto::Migration, 1> kSchema{{{1, kSchemaV1}}};

}  // namespace

std::span<const crypto::Migration> detail::task_schema() { return kSchema; }

std::filesystem::path TaskStore::default_path(const std::filesystem::path& dir) { return dir / "tasks.db"; }

TaskStore::TaskStore(crypto::SealedDb db, crypto::KeyWrapper& kek, AuditSink& audit, Clock clock)
    : db_(std::move(db)), kek_(kek), audit_(audit), clock_(std::move(clock)) {}

TaskStore::~TaskStore() = default;

Result<std::unique_ptr<TaskStore>> TaskStore::open(const std::filesystem::path& db_path, crypto::KeyWrapper& kek,
                                                   AuditSink& audit) {
    return open(db_path, kek, audit, Options{});
}

Result<std::unique_ptr<TaskStore>> TaskStore::open(const std::filesystem::path& db_path, crypto::KeyWrapper& kek,
                                                   AuditSink& audit, Options options) {
    if (!options.clock) return crypto::fail(Errc::invalid_argument, "task store: no clock");
    auto db = crypto::SealedDb::open_or_create(db_path, kek, options.db);
    if (!db) return tl::unexpected(db.error().wrap("task store"));
    if (auto v = db->migrate(detail::task_schema()); !v) return tl::unexpected(v.error().wrap("task store schema"));
    std::unique_ptr<TaskStore> store(new TaskStore(std::move(*db), kek, audit, std::move(options.clock)));
    {
        std::lock_guard lock(store->mu_);
        if (auto p = store->purge_pending_locked(); !p) {
            return tl::unexpected(p.error().wrap("task store: completing an interrupted purge"));
        }
    }
    return store;
}

Result<TaskRecord> TaskStore::create(TaskIntake intake, const Actor& actor) {
    std::lock_guard lock(mu_);
    if (auto ok = check_actor(actor); !ok) return tl::unexpected(ok.error());
    if (auto ok = check_intake(intake); !ok) return tl::unexpected(ok.error());
    const UtcTime now = clock_();
    if (intake.end <= now) {
        return crypto::fail(Errc::invalid_argument, "end: not after the current time " + format_utc_time(now));
    }
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    if (auto existing = find_row(intake.reference); existing) {
        return crypto::fail(Errc::already_exists, "task \"" + intake.reference + "\" already exists (" +
                                                      std::string(task_state_name(existing->state)) +
                                                      "); references are never reused");
    } else if (existing.error().code() != Errc::not_found) {
        return tl::unexpected(existing.error());
    }
    Row row;
    row.task_id.resize(detail::kTaskIdBytes);
    randombytes_buf(row.task_id.data(), row.task_id.size());
    row.reference = intake.reference;
    row.created_at = now;
    auto rowid = insert_task(intake, row, actor);
    if (!rowid) return tl::unexpected(rowid.error());
    row.rowid = *rowid;
    if (auto ok = insert_secrets(intake, row.rowid, row.task_id); !ok) return tl::unexpected(ok.error());
    // Audit first, inside the transaction: a failed append rolls it back.
    if (auto ok = append_created(intake, row, actor); !ok) {
        return tl::unexpected(ok.error().wrap("task not created: audit log"));
    }
    if (auto ok = tx->commit(); !ok) {
        auto ev = detail::task_event("task.create_failed", row.reference, row.task_id);
        ev["error"] = crypto::errc_name(ok.error().code());
        append_best_effort(std::move(ev));
        return tl::unexpected(ok.error().wrap("task not created: commit"));
    }
    auto stored = find_row(row.reference);
    if (!stored) return tl::unexpected(stored.error());
    return load_record(*stored);
}

Result<std::int64_t> TaskStore::insert_task(const TaskIntake& intake, const Row& row, const Actor& actor) {
    auto ok = run_sql(db_,
                      "INSERT INTO tasks(task_id, reference, kind, start_us, end_us, endpoint, state, created_us,"
                      " created_by) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8)",
                      row.task_id, intake.reference, task_kind_name(intake.kind), to_us(intake.start),
                      to_us(intake.end), intake.endpoint, to_us(row.created_at), actor.dump());
    if (!ok) return tl::unexpected(ok.error().wrap("task not created"));
    const std::int64_t rowid = db_.last_insert_rowid();
    for (std::size_t i = 0; i < intake.fields.size(); ++i) {
        const IntakeField& f = intake.fields[i];
        ok = run_sql(db_, "INSERT INTO task_fields(task, idx, format_name, algorithm, hash) VALUES(?1, ?2, ?3, ?4, ?5)",
                     rowid, static_cast<std::int64_t>(i), f.format_name, crypto::salted_hash_name(f.algorithm),
                     f.hash);
        if (!ok) return tl::unexpected(ok.error().wrap("task not created"));
    }
    return rowid;
}

Result<void> TaskStore::insert_secrets(const TaskIntake& intake, std::int64_t rowid, crypto::ByteView task_id) {
    const Secret key = Secret::random(detail::kTaskKeyBytes);
    auto wrapped = kek_.wrap(key);
    if (!wrapped) return tl::unexpected(wrapped.error().wrap("task not created: wrapping the task key"));
    auto ok = run_sql(db_, "INSERT INTO task_keys(task, kek_id, wrapped) VALUES(?1, ?2, ?3)", rowid, kek_.key_id(),
                      *wrapped);
    if (!ok) return tl::unexpected(ok.error().wrap("task not created"));
    for (std::size_t i = 0; i < intake.fields.size(); ++i) {
        const IntakeField& f = intake.fields[i];
        const crypto::Bytes value = detail::seal_task_secret(key, task_id, i, "value", f.value.view());
        const crypto::Bytes salt = detail::seal_task_secret(key, task_id, i, "salt", f.salt.view());
        ok = run_sql(db_, "INSERT INTO task_secrets(task, idx, value, salt) VALUES(?1, ?2, ?3, ?4)", rowid,
                     static_cast<std::int64_t>(i), value, salt);
        if (!ok) return tl::unexpected(ok.error().wrap("task not created"));
    }
    return {};
}

Result<void> TaskStore::append_created(const TaskIntake& intake, const Row& row, const Actor& actor) {
    for (std::size_t i = 0; i < intake.fields.size(); ++i) {
        const IntakeField& f = intake.fields[i];
        auto ev = detail::task_event("hash.verified", row.reference, row.task_id);
        ev["field"] = i;
        ev["formatName"] = f.format_name;
        ev["algorithm"] = crypto::salted_hash_name(f.algorithm);
        ev["hash"] = crypto::hex_encode(f.hash);
        if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error());
    }
    auto ev = detail::task_event("task.created", row.reference, row.task_id);
    ev["kind"] = task_kind_name(intake.kind);
    ev["start"] = format_utc_time(intake.start);
    ev["end"] = format_utc_time(intake.end);
    if (intake.endpoint) ev["endpoint"] = *intake.endpoint;  // absent rather than null: the log takes no null
    ev["fields"] = intake.fields.size();
    ev["actor"] = actor;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error());
    return {};
}

Result<Secret> TaskStore::unwrap_task_key(const Row& row) {
    auto st = prepare_bound(db_, "SELECT kek_id, wrapped FROM task_keys WHERE task = ?1", row.rowid);
    if (!st) return tl::unexpected(st.error());
    auto has = st->step();
    if (!has) return tl::unexpected(has.error());
    const std::string task = "task \"" + row.reference + "\"";
    if (!*has) return crypto::fail(Errc::integrity_failure, task + ": its key is missing");
    if (st->column_text(0) != kek_.key_id()) {
        return crypto::fail(Errc::integrity_failure, task + ": key wrapped by KEK \"" + st->column_text(0) +
                                                         "\", not by \"" + kek_.key_id() + "\"");
    }
    auto key = kek_.unwrap(st->column_blob(1), detail::kTaskKeyBytes);
    if (!key) return tl::unexpected(key.error().wrap(task + ": unwrapping its key"));
    return key;
}

Result<std::vector<RevealedField>> TaskStore::open_secrets(const Row& row, const Secret& key) {
    auto st = prepare_bound(db_,
                            "SELECT s.idx, f.format_name, f.algorithm, s.value, s.salt FROM task_secrets s"
                            " JOIN task_fields f ON f.task = s.task AND f.idx = s.idx WHERE s.task = ?1 ORDER BY s.idx",
                            row.rowid);
    if (!st) return tl::unexpected(st.error());
    const std::string task = "task \"" + row.reference + "\"";
    std::vector<RevealedField> out;
    while (true) {
        auto more = st->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
        RevealedField f;
        f.index = static_cast<std::size_t>(st->column_int64(0));
        f.format_name = st->column_text(1);
        const auto alg = crypto::salted_hash_from_name(st->column_text(2));
        if (!alg) return crypto::fail(Errc::integrity_failure, task + ": unknown algorithm");
        f.algorithm = *alg;
        auto value = detail::open_task_secret(key, row.task_id, f.index, "value", st->column_blob(3));
        if (!value) return tl::unexpected(value.error().wrap(task));
        auto salt = detail::open_task_secret(key, row.task_id, f.index, "salt", st->column_blob(4));
        if (!salt) return tl::unexpected(salt.error().wrap(task));
        f.value = std::move(*value);
        f.salt = std::move(*salt);
        out.push_back(std::move(f));
    }
    return out;
}

Result<std::vector<RevealedField>> TaskStore::reveal(std::string_view reference, const Actor& actor) {
    std::lock_guard lock(mu_);
    if (auto ok = check_actor(actor); !ok) return tl::unexpected(ok.error());
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    if (row->state != TaskState::active) {
        return crypto::fail(Errc::invalid_state,
                            "task \"" + row->reference + "\" is closed: its values and salts were destroyed");
    }
    auto key = unwrap_task_key(*row);
    if (!key) return tl::unexpected(key.error());
    auto out = open_secrets(*row, *key);
    if (!out) return tl::unexpected(out.error());
    auto rec = load_record(*row);
    if (!rec) return tl::unexpected(rec.error());
    if (rec->fields.size() != out->size()) {
        return crypto::fail(Errc::integrity_failure, "task \"" + row->reference + "\": " +
                                                         std::to_string(out->size()) + " sealed field(s) for " +
                                                         std::to_string(rec->fields.size()) + " field(s)");
    }
    auto ev = detail::task_event("task.revealed", row->reference, row->task_id);
    ev["fields"] = out->size();
    ev["actor"] = actor;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("not revealed: audit log"));
    return out;
}

void TaskStore::append_best_effort(nlohmann::json event) {
    // Used only where the operation has already failed and its error is being
    // returned; a second failure here changes nothing for the caller.
    (void)audit_.append(event);
}

}  // namespace enclave::audit
