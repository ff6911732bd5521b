// SPDX-License-Identifier: Apache-2.0
// enclave-bench-blob: BlobStore write, full read and 1 MiB range read of a
// 64 MiB object, each beside the raw libsodium primitive
// (crypto_aead_xchacha20poly1305_ietf_encrypt / _decrypt) run on the same
// buffers, chunk by chunk, in the same process. Files go to /dev/shm (or
// $TMPDIR, or the directory given as the first argument) so that the disk
// does not dominate; the output says which.
//
//   enclave-bench-blob [directory] [seconds-per-measurement]

#include <sodium.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "bench/bench_util.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/key_wrapper.hpp"

namespace {

using namespace enclave;
using crypto::Bytes;
using crypto::ByteView;

constexpr std::size_t kObject = 64u * 1024 * 1024;
constexpr std::size_t kChunk = crypto::kBlobDefaultChunkSize;
constexpr std::size_t kStride = kChunk + crypto::kBlobTagSize;
constexpr std::size_t kRange = 1024 * 1024;
constexpr std::size_t kWritePiece = 1024 * 1024;
constexpr double kMB = 1e6;

std::filesystem::path pick_base(int argc, char** argv, std::string& why) {
    if (argc > 1) {
        why = "given on the command line";
        return argv[1];
    }
    if (::access("/dev/shm", W_OK) == 0) {
        why = "tmpfs, so the disk does not dominate";
        return "/dev/shm";
    }
    const char* t = std::getenv("TMPDIR");
    why = "no writable /dev/shm: figures include the file system";
    return t != nullptr && *t != '\0' ? t : "/tmp";
}

[[noreturn]] void die(const std::string& what, const crypto::Error& e) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), e.message().c_str());
    std::exit(1);
}

/// The raw primitive on the same plaintext, chunk by chunk, with the same
/// nonce and AD sizes as the blob format (24-byte nonce, 41-byte AD).
struct RawAead {
    const crypto::Secret key = crypto::Secret::random(32);
    unsigned char nonce[24] = {};
    unsigned char ad[41] = {};

    void encrypt(const std::uint8_t* in, std::size_t len, std::uint8_t* out) {
        for (std::size_t off = 0, i = 0; off < len; off += kChunk, ++i) {
            const std::size_t n = std::min(kChunk, len - off);
            std::memcpy(nonce + 16, &i, sizeof i);
            unsigned long long clen = 0;
            crypto_aead_xchacha20poly1305_ietf_encrypt(out + i * kStride, &clen, in + off, n, ad,
                                                       sizeof ad, nullptr, nonce, key.data());
        }
    }
    /// Decrypts `len` bytes starting at chunk `first` of the sealed buffer.
    bool decrypt(const std::uint8_t* sealed, std::size_t first, std::size_t len, std::uint8_t* out) {
        bool ok = true;
        for (std::size_t off = 0, i = first; off < len; off += kChunk, ++i) {
            const std::size_t n = std::min(kChunk, len - off);
            std::memcpy(nonce + 16, &i, sizeof i);
            unsigned long long mlen = 0;
            ok &= crypto_aead_xchacha20poly1305_ietf_decrypt(out + off, &mlen, nullptr,
                                                             sealed + i * kStride, n + 16, ad,
                                                             sizeof ad, nonce, key.data()) == 0;
        }
        return ok;
    }
};

using Fn = std::function<void()>;

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// CPU time (user + system) the calling thread spends in `f`: unlike wall
/// time it does not count the time other processes hold the CPU, so the
/// figures hold on a busy, shared machine. Wall time is added to `wall`.
double time_one(const Fn& f, double& wall) {
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_seconds();
    f();
    const double c1 = thread_cpu_seconds();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    return c1 - c0;
}

/// Our operation and the reference, measured in alternating rounds so that
/// load from other processes hits both alike. `cleanup` runs after each of
/// our rounds, unmeasured. Rates are bytes per CPU-second of this thread
/// (best round and mean) and bytes per wall-clock second (mean).
struct Pair {
    double ours_best = 0, ref_best = 0, ours_mean = 0, ref_mean = 0;
    double ours_wall = 0, ref_wall = 0;
    int rounds = 0;
};

