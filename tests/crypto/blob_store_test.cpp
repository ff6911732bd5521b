// SPDX-License-Identifier: Apache-2.0
// BlobStore: round trips, list/exists/remove, master key handling, hostile
// ids, permissions, locking and concurrency. Crypto-erasure and crash safety
// are in blob_store_erasure_test.cpp.
#include "crypto/blob_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <set>
#include <thread>

#include "blob_store_test_util.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;

TEST_F(BlobStoreTest, RoundTripsCallerAndGeneratedIds) {
    auto store = open_store();
    const Bytes a = pattern(300000, 1);
    const Bytes b = pattern(0, 2);
    const std::string id_a = put(store, "report_2024-01", a, 4096);
    const std::string id_b = put(store, std::nullopt, b);
    EXPECT_EQ(id_a, "report_2024-01");
    EXPECT_EQ(id_b.size(), 32u);
    EXPECT_TRUE(is_valid_object_id(id_b));
    EXPECT_NE(generate_object_id(), generate_object_id());

    for (auto [id, data] : {std::pair{id_a, &a}, {id_b, &b}}) {
        auto r = store.open_object(id);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->size(), data->size());
        auto all = collect_all(*r);
        ASSERT_TRUE(all);
        EXPECT_TRUE(all->data == *data);
    }
    auto r = store.open_object(id_a);
    ASSERT_TRUE(r);
    Bytes mid(10000);
    ASSERT_TRUE(r->read_into(123456, mid));
    EXPECT_TRUE(std::equal(mid.begin(), mid.end(), a.begin() + 123456));
    EXPECT_EQ(r->chunk_size(), 4096u);
}

TEST_F(BlobStoreTest, ListExistsAndRemove) {
    auto store = open_store();
    for (const char* id : {"c", "a", "b"}) put(store, id, pattern(100, 3));
    auto ids = store.list();
    ASSERT_TRUE(ids);
    EXPECT_EQ(*ids, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(*store.exists("b"));
    EXPECT_FALSE(*store.exists("zz"));

    ASSERT_TRUE(store.remove("b"));
    EXPECT_FALSE(*store.exists("b"));
    EXPECT_EQ(*store.list(), (std::vector<std::string>{"a", "c"}));
    auto gone = store.open_object("b");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code(), Errc::not_found);
    auto again = store.remove("b");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::not_found);
    auto never = store.open_object("never-was");
    ASSERT_FALSE(never);
    EXPECT_EQ(never.error().code(), Errc::not_found);
    EXPECT_FALSE(std::filesystem::exists(store_dir() / "keys" / "b.key"));
    EXPECT_FALSE(std::filesystem::exists(store_dir() / "data" / "b.blob"));
}

TEST_F(BlobStoreTest, ReopeningReadsTheSameObjects) {
    std::string master_id;
    const Bytes data = pattern(70000, 4);
    {
        auto store = open_store();
        master_id = store.master_key_id();
        put(store, "kept", data);
    }
    auto store = open_store();
    EXPECT_EQ(store.master_key_id(), master_id);
    EXPECT_EQ(master_id.rfind("blob-master-", 0), 0u);
    auto r = store.open_object("kept");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(collect_all(*r)->data == data);
}

TEST_F(BlobStoreTest, WrongKekIsRefusedAndNamed) {
    { auto store = open_store(); put(store, "x", pattern(10, 5)); }
    SecretKeyWrapper other_id("kek-2", Secret::random(32));
    auto r = BlobStore::open(store_dir(), other_id);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("wrapped by KEK 'kek-1'"), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().context().find("'kek-2'"), std::string::npos);

    SecretKeyWrapper same_id_other_key("kek-1", Secret::random(32));
    auto r2 = BlobStore::open(store_dir(), same_id_other_key);
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code(), Errc::integrity_failure);
    EXPECT_NE(r2.error().context().find("wrong KEK or damaged"), std::string::npos)
        << r2.error().message();
    // The failed opens did not replace the master key.
    auto store = open_store();
    EXPECT_TRUE(store.open_object("x"));
}

TEST_F(BlobStoreTest, TamperedMasterKeyFileIsRefused) {
    { auto store = open_store(); put(store, "x", pattern(10, 6)); }
    const auto path = store_dir() / "master.key";
    const Bytes original = read_file(path);
    const std::set<Errc> allowed{Errc::malformed_input, Errc::too_large, Errc::integrity_failure};
    for (std::size_t i = 0; i < original.size(); ++i) {
        for (std::uint8_t mask : {0x01, 0x80}) {
            Bytes f = original;
            f[i] ^= mask;
            write_file(path, f);
            auto r = BlobStore::open(store_dir(), kek_);
            ASSERT_FALSE(r) << "flip at byte " << i << " went unnoticed";
            EXPECT_TRUE(allowed.count(r.error().code())) << i << ": " << r.error().message();
        }
    }
    for (std::size_t len : {0u, 1u, 13u, 14u, 20u}) {
        write_file(path, ByteView(original).first(len));
        auto r = BlobStore::open(store_dir(), kek_);
        ASSERT_FALSE(r) << "truncated to " << len;
        EXPECT_EQ(r.error().code(), Errc::malformed_input) << r.error().message();
    }
    Bytes longer = original;
    longer.push_back(0);
    write_file(path, longer);
    auto r = BlobStore::open(store_dir(), kek_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input);
    write_file(path, pattern(70000, 1));
    r = BlobStore::open(store_dir(), kek_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);

    write_file(path, original);
    auto store = open_store();
    EXPECT_TRUE(store.open_object("x"));
}

