// SPDX-License-Identifier: Apache-2.0
// LeaClient <-> LeaSimulator over real loopback mutual TLS, the client's key
// on a SoftHSM2 token: DeliveryObjects, Model B binaries (64 MiB streamed),
// 100-continue refusals, certificate and pin failures, connection reuse,
// a server restart, timeouts, faults.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "crypto/encoding.hpp"
#include "sim_fixture.hpp"

namespace enclave::testing {
namespace {

using crypto::Errc;
using delivery::LeaClient;
using simulator::Fault;
using simulator::FaultKind;
using simulator::FaultTarget;

/// Deterministic pseudo-random bytes, hashed on the way out.
class PatternSource {
public:
    explicit PatternSource(std::uint64_t seed) : state_(seed | 1) {}
    crypto::Result<std::size_t> operator()(crypto::MutableByteView out) {
        ++calls_;
        largest_ = std::max(largest_, out.size());
        for (auto& b : out) {
            state_ ^= state_ << 13;
            state_ ^= state_ >> 7;
            state_ ^= state_ << 17;
            b = static_cast<std::uint8_t>(state_);
        }
        hasher_.update(out);
        return out.size();
    }
    std::string sha256_hex() { return crypto::hex_encode(hasher_.finish()); }
    std::size_t calls_ = 0;
    std::size_t largest_ = 0;

private:
    std::uint64_t state_;
    crypto::Hasher hasher_{crypto::HashAlg::sha256};
};

delivery::BodySource source_of(PatternSource& p) {
    return [&p](crypto::MutableByteView out) { return p(out); };
}

std::string binary_url(const simulator::LeaSimulator& sim, const std::string& uuid) {
    return sim.base_url() + "/binaryData/" + uuid + "/";
}

long max_rss_kib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

TEST(LeaClientSimTest, PostXmlIsStoredAnsweredAndDeduplicated) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    const std::string xml = example_delivery();
    auto r = client->post_xml(xml);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_NE(r->body.find("<DELIVERResponse><Identifier>71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e"),
              std::string::npos);
    EXPECT_EQ(r->header("content-type").value_or(""), "application/xml");
    const auto stored = f.store.path() / "deliveries" / "d1079830-8e9a-4731-8fb7-36b9b961eb72.xml";
    ASSERT_TRUE(std::filesystem::exists(stored));
    EXPECT_EQ(read_file(stored), xml);

    auto again = client->post_xml(xml);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->status, 200u);
    const auto s = sim->status();
    EXPECT_EQ(s.store.deliveries, 1u);
    EXPECT_EQ(s.store.delivery_duplicates, 1u);
    // One persistent connection for both requests.
    EXPECT_EQ(s.connections, 1u);
    EXPECT_EQ(client->stats().connections_opened, 1u);
    EXPECT_EQ(client->stats().reused, 1u);
    const std::string log = read_file(f.store.path() / "deliveries.jsonl");
    EXPECT_NE(log.find("\"reference\":\"XX-ACTOR01-1234\""), std::string::npos);
    EXPECT_NE(log.find("\"sequence_number\":1"), std::string::npos);
}

TEST(LeaClientSimTest, HostileXmlIsRefusedWith400AndNothingStored) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    const std::string laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaa\"><!ENTITY b "
        "\"&a;&a;&a;&a;&a;&a;&a;&a;\">]><HI1Message>&b;</HI1Message>";
    for (const std::string& bad :
         {std::string("<HI1Message"), laughs, std::string("<x xmlns=\"urn:other\"/>"),
          example_delivery_with_id("not-a-uuid-not-a-uuid-not-a-uuid-xx")}) {
        auto r = client->post_xml(bad);
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->status, 400u);
        EXPECT_NE(r->body.find("<ErrorInformation><ErrorCode>400</ErrorCode>"), std::string::npos);
        EXPECT_EQ(r->body.find("aaaaaaaa"), std::string::npos);  // nothing echoed
    }
    EXPECT_EQ(sim->status().store.deliveries, 0u);
    EXPECT_EQ(sim->status().deliveries_rejected, 4u);
    EXPECT_TRUE(std::filesystem::is_empty(f.store.path() / "deliveries"));
}

