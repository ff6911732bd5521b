// SPDX-License-Identifier: Apache-2.0
// Crash safety of the delivery pipeline (issue #5, "kill -9 of enclaved at 10
// random moments ... nothing lost"), real processes over loopback:
//
//   collector threads --mTLS--> enclaved (ingest, outbox) --mTLS--> enclave-lea-sim
//
// A collector submits 10,000 items (arrays of 100, an idempotency key per
// item, three connections) and 50 binaries (1 KiB .. 64 MiB, log-uniform,
// kTotalBinaryBytes at most), each binary in its own keyed item, while the
// test kills enclaved with SIGKILL 10 times and restarts it. A submission
// whose answer was lost is sent again with the same key; an upload whose
// answer was lost is uploaded again (a new blob). At the end every
// acknowledged item has reached the simulator exactly once, under a DeliveryID
// stored once, in gap-free sequence, and every binary's SHA-256 is the upload's.
//
// Seeded: ENCLAVE_CRASH_SEED=<n> replays a run's sizes, contents and kill
// points (the seed is printed, and named in every failure). Kill points are
// progress thresholds, not clock times: kill k fires once the run's progress
// (mean of: items acknowledged, binary bytes acknowledged, items stored at the
// LEA, binary bytes stored at the LEA, each as a fraction of the total) passes
// a seeded threshold, after a seeded jitter of 0-150 ms. So the same seed
// kills in the same phase of the run on any machine; the exact instruction
// hit still depends on scheduling.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "delivery_test_util.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kReference = "LIID-CRASH-1";
constexpr int kItems = 10'000;
constexpr int kBatch = 100;
constexpr int kItemThreads = 3;
constexpr int kBinaries = 50;
constexpr int kKills = 10;
constexpr std::uint64_t kMinBinary = 1024;
constexpr std::uint64_t kMaxBinary = 64ull << 20;
// Bounds the run: 50 log-uniform sizes average ~5.8 MiB (~290 MiB); the
// largest drawn sizes are halved until the total fits.
constexpr std::uint64_t kTotalBinaryBytes = 192ull << 20;
constexpr int kAllItems = kItems + kBinaries;

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/// Uniform in [0, 1), the same on every platform (std distributions are not).
double unit(std::uint64_t& state) { return static_cast<double>(splitmix64(state) >> 11) * 0x1p-53; }

/// Everything the seed decides.
struct Plan {
    std::uint64_t seed = 0;
    std::vector<std::uint64_t> sizes;     ///< binary i's size
    std::vector<double> kill_at;          ///< progress thresholds, ascending
    std::vector<int> kill_jitter_ms;
};

Plan make_plan(std::uint64_t seed) {
    Plan p;
    p.seed = seed;
    std::uint64_t s = seed;
    p.sizes = {kMinBinary, kMaxBinary};  // both ends of the range, always
    while (p.sizes.size() < kBinaries) {
        const double f = std::pow(static_cast<double>(kMaxBinary / kMinBinary), unit(s));
        p.sizes.push_back(static_cast<std::uint64_t>(static_cast<double>(kMinBinary) * f));
    }
    auto total = [&] { return std::accumulate(p.sizes.begin(), p.sizes.end(), std::uint64_t{0}); };
    while (total() > kTotalBinaryBytes) {
        auto largest = std::max_element(p.sizes.begin() + 2, p.sizes.end());
        *largest = std::max(kMinBinary, *largest / 2);
    }
    for (std::size_t i = p.sizes.size() - 1; i > 0; --i) {  // Fisher-Yates
        std::swap(p.sizes[i], p.sizes[splitmix64(s) % (i + 1)]);
    }
    for (int k = 0; k < kKills; ++k) {
        p.kill_at.push_back(0.02 + 0.93 * unit(s));
        p.kill_jitter_ms.push_back(static_cast<int>(splitmix64(s) % 151));
    }
    std::sort(p.kill_at.begin(), p.kill_at.end());
    return p;
}

