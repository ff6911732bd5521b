// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: the Model B head-of-line row (issue #6). The Rig's
// Model B endpoint "lea-sim" (max_connections 2: one urgent and one bulk
// lane, docs/delivery.md) and a task on it. 1 KiB items of that task, one
// at a time, 202 read -> the simulator stored the DeliveryObject
// (ArrivalWatch), p50/p99, while enclaved pushes a --push-mib (1024 MiB)
// Model B binary of the same reference to the same simulator, beside the
// same with no transfer. A sample counts as loaded only if the binary was
// still being received when its DeliveryObject arrived (the simulator's
// <uuid>.bin appears when the push completes); each round uploads and pushes
// a fresh binary, idle and loaded phases alternate. Holds no secret.

#include <string>
#include <thread>

#include "bench_binary_latency.hpp"

namespace enclave::bench::binary {

inline constexpr const char* kPushTask = "LIID-PUSH-1";

struct PushHol {
    Latencies idle, loaded;
    int discarded = 0;  ///< samples whose DeliveryObject arrived after the push ended
    double bytes = 0, seconds = 0;
};

/// The simulator's file for the binary behind a /binaryData/<uuid>/ URL.
inline fs::path pushed_file(PullSetup& p, const std::string& url) {
    const auto at = url.find("/binaryData/");
    if (at == std::string::npos) die("not a Model B URL: " + url);
    const auto from = at + std::string("/binaryData/").size();
    const std::string uuid = url.substr(from, url.find('/', from) - from);
    return p.rig().store() / "binaries" / (uuid + ".bin");
}

/// Polls (1 ms) until `path` exists; dies after `limit`.
inline void wait_exists(const fs::path& path, std::chrono::seconds limit, const std::string& what) {
    const auto end = Clock::now() + limit;
    while (!fs::exists(path)) {
        if (Clock::now() > end) die(what + " did not happen within " + std::to_string(limit.count()) + " s");
        std::this_thread::sleep_for(1ms);
    }
}

/// One round's loaded phase: the big item, then samples while its binary is pushed.
inline void push_round(PullSetup& p, Connection& c, int round, std::uint64_t size, int samples, PushHol& h) {
    const std::string blob = p.upload(static_cast<std::uint32_t>(100 + round), size);
    const std::size_t urls_before = p.watch().urls().size();
    const std::uint64_t items = p.watch().items();
    PullSetup::post_item(c, "push-big-" + std::to_string(round), 300, blob, kPushTask);
    p.watch().wait_items(items + 1, 120s);  // its DeliveryObject: the push comes next
    const auto urls = p.watch().urls();
    if (urls.size() != urls_before + 1) die("the big item's delivery carried no binary URL");
    const fs::path done = pushed_file(p, urls.back());
    fs::path part = done;
    part += ".part";
    const auto start = Clock::now();
    while (!fs::exists(part) && !fs::exists(done)) {
        if (Clock::now() - start > 60s) die("the Model B push did not start within 60 s");
        std::this_thread::sleep_for(1ms);
    }
    const auto t0 = Clock::now();
    static int serial = 0;
    for (int i = 0; i < samples && !fs::exists(done); ++i) {
        Latencies one;
        sample_item(p, c, "push-loaded-" + std::to_string(serial++), one, kPushTask);
        if (fs::exists(done)) {
            ++h.discarded;  // the push may have ended before this one arrived
            break;
        }
        h.loaded.add(one);
        std::this_thread::sleep_for(5ms);
    }
    wait_exists(done, 600s, "the Model B push");
    h.bytes += static_cast<double>(size);
    h.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
}

inline void report_push_hol(const PushHol& h, std::uint64_t mib) {
    char title[160];
    std::snprintf(title, sizeof title,
                  "head-of-line, Model B: 1 KiB items -> LEA while a %llu MiB binary is pushed, ms",
                  static_cast<unsigned long long>(mib));
    bench::print_header(title);
    std::printf("(ours = %zu items while the binary of the same reference was being pushed to the same "
                "endpoint,\n reference = %zu items with no transfer; %d sample(s) dropped: they arrived "
                "after a push ended)\n",
                h.loaded.accepted_ms.size(), h.idle.accepted_ms.size(), h.discarded);
    if (h.loaded.accepted_ms.empty()) die("no sample was taken while a push was in flight");
    const auto& l = h.loaded;
    const auto& i = h.idle;
    const double p99 = quantile(l.accepted_ms, 0.99), p99_idle = quantile(i.accepted_ms, 0.99);
    bench::print_row("p50 202 read -> DeliveryObject at LEA", quantile(l.accepted_ms, 0.5),
                     quantile(i.accepted_ms, 0.5), "ms", "context");
    bench::print_row("p99 202 read -> DeliveryObject at LEA", p99, p99_idle, "ms",
                     std::string(p99 <= 100 ? "<= 100 ms: met" : "<= 100 ms: NOT met") +
                         (p99 <= 2 * p99_idle ? ", <= 2x idle: met" : ", <= 2x idle: NOT met"));
    bench::print_row("p50 POST sent -> DeliveryObject at LEA", quantile(l.sent_ms, 0.5),
                     quantile(i.sent_ms, 0.5), "ms", "context");
    bench::print_row("p99 POST sent -> DeliveryObject at LEA", quantile(l.sent_ms, 0.99),
                     quantile(i.sent_ms, 0.99), "ms", "context");
    bench::print_row("max 202 read -> DeliveryObject at LEA", quantile(l.accepted_ms, 1.0),
                     quantile(i.accepted_ms, 1.0), "ms", "context");
    bench::print_figure("push rate (push seen starting -> stored)", h.bytes / 1e6 / h.seconds, "MB/s");
}

/// The Model B row: `rounds` of idle samples then a push with samples.
inline void measure_push_hol(PullSetup& p, std::uint64_t mib, int samples, int rounds) {
    p.rig().create_task(kPushTask, "lea-sim");
    Connection c(p.collector(), p.rig().ingest_port());
    PushHol h;
    Latencies warm;
    sample_items(p, c, 10, "push-warm-", warm, kPushTask);
    for (int r = 0; r < rounds; ++r) {
        sample_items(p, c, samples, "push-idle-", h.idle, kPushTask);
        push_round(p, c, r, mib * kMiB, samples, h);
    }
    report_push_hol(h, mib);
}

}  // namespace enclave::bench::binary