TEST(LeaClientSimTest, ValidatorHookRefusesAndResponderHookAnswers) {
    SimFixture f;
    auto options = f.sim_options();
    options.validator = [](std::string_view xml) -> crypto::Result<void> {
        if (xml.find("XX-ACTOR01-1234") != std::string_view::npos) return {};
        return crypto::fail(Errc::malformed_input, "schema: refused by the test validator");
    };
    options.responder.accepted = [](const simulator::DeliveryFacts& facts) {
        return "<ok>" + facts.delivery_id + "</ok>";
    };
    auto sim = must(simulator::LeaSimulator::start(std::move(options)));
    auto client = f.client(*sim);
    std::string other = example_delivery();
    other.replace(other.find("XX-ACTOR01-1234"), 15, "XX-ACTOR01-9999");
    auto refused = client->post_xml(other);
    ASSERT_TRUE(refused) << refused.error().message();
    EXPECT_EQ(refused->status, 400u);
    EXPECT_NE(refused->body.find("refused by the test validator"), std::string::npos);
    auto ok = client->post_xml(example_delivery());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->body, "<ok>d1079830-8e9a-4731-8fb7-36b9b961eb72</ok>");
}

TEST(LeaClientSimTest, Binary64MiBIsStreamedWithBoundedMemory) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    constexpr std::uint64_t kSize = 64ull * 1024 * 1024;
    PatternSource source(42);
    const std::string uuid = simulator::random_uuid();
    const long rss_before = max_rss_kib();
    auto r = client->post_binary(binary_url(*sim, uuid), "video/mp4", kSize, source_of(source));
    const long rss_after = max_rss_kib();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    const std::string sha = source.sha256_hex();
    EXPECT_NE(r->body.find(sha), std::string::npos);
    // Streamed: never asked for more than one chunk at a time, and the
    // process (client and simulator both) grew far less than the body.
    EXPECT_LE(source.largest_, 64u * 1024u);
    EXPECT_GE(source.calls_, kSize / (64u * 1024u));
#if !defined(__SANITIZE_ADDRESS__)
    // (Not under ASan: its quarantine keeps freed TLS record buffers
    // resident, up to 256 MiB, so resident size says nothing there.)
    EXPECT_LT(rss_after - rss_before, 24 * 1024) << "KiB of resident growth";
#else
    (void)rss_before;
    (void)rss_after;
#endif
    const auto file = f.store.path() / "binaries" / (uuid + ".bin");
    EXPECT_EQ(std::filesystem::file_size(file), kSize);
    const std::string log = read_file(f.store.path() / "binaries.jsonl");
    EXPECT_NE(log.find("\"sha256\":\"" + sha + "\""), std::string::npos);
    EXPECT_NE(log.find("\"content_type\":\"video/mp4\""), std::string::npos);
    EXPECT_EQ(sim->status().store.binary_bytes, kSize);
}

TEST(LeaClientSimTest, RefusedContinueSendsNoBodyAndTheNextUploadWorks) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    sim->set_fault({FaultKind::refuse, FaultTarget::binary, {}, 1});
    PatternSource refused_source(1);
    const std::string uuid = simulator::random_uuid();
    auto r = client->post_binary(binary_url(*sim, uuid), "application/octet-stream", 1 << 20,
                                 source_of(refused_source));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 503u);
    EXPECT_EQ(r->header("Retry-After").value_or(""), "1");
    EXPECT_EQ(refused_source.calls_, 0u) << "no body byte may be read after a refusal";
    PatternSource source(2);
    auto ok = client->post_binary(binary_url(*sim, uuid), "application/octet-stream", 1 << 20,
                                  source_of(source));
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200u);
    // A binary already stored is answered at once: no 100, no body.
    PatternSource dup_source(3);
    auto dup = client->post_binary(binary_url(*sim, uuid), "application/octet-stream", 1 << 20,
                                   source_of(dup_source));
    ASSERT_TRUE(dup) << dup.error().message();
    EXPECT_EQ(dup->status, 200u);
    EXPECT_EQ(dup_source.calls_, 0u);
    EXPECT_EQ(sim->status().store.binary_duplicates, 1u);
    EXPECT_EQ(sim->status().store.binaries, 1u);
}

