// SPDX-License-Identifier: Apache-2.0
// enclave-bench-binary (issue #6): Models A and C, the LEA fetching binaries
// from enclaved's LEA listener, over the real programs
// (bench_delivery_rig.hpp: `enclavectl init` instance, enclaved and
// enclave-lea-sim as child processes). An endpoint takes Models A and C
// with the demo LEA client's subject; a collector uploads objects on the
// ingest listener and submits an item naming each; the simulator receives
// the delivery whose binaryObject carries the URL; the bench then fetches
// the URL with the demo LEA client certificate. Figures, each beside its
// reference measured in the same run:
//
//   1. Model A: one GET of the whole --object-mib object (default 512 MiB),
//      MB/s (10^6 bytes/s), best and median of --rounds, beside nginx
//      (bench_binary_nginx.hpp) serving the same bytes as a plain file,
//      the same client code (bench_binary_client.hpp), the same TLS
//      version and cipher (printed; the run dies if they differ).
//   2. Model C: the same object in sequential 8 MiB Range requests on one
//      keep-alive connection, beside nginx doing the same ranges.
//   3. enclaved's peak RSS while it serves a --big-mib (2048 MiB) object:
//      VmHWM before (the process's life so far, uploads included), then the
//      peak is reset (clear_refs) and VmHWM read after the download; VmRSS
//      sampled every 10 ms during it. The body is hashed and checked.
//   4. Head-of-line: 1 KiB items, one at a time, POST sent -> the
//      simulator has stored the DeliveryObject (ArrivalWatch: inotify, no
//      polling), p50/p99, while a client downloads a --hol-mib (1024 MiB)
//      object from the same endpoint's URL over and over, beside the same
//      with no transfer. Idle and loaded phases alternate (--hol-rounds).
//   5. Head-of-line, Model B (bench_binary_push.hpp): 1 KiB items, 202 read
//      -> the simulator has stored the DeliveryObject, p50/p99, while
//      enclaved pushes a --push-mib (1024 MiB) binary of the same reference
//      to the same endpoint, beside the same with no transfer.
//
// Options: --object-mib N, --big-mib N, --hol-mib N, --push-mib N,
// --rounds R (5), --samples S (items per phase per HOL round, 100),
// --hol-rounds H (3), --only-push (figure 5 alone: no nginx needed),
// --perf DIR (perf record and strace -c of extra Model A downloads from
// each server, after the figures).

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_binary_client.hpp"
#include "bench_binary_latency.hpp"
#include "bench_binary_nginx.hpp"
#include "bench_binary_push.hpp"
#include "bench_binary_setup.hpp"
#include "bench_binary_watch.hpp"
#include "bench_util.hpp"

namespace {

using namespace enclave;
using namespace enclave::bench::binary;
using enclave::bench::delivery_bench::PerfRecorder;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::uint64_t kRange = 8 * kMiB;

struct Options {
    std::uint64_t object_mib = 512, big_mib = 2048, hol_mib = 1024, push_mib = 1024;
    int rounds = 5, samples = 100, hol_rounds = 3;
    bool only_push = false;
    std::string perf_dir;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool value = i + 1 < argc;
        auto num = [&] { return std::stoi(argv[++i]); };
        if (a == "--object-mib" && value) o.object_mib = static_cast<std::uint64_t>(num());
        else if (a == "--big-mib" && value) o.big_mib = static_cast<std::uint64_t>(num());
        else if (a == "--hol-mib" && value) o.hol_mib = static_cast<std::uint64_t>(num());
        else if (a == "--push-mib" && value) o.push_mib = static_cast<std::uint64_t>(num());
        else if (a == "--only-push") o.only_push = true;
        else if (a == "--rounds" && value) o.rounds = num();
        else if (a == "--samples" && value) o.samples = num();
        else if (a == "--hol-rounds" && value) o.hol_rounds = num();
        else if (a == "--perf" && value) o.perf_dir = argv[++i];
        else
            die("usage: enclave-bench-binary [--object-mib N] [--big-mib N] [--hol-mib N] "
                "[--push-mib N] [--rounds R] [--samples S] [--hol-rounds H] [--only-push] [--perf DIR]");
    }
    if (o.object_mib < 8 || o.big_mib < 8 || o.hol_mib < 8 || o.push_mib < 8 || o.object_mib > 4096 ||
        o.big_mib > 4096 || o.hol_mib > 4096 || o.push_mib > 4096 || o.rounds < 1 || o.samples < 10 ||
        o.hol_rounds < 1) {
        die("bad option value (objects 8..4096 MiB, samples >= 10)");
    }
    return o;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

/// CPU seconds (user + system) of this process so far.
double own_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Writes `size` bytes of content `seed` to `path` and fsyncs it.
void write_content_file(const fs::path& path, std::uint32_t seed, std::uint64_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("cannot create " + path.string());
    std::vector<char> piece(kMiB);
    bool ok = true;
    for (std::uint64_t at = 0; ok && at < size; at += piece.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), size - at));
        fill_content(seed, at, piece.data(), n);
        ok = ::write(fd, piece.data(), n) == static_cast<ssize_t>(n);
    }
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok) die("cannot write " + path.string());
}

