// SPDX-License-Identifier: Apache-2.0
// Blob writer with write-behind: a large object written through the worker
// thread is byte for byte the file an independent, sequential sealing of
// every chunk (written here from the format description, with libsodium
// directly) gives for the same key, id and nonce prefix; it reads back with
// any pattern of write-call sizes; the worker starts only for objects larger
// than one batch, is gone after finish(), and survives moves and abandonment.
// Write errors on the worker are in blob_format_write_error_test.cpp.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "blob_test_util.hpp"
#include "crypto/blob_format.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;
using enclave::testing::TempDir;

/// The writer's batch is about this many bytes (kIoBatchBytes in the
/// writer's internals): an object needs a second batch, and so a worker,
/// once it is larger than this.
constexpr std::size_t kBatchBytes = 1024 * 1024;
/// The name the worker gives itself (pthread_setname_np).
constexpr const char* kWorkerName = "enclave-blobwr";

void put_be(std::uint8_t* p, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) p[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// The file a writer must produce for `plain`, built from the format
/// description in blob_format.hpp and libsodium alone, taking only the nonce
/// prefix (random by design) from the file under test.
Bytes expected_file(const Secret& key, std::string_view id, std::uint32_t chunk,
                    ByteView nonce_prefix, ByteView plain) {
    std::uint8_t chunk_key[32], key_id[16];
    crypto_kdf_derive_from_key(chunk_key, sizeof chunk_key, 1, "EnclBlob", key.data());
    crypto_kdf_derive_from_key(key_id, sizeof key_id, 2, "EnclBlob", key.data());
    Bytes out(48 + id.size());
    std::memcpy(out.data(), "ENCLBLOB", 8);
    put_be(out.data() + 8, 1, 2);
    out[10] = 0;
    out[11] = static_cast<std::uint8_t>(id.size());
    put_be(out.data() + 12, chunk, 4);
    std::memcpy(out.data() + 16, key_id, 16);
    std::memcpy(out.data() + 32, nonce_prefix.data(), 16);
    std::memcpy(out.data() + 48, id.data(), id.size());
    std::uint8_t digest[32];
    crypto_generichash(digest, sizeof digest, out.data(), out.size(), nullptr, 0);
    const std::size_t n = plain.empty() ? 1 : (plain.size() + chunk - 1) / chunk;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t len = std::min<std::size_t>(chunk, plain.size() - i * chunk);
        std::uint8_t nonce[24], ad[41];
        std::memcpy(nonce, nonce_prefix.data(), 16);
        put_be(nonce + 16, i, 8);
        std::memcpy(ad, digest, 32);
        put_be(ad + 32, i, 8);
        ad[40] = i + 1 == n ? 1 : 0;
        const std::size_t at = out.size();
        out.resize(at + len + kBlobTagSize);
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
            out.data() + at, out.data() + at + len, nullptr, plain.data() + i * chunk, len, ad,
            sizeof ad, nullptr, nonce, chunk_key);
    }
    sodium_memzero(chunk_key, sizeof chunk_key);
    return out;
}

/// Writes `plain` with write calls whose sizes cycle through `pieces`.
Result<BlobInfo> write_in_pieces(const std::filesystem::path& p, const Secret& key,
                                 std::string_view id, ByteView plain, BlobWriterOptions options,
                                 const std::vector<std::size_t>& pieces) {
    auto w = BlobWriter::create(open_for_write(p), key, id, options);
    if (!w) return tl::unexpected(w.error());
    std::size_t off = 0;
    for (std::size_t k = 0; off < plain.size(); ++k) {
        const std::size_t n = std::min(pieces[k % pieces.size()], plain.size() - off);
        if (auto ok = w->write(plain.subspan(off, n)); !ok) return tl::unexpected(ok.error());
        off += n;
        if (w->bytes_written() != off) return fail(Errc::internal, "bytes_written is off");
    }
    return w->finish();
}

