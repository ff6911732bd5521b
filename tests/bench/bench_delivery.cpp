// SPDX-License-Identifier: Apache-2.0
// enclave-bench-delivery (issue #5): handover items per second from ingest to
// acknowledged by the LEA, over the real programs (bench_delivery_rig.hpp):
//
//   ours       N collector connections (persistent mutual TLS, the demo
//              collector identity) POST JSON arrays of items (~1 KiB each,
//              each with its own idempotency key) to enclaved's ingest
//              listener; enclaved stores them durably in the outbox (202),
//              its delivery workers build HI1 DeliveryObjects (up to 100
//              items), POST them over mutual TLS (token client key) to
//              enclave-lea-sim, which validates each against the schemas
//              and answers; enclaved checks the answer, records the delivery
//              in the audit log and removes it from the outbox. Timed from
//              the first POST until the simulator's GET /status counts every
//              item (polled every 10 ms over its own connection).
//   reference  the SAME DeliveryObject messages (the ones the simulator
//              stored during our run, each with a fresh DeliveryID so the
//              simulator stores and validates them again rather than
//              answering "duplicate") POSTed straight to the same simulator
//              by a plain client: delivery::LeaClient, persistent
//              connection, file key, as many connections as enclaved could
//              use at once (min(tasks, workers): one delivery in flight per
//              reference), one after the other on each. Same batches, same
//              bytes, same server: what is left is what enclaved adds.
//
// A warm-up (a few items per collector, delivered) runs first so TLS
// handshakes, schema loading and worker start are not in the figure.
//
// Options: --items N (20000), --collectors C (8), --post-items P (100),
// --item-bytes B (1024), --tasks T (1), --workers W (the endpoint's
// max_connections, 2), --timeout S (90, per phase), --perf DIR (perf record
// of enclaved and the simulator during our run, files left in DIR).
// Besides the rates it prints where the time went: items at the LEA when the
// last 202 came, the delivery rate during and after ingest, CPU per 1000
// items of enclaved, the simulator and the load generator.

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "bench_delivery_rig.hpp"
#include "bench_util.hpp"
#include "delivery/uuid.hpp"

namespace {

using namespace enclave;
using namespace enclave::bench::delivery_bench;
using nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct Options {
    int items = 20'000;
    int collectors = 8;
    int post_items = 100;
    int item_bytes = 1024;
    int tasks = 1;
    int workers = 2;
    int batch_items = 500;  ///< the instance's delivery.batch_items
    double timeout = 90;
    std::string perf_dir;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool value = i + 1 < argc;
        auto num = [&] { return std::stoi(argv[++i]); };
        if (a == "--items" && value) o.items = num();
        else if (a == "--collectors" && value) o.collectors = num();
        else if (a == "--post-items" && value) o.post_items = num();
        else if (a == "--item-bytes" && value) o.item_bytes = num();
        else if (a == "--tasks" && value) o.tasks = num();
        else if (a == "--workers" && value) o.workers = num();
        else if (a == "--batch-items" && value) o.batch_items = num();
        else if (a == "--timeout" && value) o.timeout = std::stod(argv[++i]);
        else if (a == "--perf" && value) o.perf_dir = argv[++i];
        else
            die("usage: enclave-bench-delivery [--items N] [--collectors C] [--post-items P] "
                "[--item-bytes B] [--tasks T] [--workers W] [--batch-items N] [--timeout S] "
                "[--perf DIR]");
    }
    if (o.items < 1 || o.collectors < 1 || o.post_items < 1 || o.post_items > 1000 ||
        o.item_bytes < 300 || o.item_bytes > 60'000 || o.tasks < 1 || o.workers < 1 ||
        o.workers > 64 || o.batch_items < 1 || o.batch_items > 10'000 || o.timeout <= 0) {
        die("bad option value (post-items 1..1000, item-bytes 300..60000, workers 1..64)");
    }
    return o;
}

