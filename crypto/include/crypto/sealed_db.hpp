// SPDX-License-Identifier: Apache-2.0
#pragma once
// SealedDb: one SQLCipher database file whose key exists on disk only wrapped
// by the token KEK. The outbox, the task store and the audit store each open
// their own.
//
// Files (all mode 0600; the directory should be 0700):
//   <db>        the SQLCipher database. It never begins with "SQLite format 3":
//               its first 16 bytes are the SQLCipher salt, everything after is
//               ciphertext.
//   <db>-wal    write-ahead log: whole encrypted pages, same cipher as <db>.
//   <db>-shm    WAL index: page numbers and frame offsets, no row content.
//   <db>.key    WrappedKeyFile (crypto/wrapped_key_file.hpp): the KEK id and
//               the 32-byte database key wrapped by that KEK.
//
// Key. A random 32-byte key (Secret::random) used as SQLCipher's *raw* key:
// it is passed with sqlite3_key() as the key spec x'<64 hex key><32 hex salt>',
// which skips SQLCipher's passphrase KDF (PBKDF2). The spec is built in a
// Secret (sodium_malloc memory) and that Secret is wiped as soon as the first
// read has made SQLCipher derive its keys; it never goes through a std::string
// or an SQL text (no "PRAGMA key = ..." statement exists that could be logged,
// traced or cached). The salt is not random: it is
// BLAKE2b-128(key = database key, "enclave/sealed-db/salt/v1") so it works as
// a key check value. SQLCipher writes it in clear as the first 16 bytes of the
// file, and open() compares it with the unwrapped key before keying. A key
// file made for another database is then named as such (db_wrong_key), apart
// from a database whose pages fail authentication (integrity_failure). The
// salt reveals nothing about the key (a PRF output); with a raw key SQLCipher
// uses it only to derive the HMAC key.
//
// What SQLCipher 3.4.1 (Debian bookworm libsqlcipher0, SQLite 3.15.2) does
// with the key: it copies the spec into memory from sqlcipher_malloc (SQLite
// heap, then mlock(), best effort: a failed mlock is ignored), decodes the hex
// key, and wipes and frees the spec copy after deriving. For the life of the
// connection it keeps, in mlock'd memory wiped on close: the encryption key,
// the HMAC key, and a hex "keyspec" (key and salt) that it keeps for ATTACH.
// SQLCipher 3.4.1 has no PRAGMA cipher_memory_security (that came with 4.0):
// the page cache and every value bound or read live in the ordinary SQLite
// heap as plaintext and are NOT wiped when freed.
//
// On-disk settings. They are pinned explicitly on every open, so a changed
// compile-time default cannot silently change the format, and read back and
// checked:
//   cipher                AES-256-CBC (3.4.1 deprecates setting it, so it is
//                         only read back), a fresh random 16-byte IV per page
//                         write
//   cipher_use_hmac       ON: HMAC-SHA1 over (ciphertext || IV || page number,
//                         LE) per page. HMAC key = PBKDF2-HMAC-SHA1(key,
//                         salt XOR 0x3a, fast_kdf_iter = 2). A wrong key, a
//                         flipped bit or a page moved to another position fails
//                         to open/read. Not detected: replacing a whole page,
//                         or the whole file, with an older version of itself
//                         (no freshness).
//   cipher_page_size      4096 (per-page reserve 48 bytes: IV 16 + HMAC 20 +
//                         padding)
//   fast_kdf_iter         2,  cipher_hmac_pgno le  (3.x defaults, pinned)
//   kdf_iter              not used: the raw key skips the KDF
// SQLCipher 4.x changes the defaults (HMAC-SHA512, PBKDF2-SHA512) and drops
// some of these pragmas. open() refuses a SQLCipher whose major version is not
// 3, rather than write a different format: moving to 4.x needs
// "PRAGMA cipher_compatibility = 3" or a migration, and its own tests.
//
// SQLite settings on every connection, each read back and checked:
//   secure_delete = ON   deleted content is overwritten with zeros (in the
//                        page, then re-encrypted). With WAL, older page images
//                        stay in <db>-wal until a checkpoint: call
//                        checkpoint_truncate() after deleting sensitive rows.
//   journal_mode  = WAL  readers do not block the writer (nor it them).
//   foreign_keys  = ON
//   temp_store    = MEMORY  sorter and temp tables never spill to a file.
//   synchronous   = FULL    a committed transaction survives power loss.
//   cell_size_check = ON    extra corruption checks on b-tree pages.
// An authorizer then refuses, for all SQL given to exec()/prepare():
// ATTACH/DETACH, the key pragmas (key, rekey, hexkey, hexrekey,
// cipher_migrate), setting any cipher_* pragma or any of the settings above or
// user_version/writable_schema/locking_mode, and sqlcipher_export(). Such SQL
// fails with db_error "... (not authorized ...)" (SQLITE_AUTH, or
// SQLITE_ERROR for the function).
//
// Thread-safety. A SealedDb is one SQLite connection opened with
// SQLITE_OPEN_FULLMUTEX: calls from several threads cannot corrupt SQLite's
// state, but a transaction belongs to the connection, not to a thread. Use a
// SealedDb (and its Statements and Transactions) from one thread at a time, or
// behind the owner's mutex; for concurrent readers open a second SealedDb on
// the same file (WAL lets them read while the writer writes).
//
// Holds: no key. The SealedDb object owns only the connection; the raw key
// is a local Secret inside create()/open() and is wiped before they return.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

