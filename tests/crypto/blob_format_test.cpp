// SPDX-License-Identifier: Apache-2.0
// Blob format: round trips, streaming, range reads and their chunk counts,
// argument checks. Tampering is in blob_format_tamper_test.cpp.
#include "crypto/blob_format.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "blob_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;
using enclave::testing::TempDir;

constexpr std::uint32_t kSmall = 4096;

std::uint64_t expected_chunks(std::uint64_t size, std::uint32_t c) {
    return size == 0 ? 1 : (size + c - 1) / c;
}

void check_round_trip(std::size_t size, std::uint32_t chunk, std::size_t piece) {
    TempDir dir;
    const auto path = dir.path() / "b.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(size, size * 31 + chunk);
    const BlobInfo info = write_blob(path, key, "obj-1", plain, chunk, piece);
    const std::uint64_t n = expected_chunks(size, chunk);
    EXPECT_EQ(info.plaintext_size, size);
    EXPECT_EQ(info.chunk_count, n);
    EXPECT_EQ(info.file_size, header_size("obj-1") + size + n * kBlobTagSize);
    EXPECT_EQ(std::filesystem::file_size(path), info.file_size);

    auto r = open_blob(path, key, "obj-1");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->size(), size);
    EXPECT_EQ(r->chunk_count(), n);
    EXPECT_EQ(r->chunk_size(), chunk);
    EXPECT_EQ(r->object_id(), "obj-1");
    auto all = collect_all(*r);
    ASSERT_TRUE(all) << all.error().message();
    EXPECT_TRUE(all->data == plain) << "size " << size << " chunk " << chunk;
    // Streaming hands out at most one chunk at a time.
    EXPECT_LE(all->largest_piece, chunk);
    Bytes again(size);
    ASSERT_TRUE(r->read_into(0, again));
    EXPECT_TRUE(again == plain);
}

TEST(BlobFormatTest, RoundTripsBoundarySizesWithSmallAndDefaultChunks) {
    for (std::uint32_t c : {kSmall, kBlobDefaultChunkSize}) {
        for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{c} - 1, std::size_t{c},
                                 std::size_t{c} + 1, 2 * std::size_t{c}, 3 * std::size_t{c} + 7}) {
            SCOPED_TRACE("chunk " + std::to_string(c) + " size " + std::to_string(size));
            check_round_trip(size, c, 0);    // one write
            check_round_trip(size, c, 1000);  // many small writes across chunk edges
        }
    }
}

TEST(BlobFormatTest, RoundTripsAMultiMebibyteObject) {
    const std::size_t size = 5u * 1024 * 1024 + 123;
    check_round_trip(size, kSmall, 0);
    check_round_trip(size, kSmall, 777 * 13);
    check_round_trip(size, kBlobDefaultChunkSize, 65536);  // exactly chunk-sized writes
    check_round_trip(size, kBlobMinChunkSize, 100000);
}

TEST(BlobFormatTest, EmptyObjectIsOneEmptyFinalChunk) {
    TempDir dir;
    const auto path = dir.path() / "e.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const BlobInfo info = write_blob(path, key, "e", {}, kSmall);
    EXPECT_EQ(info.chunk_count, 1u);
    EXPECT_EQ(info.file_size, header_size("e") + kBlobTagSize);
    auto r = open_blob(path, key, "e");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->size(), 0u);
    int calls = 0;
    ASSERT_TRUE(r->read_all([&](ByteView) -> Result<void> { ++calls; return {}; }));
    EXPECT_EQ(calls, 0);
}

TEST(BlobFormatTest, SameDataAndKeyEncryptDifferentlyEachTime) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(10000, 5);
    write_blob(dir.path() / "a", key, "x", plain, kSmall);
    write_blob(dir.path() / "b", key, "x", plain, kSmall);
    const Bytes a = read_file(dir.path() / "a");
    const Bytes b = read_file(dir.path() / "b");
    ASSERT_EQ(a.size(), b.size());
    EXPECT_NE(a, b);
    // The plaintext does not appear in the file.
    const Bytes probe(plain.begin() + 100, plain.begin() + 132);
    EXPECT_EQ(std::search(a.begin(), a.end(), probe.begin(), probe.end()), a.end());
}

