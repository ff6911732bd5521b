// SPDX-License-Identifier: Apache-2.0
// Many clients at once: every handshake signs on the token through the
// session pool, concurrently.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "harness/instance.hpp"
#include "harness/metrics_reader.hpp"

namespace enclave::daemon_test {
namespace {

TEST(ConcurrencyTest, TwoHundredConcurrentHandshakesAllSucceed) {
    constexpr int kClients = 200;
    TestInstance inst;
    // Generous deadlines: this test is about correctness under contention on
    // a 2-core machine (and under sanitizers), not about speed.
    inst.config().lea.limits.handshake_timeout = std::chrono::seconds(120);
    inst.config().lea.limits.read_timeout = std::chrono::seconds(120);
    inst.save_config();
    auto daemon = inst.start_ready();
    const auto client = inst.lea_client();

    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> succeeded{0};
    std::vector<std::string> errors(kClients);
    std::vector<std::thread> threads;
    threads.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            ++ready;
            while (!go.load()) std::this_thread::yield();
            TlsConnection c(inst.lea_port(), client);
            if (!c.ok()) {
                errors[i] = c.error();
                return;
            }
            const auto r = c.request("GET", "/v1/whoami", {}, true);
            if (r.status == 200) {
                ++succeeded;
            } else {
                errors[i] = "whoami: " + std::to_string(r.status) + " " + r.error;
            }
        });
    }
    while (ready.load() < kClients) std::this_thread::yield();
    go = true;
    for (auto& t : threads) t.join();
    for (int i = 0; i < kClients; ++i)
        EXPECT_TRUE(errors[i].empty()) << "client " << i << ": " << errors[i];
    EXPECT_EQ(succeeded.load(), kClients) << inst.log();

    const auto text = fetch_metrics(inst.socket());
    ASSERT_TRUE(text);
    EXPECT_EQ(sample_value(*text, R"(enclave_tls_handshakes_total{listener="lea"})"), kClients);
    EXPECT_EQ(sample_value(*text, R"(enclave_http_requests_total{listener="lea",status="200"})"),
              kClients);
    EXPECT_EQ(
        sample_value(*text, R"(enclave_connections_refused_total{listener="lea",reason="limit"})"),
        0u);
    // Every handshake signed on the token through the pool, which stayed
    // within its configured size.
    EXPECT_GE(sample_value(*text, "enclave_hsm_session_leases_total").value_or(0),
              std::uint64_t{kClients});
    const auto peak = sample_value(*text, "enclave_hsm_sessions_peak_in_use").value_or(0);
    EXPECT_GE(peak, 1u);
    EXPECT_LE(peak, inst.config().token.max_sessions);
    EXPECT_LE(sample_value(*text, "enclave_hsm_sessions_open").value_or(0),
              inst.config().token.max_sessions);
}

}  // namespace
}  // namespace enclave::daemon_test