Pair compare(double seconds, double bytes, const Fn& ours, const Fn& cleanup, const Fn& ref,
             const Fn& ref_cleanup = [] {}) {
    ours();
    cleanup();
    ref();
    ref_cleanup();
    double ours_total = 0, ref_total = 0, ours_min = 1e9, ref_min = 1e9;
    double ours_wall = 0, ref_wall = 0;
    int rounds = 0;
    while (ours_wall + ref_wall < 2 * seconds || rounds < 5) {
        const double a = time_one(ours, ours_wall);
        cleanup();
        const double b = time_one(ref, ref_wall);
        ref_cleanup();
        ours_total += a;
        ref_total += b;
        ours_min = std::min(ours_min, a);
        ref_min = std::min(ref_min, b);
        ++rounds;
    }
    return {bytes / ours_min, bytes / ref_min, bytes * rounds / ours_total,
            bytes * rounds / ref_total, bytes * rounds / ours_wall, bytes * rounds / ref_wall, rounds};
}

void report(const std::string& what, const Pair& p) {
    bench::print_row(what, p.ours_best / kMB, p.ref_best / kMB, "MB/s", ">= 0.80x");
    std::printf("%-44s %14.1f %14.1f %7.2fx  CPU time, mean of %d rounds\n", "",
                p.ours_mean / kMB, p.ref_mean / kMB, p.ours_mean / p.ref_mean, p.rounds);
    std::printf("%-44s %14.1f %14.1f %7.2fx  wall clock, mean\n", "", p.ours_wall / kMB,
                p.ref_wall / kMB, p.ours_wall / p.ref_wall);
}

/// Plain pwrite of 64 MiB to a new file and pread of it back, 1 MiB per call
/// through one reused 1 MiB buffer (as the blob writer and reader do): what
/// the page cache costs, without any cryptography.
Pair file_io_only(const std::filesystem::path& dir, double seconds) {
    const auto path = (dir / "plain-io").string();
    Bytes buf(kWritePiece);
    randombytes_buf(buf.data(), buf.size());
    auto write_new = [&] {
        crypto::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        for (std::size_t off = 0; off < kObject; off += kWritePiece) {
            if (::pwrite(fd.get(), buf.data(), kWritePiece, static_cast<off_t>(off)) < 0) {
                std::abort();
            }
        }
    };
    auto read_back = [&] {
        crypto::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        for (std::size_t off = 0; off < kObject; off += kWritePiece) {
            if (::pread(fd.get(), buf.data(), kWritePiece, static_cast<off_t>(off)) < 0) {
                std::abort();
            }
        }
    };
    // "ours" = write a new file, "ref" = read it back; the unlink is not timed
    // (as the store benchmark does not time remove()).
    return compare(seconds / 2, static_cast<double>(kObject), write_new, [] {}, read_back,
                   [&] { ::unlink(path.c_str()); });
}

/// Everything the measurements share.
struct Bench {
    Bench(crypto::BlobStore& s, const Bytes& p) : store(s), plain(p) {}

    crypto::BlobStore& store;
    const Bytes& plain;  // kObject random bytes
    Bytes sealed = Bytes((kObject / kChunk + 1) * kStride);
    Bytes scratch = Bytes(kObject);
    RawAead raw;
    std::mt19937_64 rng{1};
    int serial = 0;

    std::string current_id() const { return "w" + std::to_string(serial); }

    void write_object() {
        auto h = store.create(current_id());
        if (!h) die("create", h.error());
        for (std::size_t off = 0; off < kObject; off += kWritePiece) {
            if (auto ok = h->write(ByteView(plain).subspan(off, kWritePiece)); !ok) die("write", ok.error());
        }
        if (auto ok = h->commit(); !ok) die("commit", ok.error());
    }

    Pair write(double seconds) {
        auto remove_it = [&] {
            if (auto ok = store.remove(current_id()); !ok) die("remove", ok.error());
            ++serial;
        };
        return compare(seconds, kObject, [&] { write_object(); }, remove_it,
                       [&] { raw.encrypt(plain.data(), kObject, sealed.data()); });
    }

