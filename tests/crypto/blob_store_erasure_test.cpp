// SPDX-License-Identifier: Apache-2.0
// BlobStore crypto-erasure (a backup of the data file is useless after
// remove) and crash safety (temp files and half-published objects).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blob_store_test_util.hpp"
#include "crypto/blob_store.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;

class BlobStoreErasureTest : public BlobStoreTest {};

Bytes canary_plaintext() {
    std::string s;
    while (s.size() < 200000) s += "LAWFUL-INTERCEPT-CANARY-0042 ";
    return Bytes(s.begin(), s.end());
}

bool contains(const Bytes& hay, std::string_view needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST_F(BlobStoreErasureTest, ABackupCopyOfTheDataIsUselessAfterRemove) {
    std::optional<BlobStore> opened;
    opened.emplace(open_store());
    BlobStore& store = *opened;
    put(store, "evidence", canary_plaintext(), 4096);
    const auto blob = store_dir() / "data" / "evidence.blob";
    const auto backup = dir_.path() / "backup.blob";
    std::filesystem::copy_file(blob, backup);
    EXPECT_FALSE(contains(read_file(backup), "CANARY")) << "the data file holds plaintext";
    ASSERT_TRUE(store.open_object("evidence"));

    ASSERT_TRUE(store.remove("evidence"));
    std::filesystem::copy_file(backup, blob);  // restore the data from "backup"

    auto r = store.open_object("evidence");
    ASSERT_FALSE(r) << "the restored data file decrypted after its key was destroyed";
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_FALSE(*store.exists("evidence"));
    EXPECT_TRUE(store.list()->empty());
    // And after a restart, too.
    opened.reset();
    auto reopened = open_store();
    EXPECT_FALSE(reopened.open_object("evidence"));
}

TEST_F(BlobStoreErasureTest, RemoveOverwritesTheKeyBeforeUnlinkingIt) {
    auto store = open_store();
    put(store, "victim", canary_plaintext());
    const auto key = store_dir() / "keys" / "victim.key";
    const auto blob = store_dir() / "data" / "victim.blob";
    const Bytes key_before = read_file(key);
    // A second name for the key file's inode shows what remove() left in it.
    const auto key_link = dir_.path() / "key-inode";
    std::filesystem::create_hard_link(key, key_link);
    const auto backup = dir_.path() / "backup.blob";
    std::filesystem::copy_file(blob, backup);

    ASSERT_TRUE(store.remove("victim"));
    const Bytes key_after = read_file(key_link);
    ASSERT_EQ(key_after.size(), key_before.size());
    EXPECT_NE(key_after, key_before) << "the key file was unlinked but not overwritten";
    EXPECT_FALSE(contains(key_after, "ENCLOKEY"));

    // Even with both files put back, nothing decrypts.
    std::filesystem::copy_file(key_link, key);
    std::filesystem::copy_file(backup, blob);
    auto r = store.open_object("victim");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input) << r.error().message();
}

TEST_F(BlobStoreErasureTest, DataFilesWithoutTheirKeysAreUseless) {
    {
        auto store = open_store();
        put(store, "a", canary_plaintext());
        put(store, "b", canary_plaintext());
    }
    // A copy of the store without keys/, but with master.key and the same KEK.
    const auto copy = dir_.path() / "copy";
    std::filesystem::create_directory(copy);
    std::filesystem::permissions(copy, std::filesystem::perms(0700));
    std::filesystem::copy(store_dir() / "data", copy / "data");
    std::filesystem::copy_file(store_dir() / "master.key", copy / "master.key");
    std::filesystem::permissions(copy / "data", std::filesystem::perms(0700));
    auto r = BlobStore::open(copy, kek_);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(r->list()->empty());
    for (const char* id : {"a", "b"}) {
        auto o = r->open_object(id);
        ASSERT_FALSE(o);
        EXPECT_EQ(o.error().code(), Errc::not_found);
    }
}