double since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// One item in the JSON form (docs/ingest.md), about `target` bytes.
json item_json(const std::string& key, int n, std::size_t target) {
    const std::string msisdn = "4477009" + std::to_string(1'000'000 + n % 1'000'000);
    json j{{"idempotencyKey", key},
           {"timestamp", "2026-01-01T00:00:00.000000Z"},
           {"sender",
            {{"identifiers",
              json::array({"+" + msisdn, json{{"formatType", "InternationalE164"}, {"value", msisdn}}})},
             {"isTargetedParty", true}}},
           {"receivers",
            json::array({json{{"identifiers", json::array({"peer-" + std::to_string(n) + "@example.org"})}},
                         json{{"identifiers", json::array({"x"})}}})},
           {"applicationCorrelation", {{"applicationLevelID", 7}, {"applicationSequenceNumber", n}}}};
    const std::size_t size = j.dump().size();
    if (size < target) {
        std::string filler = "note:";
        while (filler.size() < target - size + 1) filler += "0123456789abcdef";
        filler.resize(target - size + 1);
        j["receivers"][1]["identifiers"][0] = filler;
    }
    return j;
}

struct Post {
    std::string target;  ///< path on the ingest listener
    std::string body;
    int items = 0;
};

/// Items [first, first + count) in POSTs of `per_post`, round-robin over tasks.
std::vector<Post> make_posts(const Options& o, const std::string& prefix, int first, int count,
                             int per_post) {
    std::vector<Post> posts;
    for (int at = first, k = 0; at < first + count; at += per_post, ++k) {
        const int n = std::min(per_post, first + count - at);
        json arr = json::array();
        for (int i = 0; i < n; ++i) {
            arr.push_back(item_json(prefix + std::to_string(at + i), at + i,
                                    static_cast<std::size_t>(o.item_bytes)));
        }
        posts.push_back({"/ingest/v1/tasks/" + Rig::reference(k % o.tasks) + "/items", arr.dump(), n});
    }
    return posts;
}

/// The simulator's GET /status counters.
json sim_status(delivery::LeaClient& c, const std::string& base) {
    auto r = c.get(base + "/status");
    if (!r) die("simulator /status: " + r.error().message());
    if (r->status != 200) die("simulator /status: HTTP " + std::to_string(r->status));
    json j = json::parse(r->body, nullptr, false);
    if (!j.is_object()) die("simulator /status: not JSON");
    return j;
}

std::uint64_t counter(const json& status, const char* name) {
    return status.value(name, std::uint64_t{0});
}

/// The collectors: one thread and one persistent connection each. run()
/// sends `posts` (post k by collector k % C) and returns when all were
/// answered 202 with every item accepted; an error is kept, not thrown.
class Collectors {
public:
    Collectors(const Rig& rig, int n) : base_(rig.ingest_base()) {
        for (int c = 0; c < n; ++c) {
            clients_.push_back(https_client(rig.pki(), "demo-collector", rig.ingest_base() + "/", 1));
        }
    }

    /// The time of the last acknowledgement, in seconds after `t0`; see error().
    double run(const std::vector<Post>& posts, clock_type::time_point t0) {
        finished_ = false;
        std::vector<std::thread> threads;
        std::vector<double> last(clients_.size(), 0);
        const std::size_t n = clients_.size();
        for (std::size_t c = 0; c < n; ++c) {
            threads.emplace_back([&, c] {
                for (std::size_t k = c; k < posts.size() && !failed_.load(); k += n) {
                    send(*clients_[c], posts[k]);
                }
                last[c] = since(t0);
            });
        }
        for (auto& t : threads) t.join();
        finished_ = true;
        return *std::max_element(last.begin(), last.end());
    }
    [[nodiscard]] bool failed() const { return failed_.load(); }
    [[nodiscard]] bool finished() const { return finished_.load(); }
    /// Stops the collectors after their current POST (the measurement failed).
    void cancel() {
        std::lock_guard lock(mu_);
        if (!failed_.exchange(true)) error_ = "cancelled";
    }
    /// The first failure ("" = none); read after run() returned.
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    void send(delivery::LeaClient& client, const Post& p) {
        auto r = client.post(base_ + p.target, "application/json", p.body);
        std::string why;
        if (!r) {
            why = r.error().message();
        } else if (r->status != 202) {
            why = "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300);
        } else if (json::parse(r->body, nullptr, false).value("accepted", -1) != p.items) {
            why = "202 without every item accepted: " + r->body.substr(0, 300);
        }
        if (why.empty()) return;
        std::lock_guard lock(mu_);
        if (!failed_.exchange(true)) error_ = why;
    }

