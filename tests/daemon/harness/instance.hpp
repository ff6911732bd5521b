// SPDX-License-Identifier: Apache-2.0
#pragma once
// TestInstance: a provisioned Enclave instance in a temp dir, and the
// enclaved process serving it.
//
//   scratch/            TempDir (0700), removed at the end
//     instance/         DIR: what `enclavectl init` made (token, pki, enclave.toml)
//     enclaved.stderr   the daemon's log
// The constructor provisions DIR and rewrites its config with free ports on
// 127.0.0.1 (bind port 0, read it back, close). Tests change config() and
// call save_config() before start().

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "process.hpp"
#include "support/paths.hpp"
#include "tls_client.hpp"

namespace enclave::daemon_test {

/// Paths of the built programs (ENCLAVED_PATH / ENCLAVECTL_PATH from CMake).
std::string enclaved_path();
std::string enclavectl_path();

class TestInstance {
public:
    TestInstance();
    TestInstance(const TestInstance&) = delete;
    TestInstance& operator=(const TestInstance&) = delete;

    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
    [[nodiscard]] const std::filesystem::path& scratch() const noexcept { return tmp_.path(); }
    appliance::Config& config() noexcept { return config_; }
    /// Writes config() to DIR/enclave.toml (render_config).
    void save_config();

    [[nodiscard]] std::filesystem::path socket() const {
        return config_.resolve(config_.admin.socket);
    }
    [[nodiscard]] std::uint16_t lea_port() const noexcept { return config_.lea.port; }
    [[nodiscard]] std::uint16_t ingest_port() const noexcept { return config_.ingest.port; }
    [[nodiscard]] std::filesystem::path pki(const std::string& name) const {
        return dir_ / "pki" / name;
    }

    /// The demo LEA client identity, verifying the server against the demo CA.
    [[nodiscard]] TlsClientConfig lea_client() const;
    /// The demo collector identity (ingest listener).
    [[nodiscard]] TlsClientConfig collector_client() const;

    /// Starts `enclaved --data-dir DIR [args]` (stderr to scratch/enclaved.stderr).
    std::unique_ptr<Process> start(const std::vector<std::string>& env = {},
                                   const std::vector<std::string>& args = {});
    /// Starts enclaved with exactly `args` (no --data-dir added).
    std::unique_ptr<Process> start_with(const std::vector<std::string>& args,
                                        const std::vector<std::string>& env = {});
    /// Polls GET /readyz until 200 (true), or the process exits / `timeout` (false).
    bool wait_ready(Process& p, std::chrono::milliseconds timeout = std::chrono::seconds(60));
    /// start() + wait_ready(); fails the test (ADD_FAILURE) with the log when not ready.
    std::unique_ptr<Process> start_ready(const std::vector<std::string>& env = {});
    /// What the next start() gives the daemon as stdin ("" = /dev/null).
    void set_stdin(std::filesystem::path file) { stdin_ = std::move(file); }
    /// The daemon's stderr so far.
    [[nodiscard]] std::string log() const;

private:
    testing::TempDir tmp_;
    std::filesystem::path dir_;
    appliance::Config config_;
    std::filesystem::path stdin_;
};

}  // namespace enclave::daemon_test
