// SPDX-License-Identifier: Apache-2.0
#include "instance.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "http_client.hpp"

namespace enclave::daemon_test {
namespace {

[[noreturn]] void die(const std::string& what) {
    throw std::runtime_error("TestInstance: " + what);
}

// The real `enclavectl init`, as an operator runs it.
void provision(const std::filesystem::path& dir) {
    const auto r = run_program({enclavectl_path(), "init", "--data-dir", dir.string()}, {},
                               std::chrono::seconds(120));
    if (r.exit_code != 0) {
        die("enclavectl init --data-dir " + dir.string() + " failed (" +
            std::to_string(r.exit_code) + "): " + r.err);
    }
}

}  // namespace

std::string enclaved_path() { return ENCLAVED_PATH; }
std::string enclavectl_path() { return ENCLAVECTL_PATH; }

TestInstance::TestInstance() : dir_(tmp_.path() / "instance") {
    provision(dir_);
    auto cfg = appliance::load_config(dir_ / "enclave.toml", dir_);
    if (!cfg) die("the provisioned config does not load: " + cfg.error().message());
    config_ = std::move(*cfg);
    config_.lea.port = free_port();
    do {
        config_.ingest.port = free_port();
    } while (config_.ingest.port == config_.lea.port);
    // One caller (root) drives most tests, so guarded routes would only ever
    // be proposed: two-person control is off unless a test is about it
    // (two_person_test.cpp turns it back on; the default is on).
    config_.admin.two_person.enabled = false;
    save_config();
}

void TestInstance::save_config() {
    std::ofstream out(dir_ / "enclave.toml", std::ios::trunc);
    out << appliance::render_config(config_);
    if (!out) die("cannot write enclave.toml");
}

TlsClientConfig TestInstance::lea_client() const {
    TlsClientConfig c;
    c.certificate = pki("demo-lea.pem");
    c.key = pki("demo-lea.key");
    c.trust_anchors = pki("demo-ca.pem");
    return c;
}

TlsClientConfig TestInstance::collector_client() const {
    TlsClientConfig c = lea_client();
    c.certificate = pki("demo-collector.pem");
    c.key = pki("demo-collector.key");
    return c;
}

std::unique_ptr<Process> TestInstance::start(const std::vector<std::string>& env,
                                             const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--data-dir", dir_.string()};
    all.insert(all.end(), args.begin(), args.end());
    return start_with(all, env);
}

std::unique_ptr<Process> TestInstance::start_with(const std::vector<std::string>& args,
                                                  const std::vector<std::string>& env) {
    SpawnOptions o;
    o.argv = {enclaved_path()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env;
    // The daemon finds its SoftHSM configuration itself (DIR/softhsm2.conf).
    o.unset_env = {"SOFTHSM2_CONF", "NOTIFY_SOCKET", "JOURNAL_STREAM"};
    o.stderr_file = tmp_.path() / "enclaved.stderr";
    o.stdout_file = tmp_.path() / "enclaved.stdout";
    o.stdin_file = stdin_;
    return std::make_unique<Process>(o);
}

bool TestInstance::wait_ready(Process& p, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (!p.running()) return false;
        if (unix_get(socket(), "/readyz").status == 200) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

std::unique_ptr<Process> TestInstance::start_ready(const std::vector<std::string>& env) {
    auto p = start(env);
    if (!wait_ready(*p)) {
        ADD_FAILURE() << "enclaved did not become ready; its log:\n" << log();
    }
    return p;
}

std::string TestInstance::log() const { return read_file(tmp_.path() / "enclaved.stderr"); }

}  // namespace enclave::daemon_test
