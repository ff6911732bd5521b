// SPDX-License-Identifier: Apache-2.0
#include "crypto/sealed_db.hpp"

#include <sodium.h>
#include <sqlcipher/sqlite3.h>
#include <sys/stat.h>

#include <stdexcept>

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "sealed_db_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using test::read_all;

class SealedDbTest : public ::testing::Test {
protected:
    testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-a", Secret::random(32)};
    std::filesystem::path db_ = dir_.path() / "store.db";

    SealedDb create_with_table() {
        auto db = SealedDb::create(db_, kek_);
        EXPECT_TRUE(db) << db.error().message();
        EXPECT_TRUE(db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, s TEXT, b BLOB)"));
        return std::move(*db);
    }

    std::string pragma(SealedDb& db, const std::string& name) {
        auto st = db.prepare("PRAGMA " + name);
        EXPECT_TRUE(st) << st.error().message();
        auto row = st->step();
        EXPECT_TRUE(row && *row) << name;
        return st->column_text(0);
    }
};

mode_t file_mode(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
}

TEST_F(SealedDbTest, RoundTripsEveryTypeAcrossReopen) {
    const Bytes blob{0x00, 0x01, 0x00, 0xff};
    {
        SealedDb db = create_with_table();
        auto ins = db.prepare("INSERT INTO t(n, s, b) VALUES(?1, ?2, ?3)");
        ASSERT_TRUE(ins);
        ASSERT_TRUE(ins->bind_int64(1, -9007199254740993LL));
        ASSERT_TRUE(ins->bind_text(2, std::string_view("h\0llo", 5)));
        ASSERT_TRUE(ins->bind_blob(3, blob));
        ASSERT_TRUE(ins->run());
        EXPECT_EQ(db.changes(), 1);
        EXPECT_EQ(db.last_insert_rowid(), 1);
        ins->reset();
        ASSERT_TRUE(ins->bind_null(1));
        ASSERT_TRUE(ins->bind_text(2, ""));
        ASSERT_TRUE(ins->bind_blob(3, ByteView{}));
        ASSERT_TRUE(ins->run());
    }
    auto db = SealedDb::open(db_, kek_);
    ASSERT_TRUE(db) << db.error().message();
    auto sel = db->prepare("SELECT n, s, b FROM t ORDER BY id");
    ASSERT_TRUE(sel);
    ASSERT_TRUE(*sel->step());
    EXPECT_EQ(sel->column_int64(0), -9007199254740993LL);
    EXPECT_EQ(sel->column_text(1), std::string("h\0llo", 5));
    EXPECT_EQ(sel->column_blob(2), blob);
    EXPECT_EQ(sel->column_type(2), ColumnType::blob);
    EXPECT_TRUE(sel->column_secret(2).equals(Secret::copy_of(blob)));
    ASSERT_TRUE(*sel->step());
    EXPECT_TRUE(sel->column_is_null(0));
    EXPECT_EQ(sel->column_type(1), ColumnType::text) << "empty text must not bind as NULL";
    EXPECT_EQ(sel->column_type(2), ColumnType::blob) << "empty blob must not bind as NULL";
    EXPECT_TRUE(sel->column_blob(2).empty());
    EXPECT_FALSE(*sel->step());
}

TEST_F(SealedDbTest, ThePageCacheIsTheConfiguredBudget) {
    {
        SealedDb db = create_with_table();
        EXPECT_EQ(pragma(db, "cache_size"), "-1024") << "the default budget, not SQLite's 2000 KiB";
    }
    SealedDbOptions small;
    small.cache_kib = kSmallStoreCacheKib;
    auto db = SealedDb::open(db_, kek_, small);
    ASSERT_TRUE(db) << db.error().message();
    EXPECT_EQ(pragma(*db, "cache_size"), "-256");
    for (const std::uint32_t bad : {0u, 63u, 65537u, 0xffffffffu}) {
        SealedDbOptions o;
        o.cache_kib = bad;
        auto refused = SealedDb::open(db_, kek_, o);
        ASSERT_FALSE(refused) << bad;
        EXPECT_EQ(refused.error().code(), Errc::invalid_argument) << refused.error().message();
    }
}

