// SPDX-License-Identifier: Apache-2.0
// BulkPool: first in, first out, lowered priority, a clean stop, and a job
// that throws does not take a thread with it.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "appliance/bulk_pool.hpp"

namespace enclave::appliance {
namespace {

using namespace std::chrono_literals;

int my_nice() {
    errno = 0;
    return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}

/// The nice value a job of `pool` runs at.
int nice_in(BulkPool& pool) {
    std::promise<int> seen;
    EXPECT_TRUE(pool.submit([&] { seen.set_value(my_nice()); }));
    auto f = seen.get_future();
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
}

/// Blocks the pool's threads until released.
class Gate {
public:
    void wait() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return open_; });
    }
    void open() {
        {
            std::lock_guard lock(mu_);
            open_ = true;
        }
        cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool open_ = false;
};

TEST(BulkPoolTest, JobsRunInTheOrderTheyCame) {
    BulkPool pool({1, 0});
    std::mutex mu;
    std::vector<int> order;
    std::promise<void> done;
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(pool.submit([&, i] {
            std::lock_guard lock(mu);
            order.push_back(i);
            if (i == 49) done.set_value();
        }));
    }
    ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
    ASSERT_EQ(order.size(), 50u);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
    EXPECT_EQ(pool.threads(), 1u);
}

TEST(BulkPoolTest, ItsThreadsRunAtALowerPriorityThanTheCaller) {
    const int base = my_nice();
    BulkPool pool({3, 10});
    EXPECT_TRUE(pool.lowered());
    EXPECT_EQ(nice_in(pool), std::min(19, base + 10));
    // The caller's own priority is untouched: Linux keeps nice per thread.
    EXPECT_EQ(my_nice(), base);
}

TEST(BulkPoolTest, AnOffsetOfZeroKeepsThePriorityAndOversizedOnesStopAt19) {
    const int base = my_nice();
    {
        BulkPool pool({1, 0});
        EXPECT_FALSE(pool.lowered());
        EXPECT_EQ(nice_in(pool), base);
    }
    BulkPool pool({1, 400});
    EXPECT_EQ(nice_in(pool), 19);
}

TEST(BulkPoolTest, StopFinishesTheRunningJobDropsTheQueuedOnesAndRefusesNewOnes) {
    auto pool = std::make_unique<BulkPool>(BulkPoolOptions{1, 0});
    Gate gate;
    std::promise<void> started;
    std::atomic<int> ran{0};
    ASSERT_TRUE(pool->submit([&] {
        started.set_value();
        gate.wait();
        ++ran;
    }));
    ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
    // Queued behind the running job: dropped by stop(), their captures
    // destroyed (the shared_ptr's count falls back to one).
    auto held = std::make_shared<int>(7);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(pool->submit([&ran, held] { ran += 100; }));
    }
    EXPECT_EQ(held.use_count(), 6);
    std::thread stopper([&] { pool->stop(); });
    std::this_thread::sleep_for(50ms);
    gate.open();
    stopper.join();
    EXPECT_EQ(ran.load(), 1);
    EXPECT_EQ(held.use_count(), 1);
    EXPECT_FALSE(pool->submit([&] { ++ran; }));
    pool->stop();  // idempotent
    pool.reset();
    EXPECT_EQ(ran.load(), 1);
}

TEST(BulkPoolTest, AJobThatThrowsLeavesThePoolWorking) {
    BulkPool pool({1, 0});
    ASSERT_TRUE(pool.submit([] { throw std::runtime_error("boom"); }));
    ASSERT_TRUE(pool.submit([] { throw 42; }));
    std::promise<void> after;
    ASSERT_TRUE(pool.submit([&] { after.set_value(); }));
    ASSERT_EQ(after.get_future().wait_for(10s), std::future_status::ready);
    // jobs_run counts a job once its captures are gone: wait for the third.
    for (int i = 0; i < 1000 && pool.jobs_run() < 3; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(pool.jobs_run(), 3u);
}

TEST(BulkPoolTest, ConcurrentSubmittersAllGetTheirJobsRun) {
    BulkPool pool({2, 0});
    std::atomic<int> ran{0};
    std::vector<std::thread> submitters;
    for (int t = 0; t < 4; ++t) {
        submitters.emplace_back([&] {
            for (int i = 0; i < 250; ++i) ASSERT_TRUE(pool.submit([&] { ++ran; }));
        });
    }
    for (auto& t : submitters) t.join();
    for (int i = 0; i < 10000 && ran.load() < 1000; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(ran.load(), 1000);
}

TEST(BulkPoolTest, SlotBuffersAreKeptForTheNextResponseUpToALimit) {
    BulkPool pool({1, 0});
    EXPECT_EQ(pool.kept_buffers(), 0u);
    auto first = pool.take_buffers();
    ASSERT_TRUE(first);
    first->plain[0].resize(256 * 1024);
    const std::uint8_t* storage = first->plain[0].data();
    pool.give_buffers(std::move(first));
    EXPECT_EQ(pool.kept_buffers(), 1u);
    // The same storage comes back: no new allocation, no new page faults.
    auto again = pool.take_buffers();
    EXPECT_EQ(again->plain[0].data(), storage);
    EXPECT_EQ(pool.kept_buffers(), 0u);
    std::vector<std::unique_ptr<BulkBuffers>> many;
    for (std::size_t i = 0; i < BulkPool::kKeptBuffers + 5; ++i) many.push_back(pool.take_buffers());
    for (auto& b : many) pool.give_buffers(std::move(b));
    EXPECT_EQ(pool.kept_buffers(), BulkPool::kKeptBuffers);
    pool.give_buffers(nullptr);
    EXPECT_EQ(pool.kept_buffers(), BulkPool::kKeptBuffers);
}

}  // namespace
}  // namespace enclave::appliance