TEST(LeaClientSimTest, ServerClosingMidBodyIsUnavailableAndNothingStored) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    sim->set_fault({FaultKind::close_mid_body, FaultTarget::binary, {}, 1});
    PatternSource source(7);
    const std::string uuid = simulator::random_uuid();
    auto r = client->post_binary(binary_url(*sim, uuid), "application/octet-stream", 16u << 20,
                                 source_of(source));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable) << r.error().message();
    EXPECT_EQ(sim->status().store.binaries, 0u);
    EXPECT_FALSE(std::filesystem::exists(f.store.path() / "binaries" / (uuid + ".bin")));
    PatternSource again(7);
    auto ok = client->post_binary(binary_url(*sim, uuid), "application/octet-stream", 16u << 20,
                                  source_of(again));
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200u);
    EXPECT_EQ(sim->status().store.binaries_incomplete, 1u);
}

TEST(LeaClientSimTest, BodySourceErrorsAndShortSourcesFail) {
    SimFixture f;
    auto sim = f.start_sim();
    auto client = f.client(*sim);
    auto failing = [](crypto::MutableByteView) -> crypto::Result<std::size_t> {
        return crypto::fail(Errc::integrity_failure, "chunk 3 failed authentication");
    };
    auto r = client->post_binary(binary_url(*sim, simulator::random_uuid()), "a/b", 1000, failing);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    auto dry = [](crypto::MutableByteView) -> crypto::Result<std::size_t> { return 0; };
    auto r2 = client->post_binary(binary_url(*sim, simulator::random_uuid()), "a/b", 1000, dry);
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code(), Errc::invalid_state);
    EXPECT_EQ(sim->status().store.binaries, 0u);
    // The client still works afterwards.
    EXPECT_TRUE(client->post_xml(example_delivery()));
}

TEST(LeaClientSimTest, UntrustedServerCertificateIsAnIntegrityFailure) {
    SimFixture f;
    PkiDir other("Some Other CA");
    other.issue_file_key("sim", TestKeyType::ec_p256, server_spec());
    auto options = f.sim_options();
    options.tls.certificate = other.path("sim.pem");
    options.tls.private_key = other.path("sim.key").string();
    auto sim = must(simulator::LeaSimulator::start(std::move(options)));
    auto client = f.client(*sim);
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("server certificate"), std::string::npos)
        << r.error().context();
    EXPECT_EQ(sim->status().store.deliveries, 0u);
}

TEST(LeaClientSimTest, WrongHostNameIsAnIntegrityFailure) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.expected_host = "lea.example";
    auto client = must(LeaClient::create(std::move(options)));
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("server certificate"), std::string::npos);
}

TEST(LeaClientSimTest, SpkiPinIsEnforced) {
    SimFixture f;
    auto sim = f.start_sim();
    auto wrong = f.client_options(*sim);
    wrong.spki_sha256_pin = crypto::Bytes(32, 0xab);
    auto bad_client = must(LeaClient::create(std::move(wrong)));
    auto r = bad_client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_NE(r.error().context().find("pin"), std::string::npos);
    EXPECT_EQ(sim->status().requests, 0u) << "nothing is sent to a server that fails the pin";

    auto right = f.client_options(*sim);
    right.spki_sha256_pin = spki_sha256_of_cert_file(f.pki.path("sim.pem"));
    auto good_client = must(LeaClient::create(std::move(right)));
    auto ok = good_client->post_xml(example_delivery());
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200u);
}