/// A server under test: a port, the path of the object, its process.
struct Server {
    const char* name;
    std::uint16_t port;
    std::string target;
    pid_t pid;
};

/// The negotiated TLS of a connection to `s`, "TLSv1.3 TLS_AES_..." form.
std::string negotiated(SSL_CTX* ctx, const Server& s) {
    Connection c(ctx, s.port);
    return c.version() + " " + c.cipher();
}

/// Downloads the whole object (Model A) on a fresh connection; dies unless
/// 200 with `size` bytes. Returns seconds from request to last byte.
double model_a(SSL_CTX* ctx, const Server& s, std::uint64_t size, const BodySink& sink = {}) {
    Connection c(ctx, s.port);
    const auto t0 = Clock::now();
    const Head h = c.get(s.target, "", sink);
    const double t = seconds_since(t0);
    if (h.status != 200 || h.content_length != size) {
        die(std::string(s.name) + " Model A: " + h.raw);
    }
    return t;
}

/// The object in sequential 8 MiB ranges on one connection (Model C).
/// `first_bytes`: when set, each range's time to its first body byte.
double model_c(SSL_CTX* ctx, const Server& s, std::uint64_t size, const BodySink& sink = {},
               std::vector<double>* first_bytes = nullptr) {
    Connection c(ctx, s.port);
    const auto t0 = Clock::now();
    for (std::uint64_t first = 0; first < size; first += kRange) {
        const std::uint64_t last = std::min(first + kRange, size) - 1;
        const Head h = c.get(s.target, "Range: bytes=" + std::to_string(first) + "-" +
                                           std::to_string(last) + "\r\n", sink);
        const std::string want = "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                 "/" + std::to_string(size);
        if (h.status != 206 || h.content_length != last - first + 1 || h.content_range != want) {
            die(std::string(s.name) + " Model C range " + want + ": " + h.raw);
        }
        if (first_bytes != nullptr) first_bytes->push_back(h.first_byte_s);
    }
    return seconds_since(t0);
}

struct Throughput {
    std::vector<double> a_mbs, c_mbs;  ///< per round
    std::vector<double> c_first_byte;  ///< every Model C range's time to its first body byte
    double server_cpu = 0, client_cpu = 0, bytes = 0;
    double switches = 0;  ///< server context switches (voluntary + not)
};

/// Context switches (voluntary + involuntary) of every thread of `pid`.
double context_switches(pid_t pid) {
    double total = 0;
    std::error_code ec;
    for (const auto& t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(t.path() / "status");
        for (std::string line; std::getline(in, line);) {
            if (line.find("ctxt_switches:") != std::string::npos) {
                total += std::stod(line.substr(line.find(':') + 1));
            }
        }
    }
    return total;
}

