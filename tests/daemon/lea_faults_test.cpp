// SPDX-License-Identifier: Apache-2.0
// Fault injection at the LEA endpoint (issue #10; docs/reliability.md,
// "Fault injection: the LEA endpoint"), real processes: enclaved ->
// enclave-lea-sim over loopback mutual TLS. For each fault (refuse, reset,
// stall mid-body, 5xx, a wrong server certificate) items submitted while it
// lasts all reach the LEA once it clears, in sequence, exactly once; the
// attempts the LEA saw during the fault stay under the bound the outbox's
// backoff guarantees (no retry storm: a count, never a duration); the
// certificate case gives one monitoring event, not one per attempt.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "delivery_test_util.hpp"
#include "harness/tls_client.hpp"
#include "support/test_pki.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

constexpr Ms kRetryInitial{100};
constexpr Ms kRetryMax{400};
constexpr int kResponseTimeoutMs = 1000;
const std::string kReference = "LIID-FAULT-1";

/// The most attempts ONE delivery can make within `window`: the outbox
/// spaces attempt k+1 at least floor(step_k / 2) after attempt k, with
/// step_k = min(max, initial * 2^(k-1)) (equal jitter, docs/outbox.md).
std::uint64_t attempt_bound(Ms window) {
    std::int64_t spent = 0;
    std::int64_t step = kRetryInitial.count();
    for (std::uint64_t n = 1;; ++n) {
        const std::int64_t gap = step / 2;
        if (spent + gap > window.count()) return n;
        spent += gap;
        step = std::min<std::int64_t>(step * 2, kRetryMax.count());
    }
}

/// GET /status of the simulator (its server certificate is not checked:
/// in the certificate case it is the wrong one on purpose).
json sim_status(const TestInstance& inst, const Simulator& sim) {
    TlsClientConfig cfg = inst.lea_client();
    cfg.trust_anchors.clear();
    TlsConnection c(sim.port(), cfg);
    if (!c.ok()) return json::object();
    const HttpReply r = c.request("GET", "/status");
    return json::parse(r.body, nullptr, false);
}

std::uint64_t counter(const json& status, const char* name) {
    return status.is_object() && status.contains(name) ? status[name].get<std::uint64_t>() : 0;
}

void set_fault(const TestInstance& inst, const Simulator& sim, const std::string& fault) {
    TlsConnection c(sim.port(), inst.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    const HttpReply r = post_json(c, "/control/fault", fault);
    ASSERT_EQ(r.status, 200u) << fault << ": " << r.body;
}

/// An instance with the shortest backoff the test wants (a sane operator
/// setting too: 100 ms doubling to 400 ms) and a 1 s response timeout on
/// the endpoint, one item already delivered (so a pooled connection exists).
class LeaFaultTest : public ::testing::Test {
protected:
    void SetUp() override {
        inst_.config().delivery.retry_initial = kRetryInitial;
        inst_.config().delivery.retry_max = kRetryMax;
        inst_.save_config();
        daemon_ = inst_.start_ready();
        sim_ = std::make_unique<Simulator>(inst_);
        const std::string base = "https://127.0.0.1:" + std::to_string(sim_->port());
        const RunResult r = ctl(inst_, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery",
                                        "--ca", inst_.pki("demo-ca.pem").string(), "--binary-url-scheme",
                                        base + "/binaryData/{id}/",
                                        "--receiver-country", "GB", "--response-timeout-ms",
                                        std::to_string(kResponseTimeoutMs)});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        create_task(inst_, kReference);
        ingest_ = std::make_unique<TlsConnection>(inst_.ingest_port(), inst_.collector_client());
        ASSERT_TRUE(ingest_->ok()) << ingest_->error();
        submit(0, 1);
        ASSERT_TRUE(eventually([&] { return items_delivered(*sim_) == 1; })) << inst_.log();
    }

    /// Items first..first+n-1, one submission.
    void submit(int first, int n) {
        json arr = json::array();
        for (int i = first; i < first + n; ++i) arr.push_back(item(i));
        const HttpReply r = post_json(*ingest_, "/ingest/v1/tasks/" + kReference + "/items", arr.dump());
        ASSERT_EQ(r.status, 202u) << r.body;
    }

    /// Submits items 1..6 in three submissions while the fault lasts.
    void submit_during_fault() {
        for (int k = 0; k < 3; ++k) submit(1 + 2 * k, 2);
    }

    /// Every item (0..6) arrived once, the deliveries in sequence, no
    /// DeliveryID twice, nothing stored as a duplicate.
    void expect_all_delivered_once() {
        ASSERT_TRUE(eventually([&] { return items_delivered(*sim_) >= 7; })) << inst_.log();
        std::set<std::string> ids;
        std::uint64_t next = 0;
        for (const json& d : sim_->deliveries()) {
            EXPECT_TRUE(ids.insert(d["delivery_id"].get<std::string>()).second) << "stored once";
            EXPECT_EQ(d["sequence_number"].get<std::uint64_t>(), next++) << "in sequence";
        }
        EXPECT_EQ(items_delivered(*sim_), 7u);
        EXPECT_EQ(counter(sim_status(inst_, *sim_), "delivery_duplicates"), 0u);
    }

    /// One fault from the simulator's control, on for as long as it takes
    /// the daemon to fail `min_faults` times, then cleared. Returns the
    /// faults applied and checks them against the backoff bound.
    void run_fault(const std::string& fault, std::uint64_t min_faults) {
        const auto t0 = std::chrono::steady_clock::now();
        set_fault(inst_, *sim_, fault);
        submit_during_fault();
        ASSERT_TRUE(eventually([&] {
            return counter(sim_status(inst_, *sim_), "faults_applied") >= min_faults;
        })) << inst_.log();
        EXPECT_EQ(items_delivered(*sim_), 1u) << "nothing got through the fault";
        set_fault(inst_, *sim_, R"({"kind":"none"})");
        const auto window = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0);
        const std::uint64_t faults = counter(sim_status(inst_, *sim_), "faults_applied");
        // One delivery is in flight (one reference); each attempt may be
        // sent once more on a fresh connection when its pooled one failed
        // before any answer (LeaClient), hence 2x.
        const std::uint64_t bound = 2 * attempt_bound(window);
        std::cout << "[ fault ] " << fault << ": " << faults << " requests faulted in "
                  << window.count() << " ms (bound " << bound << ")\n";
        EXPECT_GE(faults, min_faults);
        EXPECT_LE(faults, bound) << "retry storm: " << faults << " attempts in " << window.count()
                                 << " ms";
        EXPECT_NE(inst_.log().find("retrying later"), std::string::npos) << inst_.log();
        expect_all_delivered_once();
    }

    TestInstance inst_;
    std::unique_ptr<Process> daemon_;
    std::unique_ptr<Simulator> sim_;
    std::unique_ptr<TlsConnection> ingest_;
};

