// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-tls: nginx (Debian) serving the token key through libp11's
// ENGINE, as the reference (see bench_tls.cpp for why it is set up so).
//
// Holds: the token user PIN only in the 0600 file it writes for libp11
// (pin-source=file:), inside the bench's temporary directory.

#include <fcntl.h>
#include <spawn.h>

#include <chrono>
#include <filesystem>

#include "bench_tls_servers.hpp"
#include "crypto/secret.hpp"
#include "support/softhsm_token.hpp"

extern char** environ;

namespace enclave::bench::tls {

namespace fs = std::filesystem;

inline constexpr const char* kEngine = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";
inline constexpr const char* kNginx = "/usr/sbin/nginx";

inline void write_text(const fs::path& p, const std::string& text) {
    std::ofstream f(p, std::ios::trunc);
    f << text;
    if (!f) die("cannot write " + p.string());
}

/// The user PIN without a trailing newline, created with mode 0600, for
/// libp11's pin-source=file: (written straight from the Secret).
inline void write_engine_pin(const fs::path& p, const crypto::Secret& pin) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) die("cannot create " + p.string());
    const bool ok = ::write(fd, pin.data(), pin.size()) == static_cast<ssize_t>(pin.size());
    ::close(fd);
    if (!ok) die("cannot write " + p.string());
}

/// Single-process nginx instances serving the token key through libp11.
class NginxReference {
public:
    NginxReference(const fs::path& dir, const testing::SoftHsmToken& token, const fs::path& cert,
                   const fs::path& ca, int instances) {
        if (::access(kNginx, X_OK) != 0) die("nginx missing: install the Debian package nginx");
        if (::access(kEngine, R_OK) != 0) {
            die(std::string(kEngine) + " missing: install libengine-pkcs11-openssl");
        }
        fs::remove(dir / "engine.pin");
        write_engine_pin(dir / "engine.pin", token.user_pin());
        write_text(dir / "openssl.cnf",
                   "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n"
                   "[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\n"
                   "engine_id = pkcs11\ndynamic_path = " +
                       std::string(kEngine) + "\nMODULE_PATH = " + token.module_path() +
                       "\ninit = 1\n");
        const std::string key_uri =
            "engine:pkcs11:pkcs11:token=" + token.label() +
            ";object=lea-tls;type=private;pin-source=file:" + (dir / "engine.pin").string();
        try {
            for (int i = 0; i < instances; ++i) start_instance(dir, i, key_uri, cert, ca);
        } catch (...) {
            stop_all();
            throw;
        }
    }
    ~NginxReference() { stop_all(); }
    NginxReference(const NginxReference&) = delete;
    NginxReference& operator=(const NginxReference&) = delete;
    [[nodiscard]] const std::vector<std::uint16_t>& ports() const { return ports_; }
    /// CPU seconds (user + system) the nginx processes used so far.
    [[nodiscard]] double cpu_seconds() const { return process_cpu_seconds(pids_); }

private:
    static std::string config(const fs::path& d, std::uint16_t port, const std::string& key_uri,
                              const fs::path& cert, const fs::path& ca) {
        std::string c = R"(daemon off; master_process off; worker_processes 1;
error_log @DIR@/error.log warn; pid @DIR@/nginx.pid; env SOFTHSM2_CONF;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path @DIR@/body; proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fcgi; uwsgi_temp_path @DIR@/uwsgi; scgi_temp_path @DIR@/scgi;
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on;
    ssl_ciphers @TLS12@; ssl_conf_command Ciphersuites @TLS13@;
    ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_session_tickets off; ssl_session_cache off;
    ssl_certificate @CERT@; ssl_certificate_key "@KEY@";
    ssl_client_certificate @CA@; ssl_verify_client on;
    location / { return 200 "ok"; }
  }
}
)";
        const std::pair<std::string, std::string> values[] = {
            {"@DIR@", d.string()},
            {"@PORT@", std::to_string(port)},
            {"@TLS12@", std::string(hsm::tls12_cipher_list())},
            {"@TLS13@", std::string(hsm::tls13_ciphersuites())},
            {"@CERT@", cert.string()},
            {"@KEY@", key_uri},
            {"@CA@", ca.string()}};
        for (const auto& [name, value] : values) {
            for (auto at = c.find(name); at != std::string::npos; at = c.find(name, at)) {
                c.replace(at, name.size(), value);
                at += value.size();
            }
        }
        return c;
    }

    pid_t spawn(const fs::path& d, const fs::path& dir) {
        std::vector<std::string> env_s;
        for (char** e = environ; *e != nullptr; ++e) {
            if (std::strncmp(*e, "OPENSSL_CONF=", 13) != 0) env_s.emplace_back(*e);
        }
        env_s.push_back("OPENSSL_CONF=" + (dir / "openssl.cnf").string());
        std::vector<char*> envp;
        for (auto& s : env_s) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string conf = (d / "nginx.conf").string(), prefix = d.string() + "/",
                    elog = (d / "error.log").string();
        std::vector<char*> argv = {const_cast<char*>(kNginx),
                                   const_cast<char*>("-e"),
                                   elog.data(),
                                   const_cast<char*>("-p"),
                                   prefix.data(),
                                   const_cast<char*>("-c"),
                                   conf.data(),
                                   nullptr};
        // nginx's own stdout/stderr go to a file, not to our terminal or pipe.
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        const std::string out = (d / "stdio.log").string();
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        pid_t pid = -1;
        const int rc = ::posix_spawn(&pid, kNginx, &fa, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) die("cannot start nginx");
        return pid;
    }

    void stop_all() {
        for (pid_t p : pids_) ::kill(p, SIGTERM);
        for (pid_t p : pids_) ::waitpid(p, nullptr, 0);
        pids_.clear();
    }

    /// Starts instance `i` and waits until it has loaded the key (nginx writes
    /// its pid file after start-up). Instances start one after the other, and
    /// a start-up that fails is retried (twice): SoftHSM's file store, read by
    /// several processes at once, now and then shows a half-written token to
    /// a process that opens it while another is writing (seen once as libp11's
    /// "No matching initialized token").
    void start_instance(const fs::path& dir, int i, const std::string& key_uri,
                        const fs::path& cert, const fs::path& ca) {
        const fs::path d = dir / ("nginx" + std::to_string(i));
        fs::create_directories(d);
        const std::uint16_t port = free_port();
        write_text(d / "nginx.conf", config(d, port, key_uri, cert, ca));
        std::string last_log;
        for (int attempt = 0; attempt < 3; ++attempt) {
            fs::remove(d / "nginx.pid");
            const pid_t pid = spawn(d, dir);
            for (int tick = 0; tick < 100; ++tick) {
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) break;
                if (fs::exists(d / "nginx.pid") && connect_ok(port)) {
                    pids_.push_back(pid);
                    ports_.push_back(port);
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
            std::ifstream log(d / "error.log");
            last_log.assign(std::istreambuf_iterator<char>(log), {});
            std::fprintf(stderr, "nginx instance %d failed to start (attempt %d)\n", i,
                         attempt + 1);
        }
        die("nginx did not start: " + last_log);
    }

    static bool connect_ok(std::uint16_t port) {
        const int fd = connect_loopback(port);
        if (fd < 0) return false;
        ::close(fd);
        return true;
    }

    std::vector<std::uint16_t> ports_;  ///< instance i listens on ports_[i]
    std::vector<pid_t> pids_;
};

}  // namespace enclave::bench::tls