/// Checks both servers serve the expected bytes (A whole and C ranges,
/// hashed; untimed, also warms the page cache), then runs the rounds,
/// ours and nginx interleaved.
std::pair<Throughput, Throughput> measure_throughput(SSL_CTX* ctx, const Server& ours,
                                                     const Server& ref, std::uint64_t size,
                                                     const std::string& sha, int rounds) {
    for (const Server* s : {&ours, &ref}) {
        HashingSink a, c;
        model_a(ctx, *s, size, a.sink());
        model_c(ctx, *s, size, c.sink());
        if (a.hex() != sha || c.hex() != sha) die(std::string(s->name) + " served other bytes");
    }
    Throughput t[2];
    const Server* servers[2] = {&ours, &ref};
    for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < 2; ++i) {
            const double cpu0 = bench::tls::process_cpu_seconds({servers[i]->pid}), own0 = own_cpu_seconds();
            const double cs0 = context_switches(servers[i]->pid);
            t[i].a_mbs.push_back(static_cast<double>(size) / 1e6 / model_a(ctx, *servers[i], size));
            t[i].c_mbs.push_back(static_cast<double>(size) / 1e6 /
                                 model_c(ctx, *servers[i], size, {}, &t[i].c_first_byte));
            t[i].server_cpu += bench::tls::process_cpu_seconds({servers[i]->pid}) - cpu0;
            t[i].client_cpu += own_cpu_seconds() - own0;
            t[i].switches += context_switches(servers[i]->pid) - cs0;
            t[i].bytes += 2.0 * static_cast<double>(size);
        }
    }
    return {t[0], t[1]};
}

void report_throughput(const Throughput& ours, const Throughput& ref, std::uint64_t size, int rounds) {
    char title[160];
    std::snprintf(title, sizeof title,
                  "Models A/C: a %llu MiB object over mutual TLS, MB/s (10^6 B/s), %d rounds",
                  static_cast<unsigned long long>(size / kMiB), rounds);
    bench::print_header(title);
    const auto best = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
    const auto goal = [](double r) { return std::string(r >= 0.8 ? ">= 0.80x: met" : ">= 0.80x: NOT met"); };
    const double a = median(ours.a_mbs), ar = median(ref.a_mbs);
    const double c = median(ours.c_mbs), cr = median(ref.c_mbs);
    bench::print_row("Model A whole object, median (vs nginx)", a, ar, "MB/s", goal(a / ar));
    bench::print_row("Model A whole object, best round", best(ours.a_mbs), best(ref.a_mbs), "MB/s", "context");
    bench::print_row("Model C 8 MiB ranges, median (vs nginx)", c, cr, "MB/s", goal(c / cr));
    bench::print_row("Model C 8 MiB ranges, best round", best(ours.c_mbs), best(ref.c_mbs), "MB/s", "context");
    bench::print_row("Model C time to a range's first body byte, median",
                     median(ours.c_first_byte) * 1e3, median(ref.c_first_byte) * 1e3, "ms",
                     "context");
    const double gib_ours = ours.bytes / (1u << 30), gib_ref = ref.bytes / (1u << 30);
    bench::print_row("server CPU s per GiB served (A and C)", ours.server_cpu / gib_ours,
                     ref.server_cpu / gib_ref, "s", "context (lower is better)");
    bench::print_row("client CPU s per GiB (same code)", ours.client_cpu / gib_ours,
                     ref.client_cpu / gib_ref, "s", "context");
    bench::print_row("server context switches per MiB served", ours.switches / (gib_ours * 1024),
                     ref.switches / (gib_ref * 1024), "", "context");
    std::printf("rounds, MB/s (A ours/nginx, C ours/nginx):");
    for (std::size_t r = 0; r < ours.a_mbs.size(); ++r) {
        std::printf(" [%.0f/%.0f, %.0f/%.0f]", ours.a_mbs[r], ref.a_mbs[r], ours.c_mbs[r], ref.c_mbs[r]);
    }
    std::printf("\n");
}

