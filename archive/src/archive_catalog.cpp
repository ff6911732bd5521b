// SPDX-License-Identifier: Apache-2.0
// The archive catalogue (archive.db): objects, transactions, batches.
#include <array>
#include <variant>

#include <nlohmann/json.hpp>

#include "archive_impl.hpp"

namespace enclave::archive::detail {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE objects (
  ref      TEXT PRIMARY KEY,
  owner    TEXT NOT NULL,
  state    TEXT NOT NULL CHECK (state IN ('pending', 'granted', 'deleted')),
  blob_id  TEXT NOT NULL,
  size     INTEGER NOT NULL,
  alg      TEXT NOT NULL,
  digest   BLOB NOT NULL,
  metadata TEXT NOT NULL,
  policy   TEXT NOT NULL,
  created  INTEGER NOT NULL,
  granted  INTEGER NOT NULL DEFAULT 0,
  expires  INTEGER NOT NULL,
  deleted  INTEGER NOT NULL DEFAULT 0,
  verified INTEGER NOT NULL DEFAULT 0,
  batch    INTEGER NOT NULL DEFAULT 0,
  evidence BLOB
);
CREATE INDEX objects_by_state ON objects (state, created);
CREATE INDEX objects_by_digest ON objects (owner, alg, digest);
CREATE INDEX objects_by_expiry ON objects (expires);
CREATE TABLE transactions (
  owner    TEXT NOT NULL,
  key      TEXT NOT NULL,
  artifact TEXT NOT NULL UNIQUE,
  refs     TEXT NOT NULL,
  created  INTEGER NOT NULL,
  PRIMARY KEY (owner, key)
);
CREATE TABLE cursors (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE batches (
  id      INTEGER PRIMARY KEY,
  objects INTEGER NOT NULL,
  stamped INTEGER NOT NULL
);
)sql";
constexpr std::array<crypto::Migration, 1> kSchema{{{1, kSchemaV1}}};

constexpr std::string_view kColumns =
    "ref, owner, state, blob_id, size, alg, digest, metadata, policy, created, granted, "
    "expires, deleted, verified, evidence";

using Bind = std::variant<std::int64_t, std::string_view, crypto::ByteView>;

Result<crypto::Statement> prepared(crypto::SealedDb& db, std::string_view sql,
                                   std::initializer_list<Bind> binds) {
    auto st = db.prepare(sql);
    if (!st) return tl::unexpected(st.error());
    int i = 1;
    for (const Bind& b : binds) {
        Result<void> r;
        if (const auto* n = std::get_if<std::int64_t>(&b)) r = st->bind_int64(i, *n);
        if (const auto* s = std::get_if<std::string_view>(&b)) r = st->bind_text(i, *s);
        if (const auto* v = std::get_if<crypto::ByteView>(&b)) r = st->bind_blob(i, *v);
        if (!r) return tl::unexpected(r.error());
        ++i;
    }
    return st;
}

ObjectRow read_row(const crypto::Statement& st) {
    ObjectRow r;
    r.reference = st.column_text(0);
    r.owner = st.column_text(1);
    r.state = st.column_text(2);
    r.blob_id = st.column_text(3);
    r.size = st.column_int64(4);
    r.alg = st.column_text(5);
    r.digest = st.column_blob(6);
    r.metadata = metadata_from_json(st.column_text(7));
    r.policy = st.column_text(8);
    r.created = st.column_int64(9);
    r.granted = st.column_int64(10);
    r.expires = st.column_int64(11);
    r.deleted = st.column_int64(12);
    r.verified = st.column_int64(13);
    r.evidence = st.column_blob(14);
    return r;
}

Result<std::vector<ObjectRow>> rows_of(Result<crypto::Statement> st) {
    if (!st) return tl::unexpected(st.error());
    std::vector<ObjectRow> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(read_row(*st));
    }
}

Result<std::optional<Catalog::Txn>> txn_of(Result<crypto::Statement> st) {
    if (!st) return tl::unexpected(st.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<Catalog::Txn>{};
    Catalog::Txn t;
    t.owner = st->column_text(0);
    t.key = st->column_text(1);
    t.artifact = st->column_text(2);
    const auto refs = nlohmann::json::parse(st->column_text(3), nullptr, false);
    if (!refs.is_array()) return fail(Errc::integrity_failure, "archive catalogue: a transaction row");
    for (const auto& r : refs) {
        if (!r.is_string()) return fail(Errc::integrity_failure, "archive catalogue: a transaction row");
        t.references.push_back(r.get<std::string>());
    }
    return std::optional<Catalog::Txn>(std::move(t));
}

Result<std::int64_t> single_int(Result<crypto::Statement> st) {
    if (!st) return tl::unexpected(st.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    return *row ? st->column_int64(0) : 0;
}

}  // namespace

std::string metadata_to_json(const std::vector<MetaEntry>& metadata) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& m : metadata) j.push_back({m.name, m.value});
    return j.dump();
}

