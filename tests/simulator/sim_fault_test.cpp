// SPDX-License-Identifier: Apache-2.0
// The simulator's fault control (issue #10): the /control/fault form is
// strict (unknown and repeated keys, wrong types, out-of-range and hostile
// input refused), and the 5xx, reset and stall faults behave as documented
// against a real LeaClient over loopback mutual TLS; the client reports each
// new connection's server identity check (accepted, untrusted, host, pin).
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "sim_fixture.hpp"

namespace enclave::testing {
namespace {

using crypto::Errc;
using delivery::LeaClient;
using delivery::ServerIdentityFailure;
using simulator::Fault;
using simulator::FaultKind;
using simulator::FaultTarget;
using simulator::parse_fault_json;

TEST(SimFaultJsonTest, NewKindsParse) {
    auto s = parse_fault_json(R"({"kind":"status","status":503,"target":"xml","count":2})");
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->kind, FaultKind::status);
    EXPECT_EQ(s->status, 503u);
    EXPECT_EQ(s->target, FaultTarget::xml);
    EXPECT_EQ(s->count, 2);
    auto r = parse_fault_json(R"({"kind":"reset"})");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->kind, FaultKind::reset);
    EXPECT_EQ(r->count, -1) << "until replaced";
    auto st = parse_fault_json(R"({"kind":"stall","delay_ms":600000,"target":"binary"})");
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->kind, FaultKind::stall);
    EXPECT_EQ(st->delay.count(), 600000);
    for (const char* edge : {R"({"kind":"status","status":500})", R"({"kind":"status","status":599})",
                             R"({"count":-1})", R"({"count":1000000})", R"({})",
                             R"( {"k\u0069nd" : "none"} )"}) {
        EXPECT_TRUE(parse_fault_json(edge)) << edge;
    }
}

TEST(SimFaultJsonTest, MalformedAndHostileFormsAreRefused) {
    const std::vector<std::string> bad = {
        // Cross-field rules.
        R"({"kind":"status"})", R"({"kind":"refuse","status":500})", R"({"status":500})",
        R"({"kind":"stall"})", R"({"kind":"stall","delay_ms":0})",
        // Ranges and types.
        R"({"kind":"status","status":499})", R"({"kind":"status","status":600})",
        R"({"kind":"status","status":-500})", R"({"kind":"status","status":500.0})",
        R"({"kind":"status","status":5e2})", R"({"kind":"status","status":"500"})",
        R"({"kind":"status","status":true})", R"({"kind":"status","status":null})",
        R"({"delay_ms":600001})", R"({"delay_ms":1.5})", R"({"delay_ms":18446744073709551616})",
        R"({"delay_ms":-1})", R"({"count":1000001})", R"({"count":-2})", R"({"count":0.5})",
        R"({"count":99999999999999999999})", R"({"count":[1]})", R"({"kind":["reset"]})",
        R"({"kind":{"x":1}})", R"({"kind":"RESET"})", R"({"kind":"reset "})", R"({"target":"both"})",
        // Keys: unknown, repeated (also through an escape), case.
        R"({"Kind":"reset"})", R"({"kind":"reset","extra":1})", R"({"kind":"none","kind":"reset"})",
        R"({"kind":"none","k\u0069nd":"reset"})", R"({"count":1,"count":2})",
        // Not an object, not JSON, trailing bytes.
        "", " ", "null", "[]", "\"reset\"", "42", "{", "}", R"({"kind":"reset"} {})",
        R"({"kind":"reset"}x)", R"({'kind':'reset'})", R"({kind:"reset"})",
        std::string("{\"kind\":\"re\0set\"}", 17), "{\"kind\":\"\xff\xfe\"}",
        R"({"kind":"reset",})"};
    for (const std::string& text : bad) {
        auto f = parse_fault_json(text);
        EXPECT_FALSE(f) << text;
        if (!f) {
            EXPECT_NE(f.error().code(), Errc::internal) << text;
        }
    }
    // Deep nesting within the size limit, and over the limit.
    EXPECT_FALSE(parse_fault_json("{\"kind\":" + std::string(2000, '[') + std::string(2000, ']') + "}"));
    EXPECT_FALSE(parse_fault_json(std::string(2040, '[') + std::string(2040, ']')));
    auto big = parse_fault_json("{\"kind\":\"none\"" + std::string(5000, ' ') + "}");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);
}

TEST(SimFaultTest, StatusFaultAnswersThe5xxAndStoresNothing) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    sim->set_fault({FaultKind::status, FaultTarget::xml, {}, 1, 502});
    auto r = client->post_xml(example_delivery());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 502u);
    EXPECT_EQ(sim->status().store.deliveries, 0u);
    EXPECT_EQ(sim->status().faults_applied, 1u);
    // The fault is used up; the same connection (keep-alive) goes on.
    auto ok = client->post_xml(example_delivery());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200u);
    EXPECT_EQ(client->stats().connections_opened, 1u);
    EXPECT_EQ(sim->status().store.deliveries, 1u);
}

TEST(SimFaultTest, ResetFaultIsAConnectionResetAndStoresNothing) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    sim->set_fault({FaultKind::reset, FaultTarget::xml, {}, 1});
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable) << r.error().message();
    // ECONNRESET on the read (or EPIPE, should the reset beat the write),
    // at once: not a timeout.
    EXPECT_EQ(r.error().context().find("timed out"), std::string::npos) << r.error().context();
    EXPECT_EQ(sim->status().store.deliveries, 0u);
    auto ok = client->post_xml(example_delivery());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200u);
}

