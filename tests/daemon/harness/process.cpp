// SPDX-License-Identifier: Apache-2.0
#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/paths.hpp"

extern char** environ;

namespace enclave::daemon_test {
namespace {

std::string name_of(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

std::vector<std::string> child_environment(const SpawnOptions& o) {
    std::vector<std::string> out;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        const std::string name = name_of(entry);
        bool drop = false;
        for (const auto& u : o.unset_env) drop = drop || u == name;
        for (const auto& a : o.env) drop = drop || name_of(a) == name;
        if (!drop) out.push_back(entry);
    }
    out.insert(out.end(), o.env.begin(), o.env.end());
    return out;
}

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

Process::Process(const SpawnOptions& o) {
    if (o.argv.empty()) throw std::runtime_error("Process: empty argv");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const auto out = o.stdout_file.empty() ? std::string("/dev/null") : o.stdout_file.string();
    const auto err = o.stderr_file.empty() ? std::string("/dev/null") : o.stderr_file.string();
    const auto in = o.stdin_file.empty() ? std::string("/dev/null") : o.stdin_file.string();
    posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const auto env_strings = child_environment(o);
    std::vector<char*> envp;
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + o.argv[0] + ": " + std::strerror(rc));
    }
}

Process::~Process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void Process::signal(int sig) const { ::kill(pid_, sig); }

bool Process::running() {
    if (status_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = decode(status);
        return false;
    }
    return r == 0;
}

std::optional<int> Process::wait_exit(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= end) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
}

RunResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      std::chrono::milliseconds timeout, const std::filesystem::path& stdin_file) {
    testing::TempDir tmp;
    SpawnOptions o;
    o.argv = argv;
    o.env = env;
    o.stdout_file = tmp.path() / "out";
    o.stderr_file = tmp.path() / "err";
    o.stdin_file = stdin_file;
    RunResult r;
    {
        Process p(o);
        const auto code = p.wait_exit(timeout);
        r.exit_code = code ? *code : -1;
    }
    r.out = read_file(o.stdout_file);
    r.err = read_file(o.stderr_file);
    return r;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace enclave::daemon_test