TEST_F(LeaFaultTest, RefusedWith503ThenDeliveredOnceInSequence) {
    run_fault(R"({"kind":"refuse","target":"xml"})", 3);
    EXPECT_NE(inst_.log().find("the LEA answered HTTP 503"), std::string::npos);
}

TEST_F(LeaFaultTest, ConnectionResetThenDeliveredOnceInSequence) {
    run_fault(R"({"kind":"reset","target":"xml"})", 3);
}

TEST_F(LeaFaultTest, Http5xxThenDeliveredOnceInSequence) {
    run_fault(R"({"kind":"status","status":500,"target":"xml"})", 3);
    EXPECT_NE(inst_.log().find("the LEA answered HTTP 500"), std::string::npos);
}

// The simulator reads part of the request and then says nothing for 30 s:
// the endpoint's response timeout (1 s) ends each attempt, so a stalled LEA
// holds a lane for that long, not forever.
TEST_F(LeaFaultTest, StallMidBodyIsEndedByTheResponseTimeoutThenDelivered) {
    run_fault(R"({"kind":"stall","target":"xml","delay_ms":30000})", 2);
    EXPECT_NE(inst_.log().find("read response: timed out"), std::string::npos) << inst_.log();
}

// A simulator with a server certificate from a CA the endpoint does not
// trust: retried with backoff like any failure, one monitoring event (not
// one per attempt) in a fixed form naming no secret, a recovery event once
// the right certificate is back.
TEST_F(LeaFaultTest, WrongServerCertificateGivesOneEventAndDeliversAfterwards) {
    testing::TestCa other("Not The LEA CA");
    auto key = testing::generate_test_key(testing::TestKeyType::ec_p256);
    testing::LeafSpec spec;
    spec.common_name = "impostor.lea.example";
    spec.ips = {"127.0.0.1"};
    auto cert = other.issue(key.get(), spec);
    const auto cert_file = inst_.scratch() / "impostor.pem";
    const auto key_file = inst_.scratch() / "impostor.key";
    testing::write_pem_certs(cert_file, {cert.get(), other.cert()});
    testing::write_pem_key(key_file, key.get());

    const std::uint16_t port = sim_->port();
    sim_->stop();
    sim_->use_identity(cert_file, key_file);
    const auto t0 = std::chrono::steady_clock::now();
    sim_->start(port);
    submit_during_fault();
    std::uint64_t refused = 0;
    ASSERT_TRUE(eventually([&] {
        refused = counter(sim_status(inst_, *sim_), "handshake_failures");
        return refused >= 3;
    })) << inst_.log();
    EXPECT_EQ(items_delivered(*sim_), 1u) << "nothing went to the impostor";
    sim_->stop();
    const auto window = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0);
    const std::uint64_t bound = attempt_bound(window);  // a new connection is never resent
    std::cout << "[ fault ] wrong certificate: " << refused << " handshakes refused in "
              << window.count() << " ms (bound " << bound << ")\n";
    EXPECT_LE(refused, bound) << "retry storm";

    sim_->use_identity({}, {});
    sim_->start(port);
    expect_all_delivered_once();
    ASSERT_TRUE(eventually([&] {
        return inst_.log().find("lea_endpoint_tls_recovered") != std::string::npos;
    })) << inst_.log();

    const std::string log = inst_.log();
    std::size_t failed_events = 0;
    for (auto p = log.find("lea_endpoint_tls_failed"); p != std::string::npos;
         p = log.find("lea_endpoint_tls_failed", p + 1)) {
        ++failed_events;
    }
    EXPECT_EQ(failed_events, 1u) << "one event for the episode, not one per attempt\n" << log;
    // The exact form: the endpoint's name, a fixed reason word, a count.
    // Nothing from the certificate (no subject, no PEM, no key material).
    EXPECT_TRUE(std::regex_search(
        log, std::regex("event: lea_endpoint_tls_failed endpoint=lea-sim reason=untrusted refused=1\n")))
        << log;
    EXPECT_TRUE(std::regex_search(log, std::regex("event: lea_endpoint_tls_recovered endpoint=lea-sim\n")))
        << log;
    for (const char* leak : {"impostor", "Not The LEA CA", "BEGIN"}) {
        EXPECT_EQ(log.find(leak), std::string::npos) << leak;
    }
}

}  // namespace
}  // namespace enclave::daemon_test
