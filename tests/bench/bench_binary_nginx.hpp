// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: nginx (Debian) serving a plain file over mutual TLS,
// the reference for Models A and C. One single-process nginx (as
// bench_tls_nginx.hpp runs it: daemon off, master_process off, its own
// prefix, stdio to a file), `ssl_verify_client on` against the instance's
// demo CA, the same TLS protocol and cipher lists as enclaved's policy
// (hsm::tls12_cipher_list / tls13_ciphersuites), Debian's http defaults
// (sendfile on: without kernel TLS nginx reads the file and SSL_writes it
// in 16 KiB records, as enclaved does). No kernel TLS on either side.
// Its server identity is the instance's demo LEA server file key (nginx
// cannot use the token key without libp11; the key only signs the one
// handshake per connection, not the bulk data).
// Holds no secret beyond that demo file key, read in place.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_tls_servers.hpp"
#include "hsm/tls_context.hpp"

extern char** environ;

namespace enclave::bench::binary {

inline constexpr const char* kNginxBinary = "/usr/sbin/nginx";

class NginxFileServer {
public:
    /// Dies naming the Debian package when nginx is not installed.
    static void require_installed() {
        if (::access(kNginxBinary, X_OK) != 0) {
            tls::die(std::string(kNginxBinary) + " missing: install the Debian package nginx");
        }
    }

    /// Serves the files of `root` (GET /<name>) from a single nginx process
    /// whose prefix (config, logs, pid) is `dir`.
    NginxFileServer(const std::filesystem::path& dir, const std::filesystem::path& root,
                    const std::filesystem::path& pki) {
        require_installed();
        std::filesystem::create_directories(dir);
        port_ = tls::free_port();
        {
            std::ofstream f(dir / "nginx.conf", std::ios::trunc);
            f << config(dir, root, pki);
            if (!f) tls::die("cannot write " + (dir / "nginx.conf").string());
        }
        start(dir);
    }
    ~NginxFileServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    NginxFileServer(const NginxFileServer&) = delete;
    NginxFileServer& operator=(const NginxFileServer&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

private:
    std::string config(const std::filesystem::path& d, const std::filesystem::path& root,
                       const std::filesystem::path& pki) const {
        std::string c = R"(daemon off; master_process off; worker_processes 1;
error_log @DIR@/error.log warn; pid @DIR@/nginx.pid;
events { worker_connections 64; }
http {
  access_log off; sendfile on; tcp_nopush on; default_type application/octet-stream;
  client_body_temp_path @DIR@/body; proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fcgi; uwsgi_temp_path @DIR@/uwsgi; scgi_temp_path @DIR@/scgi;
  server {
    listen 127.0.0.1:@PORT@ ssl;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on;
    ssl_ciphers @TLS12@; ssl_conf_command Ciphersuites @TLS13@;
    ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_session_tickets off; ssl_session_cache off;
    ssl_certificate @CERT@; ssl_certificate_key @KEY@;
    ssl_client_certificate @CA@; ssl_verify_client on;
    root @ROOT@;
    location / { }
  }
}
)";
        const std::pair<std::string, std::string> values[] = {
            {"@DIR@", d.string()},
            {"@PORT@", std::to_string(port_)},
            {"@TLS12@", std::string(hsm::tls12_cipher_list())},
            {"@TLS13@", std::string(hsm::tls13_ciphersuites())},
            {"@CERT@", (pki / "demo-lea-server.pem").string()},
            {"@KEY@", (pki / "demo-lea-server.key").string()},
            {"@CA@", (pki / "demo-ca.pem").string()},
            {"@ROOT@", root.string()}};
        for (const auto& [name, value] : values) {
            for (auto at = c.find(name); at != std::string::npos; at = c.find(name, at)) {
                c.replace(at, name.size(), value);
                at += value.size();
            }
        }
        return c;
    }

    /// Starts nginx and waits (10 s) until it has written its pid file and
    /// accepts connections.
    void start(const std::filesystem::path& d) {
        std::string conf = (d / "nginx.conf").string(), prefix = d.string() + "/",
                    elog = (d / "error.log").string();
        std::vector<char*> argv = {const_cast<char*>(kNginxBinary), const_cast<char*>("-e"),
                                   elog.data(), const_cast<char*>("-p"), prefix.data(),
                                   const_cast<char*>("-c"), conf.data(), nullptr};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        const std::string out = (d / "stdio.log").string();
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = ::posix_spawn(&pid_, kNginxBinary, &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) tls::die("cannot start nginx");
        for (int tick = 0; tick < 100; ++tick) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            const int fd = tls::connect_loopback(port_);
            if (fd >= 0) {
                ::close(fd);
                if (std::filesystem::exists(d / "nginx.pid")) return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
        std::ifstream log(d / "error.log");
        const std::string text((std::istreambuf_iterator<char>(log)), {});
        tls::die("nginx did not start: " + text);
    }

    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace enclave::bench::binary