/// Write-call sizes that cross chunk and batch edges every way: empty,
/// tiny, one under/at/over a chunk, one under/at/over a batch, several
/// batches at once.
std::vector<std::size_t> awkward_pieces(std::uint32_t chunk) {
    const std::size_t c = chunk;
    return {1,     0,         13,         c - 1,           c,   c + 1,           4 * c + 3, 0,
            65536, 1000003,   kBatchBytes - 1, kBatchBytes, 7, kBatchBytes + 1, 3 * kBatchBytes + 5,
            2 * c, 100000,    c / 2 + 1};
}

void check_pipelined(std::size_t size, std::uint32_t chunk, bool behind) {
    SCOPED_TRACE("size " + std::to_string(size) + " chunk " + std::to_string(chunk) +
                 (behind ? " write-behind" : " one thread"));
    TempDir dir;
    const auto path = dir.path() / "p.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(size, size ^ chunk);
    auto info = write_in_pieces(path, key, "pipe-1", plain, {chunk, behind}, awkward_pieces(chunk));
    ASSERT_TRUE(info) << info.error().message();
    const Bytes file = read_file(path);
    ASSERT_GE(file.size(), 48u);
    const Bytes want =
        expected_file(key, "pipe-1", chunk, ByteView(file).subspan(32, 16), plain);
    ASSERT_EQ(file.size(), want.size());
    EXPECT_TRUE(file == want) << "the file differs from an independent sequential sealing";
    EXPECT_EQ(info->plaintext_size, size);
    EXPECT_EQ(info->file_size, file.size());
    EXPECT_EQ(info->chunk_count, size == 0 ? 1 : (size + chunk - 1) / chunk);
    EXPECT_EQ(info->chunk_size, chunk);

    auto r = open_blob(path, key, "pipe-1");
    ASSERT_TRUE(r) << r.error().message();
    auto all = collect_all(*r);
    ASSERT_TRUE(all) << all.error().message();
    EXPECT_TRUE(all->data == plain);
}

TEST(BlobPipelineTest, LargeObjectsAreByteIdenticalToASequentialSealing) {
    for (bool behind : {true, false}) {
        check_pipelined(6 * kBatchBytes + 12345, 4096, behind);
        check_pipelined(5 * kBatchBytes, kBlobDefaultChunkSize, behind);  // ends on a chunk edge
        check_pipelined(3 * kBatchBytes + 1, kBlobMinChunkSize, behind);
        // Chunks larger than a batch: every batch is a single chunk.
        check_pipelined(5 * kBatchBytes + 777, 2 * 1024 * 1024, behind);
    }
}

TEST(BlobPipelineTest, ObjectsAroundOneBatchAreByteIdenticalToASequentialSealing) {
    // 64 KiB chunks: 15 to a batch of 1 MiB. The sizes land just before, on
    // and after the first and second batch edges.
    const std::size_t batch = (kBatchBytes / (kBlobDefaultChunkSize + kBlobTagSize)) *
                              std::size_t{kBlobDefaultChunkSize};
    for (std::size_t size : {batch - 1, batch, batch + 1, 2 * batch, 2 * batch + 1}) {
        check_pipelined(size, kBlobDefaultChunkSize, true);
    }
}

TEST(BlobPipelineTest, ManyWriteCallPatternsReadBack) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(4 * kBatchBytes + 999, 99);
    const std::vector<std::vector<std::size_t>> patterns = {
        {plain.size()},                // one call
        {4096},                        // chunk-sized calls
        {kBatchBytes},                 // batch-sized calls
        {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765},
        {65537, 1, 131071},
        {kBatchBytes * 2 + 1, 4095},
    };
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        SCOPED_TRACE("pattern " + std::to_string(i));
        const auto path = dir.path() / ("m" + std::to_string(i));
        auto info = write_in_pieces(path, key, "many", plain, {4096}, patterns[i]);
        ASSERT_TRUE(info) << info.error().message();
        EXPECT_EQ(info->plaintext_size, plain.size());
        auto r = open_blob(path, key, "many");
        ASSERT_TRUE(r) << r.error().message();
        Bytes got(plain.size());
        ASSERT_TRUE(r->read_into(0, got));
        EXPECT_TRUE(got == plain);
        Bytes mid(300000);
        ASSERT_TRUE(r->read_into(kBatchBytes - 1234, mid));
        EXPECT_TRUE(std::equal(mid.begin(), mid.end(), plain.begin() + (kBatchBytes - 1234)));
    }
}

