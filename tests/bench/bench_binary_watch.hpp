// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: observers. ArrivalWatch timestamps deliveries as
// the simulator stores them (inotify on its store, no polling); RssSampler
// follows a process's resident set while it works. Holds no secret (the
// lines it reads name deliveries and binary URLs; the URLs stay in memory
// for the bench's own requests).

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_tls_servers.hpp"

namespace enclave::bench::binary {

using Clock = std::chrono::steady_clock;

/// Watches the simulator's deliveries.jsonl: the simulator appends one line
/// per DeliveryObject once it has validated and stored it (before it
/// answers enclaved). A thread blocked on inotify (IN_MODIFY) stamps each
/// change with the time it woke, then reads the complete new lines, so an
/// arrival is timed to the wake-up of that thread (tens of microseconds on
/// an idle core), not to a polling interval.
class ArrivalWatch {
public:
    explicit ArrivalWatch(const std::filesystem::path& store) : file_(store / "deliveries.jsonl") {
        fd_ = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd_ < 0 || ::inotify_add_watch(fd_, store.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
            tls::die("inotify on " + store.string() + " failed");
        }
        read_new_lines(Clock::now());  // what is there already
        thread_ = std::thread([this] { loop(); });
    }
    ~ArrivalWatch() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    ArrivalWatch(const ArrivalWatch&) = delete;
    ArrivalWatch& operator=(const ArrivalWatch&) = delete;

    /// Items the simulator has stored so far (all deliveries).
    std::uint64_t items() {
        std::lock_guard lock(mu_);
        return items_;
    }
    /// Waits until at least `total` items are stored; returns when the
    /// change that showed it was seen. Dies after `limit`.
    Clock::time_point wait_items(std::uint64_t total, std::chrono::seconds limit) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, limit, [&] { return items_ >= total; })) {
            tls::die("the simulator did not receive item " + std::to_string(total) + " within " +
                     std::to_string(limit.count()) + " s");
        }
        for (const auto& [at, n] : stamps_) {
            if (n >= total) return at;
        }
        return Clock::now();  // unreachable: the last stamp holds items_
    }
    /// Every binary URL the deliveries carried, in arrival order.
    std::vector<std::string> urls() {
        std::lock_guard lock(mu_);
        return urls_;
    }

private:
    void loop() {
        pollfd p{fd_, POLLIN, 0};
        char events[4096];
        while (!stop_) {
            if (::poll(&p, 1, 100) <= 0) continue;
            const auto at = Clock::now();
            while (::read(fd_, events, sizeof events) > 0) {
            }
            read_new_lines(at);
        }
    }

    /// Reads the complete lines appended since the last call.
    void read_new_lines(Clock::time_point at) {
        std::ifstream in(file_, std::ios::binary);
        if (!in) return;
        in.seekg(static_cast<std::streamoff>(offset_));
        std::string rest((std::istreambuf_iterator<char>(in)), {});
        std::lock_guard lock(mu_);
        std::size_t start = 0;
        for (auto eol = rest.find('\n'); eol != std::string::npos; eol = rest.find('\n', start)) {
            const auto line = nlohmann::json::parse(rest.substr(start, eol - start), nullptr, false);
            start = eol + 1;
            if (!line.is_object()) continue;
            items_ += line.value("items", std::uint64_t{0});
            for (const auto& u : line.value("binary_urls", nlohmann::json::array())) {
                if (u.is_string()) urls_.push_back(u.get<std::string>());
            }
        }
        offset_ += start;
        if (start > 0) {
            stamps_.emplace_back(at, items_);
            cv_.notify_all();
        }
    }

    std::filesystem::path file_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t offset_ = 0, items_ = 0;
    std::vector<std::pair<Clock::time_point, std::uint64_t>> stamps_;  ///< (seen, items then)
    std::vector<std::string> urls_;
};

/// A field of /proc/<pid>/status in KiB ("VmHWM", "VmRSS"); -1 if absent.
inline long proc_status_kib(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    return -1;
}

/// Resets the process's peak RSS (VmHWM) to its current RSS (writing 5 to
/// /proc/<pid>/clear_refs, Linux >= 4.0); false if the kernel refused.
inline bool reset_peak_rss(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

/// Samples VmRSS of `pid` every `period` on a thread until stop().
class RssSampler {
public:
    RssSampler(pid_t pid, std::chrono::milliseconds period) {
        thread_ = std::thread([this, pid, period] {
            while (!stop_) {
                const long kib = proc_status_kib(pid, "VmRSS");
                if (kib > max_kib_) max_kib_ = kib;
                ++samples_;
                std::this_thread::sleep_for(period);
            }
        });
    }
    ~RssSampler() { stop(); }
    RssSampler(const RssSampler&) = delete;
    RssSampler& operator=(const RssSampler&) = delete;
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    [[nodiscard]] long max_kib() const noexcept { return max_kib_; }
    [[nodiscard]] long samples() const noexcept { return samples_; }

private:
    std::atomic<bool> stop_{false};
    std::atomic<long> max_kib_{0}, samples_{0};
    std::thread thread_;
};

}  // namespace enclave::bench::binary