TEST_F(BlobStoreTest, TamperedObjectKeyFileIsRefused) {
    auto store = open_store();
    put(store, "k", pattern(3000, 16));
    const auto path = store_dir() / "keys" / "k.key";
    const Bytes original = read_file(path);
    const std::set<Errc> allowed{Errc::malformed_input, Errc::too_large, Errc::integrity_failure};
    for (std::size_t i = 0; i < original.size(); ++i) {
        Bytes f = original;
        f[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
        write_file(path, f);
        auto r = store.open_object("k");
        ASSERT_FALSE(r) << "flip at byte " << i << " went unnoticed";
        EXPECT_TRUE(allowed.count(r.error().code())) << i << ": " << r.error().message();
    }
    write_file(path, pattern(100000, 17));
    auto big = store.open_object("k");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);
    // A symlink in place of the key file is not followed.
    std::filesystem::remove(path);
    write_file(dir_.path() / "elsewhere.key", original);
    std::filesystem::create_symlink(dir_.path() / "elsewhere.key", path);
    auto link = store.open_object("k");
    ASSERT_FALSE(link) << "opened an object through a symlinked key file";
    std::filesystem::remove(path);
    write_file(path, original);
    EXPECT_TRUE(store.open_object("k"));
}

TEST_F(BlobStoreTest, MissingMasterKeyBesideObjectsIsRefused) {
    { auto store = open_store(); put(store, "x", pattern(10, 7)); }
    std::filesystem::remove(store_dir() / "master.key");
    auto r = BlobStore::open(store_dir(), kek_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_NE(r.error().context().find("restore master.key"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(store_dir() / "master.key"));
}

TEST_F(BlobStoreTest, HostileIdsAreRefusedEverywhere) {
    auto store = open_store();
    const auto outside_before = list_names(dir_.path());
    const std::vector<std::string> hostile = {
        "", ".", "..", "../x", "../../etc/passwd", "/", "/tmp/x", "a/b", "a\\b", "x.key",
        std::string("a\0b", 3), std::string(65, 'a'), std::string(10000, 'b'), "sp ace",
        "new\nline", "caf\xc3\xa9", "%2e%2e"};
    for (const auto& id : hostile) {
        auto c = store.create(id);
        ASSERT_FALSE(c) << id;
        EXPECT_EQ(c.error().code(), Errc::invalid_argument);
        EXPECT_EQ(store.open_object(id).error().code(), Errc::invalid_argument);
        EXPECT_EQ(store.remove(id).error().code(), Errc::invalid_argument);
        EXPECT_EQ(store.exists(id).error().code(), Errc::invalid_argument);
        if (id.size() > 3) {
            EXPECT_EQ(c.error().context().find(id), std::string::npos) << "error echoes the id";
        }
    }
    EXPECT_EQ(list_names(dir_.path()), outside_before);
    EXPECT_TRUE(list_names(store_dir() / "data").empty());
    EXPECT_TRUE(list_names(store_dir() / "keys").empty());
    EXPECT_TRUE(list_names(store_dir() / "tmp").empty());
    EXPECT_TRUE(store.create(std::string(64, 'a')));  // the longest valid id
}

TEST_F(BlobStoreTest, DuplicateIdsAreRefused) {
    auto store = open_store();
    put(store, "dup", pattern(10, 8));
    auto again = store.create("dup");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);

    auto first = store.create("race");
    auto second = store.create("race");
    ASSERT_TRUE(first);
    ASSERT_TRUE(second);
    ASSERT_TRUE(first->write(as_bytes("first")));
    ASSERT_TRUE(second->write(as_bytes("second")));
    ASSERT_TRUE(first->commit());
    auto lost = second->commit();
    ASSERT_FALSE(lost);
    EXPECT_EQ(lost.error().code(), Errc::already_exists);
    auto r = store.open_object("race");
    ASSERT_TRUE(r);
    EXPECT_EQ(collect_all(*r)->data, Bytes(as_bytes("first").begin(), as_bytes("first").end()));
    EXPECT_TRUE(list_names(store_dir() / "tmp").empty());
    EXPECT_FALSE(second->commit()) << "a handle is spent after commit";
}

TEST_F(BlobStoreTest, FilesAre0600AndDirectories0700EvenWithAnOpenUmask) {
    const mode_t old = ::umask(0);
    {
        auto store = open_store();
        put(store, "m", pattern(1000, 9));
        auto pending = store.create("pending");
        ASSERT_TRUE(pending);
        EXPECT_EQ(mode_of(store_dir()), 0700u);
        for (const char* sub : {"data", "keys", "tmp"}) EXPECT_EQ(mode_of(store_dir() / sub), 0700u);
        EXPECT_EQ(mode_of(store_dir() / "master.key"), 0600u);
        EXPECT_EQ(mode_of(store_dir() / "keys" / "m.key"), 0600u);
        EXPECT_EQ(mode_of(store_dir() / "data" / "m.blob"), 0600u);
        const auto tmp = list_names(store_dir() / "tmp");
        ASSERT_EQ(tmp.size(), 1u);
        EXPECT_EQ(mode_of(store_dir() / "tmp" / *tmp.begin()), 0600u);
    }
    ::umask(old);
}

TEST_F(BlobStoreTest, RefusesADirectoryOthersCanReach) {
    std::filesystem::create_directory(store_dir());
    std::filesystem::permissions(store_dir(), std::filesystem::perms(0755));
    auto r = BlobStore::open(store_dir(), kek_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().context().find("mode 0755"), std::string::npos) << r.error().message();
    std::filesystem::permissions(store_dir(), std::filesystem::perms(0700));
    std::filesystem::create_symlink(dir_.path(), dir_.path() / "link");
    auto via_link = BlobStore::open(dir_.path() / "link", kek_);
    ASSERT_FALSE(via_link) << "a symlinked store directory must be refused";
}

TEST_F(BlobStoreTest, OneOpenStorePerDirectory) {
    auto store = open_store();
    auto second = BlobStore::open(store_dir(), kek_);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Errc::unavailable);
}

