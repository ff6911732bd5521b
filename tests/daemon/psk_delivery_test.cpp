// SPDX-License-Identifier: Apache-2.0
// TLS PSKs of LEA endpoints through the real daemon (issue #5 "optional PSK
// per endpoint", issue #7 "PSKs"), real processes over loopback:
// - outbound: an endpoint with --auth psk delivers to enclave-lea-sim only
//   over its PSK, follows a rotation from the next connection on, stops
//   after a revocation, and never falls back to certificates;
// - inbound: openssl s_client with an endpoint's PSK (TLS 1.3 external PSK
//   and TLS 1.2 DHE-PSK) reaches the LEA listener as that endpoint, and
//   tasks over HI1 as it.
// The test PSKs are random per test; openssl s_client only takes a PSK on
// its command line, acceptable for throw-away test keys only.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "crypto/encoding.hpp"
#include "support/loopback.hpp"
#include "crypto/secret.hpp"
#include "delivery/hi1_task_test_util.hpp"
#include "delivery_test_util.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = delivery::testing;

std::string random_key_hex() {
    const auto k = crypto::Secret::random(32);
    return crypto::hex_encode(crypto::ByteView(k.data(), k.size()));
}


void add_psk_endpoint(const TestInstance& inst, const std::string& name, std::uint16_t port) {
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    RunResult r = ctl(inst, {"endpoint", "add", name, "--auth", "psk", "--url", base + "/hi1/delivery",
                             "--ca", inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                             base + "/binaryData/{id}/", "--receiver-country", "GB"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

void import_psk(const TestInstance& inst, const std::string& endpoint, const std::string& identity,
                const std::string& hex) {
    RunResult r = ctl(inst, {"psk", "import", "--endpoint", endpoint, "--identity", identity}, hex + "\n");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

std::filesystem::path psk_file(const TestInstance& inst, const std::string& lines) {
    const auto f = inst.scratch() / "sim-psks";
    write_text(f, lines);
    std::filesystem::permissions(f, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    return f;
}

json sim_status(const TestInstance& inst, const Simulator& sim) {
    TlsConnection c(sim.port(), inst.lea_client());
    const HttpReply r = c.request("GET", "/status");
    EXPECT_EQ(r.status, 200) << c.error() << r.body;
    return json::parse(r.body, nullptr, false);
}

TEST(PskDeliveryTest, APskEndpointDeliversOverItsPskFollowsRotationAndStopsWhenRevoked) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::uint16_t port = testing::free_loopback_port();
    add_psk_endpoint(inst, "lea-sim", port);
    const std::string key1 = random_key_hex();
    import_psk(inst, "lea-sim", "enclave-1", key1);
    const auto file = psk_file(inst, "enclave-1 " + key1 + "\n");
    Simulator sim(inst, port, {"--psk-file", file.string()});
    create_task(inst, "LIID-PSK-1");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();

    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-PSK-1/items", item(1).dump()).status, 202);
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 1; })) << inst.log();
    EXPECT_GE(sim_status(inst, sim)["psk_connections"].get<int>(), 1);

    // Rotation with no overlap: the next connection offers the new PSK.
    const auto out = inst.scratch() / "psk-2";
    RunResult rot = ctl(inst, {"psk", "rotate", "--endpoint", "lea-sim", "--identity", "enclave-2",
                               "--overlap-hours", "0", "--out", out.string()});
    ASSERT_EQ(rot.exit_code, 0) << rot.out << rot.err;
    std::string key2 = read_file(out);
    while (!key2.empty() && std::isspace(static_cast<unsigned char>(key2.back()))) key2.pop_back();
    ASSERT_EQ(key2.size(), 64u);
    sim.stop();
    psk_file(inst, "enclave-2 " + key2 + "\n");
    sim.start(port);
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-PSK-1/items", item(2).dump()).status, 202);
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 2; })) << inst.log();

    // Revoked: no usable PSK, so no connection at all (no certificate fallback).
    ASSERT_EQ(ctl(inst, {"psk", "revoke", "--identity", "enclave-2"}).exit_code, 0);
    sim.stop();
    sim.start(port);
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-PSK-1/items", item(3).dump()).status, 202);
    EXPECT_TRUE(eventually([&] { return inst.log().find("has none usable now") != std::string::npos; }))
        << inst.log();
    EXPECT_EQ(items_delivered(sim), 2u);
    // No key in the daemon's log.
    for (const auto& k : {key1, key2}) EXPECT_EQ(inst.log().find(k), std::string::npos);
}

