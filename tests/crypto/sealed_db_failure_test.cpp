// SPDX-License-Identifier: Apache-2.0
// SealedDb refuses what it cannot trust, each time with its own error.
#include <sodium.h>
#include <sqlcipher/sqlite3.h>

#include <set>

#include <gtest/gtest.h>

#include "crypto/sealed_db.hpp"
#include "sealed_db_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using test::read_all;
using test::write_all;
namespace fs = std::filesystem;

class SealedDbFailureTest : public ::testing::Test {
protected:
    testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-a", Secret::random(32)};
    fs::path db_ = dir_.path() / "a.db";
    fs::path key_ = SealedDb::default_key_path(db_);

    /// A closed database with enough rows for a few pages, WAL checkpointed.
    void make_db(const fs::path& path) {
        auto db = SealedDb::create(path, kek_);
        ASSERT_TRUE(db) << db.error().message();
        ASSERT_TRUE(db->exec("CREATE TABLE t(x TEXT);"
                             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 60)"
                             "INSERT INTO t SELECT hex(randomblob(300)) FROM c;"));
        ASSERT_TRUE(db->checkpoint_truncate());
    }

    /// Opens and returns the error; fails the test when it opens.
    Error open_error(const SealedDbOptions& options = {}) {
        auto r = SealedDb::open(db_, kek_, options);
        EXPECT_FALSE(r) << "opened although it should not";
        return r ? Error(Errc::internal, "opened") : r.error();
    }

    static void expect(const Error& e, Errc code, const std::string& fragment) {
        EXPECT_EQ(e.code(), code) << e.message();
        EXPECT_NE(e.context().find(fragment), std::string::npos)
            << "'" << fragment << "' not in: " << e.message();
    }
};

TEST_F(SealedDbFailureTest, MissingKeyFileIsNotFound) {
    make_db(db_);
    fs::remove(key_);
    Error e = open_error();
    expect(e, Errc::not_found, "key file");
    expect(e, Errc::not_found, "cannot be opened without it");
}

TEST_F(SealedDbFailureTest, MissingDatabaseIsNotFound) {
    expect(open_error(), Errc::not_found, "database");
    make_db(db_);
    fs::remove(db_);
    expect(open_error(), Errc::not_found, "does not exist");
}

TEST_F(SealedDbFailureTest, WrongKekIsNamedByItsId) {
    make_db(db_);
    SecretKeyWrapper other("kek-b", Secret::random(32));
    auto r = SealedDb::open(db_, other);
    ASSERT_FALSE(r);
    expect(r.error(), Errc::integrity_failure, "wrapped by KEK 'kek-a', not by the KEK in use ('kek-b')");
}

TEST_F(SealedDbFailureTest, SameIdOtherKekDoesNotAuthenticate) {
    make_db(db_);
    SecretKeyWrapper impostor("kek-a", Secret::random(32));
    auto r = SealedDb::open(db_, impostor);
    ASSERT_FALSE(r);
    expect(r.error(), Errc::integrity_failure, "does not authenticate under KEK 'kek-a'");
}

TEST_F(SealedDbFailureTest, SwappedKeyFilesAreAWrongKey) {
    make_db(db_);
    const fs::path b = dir_.path() / "b.db";
    make_db(b);
    const Bytes key_a = read_all(key_);
    write_all(key_, read_all(SealedDb::default_key_path(b)));
    write_all(SealedDb::default_key_path(b), key_a);
    expect(open_error(), Errc::db_wrong_key, "key file was made for a different database");
    auto rb = SealedDb::open(b, kek_);
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().code(), Errc::db_wrong_key);
    // The same key files still open when put back.
    write_all(SealedDb::default_key_path(b), read_all(key_));
    write_all(key_, key_a);
    EXPECT_TRUE(SealedDb::open(db_, kek_));
    EXPECT_TRUE(SealedDb::open(b, kek_));
}

TEST_F(SealedDbFailureTest, NoBitFlipInTheKeyFileOpens) {
    make_db(db_);
    const Bytes good = read_all(key_);
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
        Bytes t = good;
        t[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        write_all(key_, t);
        auto r = SealedDb::open(db_, kek_);
        ASSERT_FALSE(r) << "opened with bit " << bit << " flipped";
        const Errc c = r.error().code();
        EXPECT_TRUE(c == Errc::malformed_input || c == Errc::integrity_failure)
            << "bit " << bit << ": " << r.error().message();
    }
    write_all(key_, good);
    EXPECT_TRUE(SealedDb::open(db_, kek_));
}

