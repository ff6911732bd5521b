// SPDX-License-Identifier: Apache-2.0
#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/paths.hpp"

extern char** environ;

namespace enclave::daemon_test {
namespace {

std::string name_of(const std::string& assignment) {
    return assignment.substr(0, assignment.find('='));
}

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
    // Everything the child needs is built before fork(): in a threaded
    // process the child may only make async-signal-safe calls.
    const auto out = o.stdout_file.empty() ? std::string("/dev/null") : o.stdout_file.string();
    const auto err = o.stderr_file.empty() ? std::string("/dev/null") : o.stderr_file.string();
    const auto in = o.stdin_file.empty() ? std::string("/dev/null") : o.stdin_file.string();
    std::vector<char*> argv;
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const auto env_strings = child_environment(o);
    std::vector<char*> envp;
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("Process: pipe2");
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("Process: fork");
    if (pid_ == 0) {
        // A test that crashes must not leave a daemon behind.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int fds[3] = {::open(in.c_str(), O_RDONLY),
                            ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600),
                            ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600)};
        for (int i = 0; i < 3; ++i) {
            if (fds[i] < 0 || ::dup2(fds[i], i) < 0) ::_exit(127);
        }
        ::execve(argv[0], argv.data(), envp.data());
        const int e = errno;
        (void)!::write(report[1], &e, sizeof e);
        ::_exit(127);
    }
    ::close(report[1]);
    int child_errno = 0;
    const ssize_t n = ::read(report[0], &child_errno, sizeof child_errno);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        throw std::runtime_error("cannot start " + o.argv[0] + ": " + std::strerror(child_errno));
    }
}

Process::~Process() {
    if (running()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
}

void Process::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::running() {
    if (status_ || pid_ <= 0) return false;
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
