// SPDX-License-Identifier: Apache-2.0
// Sustained mixed load (issue #10 "Load"), loopback only, real processes:
// collectors upload binaries and submit items with and without them on the
// ingest listener, enclaved delivers to enclave-lea-sim (Model B), an
// operator polls the admin status and metrics. Every 5 s the daemon's
// VmRSS and open descriptors are sampled; every ingest request's latency
// is kept per minute. Criteria (docs/reliability.md "Sustained load"):
// - after the first minute, each minute's largest RSS <= the first
//   minute's largest * 1.25 + 8 MiB + 64 bytes per audit entry appended
//   since (the audit log's in-memory tree, which grows with the log by
//   design), and its largest fd count <= the first minute's largest + 8;
// - each later minute's ingest p99 <= 2 x max(first minute's p99, 5 ms);
// - every acknowledged item reaches the LEA exactly once, every binary
//   whole; no request fails.
// ENCLAVE_LOAD_SECONDS sets the duration (default 600, at least 60);
// ENCLAVE_LOAD_SEED the seed (printed).
#include <gtest/gtest.h>
#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "delivery_test_util.hpp"
#include "harness/metrics_reader.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kCollectors = 3;
constexpr auto kPause = 25ms;       // between one collector's iterations
constexpr auto kSampleEvery = 5s;   // RSS / fd samples
constexpr double kP99FloorMs = 5.0;
constexpr std::uint64_t kRssSlackKiB = 8 * 1024;
constexpr std::size_t kFdSlack = 8;
/// The audit log keeps every leaf hash and every complete subtree hash in
/// memory by design (docs/audit-log.md: about 64 bytes per entry), so its
/// memory grows with the log, not with time: the RSS allowance of a minute
/// includes this much per entry appended since the first minute.
constexpr std::uint64_t kAuditTreeBytesPerEntry = 64;
const std::vector<std::string> kTasks = {"LIID-LOAD-1", "LIID-LOAD-2"};

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::stoull(v) : fallback;
}

struct Minute {
    std::vector<double> latency_ms;  ///< ingest requests that started in this minute
    std::uint64_t rss_max_kib = 0;
    std::size_t fds_max = 0;
    std::uint64_t audit_entries = 0;  ///< the audit log's size at the minute's last sample
    int samples = 0;
};

/// Everything the load threads record, under one mutex.
struct Tally {
    explicit Tally(std::size_t n) : minutes(n) {}
    std::mutex m;
    std::vector<Minute> minutes;
    std::set<int> acked;              ///< item numbers answered 202
    std::vector<std::string> shas;    ///< SHA-256 of every binary an acked item names
    std::vector<std::string> errors;  ///< failed requests (first few kept)
    std::atomic<std::uint64_t> uploads{0}, admin_polls{0};

    void fail(std::string what) {
        std::lock_guard l(m);
        if (errors.size() < 20) errors.push_back(std::move(what));
        else errors.back() = "... and more";
    }
    void latency(std::size_t minute, double ms) {
        std::lock_guard l(m);
        minutes.at(std::min(minute, minutes.size() - 1)).latency_ms.push_back(ms);
    }
};

struct Window {
    Clock::time_point start;
    Clock::time_point end;
    [[nodiscard]] std::size_t minute_of(Clock::time_point t) const {
        return static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::seconds>(t - start).count() / 60);
    }
};

/// One timed request on a keep-alive connection.
HttpReply timed(TlsConnection& c, const std::string& request, const Window& run, Tally& t) {
    const auto t0 = Clock::now();
    c.send_all(request);
    HttpReply r = c.read_reply();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    t.latency(run.minute_of(t0), ms);
    return r;
}

void collector(int index, std::uint64_t seed, const TestInstance& inst, const Window& run, Tally& t,
               std::atomic<int>& next_item) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(index));
    std::unique_ptr<TlsConnection> c;
    int on_connection = 0;
    const std::string& task = kTasks[static_cast<std::size_t>(index) % kTasks.size()];
    while (Clock::now() < run.end) {
        // A fresh connection every 100 requests: handshakes are part of the load.
        if (!c || !c->ok() || on_connection >= 100) {
            c = std::make_unique<TlsConnection>(inst.ingest_port(), inst.collector_client());
            on_connection = 0;
            if (!c->ok()) {
                t.fail("connect: " + c->error());
                std::this_thread::sleep_for(1s);
                continue;
            }
        }
        std::vector<std::string> blobs;
        std::string sha;
        if (rng() % 8 == 0) {  // one item in eight names a binary of 1..64 KiB
            std::string data(1024 + rng() % (63 * 1024), '\0');
            for (auto& ch : data) ch = static_cast<char>(rng());
            const HttpReply r = timed(*c, "PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\n"
                                          "Content-Type: application/octet-stream\r\nContent-Length: " +
                                              std::to_string(data.size()) + "\r\n\r\n" + data,
                                      run, t);
            ++on_connection;
            const json up = json::parse(r.body, nullptr, false);
            if (r.status != 201 || !up.is_object() || !up.contains("id")) {
                t.fail("upload: " + std::to_string(r.status) + " " + r.error + " " + r.body.substr(0, 200));
                c.reset();
                continue;
            }
            t.uploads++;
            blobs.push_back(up["id"]);
            sha = sha256_hex(data);
        }
        const int n = next_item++;
        const std::string body = item(n, blobs).dump();
        const HttpReply r = timed(*c, "POST /ingest/v1/tasks/" + task + "/items HTTP/1.1\r\nHost: e\r\n"
                                      "Content-Type: application/json\r\nContent-Length: " +
                                          std::to_string(body.size()) + "\r\n\r\n" + body,
                                  run, t);
        ++on_connection;
        if (r.status == 202) {
            std::lock_guard l(t.m);
            t.acked.insert(n);
            if (!sha.empty()) t.shas.push_back(sha);
        } else {
            t.fail("item " + std::to_string(n) + ": " + std::to_string(r.status) + " " + r.error + " " +
                   r.body.substr(0, 200));
            c.reset();
        }
        std::this_thread::sleep_for(kPause);
    }
}

