// SPDX-License-Identifier: Apache-2.0
// enclave-bench-outbox: durable enqueue rate of the Outbox (items of 1 KiB,
// 1 and 8 threads (and 32 with one item per call), calls of 1 and 100 items, each call with its own
// idempotency key), beside references measured in the same run on the same
// disk:
//   raw SQLCipher  a SealedDb (same settings: WAL, synchronous=FULL) with one
//                  table; each call is BEGIN IMMEDIATE, INSERT of the same
//                  bytes, COMMIT. With 8 threads the connection is shared
//                  behind a mutex, one transaction per call (no group commit).
//   fsync'd file   write() of the same bytes to a plain file + fdatasync()
//                  per call (the floor of "durable" on this disk), 1 thread.
// Then the drain rate: next_delivery (100 items per delivery) + delivered.
//
// Files go to $TMPDIR (or /tmp, or the directory given as the first
// argument): a real disk, since fsync is what is measured.
//
//   enclave-bench-outbox [directory] [seconds-per-measurement]

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "bench/bench_util.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/sealed_db.hpp"
#include "delivery/outbox.hpp"

namespace {

using namespace enclave;
namespace fs = std::filesystem;

constexpr std::size_t kItemBytes = 1024;

std::string make_payload(std::size_t n) {
    std::string p = "<handoverItem xmlns=\"http://uri.etsi.org/03707/2020/02\"><timestamp>2026-01-01T00:00:00Z</timestamp>";
    while (p.size() + 16 < n) p += "<x>0123456789</x>";
    p.resize(n - 15, ' ');
    p += "</handoverItem>";
    return p;
}

struct Setup {
    fs::path dir;
    crypto::SecretKeyWrapper kek{"bench-kek", crypto::Secret::random(32)};
};

double outbox_rate(delivery::Outbox& box, int threads, int batch, double seconds, const std::string& payload) {
    static std::atomic<std::uint64_t> counter{0};
    std::vector<delivery::OutboxItem> items(static_cast<std::size_t>(batch), delivery::OutboxItem{payload, {}});
    auto rate = bench::measure_threads(threads, [&](int t) {
        const std::string key = "k" + std::to_string(counter.fetch_add(1));
        auto r = box.enqueue("lea", "LIID-" + std::to_string(t), key, items);
        if (!r) {
            std::fprintf(stderr, "enqueue failed: %s\n", r.error().message().c_str());
            std::exit(1);
        }
    }, seconds);
    return rate.per_second * batch;
}

double raw_sqlcipher_rate(crypto::SealedDb& db, int threads, int batch, double seconds, const std::string& payload) {
    std::mutex mu;
    auto rate = bench::measure_threads(threads, [&](int) {
        std::lock_guard lock(mu);
        auto tx = db.begin(crypto::TransactionMode::immediate);
        auto st = db.prepare("INSERT INTO t(ref, payload) VALUES(?1, ?2)");
        if (!tx || !st) std::exit(1);
        for (int i = 0; i < batch; ++i) {
            st->reset();
            if (!st->bind_int64(1, 1) || !st->bind_blob(2, crypto::as_bytes(payload)) || !st->run()) std::exit(1);
        }
        if (!tx->commit()) std::exit(1);
    }, seconds);
    return rate.per_second * batch;
}

double fsync_file_rate(const fs::path& file, int batch, double seconds, const std::string& payload) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) std::exit(1);
    std::string chunk;
    for (int i = 0; i < batch; ++i) chunk += payload;
    auto rate = bench::measure([&] {
        if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size()) || ::fdatasync(fd) != 0) {
            std::exit(1);
        }
    }, seconds);
    ::close(fd);
    return rate.per_second * batch;
}

double drain_rate(delivery::Outbox& box, std::uint64_t& drained) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    drained = 0;
    for (;;) {
        auto d = box.next_delivery("lea", delivery::Outbox::Clock::now());
        if (!d) std::exit(1);
        if (!*d) break;
        drained += (*d)->items.size();
        if (!box.delivered((*d)->delivery_id)) std::exit(1);
    }
    return drained / std::chrono::duration<double>(clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    const char* tmp = std::getenv("TMPDIR");
    Setup s;
    s.dir = fs::path(argc > 1 ? argv[1] : (tmp != nullptr ? tmp : "/tmp")) / ("enclave-bench-outbox-" + std::to_string(::getpid()));
    const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
    fs::create_directories(s.dir);
    const std::string payload = make_payload(kItemBytes);
    std::printf("outbox enqueue, %zu-byte items, durable (WAL, synchronous=FULL), files in %s\n", payload.size(),
                s.dir.c_str());

    delivery::OutboxOptions o;
    o.max_items = 100'000'000;
    o.max_bytes = 1ull << 40;
    auto box = delivery::Outbox::open(s.dir / "outbox.db", s.kek, o);
    auto raw = crypto::SealedDb::create(s.dir / "raw.db", s.kek);
    if (!box || !raw || !raw->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, ref INTEGER, payload BLOB)")) {
        std::fprintf(stderr, "setup failed\n");
        return 1;
    }
    bench::print_header("enqueue items/s: Outbox vs raw SQLCipher insert+commit (same threads, same bytes)");
    for (int threads : {1, 8, 32}) {
        for (int batch : {1, 100}) {
            if (threads == 32 && batch == 100) continue;
            double ours = 0;
            double ref = 0;
            for (int round = 0; round < 2; ++round) {
                ours = std::max(ours, outbox_rate(**box, threads, batch, seconds, payload));
                ref = std::max(ref, raw_sqlcipher_rate(*raw, threads, batch, seconds, payload));
            }
            const std::string what = std::to_string(threads) + " thread" + (threads > 1 ? "s" : "") + ", " +
                                     std::to_string(batch) + " item" + (batch > 1 ? "s" : "") + "/call";
            bench::print_row(what, ours, ref, "it/s", threads > 1 && batch == 1 ? ">= 5000 it/s" : "");
        }
    }
    bench::print_header("the floor: write + fdatasync of a plain file (1 thread)");
    for (int batch : {1, 100}) {
        bench::print_figure("fsync'd append, " + std::to_string(batch) + " item(s)/call",
                            fsync_file_rate(s.dir / "plain.log", batch, seconds, payload), "it/s");
    }
    std::uint64_t drained = 0;
    const double drain = drain_rate(**box, drained);
    bench::print_header("drain: next_delivery (100 items) + delivered, 1 thread");
    bench::print_figure("drained " + std::to_string(drained) + " items", drain, "it/s");
    box->reset();
    fs::remove_all(s.dir);
    return 0;
}