std::vector<MetaEntry> metadata_from_json(std::string_view json) {
    std::vector<MetaEntry> out;
    const auto j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& e : j) {
        if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
            out.push_back({e[0].get<std::string>(), e[1].get<std::string>()});
        }
    }
    return out;
}

Result<Catalog> Catalog::open(const std::filesystem::path& path, crypto::KeyWrapper& kek) {
    crypto::SealedDbOptions options;
    options.cache_kib = 512;  // written once per object and seal; read by LTAP requests
    auto db = crypto::SealedDb::open_or_create(path, kek, options);
    if (!db) return tl::unexpected(db.error().wrap("archive catalogue"));
    if (auto v = db->migrate(kSchema); !v) {
        return tl::unexpected(v.error().wrap("archive catalogue schema"));
    }
    return Catalog(std::move(*db));
}

Result<std::optional<ObjectRow>> Catalog::find(std::string_view reference) {
    auto rows = rows_of(prepared(db_, "SELECT " + std::string(kColumns) + " FROM objects WHERE ref = ?1",
                                 {reference}));
    if (!rows) return tl::unexpected(rows.error());
    if (rows->empty()) return std::optional<ObjectRow>{};
    return std::optional<ObjectRow>(std::move(rows->front()));
}

Result<std::vector<ObjectRow>> Catalog::find_by_digest(std::string_view owner, std::string_view alg,
                                                       crypto::ByteView digest) {
    if (owner.empty()) {  // any owner's (administrative callers)
        return rows_of(prepared(db_,
                                "SELECT " + std::string(kColumns) +
                                    " FROM objects WHERE alg = ?1 AND digest = ?2 "
                                    "ORDER BY created, ref LIMIT 64",
                                {alg, digest}));
    }
    return rows_of(prepared(db_,
                            "SELECT " + std::string(kColumns) +
                                " FROM objects WHERE owner = ?1 AND alg = ?2 AND digest = ?3 "
                                "ORDER BY created, ref LIMIT 64",
                            {owner, alg, digest}));
}

Result<std::optional<Catalog::Txn>> Catalog::find_txn(std::string_view owner, std::string_view key) {
    return txn_of(prepared(db_,
                           "SELECT owner, key, artifact, refs FROM transactions "
                           "WHERE owner = ?1 AND key = ?2",
                           {owner, key}));
}

Result<std::optional<Catalog::Txn>> Catalog::find_txn_by_artifact(std::string_view artifact) {
    return txn_of(prepared(
        db_, "SELECT owner, key, artifact, refs FROM transactions WHERE artifact = ?1", {artifact}));
}

Result<void> Catalog::insert_archive(const std::vector<ObjectRow>& rows, const Txn& t,
                                     std::int64_t now) {
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    for (const ObjectRow& r : rows) {
        const std::string meta = metadata_to_json(r.metadata);
        auto st = prepared(db_,
                           "INSERT INTO objects (ref, owner, state, blob_id, size, alg, digest, "
                           "metadata, policy, created, expires) VALUES (?1, ?2, 'pending', ?3, ?4, "
                           "?5, ?6, ?7, ?8, ?9, ?10)",
                           {r.reference, r.owner, r.blob_id, r.size, r.alg,
                            crypto::ByteView(r.digest), meta, r.policy, r.created, r.expires});
        if (!st) return tl::unexpected(st.error());
        if (auto done = st->run(); !done) return done;
    }
    const std::string refs = nlohmann::json(t.references).dump();
    auto st = prepared(db_,
                       "INSERT INTO transactions (owner, key, artifact, refs, created) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
                       {t.owner, t.key, t.artifact, refs, now});
    if (!st) return tl::unexpected(st.error());
    if (auto done = st->run(); !done) return done;
    return tx->commit();
}

Result<std::vector<ObjectRow>> Catalog::pending(std::size_t limit) {
    return rows_of(prepared(db_,
                            "SELECT " + std::string(kColumns) +
                                " FROM objects WHERE state = 'pending' ORDER BY created, ref "
                                "LIMIT ?1",
                            {static_cast<std::int64_t>(limit)}));
}

Result<std::size_t> Catalog::pending_count() {
    auto n = single_int(prepared(db_, "SELECT count(*) FROM objects WHERE state = 'pending'", {}));
    if (!n) return tl::unexpected(n.error());
    return static_cast<std::size_t>(*n);
}

Result<std::optional<std::int64_t>> Catalog::oldest_pending() {
    auto st = prepared(db_, "SELECT min(created) FROM objects WHERE state = 'pending'", {});
    if (!st) return tl::unexpected(st.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row || st->column_is_null(0)) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>(st->column_int64(0));
}