TEST(LeaClientSimTest, ReconnectsAfterTheServerRestarts) {
    SimFixture f;
    auto sim = f.start_sim();
    const std::uint16_t port = sim->port();
    auto client = f.client(*sim);
    ASSERT_TRUE(client->post_xml(example_delivery_with_id(simulator::random_uuid())));
    sim.reset();  // down
    auto down = client->post_xml(example_delivery_with_id(simulator::random_uuid()));
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code(), Errc::unavailable);
    EXPECT_NE(down.error().context().find("connect"), std::string::npos) << down.error().context();
    auto options = f.sim_options();
    options.port = port;
    sim = must(simulator::LeaSimulator::start(std::move(options)));  // back, same store
    auto up = client->post_xml(example_delivery_with_id(simulator::random_uuid()));
    ASSERT_TRUE(up) << up.error().message();
    EXPECT_EQ(up->status, 200u);
    EXPECT_EQ(client->stats().connections_opened, 2u);
    EXPECT_EQ(sim->status().store.deliveries, 2u);  // one from before the restart, read back
}

TEST(LeaClientSimTest, ConnectionClosedByTheServerIsReplaced) {
    SimFixture f;
    auto options = f.sim_options();
    options.idle_timeout = std::chrono::milliseconds(300);  // closes idle connections soon
    auto sim = must(simulator::LeaSimulator::start(std::move(options)));
    auto client = f.client(*sim);
    for (int i = 0; i < 3; ++i) {
        // Give the server time to close the idle connection (not a timing
        // assertion: the outcome is the same however long this takes).
        if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(800));
        auto r = client->post_xml(example_delivery_with_id(simulator::random_uuid()));
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->status, 200u);
    }
    EXPECT_EQ(sim->status().store.deliveries, 3u);
    EXPECT_EQ(client->stats().connections_opened, 3u);
}

TEST(LeaClientSimTest, ReadAndContinueTimeoutsAreUnavailable) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.read_timeout = std::chrono::milliseconds(200);
    options.continue_timeout = std::chrono::milliseconds(200);
    auto client = must(LeaClient::create(std::move(options)));
    sim->set_fault({FaultKind::delay, FaultTarget::xml, std::chrono::milliseconds(3000), 1});
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable);
    EXPECT_NE(r.error().context().find("read response: timed out"), std::string::npos)
        << r.error().context();
    sim->set_fault({FaultKind::delay, FaultTarget::binary, std::chrono::milliseconds(3000), 1});
    PatternSource source(5);
    auto b = client->post_binary(binary_url(*sim, simulator::random_uuid()), "a/b", 4096,
                                 source_of(source));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), Errc::unavailable);
    EXPECT_NE(b.error().context().find("100 Continue: timed out"), std::string::npos)
        << b.error().context();
    EXPECT_EQ(source.calls_, 0u);
}

TEST(LeaClientSimTest, ConcurrentCallersShareABoundedPool) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.max_connections = 2;
    auto client = must(LeaClient::create(std::move(options)));
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto r = client->post_xml(example_delivery_with_id(simulator::random_uuid()));
                if (r && r->status == 200) ++ok;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 60);
    EXPECT_EQ(sim->status().store.deliveries, 60u);
    EXPECT_LE(sim->status().connections, 2u);
    EXPECT_LE(client->stats().connections_opened, 2u);
}

TEST(LeaClientSimTest, OversizedResponsesAndForeignUrlsAreRefused) {
    SimFixture f;
    auto sim = f.start_sim();
    auto options = f.client_options(*sim);
    options.max_response_bytes = 64;  // smaller than any HI1 answer
    auto client = must(LeaClient::create(std::move(options)));
    auto r = client->post_xml(example_delivery());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
    PatternSource source(9);
    auto foreign =
        client->post_binary("https://lea.example:1/binaryData/x/", "a/b", 1, source_of(source));
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().code(), Errc::invalid_argument);
    EXPECT_EQ(source.calls_, 0u);
}

}  // namespace
}  // namespace enclave::testing