TEST(SimFaultTest, StalledXmlIsEndedByTheClientsReadTimeout) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.read_timeout = std::chrono::milliseconds(300);
    auto client = must(LeaClient::create(std::move(options)));
    sim->set_fault({FaultKind::stall, FaultTarget::xml, std::chrono::milliseconds(20'000), 1});
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable);
    EXPECT_NE(r.error().context().find("read response: timed out"), std::string::npos)
        << r.error().context();
    EXPECT_EQ(sim->status().store.deliveries, 0u);
    EXPECT_EQ(sim->status().faults_applied, 1u);
}

TEST(SimFaultTest, StalledBinaryIsEndedByTheClientsTimeoutsAndLeavesNothing) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.read_timeout = std::chrono::milliseconds(300);
    options.write_timeout = std::chrono::milliseconds(300);
    auto client = must(LeaClient::create(std::move(options)));
    sim->set_fault({FaultKind::stall, FaultTarget::binary, std::chrono::milliseconds(20'000), 1});
    // 16 MiB: far more than the socket buffers hold, so the writer blocks.
    std::uint64_t state = 0x9e3779b97f4a7c15ull;
    auto source = [&state](crypto::MutableByteView out) -> crypto::Result<std::size_t> {
        for (auto& b : out) b = static_cast<std::uint8_t>(state = state * 6364136223846793005ull + 1);
        return out.size();
    };
    auto r = client->post_binary(sim->base_url() + "/binaryData/" + simulator::random_uuid() + "/",
                                 "application/octet-stream", 16u << 20, source);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable) << r.error().message();
    EXPECT_NE(r.error().context().find("timed out"), std::string::npos) << r.error().context();
    EXPECT_EQ(sim->status().store.binaries, 0u);
}

TEST(SimFaultTest, StatusFaultOnABinaryAnswersInsteadOf100Continue) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    sim->set_fault({FaultKind::status, FaultTarget::binary, {}, 1, 500});
    std::size_t calls = 0;
    auto source = [&calls](crypto::MutableByteView out) -> crypto::Result<std::size_t> {
        ++calls;
        return out.size();
    };
    auto r = client->post_binary(sim->base_url() + "/binaryData/" + simulator::random_uuid() + "/",
                                 "application/octet-stream", 4096, source);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 500u);
    EXPECT_EQ(calls, 0u) << "no body byte was sent";
    EXPECT_EQ(sim->status().store.binaries, 0u);
}

/// Records what the client reports about each new connection.
struct IdentityLog {
    std::mutex mu;
    std::vector<std::optional<ServerIdentityFailure>> seen;
    std::function<void(std::optional<ServerIdentityFailure>)> callback() {
        return [this](std::optional<ServerIdentityFailure> o) {
            std::lock_guard lock(mu);
            seen.push_back(o);
        };
    }
};

TEST(SimFaultTest, ClientReportsEachNewConnectionsIdentityCheck) {
    SimFixture f;
    auto sim = f.start_sim();
    {
        IdentityLog log;
        auto o = f.client_options(*sim);
        o.on_identity_check = log.callback();
        auto client = must(LeaClient::create(std::move(o)));
        ASSERT_TRUE(client->post_xml(example_delivery()));
        ASSERT_TRUE(client->post_xml(example_delivery()));
        ASSERT_EQ(log.seen.size(), 1u) << "a reused connection is not checked again";
        EXPECT_FALSE(log.seen[0].has_value());
    }
    {
        IdentityLog log;
        auto o = f.client_options(*sim);
        o.expected_host = "lea.example";
        o.on_identity_check = log.callback();
        auto client = must(LeaClient::create(std::move(o)));
        ASSERT_FALSE(client->post_xml(example_delivery()));
        ASSERT_EQ(log.seen.size(), 1u);
        EXPECT_EQ(log.seen[0], ServerIdentityFailure::host_mismatch);
    }
    {
        IdentityLog log;
        auto o = f.client_options(*sim);
        o.spki_sha256_pin = crypto::Bytes(32, 0x5a);
        o.on_identity_check = log.callback();
        auto client = must(LeaClient::create(std::move(o)));
        ASSERT_FALSE(client->post_xml(example_delivery()));
        ASSERT_EQ(log.seen.size(), 1u);
        EXPECT_EQ(log.seen[0], ServerIdentityFailure::pin_mismatch);
    }
    // Another CA's certificate; a connection that fails for another reason
    // (the stopped simulator never answers the handshake) is not an
    // identity check at all.
    PkiDir other("Some Other CA");
    other.issue_file_key("sim", TestKeyType::ec_p256, server_spec());
    auto options = f.sim_options();
    options.tls.certificate = other.path("sim.pem");
    options.tls.private_key = other.path("sim.key").string();
    auto impostor = must(simulator::LeaSimulator::start(std::move(options)));
    IdentityLog log;
    auto o = f.client_options(*impostor);
    o.on_identity_check = log.callback();
    o.handshake_timeout = std::chrono::milliseconds(300);
    auto client = must(LeaClient::create(std::move(o)));
    ASSERT_FALSE(client->post_xml(example_delivery()));
    ASSERT_EQ(log.seen.size(), 1u);
    EXPECT_EQ(log.seen[0], ServerIdentityFailure::untrusted);
    impostor->stop();
    auto refused = client->post_xml(example_delivery());
    ASSERT_FALSE(refused);
    EXPECT_EQ(log.seen.size(), 1u) << "other failures are not identity checks";
    EXPECT_EQ(delivery::server_identity_failure_name(ServerIdentityFailure::untrusted), "untrusted");
}

}  // namespace
}  // namespace enclave::testing