class BlobRangeTest : public ::testing::Test {
protected:
    void SetUp() override {
        plain_ = pattern(300 * 1024 + 77, 42);
        write_blob(dir_.path() / "r.blob", key_, "ranges", plain_, kSmall, 5000);
        auto r = open_blob(dir_.path() / "r.blob", key_, "ranges");
        ASSERT_TRUE(r) << r.error().message();
        reader_.emplace(std::move(*r));
    }

    /// Reads [off, off+len) both ways, compares with the plaintext and checks
    /// that exactly the touched chunks were decrypted.
    void check(std::uint64_t off, std::uint64_t len) {
        SCOPED_TRACE("range " + std::to_string(off) + "+" + std::to_string(len));
        const std::uint64_t touched = len == 0 ? 0 : (off + len - 1) / kSmall - off / kSmall + 1;
        const Bytes want(plain_.begin() + static_cast<std::ptrdiff_t>(off),
                         plain_.begin() + static_cast<std::ptrdiff_t>(off + len));
        auto before = reader_->chunks_decrypted();
        Bytes got(len);
        auto ok = reader_->read_into(off, got);
        ASSERT_TRUE(ok) << ok.error().message();
        EXPECT_TRUE(got == want);
        EXPECT_EQ(reader_->chunks_decrypted() - before, touched);

        before = reader_->chunks_decrypted();
        Bytes streamed;
        ok = reader_->read_range(off, len, [&](ByteView p) -> Result<void> {
            streamed.insert(streamed.end(), p.begin(), p.end());
            return {};
        });
        ASSERT_TRUE(ok) << ok.error().message();
        EXPECT_TRUE(streamed == want);
        EXPECT_EQ(reader_->chunks_decrypted() - before, touched);
    }

    TempDir dir_;
    Secret key_ = Secret::random(kBlobKeySize);
    Bytes plain_;
    std::optional<BlobReader> reader_;
};

TEST_F(BlobRangeTest, OpenAuthenticatesExactlyTheFinalChunk) {
    EXPECT_EQ(reader_->chunks_decrypted(), 1u);
    EXPECT_EQ(reader_->size(), plain_.size());
}

TEST_F(BlobRangeTest, ManyRandomRangesMatchThePlaintext) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 400; ++i) {
        const std::uint64_t off = rng() % (plain_.size() + 1);
        const std::uint64_t max_len = plain_.size() - off;
        const std::uint64_t len = (i % 4 == 0) ? rng() % (max_len + 1)
                                               : rng() % (std::min<std::uint64_t>(max_len, 20000) + 1);
        check(off, len);
    }
}

TEST_F(BlobRangeTest, EdgeRanges) {
    const std::uint64_t size = plain_.size();
    check(0, 0);
    check(size, 0);
    check(size - 1, 1);           // last byte
    check(0, 1);                  // first byte
    check(kSmall - 1, 2);         // crosses the first boundary
    check(kSmall, kSmall);        // exactly chunk 1
    check(kSmall - 1, kSmall + 2);  // chunk 0 tail, chunk 1, chunk 2 head
    check(0, size);               // everything
    check(size - (size % kSmall), size % kSmall);  // exactly the final chunk
}

TEST_F(BlobRangeTest, RangesPastTheEndAreRefusedWithoutDecrypting) {
    const std::uint64_t size = plain_.size();
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    const auto before = reader_->chunks_decrypted();
    for (auto [off, len] : std::vector<std::pair<std::uint64_t, std::uint64_t>>{
             {size, 1}, {size + 1, 0}, {0, size + 1}, {size - 1, 2}, {max, 2}, {2, max}}) {
        auto r = reader_->read_range(off, len, [](ByteView) -> Result<void> { return {}; });
        ASSERT_FALSE(r) << off << "+" << len;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_NE(r.error().context().find("outside blob 'ranges' of size"), std::string::npos)
            << r.error().message();
    }
    Bytes two(2);
    auto r = reader_->read_into(size - 1, two);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_EQ(reader_->chunks_decrypted(), before);
}

