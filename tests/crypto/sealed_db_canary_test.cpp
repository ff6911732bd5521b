// SPDX-License-Identifier: Apache-2.0
// What is on disk: no plaintext at any point, the documented page format, and
// deleted rows really gone after secure_delete + checkpoint_truncate.
#include <sodium.h>

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "crypto/sealed_db.hpp"
#include "sealed_db_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using test::read_all;
namespace fs = std::filesystem;

std::string unique_token(const char* prefix) {
    Bytes r(12);
    randombytes_buf(r.data(), r.size());
    return std::string(prefix) + hex_encode(r);
}

class SealedDbCanaryTest : public ::testing::Test {
protected:
    testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-a", Secret::random(32)};
    fs::path db_path_ = dir_.path() / "c.db";
    fs::path wal_ = db_path_.string() + "-wal";

    void expect_no_plaintext(const std::string& needle, const char* stage) {
        const auto hits = test::files_containing(dir_.path(), as_bytes(needle));
        EXPECT_TRUE(hits.empty()) << stage << ": plaintext canary in " << ::testing::PrintToString(hits);
    }

    test::PageDecryptor decryptor() {
        const Secret key = test::unwrap_db_key(db_path_, kek_);
        const Bytes head = read_all(db_path_);
        return test::PageDecryptor(key, ByteView(head).first(16));
    }
};

TEST_F(SealedDbCanaryTest, CanaryIsNeverPlaintextAndIsGoneAfterDeleteAndCheckpoint) {
    const std::string canary = unique_token("CANARY-");
    // A long value lives in overflow pages; its marker repeats through it.
    const std::string marker = unique_token("OVERFLOW-");
    std::string long_value;
    while (long_value.size() < 20000) {
        long_value += marker;
    }
    auto created = SealedDb::create(db_path_, kek_);
    ASSERT_TRUE(created) << created.error().message();
    std::optional<SealedDb> db(std::move(*created));
    ASSERT_TRUE(db->exec("CREATE TABLE secret(id INTEGER PRIMARY KEY, v TEXT);"
                         "CREATE TABLE other(v TEXT);"));
    {
        auto tx = db->begin();
        ASSERT_TRUE(tx);
        auto ins = db->prepare("INSERT INTO secret(v) VALUES(?)");
        ASSERT_TRUE(ins);
        for (std::string_view v : {std::string_view(canary), std::string_view(long_value)}) {
            ASSERT_TRUE(ins->bind_text(1, v));
            ASSERT_TRUE(ins->run());
            ins->reset();
        }
        ASSERT_TRUE(db->exec("INSERT INTO other VALUES('unrelated')"));
        ASSERT_TRUE(tx->commit());
    }
    expect_no_plaintext(canary, "after insert");
    expect_no_plaintext(marker, "after insert");

    // The canary is in the WAL, encrypted: decrypting with the documented
    // format finds it, which also proves the search above could have.
    const test::PageDecryptor dec = decryptor();
    const auto wal_pages = dec.decrypt_wal(read_all(wal_));
    ASSERT_FALSE(wal_pages.empty());
    EXPECT_TRUE(test::any_contains(wal_pages, canary));
    EXPECT_TRUE(test::any_contains(wal_pages, marker));

    ASSERT_TRUE(db->exec("DELETE FROM secret"));
    expect_no_plaintext(canary, "after delete");
    ASSERT_TRUE(db->checkpoint_truncate());
    EXPECT_EQ(fs::file_size(wal_), 0u) << "TRUNCATE checkpoint leaves an empty WAL";
    expect_no_plaintext(canary, "after checkpoint");

    // secure_delete: the checkpointed pages hold zeros where the rows were.
    const auto pages = dec.decrypt_db(read_all(db_path_));
    ASSERT_EQ(pages.size(), fs::file_size(db_path_) / 4096);
    EXPECT_FALSE(test::any_contains(pages, canary)) << "deleted canary survives in a database page";
    EXPECT_FALSE(test::any_contains(pages, marker)) << "deleted overflow data survives";
    EXPECT_TRUE(test::any_contains(pages, "unrelated")) << "the decryptor sees live rows";

    db.reset();  // the last owner closes the connection
    expect_no_plaintext(canary, "after close");
    expect_no_plaintext(marker, "after close");
    EXPECT_FALSE(fs::exists(wal_)) << "the last connection removes the WAL";
}

TEST_F(SealedDbCanaryTest, UpdatedValuesDoNotLingerEither) {
    const std::string canary = unique_token("OLDVALUE-");
    auto db = SealedDb::create(db_path_, kek_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE s(v TEXT)"));
    auto ins = db->prepare("INSERT INTO s VALUES(?)");
    ASSERT_TRUE(ins);
    ASSERT_TRUE(ins->bind_text(1, canary));
    ASSERT_TRUE(ins->run());
    ASSERT_TRUE(db->exec("UPDATE s SET v = 'replaced'"));
    ASSERT_TRUE(db->checkpoint_truncate());
    expect_no_plaintext(canary, "after update");
    const auto pages = decryptor().decrypt_db(read_all(db_path_));
    EXPECT_FALSE(test::any_contains(pages, canary));
    EXPECT_TRUE(test::any_contains(pages, "replaced"));
}

TEST_F(SealedDbCanaryTest, PagesFollowTheDocumentedFormat) {
    {
        auto db = SealedDb::create(db_path_, kek_);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("CREATE TABLE t(v TEXT); INSERT INTO t VALUES('x');"));
        ASSERT_TRUE(db->checkpoint_truncate());
    }
    const Bytes file = read_all(db_path_);
    const auto pages = decryptor().decrypt_db(file);  // every page: HMAC-SHA1 verifies, AES-256-CBC decrypts
    ASSERT_EQ(pages.size(), file.size() / 4096);
    ASSERT_GE(pages.size(), 2u);
    const Bytes& p1 = pages[0];
    // SQLite header fields after SQLCipher's 16-byte salt:
    EXPECT_EQ(p1[16], 0x10);  // page size 4096, big-endian
    EXPECT_EQ(p1[17], 0x00);
    EXPECT_EQ(p1[18], 2);  // write version 2 = WAL
    EXPECT_EQ(p1[19], 2);  // read version 2 = WAL
    EXPECT_EQ(p1[20], test::PageDecryptor::kReserve);  // per-page reserve: IV + HMAC
    // The salt is the key check value, not random.
    const Secret key = test::unwrap_db_key(db_path_, kek_);
    Bytes salt(16);
    const char domain[] = "enclave/sealed-db/salt/v1";
    crypto_generichash(salt.data(), salt.size(), reinterpret_cast<const unsigned char*>(domain),
                       sizeof(domain) - 1, key.data(), key.size());
    EXPECT_EQ(Bytes(file.begin(), file.begin() + 16), salt);
    // A page moved to another position fails its HMAC (page number bound).
    EXPECT_FALSE(decryptor().decrypt(ByteView(file).subspan(4096, 4096), 3));
}

}  // namespace
}  // namespace enclave::crypto
