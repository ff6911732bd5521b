// SPDX-License-Identifier: Apache-2.0
// The enclave-lea-sim program: CLI, port file, status and control endpoints
// over mutual TLS, SIGTERM, bad arguments.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "sim_fixture.hpp"
#include "simulator/delivery_inspector.hpp"

extern char** environ;

namespace enclave::testing {
namespace {

using crypto::Errc;

class Process {
public:
    explicit Process(std::vector<std::string> args) {
        args.insert(args.begin(), LEA_SIM_PATH);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, LEA_SIM_PATH, nullptr, nullptr, argv.data(), environ) != 0) {
            throw std::runtime_error("cannot start " LEA_SIM_PATH);
        }
    }
    ~Process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            wait();
        }
    }
    int terminate() {
        ::kill(pid_, SIGTERM);
        return wait();
    }
    int wait() {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
};

/// Waits (bounded) for the port file; 0 when it never appears.
std::uint16_t wait_for_port(const std::filesystem::path& file) {
    for (int i = 0; i < 300; ++i) {
        if (std::filesystem::exists(file))
            return static_cast<std::uint16_t>(std::stoi(read_file(file)));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
}

TEST(LeaSimProcessTest, ServesDeliveriesStatusAndFaultControl) {
    SimFixture f;
    const auto port_file = f.store.path() / "port";
    Process sim({"--listen", "127.0.0.1:0", "--cert", f.pki.path("sim.pem").string(), "--key",
                 f.pki.path("sim.key").string(), "--ca", f.pki.path("ca.pem").string(), "--store",
                 (f.store.path() / "lea").string(), "--port-file", port_file.string()});
    const std::uint16_t port = wait_for_port(port_file);
    ASSERT_NE(port, 0) << "enclave-lea-sim did not write its port file";
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    delivery::LeaClientOptions options;
    options.base_url = base + "/hi1/delivery";
    options.tls = f.client_ctx();
    auto client = must(delivery::LeaClient::create(std::move(options)));

    const std::string delivery = schema_valid_delivery();
    const std::string delivery_id = simulator::inspect_delivery(delivery).value().delivery_id;
    auto r = client->post_xml(delivery);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    auto fault = client->post(base + "/control/fault", "application/json",
                              R"({"kind":"refuse","target":"xml","count":1})");
    ASSERT_TRUE(fault) << fault.error().message();
    EXPECT_EQ(fault->status, 200u);
    auto refused = client->post_xml(schema_valid_delivery());
    ASSERT_TRUE(refused) << refused.error().message();
    EXPECT_EQ(refused->status, 503u);
    auto bad_fault = client->post(base + "/control/fault", "application/json", R"({"kind":"x"})");
    ASSERT_TRUE(bad_fault);
    EXPECT_EQ(bad_fault->status, 400u);
    auto missing = client->get(base + "/nothing-here");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404u);

    auto status = client->get(base + "/status");
    ASSERT_TRUE(status) << status.error().message();
    ASSERT_EQ(status->status, 200u);
    const auto j = nlohmann::json::parse(status->body);
    EXPECT_EQ(j.at("deliveries"), 1);
    EXPECT_EQ(j.at("faults_applied"), 1);
    EXPECT_TRUE(std::filesystem::exists(f.store.path() / "lea" / "deliveries" /
                                        (delivery_id + ".xml")));
    EXPECT_EQ(sim.terminate(), 0);
}

TEST(LeaSimProcessTest, BadArgumentsExitWithStatus2) {
    SimFixture f;
    Process missing_cert({"--listen", "127.0.0.1:0", "--store", f.store.path().string()});
    EXPECT_EQ(missing_cert.wait(), 2);
    Process bad_listen({"--listen", "nowhere", "--cert", f.pki.path("sim.pem").string(), "--key",
                        f.pki.path("sim.key").string(), "--ca", f.pki.path("ca.pem").string(),
                        "--store", f.store.path().string()});
    EXPECT_EQ(bad_listen.wait(), 2);
    Process bad_fault({"--cert", f.pki.path("sim.pem").string(), "--key",
                       f.pki.path("sim.key").string(), "--ca", f.pki.path("ca.pem").string(),
                       "--store", f.store.path().string(), "--fault", "{\"kind\":1}"});
    EXPECT_EQ(bad_fault.wait(), 2);
    // A key that does not match the certificate: cannot start.
    f.pki.issue_file_key("other", TestKeyType::ec_p256, server_spec());
    Process wrong_key({"--cert", f.pki.path("sim.pem").string(), "--key",
                       f.pki.path("other.key").string(), "--ca", f.pki.path("ca.pem").string(),
                       "--store", f.store.path().string()});
    EXPECT_EQ(wrong_key.wait(), 1);
}

}  // namespace
}  // namespace enclave::testing