std::string binary_data(std::uint64_t seed, int index, std::uint64_t size) {
    std::string data(size, '\0');
    std::uint64_t s = seed ^ (0xa0761d6478bd642full * static_cast<std::uint64_t>(index + 1));
    for (std::size_t off = 0; off < size; off += 8) {
        const std::uint64_t v = splitmix64(s);
        std::memcpy(data.data() + off, &v, std::min<std::size_t>(8, size - off));
    }
    return data;
}

/// What the collector threads saw (shared with the test thread).
struct Tally {
    std::atomic<int> items_acked{0};
    std::atomic<std::uint64_t> binary_bytes_acked{0};
    std::atomic<int> resent{0};             ///< requests sent again after a lost answer
    std::atomic<int> duplicate_answers{0};  ///< keyed units answered as duplicates
    std::atomic<int> reuploads{0};
    std::mutex mu;
    std::vector<std::string> failures;
    std::set<int> acked;  ///< item numbers (the `user-N` sender) acknowledged
    void fail(std::string what) {
        std::lock_guard lock(mu);
        failures.push_back(std::move(what));
    }
};

/// One collector connection that reconnects (and resends) until it gets an
/// answer or the deadline passes.
class Collector {
public:
    Collector(const TestInstance& inst, Tally& tally, Clock::time_point deadline)
        : port_(inst.ingest_port()), tls_(inst.collector_client()), tally_(tally),
          deadline_(deadline) {}

    /// The first complete answer to `head` + `body` (sent again on a new
    /// connection each time the answer is lost); nullopt past the deadline.
    std::optional<HttpReply> exchange(const std::string& head, std::string_view body) {
        for (int attempt = 0; Clock::now() < deadline_; ++attempt) {
            if (!conn_ || !conn_->ok()) {
                conn_ = std::make_unique<TlsConnection>(port_, tls_);
                if (!conn_->ok()) {
                    std::this_thread::sleep_for(50ms);  // the daemon is restarting
                    continue;
                }
            }
            if (attempt > 0) ++tally_.resent;
            HttpReply r;
            if (conn_->send_all(head) && conn_->send_all(body)) r = conn_->read_reply();
            if (r.status / 100 != 2) conn_.reset();  // a fresh connection after any refusal
            if (r.status == 0) continue;            // the answer was lost: send it again
            if (r.status == 429 || r.status == 503) {
                std::this_thread::sleep_for(200ms);
                continue;
            }
            return r;
        }
        return std::nullopt;
    }

private:
    std::uint16_t port_;
    TlsClientConfig tls_;
    Tally& tally_;
    Clock::time_point deadline_;
    std::unique_ptr<TlsConnection> conn_;
};

/// POSTs keyed items until acknowledged; records them in the tally.
void submit(Collector& c, Tally& t, const json& items, const std::vector<int>& numbers) {
    const std::string body = items.dump();
    const std::string head = std::string("POST /ingest/v1/tasks/") + kReference +
                             "/items HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\n"
                             "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    const std::string what = "items " + std::to_string(numbers.front()) + "..";
    const int resent_before = t.resent.load();
    const auto r = c.exchange(head, body);
    if (!r) return t.fail(what + ": no answer before the deadline");
    if (r->status != 202) return t.fail(what + ": HTTP " + std::to_string(r->status) + " " + r->body);
    json answer = json::parse(r->body, nullptr, false);
    if (!answer.is_object() || !answer["units"].is_array() ||
        answer["units"].size() != numbers.size()) {
        return t.fail(what + ": unexpected answer " + r->body);
    }
    std::size_t duplicates = 0;
    for (const json& u : answer["units"]) {
        if (!u["ids"].is_array() || u["ids"].size() != 1) t.fail(what + ": a unit without one id");
        if (u["duplicate"] == true) ++duplicates;
    }
    // One transaction per request: all of its units are new, or all were stored before.
    if (duplicates != 0 && duplicates != numbers.size()) t.fail(what + ": mixed duplicates " + r->body);
    if (duplicates != 0 && t.resent.load() == resent_before) {
        t.fail(what + ": duplicate answer to a first submission " + r->body);
    }
    t.duplicate_answers += static_cast<int>(duplicates);
    t.items_acked += static_cast<int>(numbers.size());
    std::lock_guard lock(t.mu);
    for (int n : numbers) {
        if (!t.acked.insert(n).second) t.failures.push_back(what + ": acknowledged twice");
    }
}