    std::string base_;
    std::vector<std::unique_ptr<delivery::LeaClient>> clients_;
    std::atomic<bool> failed_{false}, finished_{false};
    std::mutex mu_;
    std::string error_;
};

/// The simulator's item count when the collectors were done (wait_items).
std::optional<std::uint64_t> g_items_at_last_ack;
std::uint64_t g_items_before_run = 0;  ///< the simulator's item count before our run

/// Polls /status until `items` counts `want` (dies on timeout, a dead process
/// or a collector failure). Returns seconds after t0.
double wait_items(Rig& rig, delivery::LeaClient& status, std::uint64_t want,
                  clock_type::time_point t0, double timeout, const Collectors* collectors) {
    std::uint64_t seen = 0;
    while (since(t0) < timeout) {
        seen = counter(sim_status(status, rig.sim_base()), "items");
        if (collectors != nullptr && collectors->finished() && !g_items_at_last_ack) {
            g_items_at_last_ack = seen;  // what was delivered while ingest ran
        }
        if (seen >= want) return since(t0);
        if (collectors != nullptr && collectors->failed()) break;
        rig.check_alive();
        std::this_thread::sleep_for(10ms);
    }
    if (collectors != nullptr && collectors->failed()) return since(t0);  // run() says why
    die("timed out after " + std::to_string(timeout) + " s: the simulator has " + std::to_string(seen) +
        " of " + std::to_string(want) + " items; enclaved's log:\n" + tail_of(rig.daemon().log()));
}

/// One DeliveryObject message the simulator stored, with its item count.
struct Message {
    std::string xml;
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;
};

/// The messages stored after the first `skip` deliveries (deliveries.jsonl
/// order), each with a fresh DeliveryID in place of its own.
std::vector<Message> stored_messages(const fs::path& store, std::size_t skip) {
    std::ifstream index(store / "deliveries.jsonl");
    std::vector<Message> out;
    std::size_t line_no = 0;
    for (std::string line; std::getline(index, line);) {
        if (line.empty() || line_no++ < skip) continue;
        const json d = json::parse(line, nullptr, false);
        if (!d.is_object() || !d.contains("delivery_id")) die("deliveries.jsonl: bad line");
        const std::string id = d["delivery_id"].get<std::string>();
        if (!delivery::is_uuid(id)) die("deliveries.jsonl: a DeliveryID that is not a UUID");
        std::ifstream in(store / "deliveries" / (id + ".xml"), std::ios::binary);
        Message m{std::string(std::istreambuf_iterator<char>(in), {}), d.value("items", 0ULL),
                  d.value("bytes", 0ULL)};
        const std::string fresh = delivery::uuid_v4();
        std::size_t replaced = 0;
        for (auto at = m.xml.find(id); at != std::string::npos; at = m.xml.find(id, at)) {
            m.xml.replace(at, id.size(), fresh);
            ++replaced;
        }
        if (replaced == 0) die("stored message " + id + " does not carry its DeliveryID");
        out.push_back(std::move(m));
    }
    return out;
}

struct RefResult {
    double seconds = 0;
    std::uint64_t items = 0;
    double sim_cpu = 0;
};