TEST_F(SealedDbTest, LargeBlobRoundTrips) {
    SealedDb db = create_with_table();
    Bytes big(1 << 20);
    randombytes_buf(big.data(), big.size());
    auto ins = db.prepare("INSERT INTO t(b) VALUES(?)");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->bind_blob(1, big));
    ASSERT_TRUE(ins->run());
    auto sel = db.prepare("SELECT b FROM t");
    ASSERT_TRUE(sel);
    ASSERT_TRUE(*sel->step());
    EXPECT_EQ(sel->column_blob(0), big);
}

TEST_F(SealedDbTest, FilesAreEncryptedAndPrivate) {
    SealedDb db = create_with_table();
    ASSERT_TRUE(db.exec("INSERT INTO t(s) VALUES('x')"));
    const Bytes head = read_all(db_);
    ASSERT_GE(head.size(), 4096u);
    EXPECT_NE(std::string(head.begin(), head.begin() + 15), "SQLite format 3");
    EXPECT_EQ(head.size() % 4096, 0u);
    EXPECT_EQ(file_mode(db_), 0600u);
    EXPECT_EQ(file_mode(SealedDb::default_key_path(db_)), 0600u);
    EXPECT_EQ(file_mode(db_.string() + "-wal"), 0600u);
    EXPECT_EQ(file_mode(db_.string() + "-shm"), 0600u);
}

TEST_F(SealedDbTest, PlainSqliteWithoutAKeyCannotReadIt) {
    { SealedDb db = create_with_table(); }
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    const int rc = sqlite3_exec(raw, "SELECT * FROM t", nullptr, nullptr, nullptr);
    EXPECT_EQ(rc, SQLITE_NOTADB) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
}

TEST_F(SealedDbTest, SqlcipherCliNeedsTheRawKeyAndTheDocumentedSettings) {
    {
        SealedDb db = create_with_table();
        ASSERT_TRUE(db.exec("INSERT INTO t(s) VALUES('visible-with-key')"));
    }
    auto without = test::run_sqlcipher_cli(db_, "SELECT s FROM t;\n", dir_.path());
    EXPECT_NE(without.exit_code, 0);
    EXPECT_NE(without.output.find("file is encrypted or is not a database"), std::string::npos)
        << without.output;
    EXPECT_EQ(without.output.find("visible-with-key"), std::string::npos);

    // An operator holding the unwrapped key can read it with stock tools,
    // which pins the settings documented in sealed_db.hpp.
    const Secret key = test::unwrap_db_key(db_, kek_);
    const std::string key_hex = hex_encode(key.view());
    const std::string with_key = "PRAGMA key = \"x'" + key_hex + "'\";\nPRAGMA cipher_page_size = 4096;\n"
                                 "SELECT s FROM t;\n";
    auto with = test::run_sqlcipher_cli(db_, with_key, dir_.path());
    EXPECT_EQ(with.exit_code, 0) << with.output;
    EXPECT_NE(with.output.find("visible-with-key"), std::string::npos) << with.output;
}

TEST_F(SealedDbTest, SecuritySettingsAreInForce) {
    SealedDb db = create_with_table();
    EXPECT_EQ(pragma(db, "secure_delete"), "1");
    EXPECT_EQ(pragma(db, "foreign_keys"), "1");
    EXPECT_EQ(pragma(db, "journal_mode"), "wal");
    EXPECT_EQ(pragma(db, "temp_store"), "2");
    EXPECT_EQ(pragma(db, "synchronous"), "2");
    EXPECT_EQ(pragma(db, "cipher"), "AES-256-CBC");
    EXPECT_EQ(pragma(db, "cipher_use_hmac"), "1");
    EXPECT_EQ(pragma(db, "cipher_page_size"), "4096");
    EXPECT_EQ(pragma(db, "cipher_version").substr(0, 2), "3.");
}