/// The operator's view: status and metrics once a second.
void admin_poller(const TestInstance& inst, const Window& run, Tally& t) {
    while (Clock::now() < run.end) {
        if (unix_get(inst.socket(), "/v1/status").status != 200) t.fail("admin /v1/status");
        if (!fetch_metrics(inst.socket())) t.fail("admin /metrics");
        t.admin_polls++;
        std::this_thread::sleep_for(1s);
    }
}

std::uint64_t vm_rss_kib(pid_t pid) {
    const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    const auto at = status.find("VmRSS:");
    return at == std::string::npos ? 0 : std::stoull(status.substr(at + 6));
}

std::size_t open_fds(pid_t pid) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        (void)e;
        ++n;
    }
    return n;
}

/// The audit log's size (GET /v1/audit/key); 0 when it cannot be read.
std::uint64_t audit_size(const TestInstance& inst) {
    const auto r = unix_get(inst.socket(), "/v1/audit/key");
    const json j = json::parse(r.body, nullptr, false);
    return r.status == 200 && j.is_object() ? j.value("size", std::uint64_t{0}) : 0;
}

void sampler(const TestInstance& inst, pid_t pid, const Window& run, Tally& t) {
    for (auto next = run.start; next < run.end; next += kSampleEvery) {
        std::this_thread::sleep_until(next);
        const std::uint64_t rss = vm_rss_kib(pid);
        const std::size_t fds = open_fds(pid);
        const std::uint64_t entries = audit_size(inst);
        std::lock_guard l(t.m);
        Minute& m = t.minutes.at(std::min(run.minute_of(Clock::now()), t.minutes.size() - 1));
        m.rss_max_kib = std::max(m.rss_max_kib, rss);
        m.fds_max = std::max(m.fds_max, fds);
        m.audit_entries = std::max(m.audit_entries, entries);
        ++m.samples;
    }
}

/// Nearest-rank percentile of unsorted values (0 when empty).
double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string load_average() {
    std::string s = read_file("/proc/loadavg");
    return s.substr(0, s.find(' ', s.find(' ', s.find(' ') + 1) + 1));
}

/// The sender numbers ("user-N") of the items in one stored DeliveryObject.
std::vector<int> senders_in(const std::string& xml) {
    std::vector<int> out;
    const std::string mark = ">user-";
    for (auto at = xml.find(mark); at != std::string::npos; at = xml.find(mark, at + 1)) {
        const auto digits = at + mark.size();
        auto end = digits;
        while (end < xml.size() && std::isdigit(static_cast<unsigned char>(xml[end])) != 0) ++end;
        if (end > digits && end < xml.size() && xml[end] == '<') out.push_back(std::stoi(xml.substr(digits, end - digits)));
    }
    return out;
}

/// Every acknowledged item stored exactly once (by sender number, across
/// DeliveryIDs that are themselves unique), every named binary whole.
void check_exactly_once(const TestInstance& inst, const Simulator& sim, const Tally& t) {
    std::map<int, int> seen;
    std::set<std::string> ids;
    for (const json& d : sim.deliveries()) {
        const std::string id = d["delivery_id"];
        EXPECT_TRUE(ids.insert(id).second) << "DeliveryID stored twice: " << id;
        for (int n : senders_in(read_file(inst.scratch() / "lea-store" / "deliveries" / (id + ".xml")))) ++seen[n];
    }
    std::size_t lost = 0, twice = 0;
    for (int n : t.acked) {
        const auto it = seen.find(n);
        if (it == seen.end() && lost++ < 5) ADD_FAILURE() << "acknowledged item user-" << n << " never delivered";
        if (it != seen.end() && it->second != 1 && twice++ < 5) {
            ADD_FAILURE() << "item user-" << n << " delivered " << it->second << " times";
        }
    }
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(twice, 0u);
    EXPECT_EQ(seen.size(), t.acked.size()) << "delivered items nobody acknowledged";
    std::multiset<std::string> got;
    for (const auto& [uuid, sha] : sim.binaries_sha256()) got.insert(sha);
    EXPECT_EQ(got, std::multiset<std::string>(t.shas.begin(), t.shas.end())) << "binaries' SHA-256";
}