/// POSTs `msgs` to the simulator over `connections` persistent connections
/// (one thread each, one request at a time); every answer must be 200.
RefResult run_reference(Rig& rig, const std::vector<Message>& msgs, int connections) {
    std::vector<std::unique_ptr<delivery::LeaClient>> clients;
    for (int c = 0; c < connections; ++c) {
        clients.push_back(https_client(rig.pki(), "demo-lea", rig.sim_base() + "/hi1/delivery", 1));
        (void)sim_status(*clients.back(), rig.sim_base());  // connected before the clock starts
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    std::string error;
    const double cpu0 = process_cpu_seconds({rig.simulator().pid()});
    const auto t0 = clock_type::now();
    std::vector<std::thread> threads;
    for (auto& client : clients) {
        threads.emplace_back([&, c = client.get()] {
            for (std::size_t i; !failed.load() && (i = next++) < msgs.size();) {
                auto r = c->post_xml(msgs[i].xml);
                if (r && r->status == 200) continue;
                std::lock_guard lock(mu);
                if (!failed.exchange(true)) {
                    error = r ? "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300)
                              : r.error().message();
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    RefResult out;
    out.seconds = since(t0);
    out.sim_cpu = process_cpu_seconds({rig.simulator().pid()}) - cpu0;
    if (failed.load()) die("reference: the simulator refused a message: " + error);
    for (const auto& m : msgs) out.items += m.items;
    return out;
}

struct OursResult {
    double ack_seconds = 0;   ///< first POST -> last 202
    double done_seconds = 0;  ///< first POST -> the simulator counts every item
    double daemon_cpu = 0, sim_cpu = 0, bench_cpu = 0;
};

double self_cpu_seconds() { return process_cpu_seconds({::getpid()}); }

/// Our run: the collectors post, the simulator is polled until every item is in.
OursResult run_ours(Rig& rig, Collectors& collectors, delivery::LeaClient& status,
                    const std::vector<Post>& posts, std::uint64_t want, const Options& o) {
    std::vector<std::unique_ptr<PerfRecorder>> perf;
    if (!o.perf_dir.empty()) {
        fs::create_directories(o.perf_dir);
        perf.push_back(std::make_unique<PerfRecorder>(rig.daemon().pid(),
                                                      fs::path(o.perf_dir) / "enclaved.perf.data"));
        perf.push_back(std::make_unique<PerfRecorder>(rig.simulator().pid(),
                                                      fs::path(o.perf_dir) / "lea-sim.perf.data"));
    }
    OursResult r;
    const double d0 = process_cpu_seconds({rig.daemon().pid()});
    const double s0 = process_cpu_seconds({rig.simulator().pid()});
    const double b0 = self_cpu_seconds();
    const auto t0 = clock_type::now();
    std::thread sender([&] { r.ack_seconds = collectors.run(posts, t0); });
    try {
        r.done_seconds = wait_items(rig, status, want, t0, o.timeout, &collectors);
    } catch (...) {
        collectors.cancel();
        sender.join();
        throw;
    }
    sender.join();
    if (!collectors.error().empty()) die("ingest: " + collectors.error());
    r.daemon_cpu = process_cpu_seconds({rig.daemon().pid()}) - d0;
    r.sim_cpu = process_cpu_seconds({rig.simulator().pid()}) - s0;
    r.bench_cpu = self_cpu_seconds() - b0;
    for (auto& p : perf) p->stop();
    return r;
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::size_t delivery_lines(const fs::path& store) {
    std::ifstream in(store / "deliveries.jsonl");
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
    return n;
}

void report(const Options& o, const OursResult& ours, const RefResult& ref,
            const std::vector<Message>& msgs, int ref_connections) {
    std::uint64_t xml_bytes = 0;
    for (const auto& m : msgs) xml_bytes += m.bytes;
    const double n = o.items, objects = static_cast<double>(msgs.size());
    const double e2e = n / ours.done_seconds, reference = static_cast<double>(ref.items) / ref.seconds;
    bench::print_header("issue #5: handover items, ingest -> acknowledged by the LEA (mutual TLS)");
    std::printf("(%d items of ~%d B JSON, %d collector connections, %d items per POST, %d task(s), "
                "%d delivery workers; reference: %d connection(s))\n",
                o.items, o.item_bytes, o.collectors, o.post_items, o.tasks, o.workers, ref_connections);
    bench::print_row("items/s end to end vs same DOs POSTed directly", e2e, reference, "items/s",
                     e2e >= 5000 ? ">= 5000/s: met" : ">= 5000/s: NOT met");
    bench::print_row("DeliveryObjects/s (same)", objects / ours.done_seconds, objects / ref.seconds,
                     "DO/s", "context");
    bench::print_figure("ingest-acknowledged items/s (durable, 202)", n / ours.ack_seconds, "items/s");
    bench::print_figure("first POST -> last 202", ours.ack_seconds, "s");
    bench::print_figure("first POST -> simulator has every item", ours.done_seconds, "s");
    if (g_items_at_last_ack) {
        const double during = static_cast<double>(*g_items_at_last_ack - g_items_before_run);
        bench::print_figure("items at the LEA when the last 202 came", during, "items");
        bench::print_figure("delivery rate while ingest ran", during / ours.ack_seconds, "items/s");
        bench::print_figure("delivery rate after ingest finished",
                            (n - during) / (ours.done_seconds - ours.ack_seconds), "items/s");
    }
    bench::print_figure("items per DeliveryObject (mean)", n / objects, "items");
    bench::print_figure("DeliveryObject XML bytes per item (mean)", static_cast<double>(xml_bytes) / n, "B");
    bench::print_figure("enclaved CPU per 1000 items", 1e6 * ours.daemon_cpu / n, "ms");
    bench::print_row("simulator CPU per 1000 items (ours vs ref)", 1e6 * ours.sim_cpu / n,
                     1e6 * ref.sim_cpu / static_cast<double>(ref.items), "ms", "context");
    bench::print_figure("load generator CPU per 1000 items (ours)", 1e6 * ours.bench_cpu / n, "ms");
}

int run(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    std::printf("load average at start: %s\n", loadavg().c_str());
    testing::TempDir root;
    Rig rig(root.path(), o.tasks, o.workers, o.batch_items);
    auto status = https_client(rig.pki(), "demo-lea", rig.sim_base() + "/hi1/delivery", 1);
    Collectors collectors(rig, o.collectors);
    // Warm-up: every collector connection, the delivery workers' connections,
    // the schema sets on both sides.
    constexpr int kWarmPerCollector = 10;
    const int warm = kWarmPerCollector * o.collectors;
    (void)collectors.run(make_posts(o, "warm-", 0, warm, kWarmPerCollector), clock_type::now());
    if (!collectors.error().empty()) die("warm-up ingest: " + collectors.error());
    (void)wait_items(rig, *status, static_cast<std::uint64_t>(warm), clock_type::now(), o.timeout,
                     nullptr);
    const json before = sim_status(*status, rig.sim_base());
    const std::size_t lines_before = delivery_lines(rig.store());
    g_items_before_run = counter(before, "items");
    const auto posts = make_posts(o, "item-", 0, o.items, o.post_items);
    const OursResult ours =
        run_ours(rig, collectors, *status, posts,
                 counter(before, "items") + static_cast<std::uint64_t>(o.items), o);
    std::this_thread::sleep_for(200ms);  // deliveries.jsonl lines of the last answers
    const auto msgs = stored_messages(rig.store(), lines_before);
    std::uint64_t stored_items = 0;
    for (const auto& m : msgs) stored_items += m.items;
    if (stored_items != static_cast<std::uint64_t>(o.items)) {
        die("the simulator stored " + std::to_string(stored_items) + " items in " +
            std::to_string(msgs.size()) + " deliveries, expected " + std::to_string(o.items));
    }
    const int ref_connections = std::min(o.tasks, o.workers);
    const json mid = sim_status(*status, rig.sim_base());
    const RefResult ref = run_reference(rig, msgs, ref_connections);
    const json after = sim_status(*status, rig.sim_base());
    if (counter(after, "delivery_duplicates") != counter(mid, "delivery_duplicates") ||
        counter(after, "deliveries") - counter(mid, "deliveries") != msgs.size()) {
        die("reference: the simulator did not store every message once: " + after.dump());
    }
    rig.stop();
    report(o, ours, ref, msgs, ref_connections);
    std::printf("load average at end: %s\n", loadavg().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-delivery: %s\n", e.what());
        return 1;
    }
}