/// Figure 3: enclaved's resident set while it serves the big object.
void measure_rss(SSL_CTX* ctx, const Server& ours, std::uint64_t size, const std::string& sha) {
    const long life_hwm = proc_status_kib(ours.pid, "VmHWM");
    const long rss_before = proc_status_kib(ours.pid, "VmRSS");
    const bool reset = reset_peak_rss(ours.pid);
    const long hwm_reset = proc_status_kib(ours.pid, "VmHWM");
    HashingSink h;
    RssSampler sampler(ours.pid, 10ms);
    const double t = model_a(ctx, ours, size, h.sink());
    sampler.stop();
    const long hwm_after = proc_status_kib(ours.pid, "VmHWM");
    if (h.hex() != sha) die("enclaved served other bytes for the big object");
    char title[120];
    std::snprintf(title, sizeof title, "enclaved memory while serving a %llu MiB object (Model A)",
                  static_cast<unsigned long long>(size / kMiB));
    bench::print_header(title);
    bench::print_figure("VmHWM before (life so far, uploads included)", life_hwm / 1024.0, "MiB");
    bench::print_figure("VmRSS before the download", rss_before / 1024.0, "MiB");
    if (reset) {
        bench::print_figure("VmHWM after the peak was reset", hwm_reset / 1024.0, "MiB");
    } else {
        std::printf("(the kernel refused clear_refs: VmHWM after is the process's life peak)\n");
    }
    bench::print_figure("VmRSS peak sampled every 10 ms during it", sampler.max_kib() / 1024.0, "MiB");
    const double hwm = hwm_after / 1024.0;
    std::printf("%-44s %14.1f MiB  goal <= 100 MiB: %s\n", "VmHWM after the download", hwm,
                hwm <= 100 ? "met" : "NOT met");
    bench::print_figure("download rate (body hashed, SHA-256 checked)",
                        static_cast<double>(size) / 1e6 / t, "MB/s");
    std::printf("(%ld RSS samples)\n", sampler.samples());
}

/// A client downloading the whole object over and over until stopped.
class Downloader {
public:
    Downloader(SSL_CTX* ctx, const Server& s) {
        thread_ = std::thread([this, ctx, s] {
            try {
                while (!stop_) {
                    {
                        std::lock_guard lock(mu_);
                        starts_.push_back(Clock::now());
                    }
                    Connection c(ctx, s.port);
                    const Head h = c.get(s.target, "", [this](const char*, std::size_t n) {
                        bytes_ += n;
                        return !stop_.load();
                    });
                    if (h.status != 200 && h.status != -1) error_ = h.raw;
                    if (h.status != 200) return;
                    ++whole_;
                }
            } catch (const std::exception& e) {
                error_ = e.what();
            }
        });
    }
    ~Downloader() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    Downloader(const Downloader&) = delete;
    Downloader& operator=(const Downloader&) = delete;
    /// Stops the client (a transfer in progress is cut); dies if it failed.
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (!error_.empty()) die("the downloading client failed: " + error_);
    }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
    [[nodiscard]] int whole() const { return whole_; }
    /// When each download (a new connection, handshake and GET) began.
    std::vector<Clock::time_point> starts() {
        std::lock_guard lock(mu_);
        return starts_;
    }

private:
    std::mutex mu_;
    std::vector<Clock::time_point> starts_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<int> whole_{0};
    std::string error_;
    std::thread thread_;
};

struct HolResult {
    Latencies idle, loaded;
    std::vector<Clock::time_point> gets;  ///< when the downloader's GETs began
    double load_bytes = 0, load_seconds = 0;
    int whole = 0;
};