TEST_F(BlobStoreErasureTest, ACrashMidWriteLeavesNoObject) {
    {
        auto store = open_store();
        put(store, "before", pattern(10, 1));
    }
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // The child writes half an object and dies without committing.
        auto s = BlobStore::open(store_dir(), kek_);
        if (!s) ::_exit(2);
        auto h = s->create("crashy");
        if (!h) ::_exit(3);
        const Bytes data = pattern(3 * 1024 * 1024, 2);
        if (!h->write(data)) ::_exit(4);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "child failed before the simulated crash";
    const auto leftovers = list_names(store_dir() / "tmp");
    ASSERT_EQ(leftovers.size(), 1u) << "the crashed writer should leave its temp file";
    EXPECT_EQ(leftovers.begin()->rfind("crashy.", 0), 0u);

    auto store = open_store();
    EXPECT_TRUE(list_names(store_dir() / "tmp").empty()) << "open() must clean tmp/";
    EXPECT_EQ(*store.list(), std::vector<std::string>{"before"});
    EXPECT_FALSE(*store.exists("crashy"));
    EXPECT_EQ(store.open_object("crashy").error().code(), Errc::not_found);
    EXPECT_FALSE(std::filesystem::exists(store_dir() / "data" / "crashy.blob"));
    put(store, "crashy", pattern(10, 3));  // the id is free
    EXPECT_TRUE(*store.exists("crashy"));
}

TEST_F(BlobStoreErasureTest, ALoneKeyFileIsNotAnObjectAndDoesNotBlockItsId) {
    auto store = open_store();
    put(store, "a", pattern(100, 4));
    // A crash between publishing the key and publishing the data.
    std::filesystem::copy_file(store_dir() / "keys" / "a.key", store_dir() / "keys" / "lone.key");
    EXPECT_EQ(*store.list(), std::vector<std::string>{"a"});
    EXPECT_FALSE(*store.exists("lone"));
    EXPECT_EQ(store.open_object("lone").error().code(), Errc::not_found);
    const Bytes data = pattern(1000, 5);
    put(store, "lone", data);
    auto r = store.open_object("lone");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(collect_all(*r)->data == data);
}

TEST_F(BlobStoreErasureTest, ALoneDataFileIsNotAnObjectAndCanBeRemoved) {
    auto store = open_store();
    put(store, "a", pattern(100, 6));
    std::filesystem::copy_file(store_dir() / "data" / "a.blob", store_dir() / "data" / "stray.blob");
    std::filesystem::copy_file(store_dir() / "data" / "a.blob", store_dir() / "data" / "notes.txt");
    EXPECT_EQ(*store.list(), std::vector<std::string>{"a"});
    EXPECT_EQ(store.open_object("stray").error().code(), Errc::not_found);
    ASSERT_TRUE(store.remove("stray"));
    EXPECT_FALSE(std::filesystem::exists(store_dir() / "data" / "stray.blob"));
}

TEST_F(BlobStoreErasureTest, AnAbandonedWriteLeavesNothing) {
    auto store = open_store();
    {
        auto h = store.create("dropped");
        ASSERT_TRUE(h);
        ASSERT_TRUE(h->write(pattern(200000, 7)));
        EXPECT_EQ(list_names(store_dir() / "tmp").size(), 1u);
    }
    EXPECT_TRUE(list_names(store_dir() / "tmp").empty());
    auto h = store.create("aborted");
    ASSERT_TRUE(h);
    ASSERT_TRUE(h->write(pattern(10, 8)));
    h->abort();
    EXPECT_TRUE(list_names(store_dir() / "tmp").empty());
    auto late = h->write(pattern(10, 8));
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(h->commit());
    EXPECT_TRUE(store.list()->empty());
    EXPECT_TRUE(list_names(store_dir() / "keys").empty());
}

TEST_F(BlobStoreErasureTest, AHandleOutlivesItsStoreObject) {
    std::optional<BlobWriterHandle> h;
    {
        auto store = open_store();
        auto c = store.create("late");
        ASSERT_TRUE(c);
        h.emplace(std::move(*c));
    }
    ASSERT_TRUE(h->write(pattern(5000, 9)));
    ASSERT_TRUE(h->commit());
    h.reset();
    auto store = open_store();
    EXPECT_TRUE(*store.exists("late"));
}

}  // namespace
}  // namespace enclave::crypto
