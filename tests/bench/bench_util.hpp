// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small measuring kit for the benchmark drivers: run an operation for a
// minimum wall time, report operations (or bytes) per second, and print our
// figure beside its reference with the ratio and the goal.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace enclave::bench {

struct Rate {
    double per_second = 0;  ///< operations (or bytes) per second
    std::uint64_t count = 0;
    double seconds = 0;
};

/// Calls `op` repeatedly for at least `min_seconds` (after one warm-up call)
/// and returns the rate of `units_per_call` units per call.
inline Rate measure(const std::function<void()>& op, double min_seconds = 1.0,
                    double units_per_call = 1.0) {
    using clock = std::chrono::steady_clock;
    op();
    std::uint64_t calls = 0;
    const auto start = clock::now();
    double elapsed = 0;
    do {
        op();
        ++calls;
        elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < min_seconds);
    return {calls * units_per_call / elapsed, calls, elapsed};
}

/// Runs `op(thread_index)` on `threads` threads for `min_seconds`; each call is
/// one unit. Returns the aggregate rate.
inline Rate measure_threads(int threads, const std::function<void(int)>& op,
                            double min_seconds = 1.0) {
    using clock = std::chrono::steady_clock;
    std::vector<std::uint64_t> counts(threads, 0);
    std::vector<std::thread> pool;
    const auto start = clock::now();
    const auto deadline = start + std::chrono::duration<double>(min_seconds);
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            while (clock::now() < deadline) {
                op(t);
                ++counts[t];
            }
        });
    }
    for (auto& th : pool) th.join();
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    std::uint64_t total = 0;
    for (auto c : counts) total += c;
    return {total / elapsed, total, elapsed};
}

/// Our rate and the reference rate, each the best of several interleaved rounds
/// (the machines are shared: interleaving exposes both to the same load).
struct Pair {
    double ours = 0;
    double reference = 0;
};

inline Pair best_of(const std::function<void()>& ours, const std::function<void()>& reference,
                    int rounds = 3, double seconds = 0.7) {
    Pair best;
    for (int r = 0; r < rounds; ++r) {
        best.ours = std::max(best.ours, measure(ours, seconds).per_second);
        best.reference = std::max(best.reference, measure(reference, seconds).per_second);
    }
    return best;
}

inline double best_of(const std::function<void()>& op, int rounds = 3, double seconds = 0.7) {
    double best = 0;
    for (int r = 0; r < rounds; ++r) best = std::max(best, measure(op, seconds).per_second);
    return best;
}

inline void print_header(const char* title) {
    std::printf("\n== %s ==\n", title);
    std::printf("%-44s %14s %14s %8s  %s\n", "measurement", "ours", "reference", "ratio", "goal");
}

/// One row: our figure, the reference figure measured in the same run, the
/// ratio, and the goal (e.g. ">= 0.80x"); unit is "MB/s" or "ops/s".
inline void print_row(const std::string& what, double ours, double reference, const char* unit,
                      const std::string& goal) {
    char a[32], b[32];
    std::snprintf(a, sizeof a, "%.1f %s", ours, unit);
    std::snprintf(b, sizeof b, "%.1f %s", reference, unit);
    std::printf("%-44s %14s %14s %7.2fx  %s\n", what.c_str(), a, b,
                reference > 0 ? ours / reference : 0.0, goal.c_str());
}

/// A row with no reference (a plain figure).
inline void print_figure(const std::string& what, double value, const char* unit) {
    char a[32];
    std::snprintf(a, sizeof a, "%.1f %s", value, unit);
    std::printf("%-44s %14s\n", what.c_str(), a);
}

}  // namespace enclave::bench