/// The slowest `n` loaded samples, each with how long after the latest
/// download GET (new connection) it was sent.
void print_slowest(const HolResult& h, std::size_t n) {
    std::vector<std::size_t> idx(h.loaded.sent_ms.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(),
              [&](std::size_t a, std::size_t b) { return h.loaded.sent_ms[a] > h.loaded.sent_ms[b]; });
    std::printf("slowest items during the download:");
    for (std::size_t k = 0; k < std::min(n, idx.size()); ++k) {
        const auto sent = h.loaded.sent[idx[k]];
        double after = -1;
        for (const auto& g : h.gets) {
            if (g <= sent) after = std::chrono::duration<double, std::milli>(sent - g).count();
        }
        const double total = h.loaded.sent_ms[idx[k]], delivery = h.loaded.accepted_ms[idx[k]];
        std::printf("\n  %.1f ms (202 after %.1f ms; sent %.0f ms after a download GET began)",
                    total, total - delivery, after);
    }
    std::printf("\n");
}

void report_hol(const HolResult& h, std::uint64_t hol_mib) {
    char title[160];
    std::snprintf(title, sizeof title,
                  "head-of-line: 1 KiB items -> LEA while a %llu MiB object downloads, ms",
                  static_cast<unsigned long long>(hol_mib));
    bench::print_header(title);
    std::printf("(%zu items per column, one at a time; ours = while the object downloads, "
                "reference = no transfer;\n arrival = the simulator appended the delivery to "
                "deliveries.jsonl, seen by inotify)\n",
                h.idle.sent_ms.size());
    const auto& l = h.loaded;
    const auto& i = h.idle;
    const double p99 = quantile(l.sent_ms, 0.99), p99_idle = quantile(i.sent_ms, 0.99);
    bench::print_row("p50 POST sent -> stored at LEA", quantile(l.sent_ms, 0.5),
                     quantile(i.sent_ms, 0.5), "ms", "context");
    bench::print_row("p99 POST sent -> stored at LEA", p99, p99_idle, "ms",
                     std::string(p99 <= 100 ? "<= 100 ms: met" : "<= 100 ms: NOT met") +
                         (p99 <= 2 * p99_idle ? ", <= 2x idle: met" : ", <= 2x idle: NOT met"));
    bench::print_row("p50 202 read -> stored at LEA", quantile(l.accepted_ms, 0.5),
                     quantile(i.accepted_ms, 0.5), "ms", "context");
    bench::print_row("p99 202 read -> stored at LEA", quantile(l.accepted_ms, 0.99),
                     quantile(i.accepted_ms, 0.99), "ms", "context");
    bench::print_row("max POST sent -> stored at LEA", quantile(l.sent_ms, 1.0),
                     quantile(i.sent_ms, 1.0), "ms", "context");
    bench::print_figure("download rate during the loaded phases", h.load_bytes / 1e6 / h.load_seconds,
                        "MB/s");
    bench::print_figure("whole downloads completed (loaded phases)", h.whole, "");
    print_slowest(h, 3);
}

void measure_hol(PullSetup& p, const Server& ours, const Options& o) {
    Connection c(p.collector(), p.rig().ingest_port());
    HolResult h;
    Latencies warm;
    sample_items(p, c, 10, "warm-", warm);
    for (int r = 0; r < o.hol_rounds; ++r) {
        sample_items(p, c, o.samples, "idle-", h.idle);
        Downloader d(p.lea(), ours);
        std::this_thread::sleep_for(300ms);  // the transfer is in full flow
        const auto t0 = Clock::now();
        const std::uint64_t b0 = d.bytes();
        sample_items(p, c, o.samples, "loaded-", h.loaded);
        h.load_bytes += static_cast<double>(d.bytes() - b0);
        h.load_seconds += seconds_since(t0);
        d.stop();
        h.whole += d.whole();
        const auto starts = d.starts();
        h.gets.insert(h.gets.end(), starts.begin(), starts.end());
    }
    report_hol(h, o.hol_mib);
}

