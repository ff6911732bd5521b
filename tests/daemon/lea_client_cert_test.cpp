// SPDX-License-Identifier: Apache-2.0
// The outbound LEA client certificate ([lea_client]) through the real
// enclaved, enclavectl and enclave-lea-sim (issue #7 "cert rotate ... the
// switch happens atomically on import, live"):
// - `cert rotate --listener lea-client` stages a token key with a CSR;
//   `cert import` refuses a chain that is not fit for TLS client use and
//   then changes nothing;
// - the import of a client certificate switches delivery live while items
//   flow: every item is delivered, the simulator sees no failed handshake,
//   and from then on every new connection presents the new certificate
//   (the simulator counts connections per client certificate fingerprint);
// - the switch outlives a restart, and the old key can then be retired.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "delivery_test_util.hpp"
#include "support/loopback.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// The certificate row `used_by` `who` in `cert list`.
json used_by(const TestInstance& inst, const std::string& who) {
    const json list = ctl_json(inst, {"cert", "list"});
    for (const json& c : list.value("certificates", json::array())) {
        for (const json& u : c.value("used_by", json::array())) {
            if (u == who) return c;
        }
    }
    return json{};
}

/// The demo CA signs `csr` with extended key usage `eku` (clientAuth or serverAuth).
std::filesystem::path sign_csr(const TestInstance& inst, const std::filesystem::path& csr,
                               const std::string& eku, const std::string& name,
                               const std::string& serial_hex) {
    const std::string openssl = "/usr/bin/openssl";
    EXPECT_TRUE(std::filesystem::exists(openssl)) << "install the Debian package openssl";
    const auto ext = inst.scratch() / (name + ".ext");
    write_text(ext, "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=" + eku + "\n");
    const auto out = inst.scratch() / (name + ".pem");
    RunResult r = run_program({openssl, "x509", "-req", "-in", csr.string(), "-CA",
                               inst.pki("demo-ca.pem").string(), "-CAkey",
                               inst.pki("demo-ca.key").string(), "-set_serial", "0x" + serial_hex,
                               "-days", "90", "-sha256", "-extfile", ext.string(), "-out", out.string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << " (Debian package: openssl)";
    return out;
}

json sim_status(const TestInstance& inst, const Simulator& sim) {
    TlsConnection c(sim.port(), inst.lea_client());
    const HttpReply r = c.request("GET", "/status");
    EXPECT_EQ(r.status, 200) << c.error() << r.body;
    const json j = json::parse(r.body, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

std::uint64_t connections_with(const json& status, const std::string& sha256) {
    return status.value("client_certificates", json::object()).value(sha256, std::uint64_t{0});
}

TEST(LeaClientCertTest, ImportSwitchesDeliveryLiveLosesNothingAndOutlivesARestart) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::uint16_t port = testing::free_loopback_port();
    add_endpoint(inst, port);
    Simulator sim(inst, port);
    create_task(inst, "LIID-CLIENT-CERT");
    const std::string items_path = "/ingest/v1/tasks/LIID-CLIENT-CERT/items";

    const json before = used_by(inst, "lea-client");
    const std::string old_fp = before.value("sha256", "");
    ASSERT_EQ(old_fp.size(), 64u) << before.dump();
    const std::string old_label = before.value("label", "");
    {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_EQ(post_json(c, items_path, item(0).dump()).status, 202);
    }
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 1; })) << inst.log();
    EXPECT_GE(connections_with(sim_status(inst, sim), old_fp), 1u);

    // A key staged for the LEA client, and its request.
    const auto csr = inst.scratch() / "client-2.csr";
    const json rotated = ctl_json(inst, {"cert", "rotate", "--listener", "lea-client", "--label",
                                         "client-2", "--subject", "CN=enclave-lea-client-2,O=Demo CSP",
                                         "--out", csr.string()});
    EXPECT_EQ(rotated["key"].value("staged_for", ""), "lea-client") << rotated.dump();
    EXPECT_EQ(ctl(inst, {"cert", "rotate", "--listener", "lea-client", "--label", "client-3"}).exit_code, 2)
        << "one staged key per target";

    // A server-only certificate for it is refused; nothing changes.
    const auto server_only = sign_csr(inst, csr, "serverAuth", "s-client-2", "5eed01");
    RunResult refused = ctl(inst, {"cert", "import", "--label", "client-2", server_only.string()});
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE((refused.out + refused.err).find("does not verify"), std::string::npos)
        << refused.out << refused.err;
    EXPECT_EQ(used_by(inst, "lea-client").value("sha256", ""), old_fp);

    // Items flow while the certificate is imported.
    std::atomic<bool> stop{false};
    std::atomic<int> posted{1};
    std::atomic<int> refused_posts{0};
    std::thread feeder([&] {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        while (!stop.load()) {
            const int n = posted.load();
            if (post_json(c, items_path, item(n).dump()).status == 202) {
                posted.store(n + 1);
            } else {
                ++refused_posts;
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) >= 5; })) << inst.log();
    const auto client_cert = sign_csr(inst, csr, "clientAuth", "c-client-2", "5eed02");
    const json imported = ctl_json(inst, {"cert", "import", "--label", "client-2", client_cert.string()});
    EXPECT_EQ(imported.value("switched", ""), "lea-client") << imported.dump();
    const std::string new_fp = imported["certificate"].value("sha256", "");
    ASSERT_EQ(new_fp.size(), 64u) << imported.dump();
    ASSERT_NE(new_fp, old_fp);
    const std::size_t at_switch = items_delivered(sim);
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) >= at_switch + 10; })) << inst.log();
    stop = true;
    feeder.join();
    EXPECT_EQ(refused_posts.load(), 0);
    const int total = posted.load();
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == static_cast<std::size_t>(total); }))
        << items_delivered(sim) << " of " << total << "\n" << inst.log();

    json st = sim_status(inst, sim);
    EXPECT_EQ(st.value("handshake_failures", -1), 0) << st.dump();
    EXPECT_GE(connections_with(st, new_fp), 1u) << st.dump();
    EXPECT_EQ(used_by(inst, "lea-client").value("label", ""), "client-2");

    // From now on only the new certificate: a restarted simulator (its
    // counts start at zero, every pooled connection is gone) sees only it.
    sim.stop();
    sim.start(port);
    {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_EQ(post_json(c, items_path, item(total).dump()).status, 202);
    }
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == static_cast<std::size_t>(total) + 1; }))
        << inst.log();
    st = sim_status(inst, sim);
    EXPECT_EQ(connections_with(st, old_fp), 0u) << "a restarted simulator saw the old identity: "
                                                << st.dump();
    EXPECT_GE(connections_with(st, new_fp), 1u) << st.dump();

    const std::string log = inst.log();
    EXPECT_NE(log.find("certificate_changed action=switched label=client-2 listener=lea-client"),
              std::string::npos) << log;

    // The switch outlives a restart; the old key is then free to retire.
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(60s), std::optional<int>(0));
    daemon = inst.start_ready();
    EXPECT_EQ(used_by(inst, "lea-client").value("sha256", ""), new_fp);
    sim.stop();
    sim.start(port);
    {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_EQ(post_json(c, items_path, item(total + 1).dump()).status, 202);
    }
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == static_cast<std::size_t>(total) + 2; }))
        << inst.log();
    st = sim_status(inst, sim);
    EXPECT_EQ(connections_with(st, old_fp), 0u) << st.dump();
    EXPECT_GE(connections_with(st, new_fp), 1u) << st.dump();
    EXPECT_EQ(ctl(inst, {"cert", "retire", "--label", "client-2"}).exit_code, 2) << "in use";
    if (!old_label.empty()) {
        EXPECT_EQ(ctl(inst, {"cert", "retire", "--label", old_label}).exit_code, 0);
    }
}

}  // namespace
}  // namespace enclave::daemon_test