void item_thread(const TestInstance& inst, Tally& t, Clock::time_point deadline, int index) {
    Collector c(inst, t, deadline);
    for (int b = index; b < kItems / kBatch; b += kItemThreads) {
        json arr = json::array();
        std::vector<int> numbers;
        for (int i = b * kBatch; i < (b + 1) * kBatch; ++i) {
            arr.push_back(item(i));
            numbers.push_back(i);
        }
        submit(c, t, arr, numbers);
    }
}

/// Uploads until a 201 answers; the blob id, or "" (failure recorded).
std::string upload_blob(Collector& c, Tally& t, const std::string& data, const std::string& sha) {
    const std::string head = "PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\n"
                             "Content-Type: application/octet-stream\r\nContent-Length: " +
                             std::to_string(data.size()) + "\r\n\r\n";
    const int resent_before = t.resent.load();
    const auto r = c.exchange(head, data);
    t.reuploads += t.resent.load() - resent_before;
    if (!r) return t.fail("upload: no answer before the deadline"), std::string();
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 201 || !j.is_object() || !j["id"].is_string()) {
        return t.fail("upload: HTTP " + std::to_string(r->status) + " " + r->body), std::string();
    }
    if (j["sha256"] != sha || j["size"] != data.size()) t.fail("upload: wrong sha256/size " + r->body);
    return j["id"].get<std::string>();
}

void binary_thread(const TestInstance& inst, Tally& t, Clock::time_point deadline, const Plan& plan,
                   std::vector<std::string>& shas) {
    Collector c(inst, t, deadline);
    for (int i = 0; i < kBinaries; ++i) {
        const std::string data = binary_data(plan.seed, i, plan.sizes[i]);
        shas[i] = sha256_hex(data);
        const std::string id = upload_blob(c, t, data, shas[i]);
        if (id.empty()) continue;
        t.binary_bytes_acked += data.size();
        submit(c, t, json::array({item(kItems + i, {id})}), {kItems + i});
    }
}

/// Tolerant reading of the simulator's store while it is being written
/// (a half-written last line is skipped).
std::pair<std::uint64_t, std::uint64_t> sim_progress(const TestInstance& inst) {
    std::uint64_t items = 0, bytes = 0;
    const auto store = inst.scratch() / "lea-store";
    std::ifstream d(store / "deliveries.jsonl");
    for (std::string line; std::getline(d, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j["items"].is_number_unsigned()) items += j["items"].get<std::uint64_t>();
    }
    std::ifstream b(store / "binaries.jsonl");
    for (std::string line; std::getline(b, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j["size"].is_number_unsigned()) bytes += j["size"].get<std::uint64_t>();
    }
    return {items, bytes};
}

double progress(const TestInstance& inst, const Tally& t, std::uint64_t total_bytes) {
    const auto [items, bytes] = sim_progress(inst);
    const double all = static_cast<double>(kAllItems);
    const double tb = static_cast<double>(total_bytes);
    return (t.items_acked.load() / all + static_cast<double>(t.binary_bytes_acked.load()) / tb +
            static_cast<double>(items) / all + static_cast<double>(bytes) / tb) / 4.0;
}

/// SIGKILL, then a restart that must reach ready. Appends the dead run's log.
void kill_and_restart(TestInstance& inst, std::unique_ptr<Process>& daemon, std::string& logs,
                      int k, double at) {
    daemon->signal(SIGKILL);
    const auto code = daemon->wait_exit(20s);
    // Anything else means it had died by itself before the kill.
    EXPECT_EQ(code, 128 + SIGKILL) << "kill " << k;
    logs += "===== run " + std::to_string(k) + " (killed at progress " + std::to_string(at) +
            ") =====\n" + inst.log();
    daemon = inst.start();
    EXPECT_TRUE(inst.wait_ready(*daemon, 90s)) << "restart " << k << " not ready:\n" << inst.log();
}