/// Threads of this process named kWorkerName.
int worker_threads() {
    int n = 0;
    DIR* d = ::opendir("/proc/self/task");
    if (d == nullptr) return -1;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name == kWorkerName) ++n;
    }
    ::closedir(d);
    return n;
}

/// A joined thread leaves /proc a moment after join() returns: wait (at
/// most 10 s) until none of ours is listed.
int worker_threads_after_exit() {
    for (int i = 0; i < 1000 && worker_threads() > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return worker_threads();
}

TEST(BlobPipelineTest, WorkerStartsOnlyForASecondBatchAndEndsWithFinish) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    ASSERT_EQ(worker_threads_after_exit(), 0) << "cannot see thread names in /proc/self/task";
    const Bytes small = pattern(kBatchBytes / 2, 1);
    {
        auto w = BlobWriter::create(open_for_write(dir.path() / "s"), key, "s");
        ASSERT_TRUE(w);
        for (std::size_t off = 0; off < small.size(); off += 10000) {
            ASSERT_TRUE(w->write(ByteView(small).subspan(off, std::min<std::size_t>(10000, small.size() - off))));
        }
        EXPECT_EQ(worker_threads(), 0) << "a small object must not start a thread";
        ASSERT_TRUE(w->finish());
        EXPECT_EQ(worker_threads(), 0);
    }
    const Bytes big = pattern(3 * kBatchBytes, 2);
    auto w = BlobWriter::create(open_for_write(dir.path() / "b"), key, "b");
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(big));
    EXPECT_EQ(worker_threads(), 1) << "one worker per writer";
    ASSERT_TRUE(w->finish());
    EXPECT_EQ(worker_threads_after_exit(), 0) << "finish() must end the worker";
    auto r = open_and_read(dir.path() / "b", key, "b");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(*r == big);

    auto off = BlobWriter::create(open_for_write(dir.path() / "o"), key, "o", {4096, false});
    ASSERT_TRUE(off);
    ASSERT_TRUE(off->write(big));
    EXPECT_EQ(worker_threads(), 0) << "write_behind = false must not start a thread";
    ASSERT_TRUE(off->finish());
}

TEST(BlobPipelineTest, AbandonedAndMovedWritersJoinTheirWorker) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes big = pattern(4 * kBatchBytes + 5, 3);
    ASSERT_EQ(worker_threads_after_exit(), 0);
    for (int i = 0; i < 20; ++i) {  // destroyed with a batch in flight, unfinished
        auto w = BlobWriter::create(open_for_write(dir.path() / "a"), key, "a", {4096});
        ASSERT_TRUE(w);
        ASSERT_TRUE(w->write(ByteView(big).subspan(0, 2 * kBatchBytes + 100 * i)));
    }
    EXPECT_EQ(worker_threads_after_exit(), 0) << "the destructor must end the worker";

    // Moved mid-object, the writer carries on with the same worker and file.
    auto first = BlobWriter::create(open_for_write(dir.path() / "m"), key, "m", {4096});
    ASSERT_TRUE(first);
    ASSERT_TRUE(first->write(ByteView(big).subspan(0, 2 * kBatchBytes)));
    std::optional<BlobWriter> moved(std::move(*first));
    ASSERT_TRUE(moved->write(ByteView(big).subspan(2 * kBatchBytes)));
    EXPECT_EQ(moved->bytes_written(), big.size());
    // Move-assigning over a running writer ends that writer's worker.
    auto other = BlobWriter::create(open_for_write(dir.path() / "x"), key, "x", {4096});
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->write(big));
    *other = std::move(*moved);
    auto info = other->finish();
    ASSERT_TRUE(info) << info.error().message();
    EXPECT_EQ(info->plaintext_size, big.size());
    EXPECT_EQ(worker_threads_after_exit(), 0);
    auto r = open_and_read(dir.path() / "m", key, "m");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_TRUE(*r == big);
}

}  // namespace
}  // namespace enclave::crypto
