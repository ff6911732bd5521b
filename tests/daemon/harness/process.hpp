// SPDX-License-Identifier: Apache-2.0
#pragma once
// Child processes for the daemon tests: enclaved, enclavectl. fork + execve
// with everything prepared before the fork (the test process has threads),
// stdout and stderr captured in files, and PR_SET_PDEATHSIG so that a test
// that crashes takes its daemon with it.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace enclave::daemon_test {

struct SpawnOptions {
    std::vector<std::string> argv;       ///< argv[0] is the program path
    std::vector<std::string> env;        ///< "NAME=value" added to (or replacing in) ours
    std::vector<std::string> unset_env;  ///< names removed from the child's environment
    std::filesystem::path stdout_file;   ///< "" = /dev/null
    std::filesystem::path stderr_file;   ///< "" = /dev/null
    std::filesystem::path stdin_file;    ///< "" = /dev/null
};

class Process {
public:
    /// Throws std::runtime_error when the program cannot be started.
    explicit Process(const SpawnOptions& options);
    ~Process();  // SIGKILL + reap when still running
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    void signal(int sig) const;
    /// The exit code (or 128 + signal number) once it exits; nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    [[nodiscard]] bool running();

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

struct RunResult {
    int exit_code = -1;  ///< -1: did not finish in time (killed)
    std::string out;
    std::string err;
};

/// Runs a program to completion (killed after `timeout`), capturing its output.
RunResult run_program(const std::vector<std::string>& argv,
                      const std::vector<std::string>& env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(120),
                      const std::filesystem::path& stdin_file = {});

std::string read_file(const std::filesystem::path& path);

}  // namespace enclave::daemon_test