std::uint64_t seed_from_env() {
    if (const char* s = std::getenv("ENCLAVE_CRASH_SEED"); s != nullptr && *s != '\0') {
        return std::strtoull(s, nullptr, 0);
    }
    return std::random_device{}() * 0x100000001ull ^ static_cast<std::uint64_t>(
        Clock::now().time_since_epoch().count());
}

/// The handoverItem senders (`user-N`) in a stored DeliveryObject.
std::vector<int> senders_in(const std::string& xml) {
    std::vector<int> out;
    for (std::size_t at = xml.find(">user-"); at != std::string::npos; at = xml.find(">user-", at + 1)) {
        std::size_t end = at + 6;
        while (end < xml.size() && std::isdigit(static_cast<unsigned char>(xml[end])) != 0) ++end;
        if (end < xml.size() && xml[end] == '<' && end > at + 6) {
            out.push_back(std::stoi(xml.substr(at + 6, end - at - 6)));
        }
    }
    return out;
}

std::string uuid_of(const std::string& url) {
    const auto at = url.find("/binaryData/");
    if (at == std::string::npos) return {};
    const auto begin = at + 12;
    return url.substr(begin, url.find('/', begin) - begin);
}

}  // namespace

namespace {

/// Kills at the plan's progress thresholds. Returns how many kills happened.
int run_kills(TestInstance& inst, std::unique_ptr<Process>& daemon, std::string& logs,
              const Plan& plan, const Tally& t, std::uint64_t total_bytes) {
    int k = 0;
    double last = -1;
    auto moved = Clock::now();
    while (k < kKills) {
        const double p = progress(inst, t, total_bytes);
        if (p != last) {
            last = p;
            moved = Clock::now();
        }
        if (p >= plan.kill_at[k]) {
            std::this_thread::sleep_for(std::chrono::milliseconds(plan.kill_jitter_ms[k]));
            kill_and_restart(inst, daemon, logs, k, p);
            ++k;
            moved = Clock::now();
        } else if (Clock::now() - moved > 30s) {
            ADD_FAILURE() << "no progress for 30 s at " << p << " (before kill " << k << ")";
            break;
        } else {
            std::this_thread::sleep_for(20ms);
        }
    }
    return k;
}

/// Every acknowledged item stored exactly once, in gap-free sequence; every
/// binary whole. Returns the number of stored deliveries.
std::size_t check_store(const TestInstance& inst, const Simulator& sim, const Tally& t,
                        const std::vector<std::string>& shas) {
    const auto deliveries = sim.deliveries();
    const auto stored_binaries = sim.binaries_sha256();
    std::set<std::string> ids;
    std::map<int, int> seen;  // item number -> times stored
    std::multiset<std::string> got_sha;
    std::uint64_t next = 0, items = 0;
    for (const json& d : deliveries) {
        const std::string id = d["delivery_id"];
        EXPECT_TRUE(ids.insert(id).second) << "DeliveryID stored twice: " << id;
        EXPECT_EQ(d["reference"], kReference);
        EXPECT_EQ(d["sequence_number"].get<std::uint64_t>(), next++) << "out of sequence: " << id;
        items += d["items"].get<std::uint64_t>();
        const auto senders = senders_in(read_file(inst.scratch() / "lea-store" / "deliveries" / (id + ".xml")));
        EXPECT_EQ(senders.size(), d["items"].get<std::size_t>()) << id;
        for (int n : senders) ++seen[n];
        for (const json& url : d["binary_urls"]) {
            const auto it = stored_binaries.find(uuid_of(url.get<std::string>()));
            if (it == stored_binaries.end()) {
                ADD_FAILURE() << "binary of delivery " << id << " never stored: " << url;
            } else {
                got_sha.insert(it->second);
            }
        }
    }
    EXPECT_EQ(items, static_cast<std::uint64_t>(t.items_acked.load())) << "items stored vs acknowledged";
    std::size_t lost = 0, twice = 0, unasked = 0;
    for (int n : t.acked) {
        const auto it = seen.find(n);
        if (it == seen.end()) {
            if (lost++ < 10) ADD_FAILURE() << "acknowledged item user-" << n << " never delivered";
        } else if (it->second != 1) {
            if (twice++ < 10) ADD_FAILURE() << "item user-" << n << " delivered " << it->second << " times";
        }
    }
    for (const auto& [n, count] : seen) unasked += t.acked.count(n) == 0 ? 1 : 0;
    EXPECT_EQ(lost, 0u);
    EXPECT_EQ(twice, 0u);
    EXPECT_EQ(unasked, 0u) << "delivered items nobody had acknowledged";
    EXPECT_EQ(got_sha, std::multiset<std::string>(shas.begin(), shas.end())) << "binaries' SHA-256";
    EXPECT_EQ(stored_binaries.size(), got_sha.size()) << "binaries no delivery names";
    return deliveries.size();
}

/// The simulator's counters (GET /status).
json sim_status(const TestInstance& inst, const Simulator& sim) {
    TlsConnection c(sim.port(), inst.lea_client());
    const HttpReply r = c.request("GET", "/status");
    EXPECT_EQ(r.status, 200) << c.error() << r.body;
    return json::parse(r.body, nullptr, false);
}

/// The warning and error lines of every run (bounded), for a failure message.
std::string log_summary(const std::string& logs) {
    std::string out;
    std::istringstream in(logs);
    int n = 0;
    for (std::string line; std::getline(in, line) && n < 40;) {
        if (line.find("group roles cannot reach") != std::string::npos) continue;
        if (line.rfind("=====", 0) == 0 || line.find(" warning ") != std::string::npos ||
            line.find(" error ") != std::string::npos) {
            out += line.substr(0, 400) + "\n";
            ++n;
        }
    }
    return out;
}

void expect_clean_logs(const std::string& logs) {
    for (const char* bad : {"panic", "abort", "terminate called", "Sanitizer", "runtime error",
                            "Segmentation", "core dumped", "Assertion"}) {
        const auto at = logs.find(bad);
        EXPECT_EQ(at, std::string::npos)
            << "daemon log contains \"" << bad << "\": "
            << logs.substr(at == std::string::npos ? 0 : (at < 400 ? 0 : at - 400), 800);
    }
}

// Windows this test has found (each now covered by a test of its own too):
// - a kill between the audit record of a delivery and the outbox's deferred
//   delivered() write: the resend's HI1 message differs (timestamp,
//   transaction id), so record_delivery answers already_exists, which counts
//   as recorded (delivery_worker.cpp, send());
// - a kill after the enqueue of a keyed item naming an upload, before its
//   answer: the item is delivered and its upload erased, then the retry must
//   be answered from its key, not refused as naming an unknown upload
//   (seed 13265423278078582934; ingest_routes.cpp, post_items()).
TEST(DeliveryCrashTest, TenKillNinesDuringTenThousandItemsAndFiftyBinariesLoseNothing) {
    const Plan plan = make_plan(seed_from_env());
    std::printf("[ seed     ] ENCLAVE_CRASH_SEED=%" PRIu64 "\n", plan.seed);
    RecordProperty("seed", std::to_string(plan.seed));
    SCOPED_TRACE("replay with ENCLAVE_CRASH_SEED=" + std::to_string(plan.seed));
    const std::uint64_t total_bytes =
        std::accumulate(plan.sizes.begin(), plan.sizes.end(), std::uint64_t{0});
    const auto started = Clock::now();

    TestInstance inst;
    // Short backoff: a delivery cut by a kill goes again soon after the restart.
    inst.config().delivery.retry_initial = std::chrono::milliseconds(200);
    inst.config().delivery.retry_max = std::chrono::milliseconds(2000);
    inst.save_config();
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, kReference);
    if (HasFatalFailure()) return;

