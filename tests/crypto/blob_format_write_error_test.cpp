// SPDX-License-Identifier: Apache-2.0
// Blob writer I/O errors, above all those the write-behind worker meets: they
// come back from the next write() or finish() as io_error with context, the
// writer stays failed, and nothing hangs.
//
// Two ways to make a real pwrite fail part-way through an object:
// - the writer's descriptor number is re-pointed (dup2) at a read-only
//   descriptor of the same file after the header is written: every later
//   pwrite fails with EBADF, at a point the test chooses;
// - RLIMIT_FSIZE (with SIGXFSZ ignored) caps the file: a pwrite that crosses
//   the cap is cut short and the next one fails with EFBIG, as a full disk
//   or quota would stop a write part-way.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "blob_test_util.hpp"
#include "crypto/blob_format.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;
using enclave::testing::TempDir;

constexpr std::uint32_t kChunk = 4096;
/// Chunks per batch for 4 KiB chunks: the writer's batch is
/// kIoBatchBytes (1 MiB) / (chunk + tag) whole chunks.
constexpr std::size_t kBatchChunks = (1024 * 1024) / (kChunk + kBlobTagSize);
constexpr std::size_t kBatchPlain = kBatchChunks * kChunk;

/// A writer whose descriptor stops accepting writes when the test says so.
struct Sabotaged {
    BlobWriter writer;
    int fd_number;
    std::filesystem::path path;

    static Sabotaged make(const std::filesystem::path& p, const Secret& key, bool behind) {
        UniqueFd fd = open_for_write(p);
        EXPECT_TRUE(fd.valid());
        const int n = fd.get();
        auto w = BlobWriter::create(std::move(fd), key, "err", {kChunk, behind});
        if (!w) throw std::runtime_error("BlobWriter::create: " + w.error().message());
        return Sabotaged{std::move(*w), n, p};
    }

    /// From now on the writer's descriptor is read-only: pwrite fails (EBADF).
    void make_read_only() const {
        UniqueFd ro(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_TRUE(ro.valid());
        ASSERT_EQ(::dup2(ro.get(), fd_number), fd_number) << std::strerror(errno);
    }
};

void expect_write_error(const Error& e, int err) {
    EXPECT_EQ(e.code(), Errc::io_error) << e.message();
    EXPECT_NE(e.context().find("writing blob file"), std::string::npos) << e.message();
    EXPECT_NE(e.context().find(std::strerror(err)), std::string::npos) << e.message();
}

/// After a failure the writer refuses everything, without touching the file.
void expect_stays_failed(BlobWriter& w) {
    auto again = w.write(as_bytes("more"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::invalid_argument);
    auto fin = w.finish();
    ASSERT_FALSE(fin);
    EXPECT_EQ(fin.error().code(), Errc::invalid_argument);
}

TEST(BlobWriteErrorTest, WorkerErrorIsReportedByFinish) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    auto s = Sabotaged::make(dir.path() / "f.blob", key, true);
    s.make_read_only();
    // One full batch with more data after it: the batch goes to the worker
    // and write() returns before anyone waits for it. Only finish() can say.
    const Bytes plain = pattern(kBatchPlain + 1, 1);
    auto ok = s.writer.write(plain);
    ASSERT_TRUE(ok) << "the batch should have been handed to the worker, not written here: "
                    << ok.error().message();
    auto fin = s.writer.finish();
    ASSERT_FALSE(fin) << "a failed pwrite on the worker went unreported";
    expect_write_error(fin.error(), EBADF);
    expect_stays_failed(s.writer);
}

TEST(BlobWriteErrorTest, WorkerErrorIsReportedByTheNextWrite) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    auto s = Sabotaged::make(dir.path() / "w.blob", key, true);
    s.make_read_only();
    // Three batches in one call: handing over the second waits for the first,
    // whose pwrite failed.
    const Bytes plain = pattern(3 * kBatchPlain + 10, 2);
    auto ok = s.writer.write(plain);
    ASSERT_FALSE(ok);
    expect_write_error(ok.error(), EBADF);
    expect_stays_failed(s.writer);
}

