// SPDX-License-Identifier: Apache-2.0
// enclave-bench-blob: BlobStore write, full read and 1 MiB range read of a
// 64 MiB object, each beside the raw libsodium primitive
// (crypto_aead_xchacha20poly1305_ietf_encrypt / _decrypt) run on the same
// buffers, chunk by chunk, in the same process. Files go to /dev/shm (or
// $TMPDIR, or the directory given as the first argument) so that the disk
// does not dominate; the output says which.
//
// Rates are wall clock (steady_clock), median of interleaved rounds: the
// writer overlaps encryption with a write-behind thread, so CPU time of the
// calling thread would flatter it. The CPU cost of all threads is printed
// beside it, and so are the machine's load and CPU pressure, because a
// two-thread writer's wall-clock rate depends on a free second core.
//
//   enclave-bench-blob [directory] [seconds-per-measurement]

#include <sodium.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

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

double process_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// Seconds per round of one side of a comparison: wall clock (steady_clock)
/// and CPU time of every thread of this process (the writer's worker too).
struct Rounds {
    std::vector<double> wall, cpu;

    void time(const Fn& f) {
        const double c0 = process_cpu_seconds();
        const auto w0 = std::chrono::steady_clock::now();
        f();
        wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count());
        cpu.push_back(process_cpu_seconds() - c0);
    }
    static double median(std::vector<double> v) {
        std::sort(v.begin(), v.end());
        const std::size_t n = v.size();
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
    double wall_median() const { return median(wall); }
    double wall_best() const { return *std::min_element(wall.begin(), wall.end()); }
    double cpu_median() const { return median(cpu); }
    double total_wall() const { return std::accumulate(wall.begin(), wall.end(), 0.0); }
};

/// Our operation and the reference, measured in interleaved rounds (the order
/// alternates each round unless `fixed_order`) so that load from other
/// processes hits both alike. `cleanup` runs after each of our rounds,
/// `ref_cleanup` after each reference round, both unmeasured.
struct Pair {
    double bytes = 0;
    Rounds ours, ref;
    /// Bytes per second from seconds per round.
    double rate(double seconds) const { return bytes / seconds; }
};

Pair compare(double seconds, double bytes, const Fn& ours, const Fn& cleanup, const Fn& ref,
             const Fn& ref_cleanup = [] {}, bool fixed_order = false) {
    ours();  // warm-up: page cache, allocator, code
    cleanup();
    ref();
    ref_cleanup();
    Pair p;
    p.bytes = bytes;
    auto run_ours = [&] { p.ours.time(ours); cleanup(); };
    auto run_ref = [&] { p.ref.time(ref); ref_cleanup(); };
    for (int round = 0; p.ours.total_wall() + p.ref.total_wall() < 2 * seconds || round < 7;
         ++round) {
        if (fixed_order || round % 2 == 0) {
            run_ours();
            run_ref();
        } else {
            run_ref();
            run_ours();
        }
    }
    return p;
}

void report(const std::string& what, const Pair& p, const std::string& goal = ">= 0.80x") {
    bench::print_row(what, p.rate(p.ours.wall_median()) / kMB, p.rate(p.ref.wall_median()) / kMB,
                     "MB/s", goal);
    const double ob = p.rate(p.ours.wall_best()), rb = p.rate(p.ref.wall_best());
    std::printf("%-44s %14.1f %14.1f %7.2fx  wall clock, best of %zu rounds\n", "", ob / kMB,
                rb / kMB, ob / rb, p.ours.wall.size());
    const double oc = p.rate(p.ours.cpu_median()), rc = p.rate(p.ref.cpu_median());
    std::printf("%-44s %14.1f %14.1f %7.2fx  per CPU-second, all threads, median\n", "",
                oc / kMB, rc / kMB, oc / rc);
}

/// The 1-minute load average, or -1 when /proc/loadavg cannot be read.
double load_average() {
    std::ifstream in("/proc/loadavg");
    double one = -1;
    in >> one;
    return in ? one : -1;
}