    Tally tally;
    std::vector<std::string> shas(kBinaries);
    const auto deadline = Clock::now() + 300s;
    std::vector<std::thread> collectors;
    for (int i = 0; i < kItemThreads; ++i) {
        collectors.emplace_back(item_thread, std::cref(inst), std::ref(tally), deadline, i);
    }
    collectors.emplace_back(binary_thread, std::cref(inst), std::ref(tally), deadline,
                            std::cref(plan), std::ref(shas));
    std::string logs;
    const int kills = run_kills(inst, daemon, logs, plan, tally, total_bytes);
    for (auto& th : collectors) th.join();
    EXPECT_EQ(kills, kKills);
    for (const auto& f : tally.failures) ADD_FAILURE() << "collector: " << f;
    EXPECT_EQ(tally.items_acked.load(), kAllItems) << "every submission acknowledged";

    const bool all = eventually([&] {
        const auto [items, bytes] = sim_progress(inst);
        return items >= static_cast<std::uint64_t>(tally.items_acked.load()) && bytes >= total_bytes;
    }, 120s);
    EXPECT_TRUE(all) << "not everything delivered; warnings and errors of every run:\n"
                     << log_summary(logs + "===== current run =====\n" + inst.log());
    const std::size_t stored = check_store(inst, sim, tally, shas);

