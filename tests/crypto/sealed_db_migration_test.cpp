// SPDX-License-Identifier: Apache-2.0
#include <vector>

#include <gtest/gtest.h>

#include "crypto/sealed_db.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

namespace fs = std::filesystem;

const std::vector<Migration> kSteps{
    {1, "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
        "INSERT INTO item(name) VALUES('seed');"},
    {2, "ALTER TABLE item ADD COLUMN state TEXT NOT NULL DEFAULT 'new';"},
    {3, "CREATE TABLE attempt(item_id INTEGER NOT NULL REFERENCES item(id), at INTEGER);"
        "CREATE INDEX attempt_item ON attempt(item_id);"},
};

std::span<const Migration> first(std::size_t n) { return std::span(kSteps).first(n); }

class SealedDbMigrationTest : public ::testing::Test {
protected:
    testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-a", Secret::random(32)};
    fs::path db_ = dir_.path() / "m.db";

    SealedDb open_db() {
        auto db = SealedDb::open_or_create(db_, kek_);
        EXPECT_TRUE(db) << db.error().message();
        return std::move(*db);
    }

    static std::int64_t scalar(SealedDb& db, const std::string& sql) {
        auto st = db.prepare(sql);
        EXPECT_TRUE(st) << st.error().message();
        auto row = st->step();
        EXPECT_TRUE(row && *row) << sql;
        return st->column_int64(0);
    }

    static bool table_exists(SealedDb& db, const std::string& name) {
        auto st = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
        EXPECT_TRUE(st);
        EXPECT_TRUE(st->bind_text(1, name));
        auto row = st->step();
        EXPECT_TRUE(row && *row);
        return st->column_int64(0) == 1;
    }
};

TEST_F(SealedDbMigrationTest, FreshDatabaseGetsEveryStep) {
    SealedDb db = open_db();
    EXPECT_EQ(*db.schema_version(), 0);
    auto v = db.migrate(kSteps);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(*v, 3);
    EXPECT_EQ(*db.schema_version(), 3);
    EXPECT_TRUE(table_exists(db, "attempt"));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM item WHERE state = 'new'"), 1);
}

TEST_F(SealedDbMigrationTest, ReopeningAppliesOnlyTheMissingSteps) {
    {
        SealedDb db = open_db();
        ASSERT_EQ(*db.migrate(first(2)), 2);
        ASSERT_TRUE(db.exec("UPDATE item SET state = 'sent'"));
    }
    {
        SealedDb db = open_db();
        EXPECT_EQ(*db.schema_version(), 2);
        // Step 1 again would fail (table exists) or add a second seed row.
        auto v = db.migrate(kSteps);
        ASSERT_TRUE(v) << v.error().message();
        EXPECT_EQ(*v, 3);
        EXPECT_EQ(scalar(db, "SELECT count(*) FROM item"), 1);
        EXPECT_EQ(scalar(db, "SELECT count(*) FROM item WHERE state = 'sent'"), 1);
        EXPECT_TRUE(table_exists(db, "attempt"));
    }
    SealedDb db = open_db();
    EXPECT_EQ(*db.migrate(kSteps), 3) << "an up-to-date database is left alone";
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM item"), 1);
}

TEST_F(SealedDbMigrationTest, NewerDatabaseIsRefusedNotDowngraded) {
    {
        SealedDb db = open_db();
        ASSERT_EQ(*db.migrate(kSteps), 3);
    }
    SealedDb db = open_db();
    auto r = db.migrate(first(2));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::db_error);
    EXPECT_NE(r.error().context().find("schema version 3, newer than this program knows (2)"),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(*db.schema_version(), 3);
    EXPECT_TRUE(table_exists(db, "attempt"));
    EXPECT_FALSE(db.migrate({}));
}

TEST_F(SealedDbMigrationTest, FailingStepRollsBackAndKeepsThePreviousVersion) {
    SealedDb db = open_db();
    ASSERT_EQ(*db.migrate(first(1)), 1);
    const std::vector<Migration> broken{
        kSteps[0],
        {2, "CREATE TABLE half(x); INSERT INTO item(name) VALUES('partial'); INSERT INTO nosuch VALUES(1);"},
    };
    auto r = db.migrate(broken);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::db_error);
    EXPECT_NE(r.error().context().find("migration to schema version 2"), std::string::npos);
    EXPECT_NE(r.error().context().find("no such table: nosuch"), std::string::npos) << r.error().message();
    EXPECT_EQ(*db.schema_version(), 1);
    EXPECT_FALSE(table_exists(db, "half"));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM item"), 1);
    // The connection is usable afterwards and the right steps still apply.
    EXPECT_EQ(*db.migrate(kSteps), 3);
}

TEST_F(SealedDbMigrationTest, StepsCannotControlTransactionsOrSetPragmas) {
    SealedDb db = open_db();
    ASSERT_EQ(*db.migrate(first(1)), 1);
    for (const char* sql : {"CREATE TABLE a(x); COMMIT; CREATE TABLE b(x);", "BEGIN; CREATE TABLE c(x);",
                            "PRAGMA user_version = 7;", "PRAGMA foreign_keys = OFF;",
                            "CREATE TABLE d(x); ROLLBACK;"}) {
        const std::vector<Migration> steps{kSteps[0], {2, sql}};
        auto r = db.migrate(steps);
        ASSERT_FALSE(r) << sql;
        EXPECT_NE(r.error().context().find("not authorized"), std::string::npos) << r.error().message();
        EXPECT_EQ(*db.schema_version(), 1) << sql;
    }
    EXPECT_FALSE(table_exists(db, "a"));
    EXPECT_FALSE(table_exists(db, "d"));
}

TEST_F(SealedDbMigrationTest, MalformedStepListsAreRefusedBeforeAnythingRuns) {
    SealedDb db = open_db();
    const std::vector<std::vector<Migration>> bad{
        {{2, "CREATE TABLE x(a);"}},
        {{1, "CREATE TABLE x(a);"}, {3, "CREATE TABLE y(a);"}},
        {{1, "CREATE TABLE x(a);"}, {1, "CREATE TABLE y(a);"}},
        {{0, "CREATE TABLE x(a);"}},
        {{1, ""}},
    };
    for (const auto& steps : bad) {
        auto r = db.migrate(steps);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << r.error().message();
    }
    EXPECT_EQ(*db.schema_version(), 0);
    EXPECT_FALSE(table_exists(db, "x"));
    EXPECT_EQ(*db.migrate({}), 0);
}

TEST_F(SealedDbMigrationTest, TwoConnectionsMigratingTheSameFileApplyEachStepOnce) {
    SealedDb a = open_db();
    SealedDb b = open_db();
    ASSERT_EQ(*a.migrate(first(2)), 2);
    EXPECT_EQ(*b.migrate(kSteps), 3);
    EXPECT_EQ(*a.migrate(kSteps), 3);
    EXPECT_EQ(scalar(a, "SELECT count(*) FROM item"), 1);
}

}  // namespace
}  // namespace enclave::crypto
