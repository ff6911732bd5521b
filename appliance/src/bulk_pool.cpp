// SPDX-License-Identifier: Apache-2.0
#include "appliance/bulk_pool.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <string>

#include "appliance/log.hpp"

namespace enclave::appliance {

namespace {

/// Lowers the calling thread's priority by `offset` nice steps (Linux keeps
/// a nice value per thread; raising it needs no privilege). False when the
/// kernel refused.
bool lower_this_thread(int offset) {
    if (offset <= 0) return false;
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno != 0) return false;
    return ::setpriority(PRIO_PROCESS, tid, std::min(19, now + offset)) == 0;
}

}  // namespace

BulkPool::BulkPool(BulkPoolOptions options) {
    const std::size_t n = std::max<std::size_t>(1, options.threads);
    const int offset = std::clamp(options.nice_offset, 0, 19);
    threads_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this, offset] { run(offset); });
    // Every thread has set its priority before the pool is handed out.
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this, n] { return started_ == n; });
}

BulkPool::~BulkPool() { stop(); }

bool BulkPool::submit(std::function<void()> job) {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void BulkPool::stop() {
    std::deque<std::function<void()>> dropped;
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        dropped.swap(queue_);
    }
    cv_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
    }
    // Destroyed here, outside the lock: a job's captures may run
    // destructors that take other locks.
    dropped.clear();
}

std::unique_ptr<BulkBuffers> BulkPool::take_buffers() {
    {
        std::lock_guard lock(mu_);
        if (!kept_.empty()) {
            auto out = std::move(kept_.back());
            kept_.pop_back();
            return out;
        }
    }
    return std::make_unique<BulkBuffers>();
}

void BulkPool::give_buffers(std::unique_ptr<BulkBuffers> buffers) noexcept {
    if (!buffers) return;
    std::lock_guard lock(mu_);
    if (kept_.size() < kKeptBuffers) {
        try {
            kept_.push_back(std::move(buffers));
        } catch (...) {
            // Out of memory for the pointer: the buffers are freed instead.
        }
    }
}

std::size_t BulkPool::kept_buffers() const noexcept {
    std::lock_guard lock(mu_);
    return kept_.size();
}

bool BulkPool::lowered() const noexcept {
    std::lock_guard lock(mu_);
    return lowered_ == threads_.size();
}

std::uint64_t BulkPool::jobs_run() const noexcept {
    std::lock_guard lock(mu_);
    return jobs_run_;
}

void BulkPool::run(int nice_offset) {
    const bool low = lower_this_thread(nice_offset);
    {
        std::lock_guard lock(mu_);
        if (low) ++lowered_;
        ++started_;
    }
    cv_.notify_all();
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            job();
        } catch (const std::exception& e) {
            log(LogLevel::error, "bulk", std::string("a bulk job threw: ") + e.what());
        } catch (...) {
            log(LogLevel::error, "bulk", "a bulk job threw");
        }
        job = nullptr;  // its captures die before the count moves
        std::lock_guard lock(mu_);
        ++jobs_run_;
    }
}

}  // namespace enclave::appliance