TEST_F(SealedDbTest, SqlCannotChangeSecuritySettingsOrAttach) {
    SealedDb db = create_with_table();
    const char* refused[] = {
        "PRAGMA secure_delete = OFF",      "PRAGMA main.secure_delete = 0",
        "PRAGMA journal_mode = DELETE",    "PRAGMA foreign_keys = OFF",
        "PRAGMA temp_store = FILE",        "PRAGMA key = 'x'",
        "PRAGMA rekey = 'x'",              "PRAGMA cipher_use_hmac = OFF",
        "PRAGMA cipher_profile = 'f.log'", "PRAGMA user_version = 9",
        "PRAGMA writable_schema = ON",     "ATTACH DATABASE 'plain.db' AS p KEY ''",
        "SELECT sqlcipher_export('main')",
    };
    for (const char* sql : refused) {
        auto r = db.exec(sql);
        ASSERT_FALSE(r) << sql;
        EXPECT_EQ(r.error().code(), Errc::db_error) << sql;
        EXPECT_NE(r.error().context().find("not authorized"), std::string::npos) << r.error().message();
    }
    EXPECT_EQ(pragma(db, "secure_delete"), "1");
    EXPECT_EQ(pragma(db, "journal_mode"), "wal");
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "plain.db"));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "f.log"));
}

TEST_F(SealedDbTest, ForeignKeysAreEnforced) {
    SealedDb db = create_with_table();
    ASSERT_TRUE(db.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t(id))"));
    auto r = db.exec("INSERT INTO child(t_id) VALUES(42)");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().context().find("SQLITE_CONSTRAINT_FOREIGNKEY"), std::string::npos)
        << r.error().message();
}

TEST_F(SealedDbTest, ErrorsNameTheSqliteCodeButNeverABoundValue) {
    SealedDb db = create_with_table();
    ASSERT_TRUE(db.exec("CREATE UNIQUE INDEX t_s ON t(s)"));
    const std::string secret = "selector-value-4471-secret";
    for (int i = 0; i < 2; ++i) {
        auto ins = db.prepare("INSERT INTO t(s) VALUES(?)");
        ASSERT_TRUE(ins);
        ASSERT_TRUE(ins->bind_text(1, secret));
        auto r = ins->run();
        if (i == 0) {
            ASSERT_TRUE(r) << r.error().message();
            continue;
        }
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::db_error);
        EXPECT_NE(r.error().context().find("SQLITE_CONSTRAINT_UNIQUE"), std::string::npos)
            << r.error().message();
        EXPECT_EQ(r.error().message().find(secret), std::string::npos) << r.error().message();
    }
    auto bad = db.exec("SELEC 1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().context().find("SQLITE_ERROR"), std::string::npos);
    auto range = db.prepare("SELECT ?");
    ASSERT_TRUE(range);
    auto r = range->bind_int64(2, 1);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().context().find("SQLITE_RANGE"), std::string::npos) << r.error().message();
}

TEST_F(SealedDbTest, PrepareTakesExactlyOneStatement) {
    SealedDb db = create_with_table();
    EXPECT_TRUE(db.prepare("SELECT 1;  -- trailing comment\n ; "));
    auto two = db.prepare("SELECT 1; DELETE FROM t");
    ASSERT_FALSE(two);
    EXPECT_EQ(two.error().code(), Errc::invalid_argument);
    auto none = db.prepare("  -- nothing\n");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), Errc::invalid_argument);
}

TEST_F(SealedDbTest, ColumnReadsWithoutARowAreBrokenInvariants) {
    SealedDb db = create_with_table();
    auto st = db.prepare("SELECT 1");
    ASSERT_TRUE(st);
    EXPECT_THROW((void)st->column_int64(0), std::logic_error);
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->column_int64(0), 1);
    EXPECT_THROW((void)st->column_int64(1), std::logic_error);
    EXPECT_THROW((void)st->column_text(-1), std::logic_error);
    EXPECT_FALSE(*st->step());
    EXPECT_THROW((void)st->column_int64(0), std::logic_error);
}

std::int64_t count_rows(SealedDb& db) {
    auto st = db.prepare("SELECT count(*) FROM t");
    EXPECT_TRUE(st);
    auto row = st->step();
    EXPECT_TRUE(row && *row);
    return st->column_int64(0);
}

