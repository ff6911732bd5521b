// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-tls: the real daemon as a measured server. A fresh instance
// is provisioned with `enclavectl init` (its own SoftHSM2 token, keys on the
// token, demo PKI), its LEA and ingest ports are moved to free loopback
// ports, and `enclaved` runs as a child process with its default thread
// count. The load generator then connects to the LEA listener (Beast, the
// daemon's TLS policy, the token key through the enclave-pkcs11 provider)
// with the demo LEA client certificate and asks GET /v1/whoami.
// Holds no secret: the instance's PIN file stays in its data dir.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_tls_servers.hpp"

namespace enclave::bench::tls {

class DaemonReference {
public:
    /// Provisions an instance under `root` and starts enclaved on it.
    explicit DaemonReference(const std::filesystem::path& root)
        : data_(root / "instance"), client_(root / "daemon-client") {
#if !defined(ENCLAVED_PATH) || !defined(ENCLAVECTL_PATH)
        die("the bench was built without enclaved/enclavectl");
#else
        run_and_wait({ENCLAVECTL_PATH, "init", "--data-dir", data_.string()}, "enclavectl init");
        port_ = free_port();
        move_ports();
        prepare_client();
        start({ENCLAVED_PATH, "--data-dir", data_.string()});
        wait_listening();
#endif
    }
    ~DaemonReference() { stop(); }
    DaemonReference(const DaemonReference&) = delete;
    DaemonReference& operator=(const DaemonReference&) = delete;

    [[nodiscard]] std::vector<std::uint16_t> ports() const { return {port_}; }
    /// Files for the load generator: client.pem/.key (demo LEA) and ca.pem.
    [[nodiscard]] const std::filesystem::path& client_dir() const { return client_; }
    [[nodiscard]] double cpu_seconds() const { return process_cpu_seconds({pid_}); }

    /// SIGTERM, then the exit status must be 0 (a daemon that crashed under
    /// load must not produce a figure).
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "enclaved did not exit cleanly; its log: %s\n",
                         (data_ / "enclaved.log").c_str());
        }
    }

private:
    static pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        pid_t pid = -1;
        const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) die("cannot start " + args[0]);
        return pid;
    }

    void run_and_wait(const std::vector<std::string>& args, const std::string& what) {
        std::filesystem::create_directories(data_.parent_path());
        const pid_t pid = spawn(args, data_.parent_path() / "enclavectl.log");
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            die(what + " failed; see " + (data_.parent_path() / "enclavectl.log").string());
        }
    }

    void start(const std::vector<std::string>& args) { pid_ = spawn(args, data_ / "enclaved.log"); }

    /// LEA on a free port, ingest on another (the defaults may be taken).
    void move_ports() {
        const auto path = data_ / "enclave.toml";
        std::string text;
        {
            std::ifstream in(path);
            text.assign(std::istreambuf_iterator<char>(in), {});
        }
        replace_once(text, "port = 8443", "port = " + std::to_string(port_));
        replace_once(text, "port = 9443", "port = " + std::to_string(free_port()));
        std::ofstream(path, std::ios::trunc) << text;
    }

    static void replace_once(std::string& text, const std::string& from, const std::string& to) {
        const auto at = text.find(from);
        if (at == std::string::npos) die("enclave.toml has no '" + from + "'");
        text.replace(at, from.size(), to);
    }

    void prepare_client() {
        std::filesystem::create_directories(client_);
        const auto pki = data_ / "pki";
        std::filesystem::copy_file(pki / "demo-lea.pem", client_ / "client.pem");
        std::filesystem::copy_file(pki / "demo-lea.key", client_ / "client.key");
        std::filesystem::copy_file(pki / "demo-ca.pem", client_ / "ca.pem");
    }

    void wait_listening() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                die("enclaved exited at start; see " + (data_ / "enclaved.log").string());
            }
            const int fd = connect_loopback(port_);
            if (fd >= 0) {
                ::close(fd);
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        die("enclaved did not listen within 60 s");
    }

    std::filesystem::path data_, client_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace enclave::bench::tls