TEST(PskDeliveryTest, ALeaThatDoesNotKnowThePskIsNeverDeliveredToByCertificate) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::uint16_t port = testing::free_loopback_port();
    add_psk_endpoint(inst, "lea-sim", port);
    import_psk(inst, "lea-sim", "enclave-1", random_key_hex());
    // The simulator knows another identity only: TLS 1.3 goes on with
    // certificates, which the PSK endpoint's client refuses.
    const auto file = psk_file(inst, "someone-else " + random_key_hex() + "\n");
    Simulator sim(inst, port, {"--psk-file", file.string()});
    create_task(inst, "LIID-PSK-2");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-PSK-2/items", item(1).dump()).status, 202);
    EXPECT_TRUE(eventually([&] {
        return inst.log().find("did not authenticate with the endpoint's PSK") != std::string::npos;
    })) << inst.log();
    EXPECT_EQ(items_delivered(sim), 0u);
}

std::string s_client(const TestInstance& inst, const std::string& version_args, const std::string& identity,
                     const std::string& hex, const std::string& request) {
    const auto req = inst.scratch() / "s_client.req";
    write_text(req, request);
    const RunResult r = run_program(
        {"/bin/sh", "-c",
         "exec timeout 20 openssl s_client -connect 127.0.0.1:" + std::to_string(inst.lea_port()) + " " +
             version_args + " -psk " + hex + " -psk_identity " + identity + " -quiet < " + req.string()},
        {}, 30s);
    return r.out;
}

std::string http(const std::string& method, const std::string& target, const std::string& body = "") {
    return method + " " + target + " HTTP/1.1\r\nHost: e\r\nConnection: close\r\n" +
           (body.empty() ? std::string() : "Content-Type: application/xml\r\n") +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(PskDeliveryTest, OpensslSClientWithAnEndpointPskReachesTheLeaListenerAsThatEndpoint) {
    ASSERT_NE(run_program({"/bin/sh", "-c", "command -v openssl"}).out.find("openssl"), std::string::npos)
        << "the openssl command is missing: install the Debian package openssl";
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_psk_endpoint(inst, "lea-psk", 9);
    const std::string key = random_key_hex();
    import_psk(inst, "lea-psk", "lea-in-1", key);

    for (const std::string& v : {std::string("-tls1_3"), std::string("-tls1_2 -cipher DHE-PSK-AES128-GCM-SHA256")}) {
        SCOPED_TRACE(v);
        const std::string out = s_client(inst, v, "lea-in-1", key, http("GET", "/v1/whoami"));
        EXPECT_NE(out.find("200 OK"), std::string::npos) << out;
        EXPECT_NE(out.find(R"("psk_identity":"lea-in-1")"), std::string::npos) << out;
        EXPECT_NE(out.find(R"("psk_endpoint":"lea-psk")"), std::string::npos) << out;
    }
    // HI1 tasking over the PSK: the task belongs to the PSK's endpoint.
    t::TestTask task = t::two_value_li_task();
    task.reference = "LIID-PSK-HI1";
    task.start = utc_in(-std::chrono::hours(1));
    task.end = utc_in(std::chrono::hours(24));
    const std::string out =
        s_client(inst, "-tls1_3", "lea-in-1", key,
                 http("POST", "/hi1/v1", t::hi1_request(t::action(0, "CREATE", t::task_object(task)))));
    EXPECT_NE(out.find("CREATEResponse"), std::string::npos) << out.substr(0, 3000);
    const json rec = json::parse(unix_get(inst.socket(), "/v1/task?reference=LIID-PSK-HI1").body);
    EXPECT_EQ(rec["endpoint"], "lea-psk");

    // A wrong key, an unknown identity, a revoked PSK: no HTTP answer.
    EXPECT_EQ(s_client(inst, "-tls1_2", "lea-in-1", random_key_hex(), http("GET", "/v1/whoami")).find("200 OK"),
              std::string::npos);
    EXPECT_EQ(s_client(inst, "-tls1_2", "nobody", key, http("GET", "/v1/whoami")).find("200 OK"),
              std::string::npos);
    ASSERT_EQ(ctl(inst, {"psk", "revoke", "--identity", "lea-in-1"}).exit_code, 0);
    for (const std::string& v : {std::string("-tls1_3"), std::string("-tls1_2")}) {
        EXPECT_EQ(s_client(inst, v, "lea-in-1", key, http("GET", "/v1/whoami")).find("200 OK"),
                  std::string::npos)
            << v;
    }
    EXPECT_EQ(inst.log().find(key), std::string::npos);
}

}  // namespace
}  // namespace enclave::daemon_test
