// SPDX-License-Identifier: Apache-2.0
// LeaIdentityMonitor: the monitoring events of a LEA endpoint's server
// identity checks, without flooding: one on entering the failing state, at
// most one per repeat interval while it lasts, a recovery after a reported
// failure; and how LogEventSink renders them (fixed words, no peer text).
#include "appliance/lea_identity_monitor.hpp"

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <mutex>
#include <thread>
#include <vector>

namespace enclave::appliance {
namespace {

using delivery::ServerIdentityFailure;
using namespace std::chrono_literals;
using Clock = LeaIdentityMonitor::Clock;

class RecordingSink final : public EventSink {
public:
    void emit(const Event& event) noexcept override {
        std::lock_guard lock(mu_);
        lines_.push_back(std::string(event_name(event)) + ' ' + describe_event(event));
    }
    std::vector<std::string> lines() {
        std::lock_guard lock(mu_);
        return lines_;
    }

private:
    std::mutex mu_;
    std::vector<std::string> lines_;
};

TEST(LeaIdentityMonitorTest, OneEventOnEnteringThenOnePerRepeatWhileItLasts) {
    RecordingSink sink;
    LeaIdentityMonitor m("lea-1", &sink, 15min);
    const Clock::time_point t0{};
    // Many refused connections within the first 15 minutes: one event.
    for (int i = 0; i < 100; ++i) m.report(ServerIdentityFailure::untrusted, t0 + i * 5s);
    ASSERT_EQ(sink.lines().size(), 1u);
    EXPECT_EQ(sink.lines()[0], "lea_endpoint_tls_failed endpoint=lea-1 reason=untrusted refused=1");
    EXPECT_TRUE(m.failing());
    // Still failing after 15 minutes: one more, with the count since the
    // last event and the latest reason.
    m.report(ServerIdentityFailure::expired, t0 + 15min);
    ASSERT_EQ(sink.lines().size(), 2u);
    EXPECT_EQ(sink.lines()[1], "lea_endpoint_tls_failed endpoint=lea-1 reason=expired refused=100");
    m.report(ServerIdentityFailure::expired, t0 + 16min);
    EXPECT_EQ(sink.lines().size(), 2u);
    // Accepted again: one recovery event, then nothing for further successes.
    m.report(std::nullopt, t0 + 17min);
    m.report(std::nullopt, t0 + 18min);
    ASSERT_EQ(sink.lines().size(), 3u);
    EXPECT_EQ(sink.lines()[2], "lea_endpoint_tls_recovered endpoint=lea-1");
    EXPECT_FALSE(m.failing());
    EXPECT_EQ(m.refused_total(), 102u);
}

TEST(LeaIdentityMonitorTest, FlappingGivesAtMostAFailureAndARecoveryPerRepeat) {
    RecordingSink sink;
    LeaIdentityMonitor m("lea-2", &sink, 15min);
    const Clock::time_point t0{};
    // A bad node behind a balancer: every other connection refused, for an hour.
    for (int i = 0; i < 3600; ++i) {
        const auto now = t0 + i * 1s;
        if (i % 2 == 0) {
            m.report(ServerIdentityFailure::host_mismatch, now);
        } else {
            m.report(std::nullopt, now);
        }
    }
    const auto lines = sink.lines();
    EXPECT_LE(lines.size(), 2u * 4u) << "at most a failure and a recovery per 15 minutes";
    EXPECT_GE(lines.size(), 2u * 4u - 1u);
    EXPECT_EQ(lines.front(), "lea_endpoint_tls_failed endpoint=lea-2 reason=host_mismatch refused=1");
    // The repeated failure event carries everything refused meanwhile.
    EXPECT_EQ(lines[2], "lea_endpoint_tls_failed endpoint=lea-2 reason=host_mismatch refused=450");
}

TEST(LeaIdentityMonitorTest, SuccessWithoutAReportedFailureSaysNothing) {
    RecordingSink sink;
    LeaIdentityMonitor m("lea-3", &sink, 15min);
    m.report(std::nullopt, Clock::time_point{});
    EXPECT_TRUE(sink.lines().empty());
    LeaIdentityMonitor quiet("lea-4", nullptr);
    quiet.report(ServerIdentityFailure::pin_mismatch);
    quiet.report(std::nullopt);
    EXPECT_EQ(quiet.refused_total(), 1u);
}

TEST(LeaIdentityMonitorTest, ConcurrentLanesGiveOneEvent) {
    RecordingSink sink;
    LeaIdentityMonitor m("lea-5", &sink, 15min);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m] {
            for (int i = 0; i < 200; ++i) m.report(ServerIdentityFailure::revoked);
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(sink.lines().size(), 1u);
    EXPECT_EQ(m.refused_total(), 800u);
}

TEST(LeaIdentityMonitorTest, EveryReasonHasAFixedName) {
    for (auto [reason, name] :
         {std::pair{ServerIdentityFailure::untrusted, "untrusted"},
          std::pair{ServerIdentityFailure::expired, "expired"},
          std::pair{ServerIdentityFailure::not_yet_valid, "not_yet_valid"},
          std::pair{ServerIdentityFailure::revoked, "revoked"},
          std::pair{ServerIdentityFailure::host_mismatch, "host_mismatch"},
          std::pair{ServerIdentityFailure::invalid, "invalid"},
          std::pair{ServerIdentityFailure::pin_mismatch, "pin_mismatch"},
          std::pair{ServerIdentityFailure::psk_not_used, "psk_not_used"}}) {
        const Event e = events::LeaEndpointTlsFailed{"e", reason, 3};
        EXPECT_EQ(describe_event(e), std::string("endpoint=e reason=") + name + " refused=3");
        EXPECT_EQ(event_name(e), "lea_endpoint_tls_failed");
    }
    EXPECT_EQ(delivery::classify_verify_result(X509_V_ERR_CERT_HAS_EXPIRED), ServerIdentityFailure::expired);
    EXPECT_EQ(delivery::classify_verify_result(X509_V_ERR_HOSTNAME_MISMATCH),
              ServerIdentityFailure::host_mismatch);
    EXPECT_EQ(delivery::classify_verify_result(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
              ServerIdentityFailure::untrusted);
    EXPECT_EQ(delivery::classify_verify_result(X509_V_ERR_CERT_SIGNATURE_FAILURE),
              ServerIdentityFailure::invalid);
}

}  // namespace
}  // namespace enclave::appliance
