// SPDX-License-Identifier: Apache-2.0
// Per-endpoint CRLs (issue #7; docs/delivery.md, "Endpoints"): `endpoint add
// --crl FILE` stores the CRLs with the endpoint; a delivery whose LEA server
// certificate is revoked is refused (lea_endpoint_tls_failed reason=revoked)
// and nothing reaches that LEA; a CRL that revokes nothing delivers; a file
// that is not a PEM CRL is refused when the endpoint is added.
#include <gtest/gtest.h>

#include "audit_test_util.hpp"
#include "delivery_test_util.hpp"
#include "harness/http_client.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// A CRL by the demo CA, revoking `revoke` (a certificate file) unless empty.
std::filesystem::path demo_crl(const TestInstance& inst, const std::string& name,
                               const std::filesystem::path& revoke) {
    const std::string openssl = "/usr/bin/openssl";
    EXPECT_TRUE(std::filesystem::exists(openssl)) << "install the Debian package openssl";
    const auto dir = inst.scratch() / ("ca-" + name);
    std::filesystem::create_directories(dir);
    write_text(dir / "index.txt", "");
    write_text(dir / "crlnumber", "01\n");
    write_text(dir / "ca.cnf", "[ca]\ndefault_ca=d\n[d]\ndatabase=" + (dir / "index.txt").string() +
                                   "\ncrlnumber=" + (dir / "crlnumber").string() +
                                   "\ndefault_md=sha256\ndefault_crl_days=30\n");
    const std::vector<std::string> ca{"-config", (dir / "ca.cnf").string(), "-keyfile",
                                      inst.pki("demo-ca.key").string(), "-cert",
                                      inst.pki("demo-ca.pem").string()};
    if (!revoke.empty()) {
        std::vector<std::string> argv{openssl, "ca", "-revoke", revoke.string()};
        argv.insert(argv.end(), ca.begin(), ca.end());
        RunResult r = run_program(argv);
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    }
    const auto out = inst.scratch() / (name + ".crl");
    std::vector<std::string> argv{openssl, "ca", "-gencrl", "-out", out.string()};
    argv.insert(argv.end(), ca.begin(), ca.end());
    RunResult r = run_program(argv);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return out;
}

RunResult add_with_crl(const TestInstance& inst, std::uint16_t port,
                       const std::filesystem::path& crl) {
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    return ctl(inst, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery", "--ca",
                      inst.pki("demo-ca.pem").string(), "--crl", crl.string(),
                      "--binary-url-scheme", base + "/binaryData/{id}/", "--receiver-country",
                      "GB"});
}

void submit_one(const TestInstance& inst) {
    create_task(inst, "LIID-CRL-1");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    const HttpReply r = post_json(c, "/ingest/v1/tasks/LIID-CRL-1/items", json::array({item(1)}).dump());
    ASSERT_EQ(r.status, 202) << r.body;
}

TEST(EndpointCrlTest, ACrlThatRevokesNothingDeliversAndHostileCrlsAreRefused) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    const std::vector<std::pair<std::string, std::string>> hostile{
        {"empty", ""},
        {"certificate", read_file(inst.pki("demo-ca.pem"))},
        {"junk", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"},
        {"trailing", read_file(demo_crl(inst, "t", {})) + "CANARY trailing text\n"},
        {"huge", std::string(300 * 1024, 'A')},
    };
    for (const auto& [name, text] : hostile) {
        const auto f = inst.scratch() / ("bad-" + name + ".crl");
        write_text(f, text);
        RunResult r = add_with_crl(inst, sim.port(), f);
        EXPECT_EQ(r.exit_code, 2) << name << r.out << r.err;
        EXPECT_EQ(r.err.find("CANARY"), std::string::npos) << r.err;
    }
    RunResult ok = add_with_crl(inst, sim.port(), demo_crl(inst, "none", {}));
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    RunResult shown = ctl(inst, {"endpoint", "show", "lea-sim", "--json"});
    EXPECT_NE(shown.out.find("BEGIN X509 CRL"), std::string::npos) << shown.out;
    submit_one(inst);
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 1; })) << inst.log();
}

TEST(EndpointCrlTest, ARevokedLeaServerCertificateIsRefused) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    RunResult ok = add_with_crl(inst, sim.port(),
                                demo_crl(inst, "revoked", inst.pki("demo-lea-server.pem")));
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    submit_one(inst);
    ASSERT_TRUE(eventually([&] {
        return inst.log().find("event: lea_endpoint_tls_failed endpoint=lea-sim reason=revoked") !=
               std::string::npos;
    })) << inst.log();
    EXPECT_EQ(items_delivered(sim), 0u) << "nothing goes to a revoked LEA certificate";
}

}  // namespace
}  // namespace enclave::daemon_test