TEST_F(SealedDbTest, TransactionRollsBackUnlessCommitted) {
    SealedDb db = create_with_table();
    {
        auto tx = db.begin();
        ASSERT_TRUE(tx);
        ASSERT_TRUE(db.exec("INSERT INTO t(n) VALUES(1)"));
        EXPECT_EQ(count_rows(db), 1);
    }
    EXPECT_EQ(count_rows(db), 0);
    {
        auto tx = db.begin(TransactionMode::deferred);
        ASSERT_TRUE(tx);
        ASSERT_TRUE(db.exec("INSERT INTO t(n) VALUES(2)"));
        ASSERT_TRUE(tx->rollback());
        EXPECT_FALSE(tx->active());
        EXPECT_FALSE(tx->commit());
    }
    EXPECT_EQ(count_rows(db), 0);
    {
        auto tx = db.begin(TransactionMode::exclusive);
        ASSERT_TRUE(tx);
        auto nested = db.begin();
        ASSERT_FALSE(nested);
        EXPECT_EQ(nested.error().code(), Errc::db_error);
        ASSERT_TRUE(db.exec("INSERT INTO t(n) VALUES(3)"));
        ASSERT_TRUE(tx->commit());
    }
    EXPECT_EQ(count_rows(db), 1);
}

TEST_F(SealedDbTest, ReadersDoNotBlockTheWriter) {
    SealedDb writer = create_with_table();
    ASSERT_TRUE(writer.exec("INSERT INTO t(n) VALUES(1)"));
    SealedDbOptions quick;
    quick.busy_timeout = std::chrono::milliseconds(0);
    auto reader = SealedDb::open(db_, kek_, quick);
    ASSERT_TRUE(reader) << reader.error().message();
    auto read_tx = reader->begin(TransactionMode::deferred);
    ASSERT_TRUE(read_tx);
    EXPECT_EQ(count_rows(*reader), 1);  // the reader now holds a snapshot
    auto tx = writer.begin();
    ASSERT_TRUE(tx) << tx.error().message();
    ASSERT_TRUE(writer.exec("INSERT INTO t(n) VALUES(2)"));
    ASSERT_TRUE(tx->commit());
    EXPECT_EQ(count_rows(*reader), 1) << "a reader keeps its snapshot";
    ASSERT_TRUE(read_tx->commit());
    EXPECT_EQ(count_rows(*reader), 2);
}

TEST_F(SealedDbTest, CheckpointReportsBusyWhileAReaderHoldsTheWal) {
    SealedDbOptions quick;
    quick.busy_timeout = std::chrono::milliseconds(0);
    auto created = SealedDb::create(db_, kek_, quick);
    ASSERT_TRUE(created);
    SealedDb& writer = *created;
    ASSERT_TRUE(writer.exec("CREATE TABLE t(n INTEGER); INSERT INTO t VALUES(1);"));
    auto reader = SealedDb::open(db_, kek_, quick);
    ASSERT_TRUE(reader);
    auto read_tx = reader->begin(TransactionMode::deferred);
    ASSERT_TRUE(read_tx);
    EXPECT_EQ(count_rows(*reader), 1);
    ASSERT_TRUE(writer.exec("INSERT INTO t VALUES(2)"));
    auto busy = writer.checkpoint_truncate();
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code(), Errc::db_error);
    EXPECT_NE(busy.error().context().find("SQLITE_BUSY"), std::string::npos) << busy.error().message();
    ASSERT_TRUE(read_tx->commit());
    ASSERT_TRUE(writer.checkpoint_truncate());
    EXPECT_EQ(std::filesystem::file_size(db_.string() + "-wal"), 0u);
}

TEST_F(SealedDbTest, StatementKeepsItsConnectionAlive) {
    std::optional<Statement> st;
    {
        SealedDb db = create_with_table();
        ASSERT_TRUE(db.exec("INSERT INTO t(n) VALUES(7)"));
        auto p = db.prepare("SELECT n FROM t");
        ASSERT_TRUE(p);
        st.emplace(std::move(*p));
    }
    ASSERT_TRUE(*st->step());
    EXPECT_EQ(st->column_int64(0), 7);
}