/// "some avg10" of /proc/pressure/cpu: the share of the last 10 s in which a
/// runnable task of this machine waited for a CPU (-1 when not available).
double cpu_pressure() {
    std::ifstream in("/proc/pressure/cpu");
    std::string some, avg10;
    in >> some >> avg10;
    if (!in || avg10.rfind("avg10=", 0) != 0) return -1;
    return std::atof(avg10.c_str() + 6);
}

void print_machine(const char* when) {
    std::printf("machine %s: %ld CPUs online, load average (1 min) %.2f, CPU pressure avg10 "
                "%.1f%%\n",
                when, ::sysconf(_SC_NPROCESSORS_ONLN), load_average(), cpu_pressure());
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
    // "ours" = write a new file, "ref" = read it back, in that order; the
    // unlink is not timed (as the store benchmark does not time remove()).
    return compare(seconds / 2, static_cast<double>(kObject), write_new, [] {}, read_back,
                   [&] { ::unlink(path.c_str()); }, true);
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

    /// One object through the store; `behind` = BlobWriterOptions::write_behind.
    void write_object(bool behind = true) {
        auto h = store.create(current_id(), crypto::BlobWriterOptions{kChunk, behind});
        if (!h) die("create", h.error());
        for (std::size_t off = 0; off < kObject; off += kWritePiece) {
            if (auto ok = h->write(ByteView(plain).subspan(off, kWritePiece)); !ok) die("write", ok.error());
        }
        if (auto ok = h->commit(); !ok) die("commit", ok.error());
    }

    Pair write(double seconds, bool behind) {
        auto remove_it = [&] {
            if (auto ok = store.remove(current_id()); !ok) die("remove", ok.error());
            ++serial;
        };
        return compare(seconds, kObject, [&] { write_object(behind); }, remove_it,
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
    std::printf(
        "(first line of each: WALL CLOCK (steady_clock), median round; ours and the reference\n"
        " run in interleaved rounds. Third line: MB per CPU-second of all threads of this\n"
        " process (the writer's worker included): the write-behind writer does not do less\n"
        " work, it spreads it over two cores, so its wall-clock rate needs a free second core.\n"
        " MB = 10^6 bytes of plaintext. The reference is the raw primitive in memory, on the\n"
        " same buffers, one thread. Random-offset ranges touch 17 chunks for 16 chunks of\n"
        " data; the reference always decrypts 16 aligned chunks.)\n");
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
    print_machine("before");
    std::fflush(stdout);
    {
        crypto::SecretKeyWrapper kek("bench-kek", crypto::Secret::random(32));
        auto store = crypto::BlobStore::open(dir / "store", kek);
        if (!store) die("open store", store.error());
        Bytes plain(kObject);
        randombytes_buf(plain.data(), plain.size());
        Bench b{*store, plain};

        bench::print_header("blob store vs raw XChaCha20-Poly1305 (same buffers, same run)");
        const Pair w = b.write(seconds, true);
        report("write 64 MiB (create, write 1 MiB x64, commit)", w);
        const Pair ws = b.write(seconds, false);
        report("  same, write_behind = false (one thread)", ws, "context");
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
        const double pw = io.rate(io.ours.wall_median()), pr = io.rate(io.ref.wall_median());
        const double aead = w.rate(w.ref.wall_median()), aead_open = rd.rate(rd.ref.wall_median());
        bench::print_figure("pwrite 64 MiB to a new file (1 MiB calls)", pw / kMB, "MB/s");
        bench::print_figure("pread 64 MiB (1 MiB calls)", pr / kMB, "MB/s");
        std::printf(
            "ceilings from these wall-clock medians:\n"
            "  encrypt, then pwrite on one thread:  write %.2fx  (1 / (1 + AEAD rate / pwrite rate))\n"
            "  pread, then decrypt on one thread:   read  %.2fx\n"
            "  write-behind, two free cores:        write %.2fx  (min(1, pwrite rate / AEAD rate))\n",
            1.0 / (1.0 + aead / pw), 1.0 / (1.0 + aead_open / pr), std::min(1.0, pw / aead));
    }
    print_machine("after ");
    std::printf("(a load average near or above the CPU count means other processes competed for\n"
                " the CPUs during the run: the write-behind worker then shares a core with them)\n");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return 0;
}