    json status = sim_status(inst, sim);
    EXPECT_EQ(status["deliveries"], stored) << status.dump();
    std::printf("[ crash    ] seed %" PRIu64 ": %d kills, %d items acknowledged, %zu deliveries, "
                "%.1f MiB of binaries; %d requests resent, %d duplicate answers, %d re-uploads; "
                "LEA saw %s duplicate deliveries, %s duplicate binaries; %.1f s\n",
                plan.seed, kills, tally.items_acked.load(), stored,
                static_cast<double>(total_bytes) / (1 << 20), tally.resent.load(),
                tally.duplicate_answers.load(), tally.reuploads.load(),
                status["delivery_duplicates"].dump().c_str(),
                status["binary_duplicates"].dump().c_str(),
                std::chrono::duration<double>(Clock::now() - started).count());

    // Closing the task: the final delivery carries the next sequence number.
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-CRASH-1").status, 200);
    ASSERT_TRUE(eventually([&] {
        const auto d = sim.deliveries();
        return !d.empty() && d.back()["last_sequence"].get<bool>();
    }, 30s)) << "no LastSequence delivery";
    EXPECT_EQ(sim.deliveries().back()["sequence_number"].get<std::size_t>(), stored);

    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_exit(30s), 0) << inst.log();
    logs += "===== last run =====\n" + inst.log();
    expect_clean_logs(logs);
}

// FAILS AT PRESENT (daemon bug, left for the lead): ingest checks the named
// uploads (appliance/src/ingest_routes.cpp, outbox_item) before the outbox
// looks at the idempotency key, so the retry gets 400 "binaries[0]: no such
// upload" once the upload was erased after delivery.
// The collector's answer was lost and it sends the keyed item again, but by
// then the item was delivered and its upload erased: the retry is the
// duplicate docs/ingest.md promises ("also after the item has been
// delivered"), not a refusal and not a second item.
TEST(DeliveryCrashTest, AKeyedRetryAfterItsItemWasDeliveredIsADuplicate) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-RETRY-1");
    if (HasFatalFailure()) return;
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    const json up = upload(c, std::string(4096, 'r'), "application/octet-stream");
    ASSERT_TRUE(up.is_object() && up["id"].is_string()) << up.dump();
    const std::string body = json::array({item(1, {up["id"]})}).dump();
    const std::string target = "/ingest/v1/tasks/LIID-RETRY-1/items";
    const HttpReply first = post_json(c, target, body);
    ASSERT_EQ(first.status, 202) << first.body;
    ASSERT_TRUE(eventually([&] { return sim.binaries_sha256().size() == 1; })) << inst.log();
    ASSERT_TRUE(eventually([&] {  // delivered, and the upload erased
        return std::filesystem::is_empty(inst.dir() / "state" / "blobs" / "data");
    })) << inst.log();

    const HttpReply retry = post_json(c, target, body);
    EXPECT_EQ(retry.status, 202) << retry.body;
    json a = json::parse(first.body);
    json b = json::parse(retry.body, nullptr, false);
    ASSERT_TRUE(b.is_object()) << retry.body;
    EXPECT_EQ(b["accepted"], 0) << retry.body;
    EXPECT_EQ(b["units"][0]["duplicate"], true) << retry.body;
    EXPECT_EQ(b["units"][0]["ids"], a["units"][0]["ids"]) << retry.body;
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(items_delivered(sim), 1u);
}

}  // namespace
}  // namespace enclave::daemon_test