TEST(BlobWriteErrorTest, WorkerErrorIsReportedByALaterSmallWrite) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    auto s = Sabotaged::make(dir.path() / "l.blob", key, true);
    s.make_read_only();
    const Bytes plain = pattern(kBatchPlain + 1, 3);
    ASSERT_TRUE(s.writer.write(plain));  // batch 0 is with the worker
    // Small writes that fill no batch: the first to start after the worker
    // failed reports it; none may succeed after that. Whichever it is, the
    // error comes at the latest from the write that needs the worker again.
    const Bytes piece = pattern(1000, 4);
    std::optional<Error> first;
    for (std::size_t i = 0; i < 2 * kBatchPlain / piece.size() && !first; ++i) {
        if (auto r = s.writer.write(piece); !r) first = r.error();
    }
    ASSERT_TRUE(first) << "no write() reported the worker's error";
    expect_write_error(*first, EBADF);
    expect_stays_failed(s.writer);
}

TEST(BlobWriteErrorTest, ErrorWithoutWorkerIsReportedByTheWriteThatMetIt) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    auto s = Sabotaged::make(dir.path() / "o.blob", key, false);
    s.make_read_only();
    const Bytes plain = pattern(kBatchPlain + 1, 5);
    auto ok = s.writer.write(plain);  // the batch is written on this thread
    ASSERT_FALSE(ok);
    expect_write_error(ok.error(), EBADF);
    expect_stays_failed(s.writer);
}

TEST(BlobWriteErrorTest, AbandonedFailedWriterDoesNotHang) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    for (int i = 0; i < 10; ++i) {
        auto s = Sabotaged::make(dir.path() / "d.blob", key, true);
        s.make_read_only();
        const Bytes plain = pattern(kBatchPlain + 1 + i, 6);
        ASSERT_TRUE(s.writer.write(plain));
        // Destroyed with the failing batch possibly still in flight.
    }
    SUCCEED();
}

/// Caps the size of files this process writes and ignores SIGXFSZ, so that
/// a pwrite past the cap fails with EFBIG; restores both on destruction.
class FileSizeCap {
public:
    explicit FileSizeCap(rlim_t bytes) {
        EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit_), 0);
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        EXPECT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action_), 0);
        rlimit cap = old_limit_;
        cap.rlim_cur = bytes;
        EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &cap), 0) << std::strerror(errno);
    }
    ~FileSizeCap() {
        ::setrlimit(RLIMIT_FSIZE, &old_limit_);
        ::sigaction(SIGXFSZ, &old_action_, nullptr);
    }
    FileSizeCap(const FileSizeCap&) = delete;
    FileSizeCap& operator=(const FileSizeCap&) = delete;

private:
    rlimit old_limit_{};
    struct sigaction old_action_ {};
};

TEST(BlobWriteErrorTest, FileSizeLimitMidObjectIsReportedAndTheWriterStaysFailed) {
    TempDir dir;
    const auto path = dir.path() / "cap.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(8 * kBatchPlain, 7);
    constexpr rlim_t kCap = 2 * 1024 * 1024 + 12345;  // inside the third batch
    std::optional<Error> first;
    {
        FileSizeCap cap(kCap);
        auto w = BlobWriter::create(open_for_write(path), key, "cap", {kChunk});
        ASSERT_TRUE(w) << w.error().message();
        for (std::size_t off = 0; off < plain.size() && !first; off += 100000) {
            const std::size_t n = std::min<std::size_t>(100000, plain.size() - off);
            if (auto ok = w->write(ByteView(plain).subspan(off, n)); !ok) first = ok.error();
        }
        if (!first) {
            auto fin = w->finish();
            ASSERT_FALSE(fin) << "a write past RLIMIT_FSIZE went unreported";
            first = fin.error();
        }
        expect_write_error(*first, EFBIG);
        expect_stays_failed(*w);
    }
    EXPECT_LE(std::filesystem::file_size(path), kCap);
    // What reached the file is a prefix of a blob, never a valid one.
    auto r = open_blob(path, key, "cap");
    EXPECT_FALSE(r);
}

}  // namespace
}  // namespace enclave::crypto