Result<std::vector<ObjectRow>> Catalog::granted_page(std::string_view after, std::size_t limit) {
    return rows_of(prepared(db_,
                            "SELECT " + std::string(kColumns) +
                                " FROM objects WHERE state = 'granted' AND ref > ?1 ORDER BY ref "
                                "LIMIT ?2",
                            {after, static_cast<std::int64_t>(limit)}));
}

Result<std::int64_t> Catalog::grant(const std::vector<ObjectRow>& rows,
                                    const std::vector<crypto::Bytes>& evidence, std::int64_t now) {
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    auto batch = prepared(db_, "INSERT INTO batches (objects, stamped) VALUES (?1, ?2)",
                          {static_cast<std::int64_t>(rows.size()), now});
    if (!batch) return tl::unexpected(batch.error());
    if (auto r = batch->run(); !r) return tl::unexpected(r.error());
    const std::int64_t id = db_.last_insert_rowid();
    std::int64_t granted = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto st = prepared(db_,
                           "UPDATE objects SET state = 'granted', granted = ?1, batch = ?2, "
                           "evidence = ?3 WHERE ref = ?4 AND state = 'pending'",
                           {now, id, crypto::ByteView(evidence[i]), rows[i].reference});
        if (!st) return tl::unexpected(st.error());
        if (auto r = st->run(); !r) return tl::unexpected(r.error());
        granted += db_.changes();
    }
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    return granted;
}

Result<void> Catalog::set_evidence(const std::vector<ObjectRow>& rows,
                                   const std::vector<crypto::Bytes>& evidence) {
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto st = prepared(db_, "UPDATE objects SET evidence = ?1 WHERE ref = ?2 AND state = 'granted'",
                           {crypto::ByteView(evidence[i]), rows[i].reference});
        if (!st) return tl::unexpected(st.error());
        if (auto r = st->run(); !r) return tl::unexpected(r.error());
    }
    return tx->commit();
}

Result<void> Catalog::set_verified(std::string_view reference, std::int64_t now) {
    auto st = prepared(db_, "UPDATE objects SET verified = ?1 WHERE ref = ?2", {now, reference});
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

Result<void> Catalog::mark_deleted(std::string_view reference, const std::vector<MetaEntry>& metadata,
                                   std::int64_t now) {
    const std::string meta = metadata_to_json(metadata);
    auto st = prepared(db_,
                       "UPDATE objects SET state = 'deleted', deleted = ?1, metadata = ?2, "
                       "digest = x'', evidence = NULL, size = 0 WHERE ref = ?3",
                       {now, meta, reference});
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

Result<std::vector<ObjectRow>> Catalog::expired(std::int64_t now, std::size_t limit) {
    return rows_of(prepared(db_,
                            "SELECT " + std::string(kColumns) +
                                " FROM objects WHERE expires <= ?1 ORDER BY expires LIMIT ?2",
                            {now, static_cast<std::int64_t>(limit)}));
}

Result<void> Catalog::remove(std::string_view reference) {
    auto st = prepared(db_, "DELETE FROM objects WHERE ref = ?1", {reference});
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

Result<std::vector<std::string>> Catalog::blob_ids() {
    auto st = prepared(db_, "SELECT blob_id FROM objects WHERE state <> 'deleted'", {});
    if (!st) return tl::unexpected(st.error());
    std::vector<std::string> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return out;
        out.push_back(st->column_text(0));
    }
}

Result<std::uint64_t> Catalog::cursor(std::string_view name) {
    auto v = single_int(prepared(db_, "SELECT value FROM cursors WHERE name = ?1", {name}));
    if (!v) return tl::unexpected(v.error());
    return static_cast<std::uint64_t>(*v);
}

Result<void> Catalog::set_cursor(std::string_view name, std::uint64_t value) {
    auto st = prepared(db_,
                       // No upsert: bookworm's SQLCipher is SQLite 3.15 (upsert
                       // came with 3.24); the row is only (name, value).
                       "INSERT OR REPLACE INTO cursors (name, value) VALUES (?1, ?2)",
                       {name, static_cast<std::int64_t>(value)});
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

Result<ArchiveService::Counts> Catalog::counts() {
    auto st = prepared(db_, "SELECT state, count(*) FROM objects GROUP BY state", {});
    if (!st) return tl::unexpected(st.error());
    ArchiveService::Counts c;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return c;
        const std::string state = st->column_text(0);
        const auto n = static_cast<std::uint64_t>(st->column_int64(1));
        if (state == "pending") c.pending = n;
        if (state == "granted") c.granted = n;
        if (state == "deleted") c.deleted = n;
    }
}

}  // namespace enclave::archive::detail