// SQLite's handle types, declared here so this header does not need
// <sqlcipher/sqlite3.h> (SQLCipher is a private dependency of enclave_crypto).
struct sqlite3_stmt;

namespace enclave::crypto {

namespace detail {
struct Connection;
}

struct SealedDbOptions {
    /// Where the wrapped key lives. Empty: SealedDb::default_key_path(db).
    std::filesystem::path key_path;
    /// How long a statement waits for another connection's lock before it
    /// fails with SQLITE_BUSY.
    std::chrono::milliseconds busy_timeout{5000};
    /// open() runs PRAGMA quick_check: reads and authenticates every page
    /// (O(database size)), so a truncated or altered file is refused at start
    /// rather than at the first query that touches the bad page.
    bool verify_on_open = true;
    /// This connection's page cache, KiB (PRAGMA cache_size = -cache_kib),
    /// 64..65536. Each connection has its own cache and fills it as it
    /// reads, so the sum over connections is the daemon's SQLite memory
    /// ceiling (docs/performance.md, "Memory budget"); SQLite's own default
    /// would be 2000 KiB each.
    std::uint32_t cache_kib = 1024;
};

/// Page caches of the small stores (endpoints, PSKs, tasks): their files
/// stay small, so a small cache holds all of them.
inline constexpr std::uint32_t kSmallStoreCacheKib = 256;

/// One schema step: `sql` (one or more statements, no transaction control, no
/// PRAGMA assignments) brings the schema from version-1 to `version`.
struct Migration {
    int version;
    std::string_view sql;
};

enum class ColumnType { integer, real, text, blob, null };

enum class TransactionMode {
    deferred,   ///< BEGIN: takes locks on first read/write (for read-only work)
    immediate,  ///< BEGIN IMMEDIATE: the write lock now, so a writer never fails halfway
    exclusive,  ///< BEGIN EXCLUSIVE
};

/// A prepared statement (RAII: sqlite3_finalize). It keeps its connection
/// alive, so it may outlive the SealedDb object that made it.
/// Bind indexes are 1-based and column indexes 0-based, as in SQLite.
class Statement {
public:
    /// A moved-from Statement may only be destroyed or assigned to.
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    /// Binds copy the value into SQLite's memory (SQLITE_TRANSIENT), so the
    /// argument may be destroyed or wiped right after the call. An empty text
    /// or blob binds an empty value, not NULL.
    Result<void> bind_int64(int index, std::int64_t value);
    Result<void> bind_text(int index, std::string_view value);
    Result<void> bind_blob(int index, ByteView value);
    Result<void> bind_null(int index);

    /// true: a row is available for the column getters; false: done.
    Result<bool> step();
    /// Steps to the end, discarding any rows (INSERT, UPDATE, DELETE, DDL).
    Result<void> run();
    /// Ready to run again: resets the statement and clears every binding.
    void reset() noexcept;

    [[nodiscard]] int column_count() const noexcept;
    /// Column getters. Require: the last step() returned true and
    /// 0 <= col < column_count(); otherwise they throw std::logic_error (a
    /// broken invariant in the caller). SQLite converts between types; NULL
    /// reads as 0, "" or empty.
    [[nodiscard]] ColumnType column_type(int col) const;
    [[nodiscard]] bool column_is_null(int col) const;
    [[nodiscard]] std::int64_t column_int64(int col) const;
    [[nodiscard]] std::string column_text(int col) const;
    [[nodiscard]] Bytes column_blob(int col) const;
    /// A text or blob column copied straight into secure memory.
    [[nodiscard]] Secret column_secret(int col) const;

private:
    friend class SealedDb;
    struct Finalizer {
        void operator()(::sqlite3_stmt* stmt) const noexcept;
    };
    Statement(std::shared_ptr<detail::Connection> conn, ::sqlite3_stmt* stmt) noexcept;
    void require_row(int col) const;

    std::shared_ptr<detail::Connection> conn_;  // destroyed after stmt_
    std::unique_ptr<::sqlite3_stmt, Finalizer> stmt_;
    bool has_row_ = false;
};

/// RAII transaction: rolled back on destruction unless commit() succeeded.
class Transaction {
public:
    Transaction(Transaction&&) noexcept;
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();

    /// On failure (e.g. SQLITE_BUSY) the transaction is still open and the
    /// destructor rolls it back.
    Result<void> commit();
    Result<void> rollback();
    [[nodiscard]] bool active() const noexcept { return active_; }

private:
    friend class SealedDb;
    explicit Transaction(std::shared_ptr<detail::Connection> conn) noexcept;