/// --perf DIR: one extra Model A download and one extra Model C series
/// from each server under `perf record` (NAME.perf.data, NAME.c.perf.data),
/// and one Model A download under `strace -c -f` (syscall counts); files in
/// DIR.
void perf_profiles(SSL_CTX* ctx, const Server& ours, const Server& ref, std::uint64_t size,
                   const std::string& dir) {
    fs::create_directories(dir);
    for (const Server* s : {&ours, &ref}) {
        const fs::path base = fs::path(dir) / s->name;
        {
            PerfRecorder perf(s->pid, base.string() + ".perf.data");
            model_a(ctx, *s, size);
            perf.stop();
        }
        {
            PerfRecorder perf(s->pid, base.string() + ".c.perf.data");
            model_c(ctx, *s, size);
            perf.stop();
        }
        if (::access("/usr/bin/strace", X_OK) != 0) continue;
        enclave::bench::delivery_bench::Child strace(
            {"/usr/bin/strace", "-c", "-f", "-o", base.string() + ".strace", "-p",
             std::to_string(s->pid)},
            base.string() + ".strace.log");
        std::this_thread::sleep_for(500ms);  // strace attaches to every thread
        model_a(ctx, *s, size);
        (void)strace.stop(SIGINT, 30s);
    }
    std::printf("perf data and strace counts in %s (enclaved.*, nginx.*)\n", dir.c_str());
}

int run(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    if (!o.only_push) NginxFileServer::require_installed();  // before minutes of set-up
    std::printf("load average at start: %s\n", loadavg().c_str());
    testing::TempDir root;
    PullSetup p(root.path());
    if (o.only_push) {
        measure_push_hol(p, o.push_mib, o.samples, o.hol_rounds);
        p.rig().check_alive();
        p.rig().stop();
        std::printf("load average at end: %s\n", loadavg().c_str());
        return 0;
    }
    const std::uint64_t size = o.object_mib * kMiB, big = o.big_mib * kMiB, hol = o.hol_mib * kMiB;
    const auto t_up = Clock::now();
    const Server ours{"enclaved", p.rig().lea_port(), p.upload_and_deliver(1, size),
                      p.rig().daemon().pid()};
    const std::string big_target = p.upload_and_deliver(2, big);
    const std::string hol_target = p.upload_and_deliver(3, hol);
    std::printf("uploaded and delivered %llu MiB in %.1f s\n",
                static_cast<unsigned long long>((size + big + hol) / kMiB), seconds_since(t_up));
    // nginx's file: the same bytes as the object, on disk before anything
    // is timed (dirty pages left to writeback would stall later fsyncs).
    const fs::path www = root.path() / "www";
    fs::create_directories(www);
    write_content_file(www / "object.bin", 1, size);
    NginxFileServer nginx(root.path() / "nginx", www, p.rig().pki());
    const Server ref{"nginx", nginx.port(), "/object.bin", nginx.pid()};
    const std::string tls_ours = negotiated(p.lea(), ours), tls_ref = negotiated(p.lea(), ref);
    std::printf("TLS: enclaved %s, nginx %s (client offers only what enclaved chose by default)\n",
                tls_ours.c_str(), tls_ref.c_str());
    if (tls_ours != tls_ref) die("the two servers negotiated different TLS");
    std::printf("client: OpenSSL, blocking socket, 256 KiB reads (read-ahead), demo LEA "
                "certificate; nginx %s serves %s as a file\n",
                "(Debian, 1 process, ssl_verify_client on)", "the same bytes");

    const auto [a, b] = measure_throughput(p.lea(), ours, ref, size, content_sha256(1, size), o.rounds);
    report_throughput(a, b, size, o.rounds);
    std::printf("nginx VmHWM after its rounds: %.1f MiB\n", proc_status_kib(ref.pid, "VmHWM") / 1024.0);
    Server big_server = ours;
    big_server.target = big_target;
    measure_rss(p.lea(), big_server, big, content_sha256(2, big));
    Server hol_server = ours;
    hol_server.target = hol_target;
    measure_hol(p, hol_server, o);
    measure_push_hol(p, o.push_mib, o.samples, o.hol_rounds);
    if (!o.perf_dir.empty()) perf_profiles(p.lea(), ours, ref, size, o.perf_dir);
    p.rig().check_alive();
    p.rig().stop();
    std::printf("load average at end: %s\n", loadavg().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows through a pipe
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-binary: %s\n", e.what());
        return 1;
    }
}