TEST_F(BlobRangeTest, SinkErrorStopsTheReadAndIsPassedThrough) {
    int calls = 0;
    auto r = reader_->read_all([&](ByteView) -> Result<void> {
        if (++calls == 3) return fail(Errc::io_error, "client went away");
        return {};
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io_error);
    EXPECT_EQ(r.error().context(), "client went away");
    EXPECT_EQ(calls, 3);
}

TEST_F(BlobRangeTest, ConcurrentReadersOfOneObjectAgree) {
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(100 + t);
            for (int i = 0; i < 150; ++i) {
                const std::uint64_t off = rng() % plain_.size();
                const std::uint64_t len = rng() % std::min<std::uint64_t>(plain_.size() - off, 30000);
                Bytes got(len);
                if (!reader_->read_into(off, got) ||
                    !std::equal(got.begin(), got.end(), plain_.begin() + static_cast<std::ptrdiff_t>(off))) {
                    ++bad;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(bad.load(), 0);
}

TEST(BlobFormatTest, WriterRefusesBadArguments) {
    TempDir dir;
    const auto path = dir.path() / "w.blob";
    const Secret key = Secret::random(kBlobKeySize);
    auto short_key = BlobWriter::create(open_for_write(path), Secret::random(16), "a");
    ASSERT_FALSE(short_key);
    EXPECT_EQ(short_key.error().code(), Errc::invalid_argument);
    for (std::uint32_t c : {0u, 1u, kBlobMinChunkSize - 1, kBlobMaxChunkSize + 1, 0xFFFFFFFFu}) {
        auto w = BlobWriter::create(open_for_write(path), key, "a", {c});
        ASSERT_FALSE(w) << c;
        EXPECT_EQ(w.error().code(), Errc::invalid_argument);
    }
    for (std::string bad : {std::string(), std::string("../x"), std::string("/"), std::string("a b"),
                            std::string("a\0b", 3), std::string(65, 'a'), std::string("é")}) {
        auto w = BlobWriter::create(open_for_write(path), key, bad);
        ASSERT_FALSE(w);
        EXPECT_EQ(w.error().code(), Errc::invalid_argument);
    }
    auto no_file = BlobWriter::create(UniqueFd(), key, "a");
    ASSERT_FALSE(no_file);
    EXPECT_EQ(no_file.error().code(), Errc::invalid_argument);
}

TEST(BlobFormatTest, WriterIsSpentAfterFinish) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    auto w = BlobWriter::create(open_for_write(dir.path() / "s.blob"), key, "s", {kSmall});
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(as_bytes("hello")));
    EXPECT_EQ(w->bytes_written(), 5u);
    ASSERT_TRUE(w->finish());
    auto again = w->write(as_bytes("more"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::invalid_argument);
    EXPECT_FALSE(w->finish());
}

TEST(BlobFormatTest, ReaderRefusesBadArguments) {
    TempDir dir;
    const auto path = dir.path() / "a.blob";
    const Secret key = Secret::random(kBlobKeySize);
    write_blob(path, key, "a", pattern(10, 1), kSmall);
    auto r = BlobReader::open(open_for_read(path), Secret::random(31), "a");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    r = BlobReader::open(open_for_read(path), key, "../a");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    r = BlobReader::open(UniqueFd(), key, "a");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    r = BlobReader::open(open_for_read(dir.path()), key, "a");  // a directory
    ASSERT_FALSE(r);
}

TEST(BlobFormatTest, ObjectIdRules) {
    EXPECT_TRUE(is_valid_object_id("a"));
    EXPECT_TRUE(is_valid_object_id("Az09_-"));
    EXPECT_TRUE(is_valid_object_id(std::string(64, 'z')));
    EXPECT_FALSE(is_valid_object_id(std::string(65, 'z')));
    for (std::string bad : {"", ".", "..", "../x", "a/b", "/", "a.b", "a b", "a\n", "ü"}) {
        EXPECT_FALSE(is_valid_object_id(bad)) << bad;
    }
    EXPECT_FALSE(is_valid_object_id(std::string("a\0", 2)));
    auto e = check_object_id(std::string(100, '/'));
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), Errc::invalid_argument);
    EXPECT_EQ(e.error().context().find('/'), std::string::npos) << "must not echo the id";
}

}  // namespace
}  // namespace enclave::crypto