TEST_F(SealedDbTest, CreateRefusesToOverwriteAnything) {
    { SealedDb db = create_with_table(); }
    const Bytes before = read_all(db_);
    auto again = SealedDb::create(db_, kek_);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    EXPECT_EQ(read_all(db_), before);

    const auto other = dir_.path() / "other.db";
    for (const char* suffix : {".key", "-wal", "-shm", "-journal"}) {
        const std::filesystem::path stray = other.string() + suffix;
        test::write_all(stray, as_bytes("stray"));
        auto r = SealedDb::create(other, kek_);
        ASSERT_FALSE(r) << suffix;
        EXPECT_EQ(r.error().code(), Errc::already_exists) << suffix;
        EXPECT_FALSE(std::filesystem::exists(other)) << suffix;
        EXPECT_EQ(read_all(stray), Bytes(as_bytes("stray").begin(), as_bytes("stray").end()));
        std::filesystem::remove(stray);
    }
}

TEST_F(SealedDbTest, CreateWithAnUnusableKekIdLeavesNothingBehind) {
    SecretKeyWrapper bad("line\nbreak", Secret::random(32));
    auto r = SealedDb::create(db_, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
}

TEST_F(SealedDbTest, OpenOrCreateNeverReplacesALostKeyWithAFreshDatabase) {
    {
        auto made = SealedDb::open_or_create(db_, kek_);
        ASSERT_TRUE(made) << made.error().message();
        ASSERT_TRUE(made->exec("CREATE TABLE t(x)"));
    }
    {
        auto reopened = SealedDb::open_or_create(db_, kek_);
        ASSERT_TRUE(reopened) << reopened.error().message();
        EXPECT_TRUE(reopened->prepare("SELECT x FROM t"));
    }
    std::filesystem::remove(SealedDb::default_key_path(db_));
    auto lost = SealedDb::open_or_create(db_, kek_);
    ASSERT_FALSE(lost);
    EXPECT_EQ(lost.error().code(), Errc::not_found);
}

TEST_F(SealedDbTest, RewrapMovesTheKeyToANewKek) {
    {
        SealedDb db = create_with_table();
        ASSERT_TRUE(db.exec("INSERT INTO t(n) VALUES(5)"));
    }
    SecretKeyWrapper next("kek-b", Secret::random(32));
    ASSERT_TRUE(SealedDb::rewrap_key(db_, kek_, next));
    auto old = SealedDb::open(db_, kek_);
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().code(), Errc::integrity_failure);
    auto db = SealedDb::open(db_, next);
    ASSERT_TRUE(db) << db.error().message();
    EXPECT_EQ(count_rows(*db), 1);
}

TEST_F(SealedDbTest, TheRawKeyIsNeverOnDisk) {
    SealedDb db = create_with_table();
    ASSERT_TRUE(db.exec("INSERT INTO t(s) VALUES('row')"));
    const Secret key = test::unwrap_db_key(db_, kek_);
    ASSERT_EQ(key.size(), 32u);
    std::string hex = hex_encode(key.view());
    std::string upper = hex;
    for (auto& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_TRUE(test::files_containing(dir_.path(), key.view()).empty());
    EXPECT_TRUE(test::files_containing(dir_.path(), as_bytes(hex)).empty());
    EXPECT_TRUE(test::files_containing(dir_.path(), as_bytes(upper)).empty());
    wipe(MutableByteView(reinterpret_cast<std::uint8_t*>(hex.data()), hex.size()));
    wipe(MutableByteView(reinterpret_cast<std::uint8_t*>(upper.data()), upper.size()));
}

}  // namespace
}  // namespace enclave::crypto

namespace enclave::crypto {
namespace {

TEST(SealedDbMemoryTest, SqliteAllocatesThroughTheWipingAllocator) {
    ASSERT_TRUE(SealedDb::sqlite_heap_wiped());
    const auto before = SealedDb::sqlite_heap_allocations();
    void* p = sqlite3_malloc(100);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(sqlite3_msize(p), 104u);  // rounded to 8 by our xRoundup, exact from our header
    sqlite3_free(p);
    EXPECT_GT(SealedDb::sqlite_heap_allocations(), before);
}

}  // namespace
}  // namespace enclave::crypto