    std::shared_ptr<detail::Connection> conn_;
    bool active_ = true;
};

class SealedDb {
public:
    /// Creates a new database and its key file. Refuses (already_exists) when
    /// the database, its key file, or a -wal/-shm/-journal beside it exists.
    /// The key file is written first (0600, fsync'd), then the database. On
    /// failure both are removed again. The KEK id must be 1-255 printable
    /// ASCII characters (invalid_argument otherwise).
    static Result<SealedDb> create(const std::filesystem::path& db_path, KeyWrapper& kek,
                                   const SealedDbOptions& options = {});

    /// Opens an existing database. Errors, checked in this order:
    ///  not_found         database or key file missing
    ///  malformed_input   the key file does not parse
    ///  integrity_failure key file wrapped by a different KEK (ids differ:
    ///                    both ids are named), or it does not authenticate
    ///                    under this KEK (altered, or same id, other key)
    ///  integrity_failure the database file is empty, a plaintext SQLite
    ///                    file, not a whole number of 4096-byte pages, or
    ///                    fails authentication / integrity checks with its
    ///                    own key (corrupt, truncated or altered)
    ///  db_wrong_key      the key file belongs to a different database (the
    ///                    file's salt is not the key's), or the file was
    ///                    replaced by something else
    ///  db_error          anything else SQLite reports (name and message)
    static Result<SealedDb> open(const std::filesystem::path& db_path, KeyWrapper& kek,
                                 const SealedDbOptions& options = {});

    /// create() when neither the database nor its key file exists, open()
    /// otherwise (so a lost key file is an error, never a fresh database).
    static Result<SealedDb> open_or_create(const std::filesystem::path& db_path, KeyWrapper& kek,
                                           const SealedDbOptions& options = {});

    /// "<db_path>.key".
    static std::filesystem::path default_key_path(const std::filesystem::path& db_path);

    /// True when every block SQLite frees is wiped first (a wiping allocator
    /// installed before SQLite initialises; see sealed_db_memory.cpp). create()
    /// and open() refuse to run without it.
    static bool sqlite_heap_wiped() noexcept;
    /// Blocks the wiping allocator has handed out so far (lets a test prove
    /// SQLite really allocates through it).
    static std::uint64_t sqlite_heap_allocations() noexcept;

    /// KEK rotation: unwraps the database key with `current`, checks it
    /// belongs to the database, wraps it with `next` and atomically replaces
    /// the key file. The database itself is not touched. Same errors as open()
    /// for the key file and the salt check.
    static Result<void> rewrap_key(const std::filesystem::path& db_path, KeyWrapper& current,
                                   KeyWrapper& next, const SealedDbOptions& options = {});

    /// A moved-from SealedDb may only be destroyed or assigned to.
    SealedDb(SealedDb&&) noexcept;
    SealedDb& operator=(SealedDb&&) noexcept;
    SealedDb(const SealedDb&) = delete;
    SealedDb& operator=(const SealedDb&) = delete;
    /// Closes the connection once no Statement or Transaction uses it.
    ~SealedDb();

    /// Runs one or more statements that take no parameters (DDL). Never build
    /// SQL from values: bind them with prepare().
    Result<void> exec(std::string_view sql);
    /// Prepares exactly one statement (invalid_argument when `sql` holds none
    /// or more than one).
    Result<Statement> prepare(std::string_view sql);
    Result<Transaction> begin(TransactionMode mode = TransactionMode::immediate);

    /// Brings the schema to the last step's version. Requires steps[i].version
    /// == i + 1 (invalid_argument otherwise). Applies each missing step in its
    /// own BEGIN IMMEDIATE transaction together with PRAGMA user_version, so a
    /// failing step rolls back and leaves the previous version intact. A
    /// database newer than the last step is refused (db_error), never
    /// downgraded. Returns the version now in the database.
    Result<int> migrate(std::span<const Migration> steps);
    /// PRAGMA user_version.
    Result<int> schema_version();

    /// PRAGMA wal_checkpoint(TRUNCATE): copies the WAL into the database and
    /// truncates the WAL to zero bytes, so page images of deleted rows are
    /// gone from it. db_error (SQLITE_BUSY) when another connection's reader
    /// or writer kept it from completing; retry later.
    Result<void> checkpoint_truncate();
    /// PRAGMA quick_check: integrity_failure naming what failed.
    Result<void> quick_check();

    [[nodiscard]] std::int64_t last_insert_rowid() const noexcept;
    /// Rows changed by the last INSERT/UPDATE/DELETE.
    [[nodiscard]] std::int64_t changes() const noexcept;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    SealedDb(std::shared_ptr<detail::Connection> conn, std::filesystem::path path) noexcept;

    std::shared_ptr<detail::Connection> conn_;
    std::filesystem::path path_;
};

}  // namespace enclave::crypto