/// Prints the per-minute table and checks the flatness and latency criteria.
void report_and_check(const Tally& t) {
    const Minute& first = t.minutes.front();
    const double p99_first = percentile(first.latency_ms, 99);
    const double p99_limit = 2 * std::max(p99_first, kP99FloorMs);
    const std::uint64_t rss_limit = first.rss_max_kib * 5 / 4 + kRssSlackKiB;
    const std::size_t fd_limit = first.fds_max + kFdSlack;
    // The audit tree's share of a minute's RSS allowance (see kAuditTreeBytesPerEntry).
    const auto tree_kib = [&](const Minute& m) -> std::uint64_t {
        return m.audit_entries > first.audit_entries
                   ? (m.audit_entries - first.audit_entries) * kAuditTreeBytesPerEntry / 1024
                   : 0;
    };
    std::printf("minute | requests | p50 ms | p99 ms | max ms | RSS max MiB | fds max | audit entries | RSS limit MiB\n");
    for (std::size_t i = 0; i < t.minutes.size(); ++i) {
        const Minute& m = t.minutes[i];
        std::printf("%6zu | %8zu | %6.1f | %6.1f | %6.1f | %11.1f | %7zu | %13llu | %13.1f\n", i + 1,
                    m.latency_ms.size(), percentile(m.latency_ms, 50), percentile(m.latency_ms, 99),
                    percentile(m.latency_ms, 100), static_cast<double>(m.rss_max_kib) / 1024.0, m.fds_max,
                    static_cast<unsigned long long>(m.audit_entries),
                    i == 0 ? 0.0 : static_cast<double>(rss_limit + tree_kib(m)) / 1024.0);
    }
    std::printf("limits after minute 1: p99 <= %.1f ms, RSS <= %.1f MiB + %llu bytes per audit entry "
                "appended since minute 1, fds <= %zu\n",
                p99_limit, static_cast<double>(rss_limit) / 1024.0,
                static_cast<unsigned long long>(kAuditTreeBytesPerEntry), fd_limit);
    ASSERT_GT(first.samples, 0);
    ASSERT_FALSE(first.latency_ms.empty());
    for (std::size_t i = 1; i < t.minutes.size(); ++i) {
        const Minute& m = t.minutes[i];
        EXPECT_FALSE(m.latency_ms.empty()) << "minute " << i + 1 << " served no ingest request";
        EXPECT_LE(percentile(m.latency_ms, 99), p99_limit) << "minute " << i + 1;
        if (m.samples == 0) continue;
        EXPECT_LE(m.rss_max_kib, rss_limit + tree_kib(m)) << "minute " << i + 1 << ": RSS grew";
        EXPECT_LE(m.fds_max, fd_limit) << "minute " << i + 1 << ": descriptors grew";
    }
}

TEST(SustainedLoadTest, RssFdsAndLatencyStayFlatAndEveryItemArrivesOnce) {
    const std::uint64_t seconds = std::max<std::uint64_t>(60, env_or("ENCLAVE_LOAD_SECONDS", 600));
    const std::uint64_t seed = env_or("ENCLAVE_LOAD_SEED", std::random_device{}());
    std::printf("sustained load: %llu s, seed %llu (ENCLAVE_LOAD_SEED), load average at start %s\n",
                static_cast<unsigned long long>(seconds), static_cast<unsigned long long>(seed),
                load_average().c_str());

    TestInstance inst;
    inst.config().delivery.retry_max = 2s;
    inst.save_config();
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    for (const auto& task : kTasks) create_task(inst, task);

    Tally t((seconds + 59) / 60);
    Window run{Clock::now(), Clock::now() + std::chrono::seconds(seconds)};
    std::atomic<int> next_item{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kCollectors; ++i) {
        threads.emplace_back([&, i] { collector(i, seed, inst, run, t, next_item); });
    }
    threads.emplace_back([&] { admin_poller(inst, run, t); });
    threads.emplace_back([&] { sampler(inst, daemon->pid(), run, t); });
    for (auto& th : threads) th.join();
    std::printf("load average at the end %s; %zu items acknowledged, %llu binaries, %llu admin polls\n",
                load_average().c_str(), t.acked.size(), static_cast<unsigned long long>(t.uploads.load()),
                static_cast<unsigned long long>(t.admin_polls.load()));

    EXPECT_TRUE(t.errors.empty()) << "failed requests, e.g.: " << (t.errors.empty() ? "" : t.errors.front())
                                  << " (" << t.errors.size() << ")";
    report_and_check(t);
    ASSERT_TRUE(daemon->running()) << inst.log();
    const auto drain_start = Clock::now();
    EXPECT_TRUE(eventually([&] { return items_delivered(sim) >= t.acked.size(); }, 600s)) << inst.log();
    std::printf("all deliveries done %.1f s after the load stopped\n",
                std::chrono::duration<double>(Clock::now() - drain_start).count());
    EXPECT_TRUE(eventually([&] { return sim.binaries_sha256().size() >= t.shas.size(); }, 120s));
    check_exactly_once(inst, sim, t);
}

}  // namespace
}  // namespace enclave::daemon_test
