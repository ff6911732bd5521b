// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: item latency sampling shared by the head-of-line
// rows (Models A/C in bench_binary.cpp, Model B in bench_binary_push.hpp):
// one 1 KiB item at a time, POST sent / 202 read -> the simulator stored its
// DeliveryObject (ArrivalWatch: inotify, no polling). Holds no secret.

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "bench_binary_setup.hpp"

namespace enclave::bench::binary {

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// The value at quantile q (nearest rank) of `v`.
inline double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

struct Latencies {
    std::vector<double> sent_ms, accepted_ms;  ///< POST sent / 202 read -> stored at the LEA
    std::vector<Clock::time_point> sent;       ///< when each POST was sent
    void add(const Latencies& o) {
        sent_ms.insert(sent_ms.end(), o.sent_ms.begin(), o.sent_ms.end());
        accepted_ms.insert(accepted_ms.end(), o.accepted_ms.begin(), o.accepted_ms.end());
        sent.insert(sent.end(), o.sent.begin(), o.sent.end());
    }
};

/// One item: POST to `task`, 202, wait until the simulator stored it.
inline void sample_item(PullSetup& p, Connection& c, const std::string& key, Latencies& out,
                        const std::string& task = kTask) {
    const std::uint64_t want = p.watch().items() + 1;
    const auto t0 = Clock::now();
    PullSetup::post_item(c, key, 1024, {}, task);
    const auto t1 = Clock::now();
    const auto t2 = p.watch().wait_items(want, 30s);
    out.sent.push_back(t0);
    out.sent_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    out.accepted_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
}

/// `n` items one after the other, 5 ms between items.
inline void sample_items(PullSetup& p, Connection& c, int n, const std::string& prefix, Latencies& out,
                         const std::string& task = kTask) {
    static int serial = 0;
    for (int i = 0; i < n; ++i) {
        sample_item(p, c, prefix + std::to_string(serial++), out, task);
        std::this_thread::sleep_for(5ms);
    }
}

}  // namespace enclave::bench::binary