TEST_F(SealedDbFailureTest, TruncatedDatabaseIsRefused) {
    make_db(db_);
    const Bytes full = read_all(db_);
    ASSERT_GE(full.size(), 5u * 4096);
    write_all(db_, ByteView(full).first(full.size() - 100));
    expect(open_error(), Errc::integrity_failure, "not a whole number of 4096-byte pages");
    write_all(db_, ByteView(full).first(2 * 4096));
    expect(open_error(), Errc::integrity_failure, "corrupt or truncated");
    write_all(db_, ByteView(full).first(10));
    expect(open_error(), Errc::integrity_failure, "not a whole number");
    write_all(db_, ByteView{});
    expect(open_error(), Errc::integrity_failure, "is empty");
}

TEST_F(SealedDbFailureTest, GarbageDatabaseIsRefused) {
    make_db(db_);
    write_all(db_, as_bytes("this is not a database at all\n"));
    expect(open_error(), Errc::integrity_failure, "not a whole number");
    // Random whole pages cannot be told from another database's file: a
    // different salt, so the key file "belongs to a different database".
    Bytes noise(3 * 4096);
    randombytes_buf(noise.data(), noise.size());
    write_all(db_, noise);
    expect(open_error(), Errc::db_wrong_key, "the database file was replaced");
    write_all(db_, Bytes(3 * 4096, 0));
    EXPECT_EQ(open_error().code(), Errc::db_wrong_key);
}

TEST_F(SealedDbFailureTest, PlaintextSqliteFileIsRefused) {
    make_db(db_);
    fs::remove(db_);
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
    expect(open_error(), Errc::integrity_failure, "plaintext SQLite file");
}

TEST_F(SealedDbFailureTest, AlteredFirstPageDoesNotAuthenticate) {
    make_db(db_);
    Bytes file = read_all(db_);
    file[100] ^= 0x01;
    write_all(db_, file);
    expect(open_error(), Errc::integrity_failure, "does not authenticate under its own key");
}

TEST_F(SealedDbFailureTest, AlteredInnerPageIsCaughtOnOpenOrOnRead) {
    make_db(db_);
    Bytes file = read_all(db_);
    const std::size_t last_page = file.size() / 4096 - 1;
    file[last_page * 4096 + 1000] ^= 0x80;
    write_all(db_, file);
    expect(open_error(), Errc::integrity_failure, "failed its integrity check");

    SealedDbOptions lazy;
    lazy.verify_on_open = false;
    auto db = SealedDb::open(db_, kek_, lazy);
    ASSERT_TRUE(db) << db.error().message();
    auto all = db->prepare("SELECT count(*), sum(length(x)) FROM t");
    ASSERT_TRUE(all);
    auto r = all->step();
    ASSERT_FALSE(r) << "read an altered page";
    EXPECT_EQ(r.error().code(), Errc::db_error);
    auto check = db->quick_check();
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().code(), Errc::integrity_failure);
}

TEST_F(SealedDbFailureTest, EveryFailureHasItsOwnMessage) {
    make_db(db_);
    const Bytes good_db = read_all(db_);
    const Bytes good_key = read_all(key_);
    std::set<std::string> messages;
    auto record = [&](const Error& e) { messages.insert(e.message()); };

    SecretKeyWrapper other("kek-b", Secret::random(32));
    SecretKeyWrapper impostor("kek-a", Secret::random(32));
    record(SealedDb::open(db_, other).error());
    record(SealedDb::open(db_, impostor).error());
    fs::remove(key_);
    record(open_error());
    write_all(key_, as_bytes("ENCLWKEY"));
    record(open_error());
    write_all(key_, good_key);
    write_all(db_, ByteView(good_db).first(good_db.size() - 1));
    record(open_error());
    write_all(db_, ByteView(good_db).first(2 * 4096));
    record(open_error());
    Bytes flipped = good_db;
    flipped[100] ^= 1;
    write_all(db_, flipped);
    record(open_error());
    Bytes noise(2 * 4096);
    randombytes_buf(noise.data(), noise.size());
    write_all(db_, noise);
    record(open_error());
    EXPECT_EQ(messages.size(), 8u);
    for (const auto& m : messages) {
        EXPECT_FALSE(m.empty());
    }
}

}  // namespace
}  // namespace enclave::crypto