    Pair read_all(double seconds, const std::string& id) {
        std::uint64_t seen = 0;
        auto ours = [&] {
            auto r = store.open_object(id);
            if (!r) die("open_object", r.error());
            auto ok = r->read_all([&](ByteView p) -> crypto::Result<void> {
                seen += p.size();
                return {};
            });
            if (!ok) die("read_all", ok.error());
        };
        auto p = compare(seconds, kObject, ours, [] {}, [&] {
            if (!raw.decrypt(sealed.data(), 0, kObject, scratch.data())) std::abort();
        });
        if (seen % kObject != 0) std::abort();
        return p;
    }

    /// 32 reads of 1 MiB per round, at chunk-aligned or arbitrary offsets.
    Pair ranges(double seconds, const crypto::BlobReader& reader, bool aligned) {
        constexpr int kPerRound = 32;
        constexpr std::size_t kChunkChoices = kObject / kChunk - kRange / kChunk + 1;
        Bytes out(kRange);
        auto ours = [&] {
            for (int i = 0; i < kPerRound; ++i) {
                const std::uint64_t off =
                    aligned ? (rng() % kChunkChoices) * kChunk : rng() % (kObject - kRange + 1);
                if (auto ok = reader.read_into(off, out); !ok) die("read_into", ok.error());
            }
        };
        auto ref = [&] {
            for (int i = 0; i < kPerRound; ++i) {
                if (!raw.decrypt(sealed.data(), rng() % kChunkChoices, kRange, out.data())) std::abort();
            }
        };
        return compare(seconds, double{kRange} * kPerRound, ours, [] {}, ref);
    }
};

void print_notes() {
    std::printf("(first line of each: best round, in MB per CPU-second of the measuring thread,\n"
                " user + system, so other load on the machine does not skew it; MB = 10^6 bytes\n"
                " of plaintext. Random-offset ranges touch 17 chunks for 16 chunks of data; the\n"
                " reference always decrypts 16 aligned chunks.)\n");
}

}  // namespace

int main(int argc, char** argv) {
    crypto::ensure_sodium();
    std::string why;
    const auto base = pick_base(argc, argv, why);
    const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
    std::string tmpl = (base / "enclave-bench-blob-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path dir = tmpl;
    std::printf("blob files in %s (%s); object %zu MiB, chunk %zu KiB, >= %.1f s per figure\n",
                dir.c_str(), why.c_str(), kObject >> 20, kChunk >> 10, seconds);
    std::fflush(stdout);
    {
        crypto::SecretKeyWrapper kek("bench-kek", crypto::Secret::random(32));
        auto store = crypto::BlobStore::open(dir / "store", kek);
        if (!store) die("open store", store.error());
        Bytes plain(kObject);
        randombytes_buf(plain.data(), plain.size());
        Bench b{*store, plain};

        bench::print_header("blob store vs raw XChaCha20-Poly1305 (same buffers, same run)");
        const Pair w = b.write(seconds);
        report("write 64 MiB (create, write 1 MiB x64, commit)", w);
        b.write_object();
        const std::string id = b.current_id();
        const Pair rd = b.read_all(seconds, id);
        report("full read 64 MiB (open_object + read_all)", rd);
        auto reader = store->open_object(id);
        if (!reader) die("open_object", reader.error());
        report("1 MiB range read, chunk-aligned (read_into)", b.ranges(seconds, *reader, true));
        report("1 MiB range read, random offset (read_into)", b.ranges(seconds, *reader, false));
        const auto opens = bench::measure([&] {
            if (auto r = store->open_object(id); !r) die("open_object", r.error());
        }, seconds);
        bench::print_figure("open_object (unwrap key, check final chunk)", opens.per_second,
                            "ops/s");
        print_notes();

        bench::print_header("where the rest goes: the page cache alone, no cryptography");
        const Pair io = file_io_only(dir, seconds);
        bench::print_figure("pwrite 64 MiB to a new file (1 MiB calls)", io.ours_best / kMB, "MB/s");
        bench::print_figure("pread 64 MiB (1 MiB calls)", io.ref_best / kMB, "MB/s");
        std::printf("ceiling for any design that encrypts, then writes (or reads, then decrypts)\n"
                    "through the page cache, from the CPU rates above: write %.2fx, read %.2fx\n"
                    "(= 1 / (1 + raw AEAD rate / I/O rate))\n",
                    1.0 / (1.0 + w.ref_best / io.ours_best), 1.0 / (1.0 + rd.ref_best / io.ref_best));
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return 0;
}