TEST_F(BlobStoreTest, SwappedKeyOrDataFilesAreRefused) {
    auto store = open_store();
    put(store, "one", pattern(5000, 10));
    put(store, "two", pattern(5000, 11));
    const auto keys = store_dir() / "keys";
    const auto data = store_dir() / "data";
    const Bytes k1 = read_file(keys / "one.key");
    const Bytes k2 = read_file(keys / "two.key");
    write_file(keys / "one.key", k2);
    auto r = store.open_object("one");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("wrong key"), std::string::npos) << r.error().message();
    write_file(keys / "one.key", k1);

    const Bytes d2 = read_file(data / "two.blob");
    write_file(data / "one.blob", d2);
    write_file(keys / "one.key", k2);  // even with the matching key
    r = store.open_object("one");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("holds object 'two'"), std::string::npos);
}

TEST_F(BlobStoreTest, KeysFromAnotherStoreAreNamedAsSuch) {
    auto store = open_store();
    put(store, "obj", pattern(10, 12));
    enclave::testing::TempDir other_dir;
    SecretKeyWrapper other_kek("kek-other", Secret::random(32));
    auto other = BlobStore::open(other_dir.path() / "s", other_kek);
    ASSERT_TRUE(other);
    put(*other, "obj", pattern(10, 13));
    write_file(store_dir() / "keys" / "obj.key", read_file(other_dir.path() / "s/keys/obj.key"));
    auto r = store.open_object("obj");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find(other->master_key_id()), std::string::npos)
        << r.error().message();
}

TEST_F(BlobStoreTest, DamagedDataIsReportedWithTheObjectId) {
    auto store = open_store();
    put(store, "dmg", pattern(20000, 14), 4096);
    const auto path = store_dir() / "data" / "dmg.blob";
    Bytes f = read_file(path);
    f[f.size() / 2] ^= 1;
    write_file(path, f);
    auto r = store.open_object("dmg");
    ASSERT_TRUE(r) << "the final chunk is intact";
    auto all = collect_all(*r);
    ASSERT_FALSE(all);
    EXPECT_EQ(all.error().code(), Errc::integrity_failure);
    EXPECT_NE(all.error().context().find("blob 'dmg'"), std::string::npos);
}

TEST_F(BlobStoreTest, ConcurrentReadersAndWriters) {
    auto store = open_store();
    const Bytes shared = pattern(200000, 15);
    put(store, "shared", shared, 4096);
    std::atomic<int> bad{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                auto r = store.open_object("shared");
                Bytes part(5000);
                const std::size_t off = static_cast<std::size_t>(t * 31000 + i * 997);
                if (!r || !r->read_into(off, part) ||
                    !std::equal(part.begin(), part.end(), shared.begin() + static_cast<std::ptrdiff_t>(off))) {
                    ++bad;
                }
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                const Bytes mine = pattern(3000 + i, static_cast<std::uint64_t>(t * 100 + i));
                auto h = store.create(id);
                if (!h || !h->write(mine) || !h->commit()) { ++bad; continue; }
                auto back = store.open_object(id);
                if (!back || collect_all(*back)->data != mine) ++bad;
                if (i % 2 == 0 && !store.remove(id)) ++bad;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_EQ(store.list()->size(), 1u + 4u * 10u);
}

}  // namespace
}  // namespace enclave::crypto
