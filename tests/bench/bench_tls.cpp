// SPDX-License-Identifier: Apache-2.0
// enclave-bench-tls: full mutual-TLS handshakes per second over loopback TCP,
// measured in one run beside references:
//   (a) ours: make_server_context with the ECDSA P-256 key on a SoftHSM2 token
//       (through the enclave-pkcs11 provider);
//   (b) ours with a file key (the same server code, key in memory);
//   (c) nginx (Debian) with the SAME token key through libp11's ENGINE
//       (libengine-pkcs11-openssl), ssl_verify_client on.
// Every handshake: a new TCP connection, TLS 1.3, TLS_AES_128_GCM_SHA256,
// X25519, no tickets, no resumption, a client certificate (P-256 file key),
// then one small HTTP request and response (so the server has checked the
// client certificate before we count it).
//
// nginx set-up and why: nginx loads ssl_certificate_key in the master
// process; with libp11 the forked workers then fail ("Object handle invalid"
// with SoftHSM's reset_on_fork=false; with reset_on_fork=true the worker hangs
// inside libp11's fork recovery). What works: `master_process off`, so the
// process that loaded the key serves. To give nginx the same two server
// "workers" as ours, the bench starts TWO such single-process nginx
// instances on one port (`listen ... reuseport`). The token PIN reaches
// libp11 through `pin-source=file:` in the key URI (a 0600 file without a
// trailing newline: libp11 does not strip one), never argv; the engine is
// configured in an openssl.cnf named by OPENSSL_CONF for nginx only.
//
// Options: --seconds S (per measurement, default 3), --rounds N (default 3,
// median reported), --threads T (client threads, default 2; our server runs
// as many accept threads), --no-nginx.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "hsm/keygen.hpp"
#include "hsm/public_key.hpp"
#include "hsm/tls_context.hpp"
#include "support/softhsm_token.hpp"
#include "support/test_pki.hpp"

extern char** environ;

namespace {

using namespace enclave;
namespace fs = std::filesystem;

constexpr const char* kEngine = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";
constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
constexpr const char* kResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

struct Options {
    double seconds = 3.0;
    int rounds = 3;
    int threads = 2;
    bool nginx = true;
};

[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int listen_loopback(std::uint16_t port, bool reuseport) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in a = loopback(port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd, 1024) != 0) {
        die("cannot listen on 127.0.0.1:" + std::to_string(port));
    }
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

/// A free loopback port for nginx (bound and released; nginx binds it next).
std::uint16_t free_port() {
    const int fd = listen_loopback(0, false);
    const std::uint16_t p = port_of(fd);
    ::close(fd);
    return p;
}

int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(port);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/// Our server for the bench: blocking accept loops on `threads` threads,
/// each connection a full handshake, one request, one response.
class BenchServer {
public:
    BenchServer(SSL_CTX* ctx, int threads) : ctx_(ctx), fd_(listen_loopback(0, false)) {
        for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { serve(); });
    }
    ~BenchServer() {
        stop();
        ::close(fd_);
    }
    BenchServer(const BenchServer&) = delete;
    BenchServer& operator=(const BenchServer&) = delete;
    [[nodiscard]] std::uint16_t port() const { return port_of(fd_); }
    [[nodiscard]] std::uint64_t failures() const { return failures_; }
    /// Stops the workers; afterwards per_cpu_second() is final.
    void stop() {
        if (stop_.exchange(true)) return;
        ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
        for (auto& t : workers_) t.join();
    }
    /// Handshakes served per second of CPU time spent by the server threads
    /// (TLS, the provider and, for the token key, SoftHSM: it runs in the
    /// calling thread).
    [[nodiscard]] double per_cpu_second() const {
        return cpu_ns_ > 0 ? static_cast<double>(served_) * 1e9 / static_cast<double>(cpu_ns_) : 0;
    }

private:
    void serve() {
        while (!stop_) {
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            SSL* ssl = SSL_new(ctx_);
            SSL_set_fd(ssl, c);
            bool ok = SSL_accept(ssl) == 1;
            char buf[1024];
            std::string req;
            while (ok && req.find("\r\n\r\n") == std::string::npos && req.size() < 4096) {
                const int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0)
                    ok = false;
                else
                    req.append(buf, static_cast<std::size_t>(n));
            }
            ok = ok && SSL_write(ssl, kResponse, static_cast<int>(std::strlen(kResponse))) > 0;
            if (ok) SSL_shutdown(ssl);
            ++(ok ? served_ : failures_);
            ERR_clear_error();
            SSL_free(ssl);
            ::close(c);
        }
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        cpu_ns_ += static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
                   static_cast<std::uint64_t>(ts.tv_nsec);
    }

    SSL_CTX* ctx_;
    int fd_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> failures_{0}, served_{0}, cpu_ns_{0};
    std::vector<std::thread> workers_;
};

/// One client handshake + request on a fresh connection; false on any failure.
bool client_once(SSL_CTX* ctx, std::uint16_t port) {
    const int fd = connect_loopback(port);
    if (fd < 0) return false;
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    bool ok = hsm::set_expected_host(ssl, "127.0.0.1").has_value() && SSL_connect(ssl) == 1 &&
              SSL_write(ssl, kRequest, static_cast<int>(std::strlen(kRequest))) > 0;
    std::string resp;
    char buf[1024];
    while (ok) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        resp.append(buf, static_cast<std::size_t>(n));
    }
    ok = ok && resp.starts_with("HTTP/1.1 200") && resp.ends_with("ok");
    ERR_clear_error();
    SSL_free(ssl);
    ::close(fd);
    return ok;
}

struct Measured {
    double rate = 0;              ///< handshakes per wall-clock second
    std::uint64_t handshakes = 0;  ///< including the warm-up
};

/// Handshakes per second against `port` with `threads` client threads; dies
/// if any handshake fails (a failing reference must not look fast).
Measured measure(SSL_CTX* client, std::uint16_t port, const Options& o, const char* what) {
    constexpr int kWarmUp = 20;
    std::atomic<std::uint64_t> failed{0};
    for (int i = 0; i < kWarmUp; ++i) {
        if (!client_once(client, port)) ++failed;
    }
    auto rate = bench::measure_threads(
        o.threads,
        [&](int) {
            if (!client_once(client, port)) ++failed;
        },
        o.seconds);
    if (failed > 0) {
        die(std::string(what) + ": " + std::to_string(failed.load()) + " of " +
            std::to_string(rate.count) + " handshakes failed");
    }
    return {rate.per_second, rate.count + kWarmUp};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream f(p, std::ios::trunc);
    f << text;
    if (!f) die("cannot write " + p.string());
}

/// The user PIN without a trailing newline, created with mode 0600, for
/// libp11's pin-source=file: (written straight from the Secret).
void write_engine_pin(const fs::path& p, const crypto::Secret& pin) {
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
                   const fs::path& ca, int instances)
        : port_(free_port()) {
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
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// CPU seconds (user + system) the nginx processes used so far.
    [[nodiscard]] double cpu_seconds() const {
        double total = 0;
        for (pid_t p : pids_) {
            std::ifstream f("/proc/" + std::to_string(p) + "/stat");
            std::string stat((std::istreambuf_iterator<char>(f)), {});
            std::istringstream rest(stat.substr(stat.rfind(')') + 2));  // after "(comm) "
            std::string field;
            double ticks = 0;
            for (int i = 3; i <= 15 && rest >> field; ++i) {
                if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
            }
            total += ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
        }
        return total;
    }

private:
    std::string config(const fs::path& d, const std::string& key_uri, const fs::path& cert,
                       const fs::path& ca) const {
        std::string c = R"(daemon off; master_process off; worker_processes 1;
error_log @DIR@/error.log warn; pid @DIR@/nginx.pid; env SOFTHSM2_CONF;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path @DIR@/body; proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fcgi; uwsgi_temp_path @DIR@/uwsgi; scgi_temp_path @DIR@/scgi;
  server {
    listen 127.0.0.1:@PORT@ ssl reuseport;
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
            {"@PORT@", std::to_string(port_)},
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
        write_text(d / "nginx.conf", config(d, key_uri, cert, ca));
        std::string last_log;
        for (int attempt = 0; attempt < 3; ++attempt) {
            fs::remove(d / "nginx.pid");
            const pid_t pid = spawn(d, dir);
            for (int tick = 0; tick < 100; ++tick) {
                int status = 0;
                if (::waitpid(pid, &status, WNOHANG) == pid) break;
                if (fs::exists(d / "nginx.pid") && connect_ok()) {
                    pids_.push_back(pid);
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

    [[nodiscard]] bool connect_ok() const {
        const int fd = connect_loopback(port_);
        if (fd < 0) return false;
        ::close(fd);
        return true;
    }

    std::uint16_t port_;
    std::vector<pid_t> pids_;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool value = i + 1 < argc;
        if (a == "--seconds" && value) o.seconds = std::stod(argv[++i]);
        else if (a == "--rounds" && value) o.rounds = std::stoi(argv[++i]);
        else if (a == "--threads" && value) o.threads = std::stoi(argv[++i]);
        else if (a == "--no-nginx") o.nginx = false;
        else die("usage: enclave-bench-tls [--seconds S] [--rounds N] [--threads T] [--no-nginx]");
    }
    if (o.rounds < 1 || o.threads < 1 || o.seconds <= 0) die("bad option value");
    return o;
}

hsm::SslCtxPtr must(crypto::Result<hsm::SslCtxPtr> r) {
    if (!r) die(r.error().message());
    return std::move(*r);
}

/// The token with the server key, the PKI files and the three SSL_CTXs.
struct Setup {
    testing::SoftHsmToken token;
    testing::TempDir dir;
    hsm::SslCtxPtr server_token, server_file, client;

    static testing::SoftHsmToken::Options token_options() {
        testing::SoftHsmToken::Options o;
        o.label = "enclave-bench";
        return o;
    }

    Setup() : token(token_options()) {
        auto ref = hsm::generate_ec_key_pair(*token.pool(), hsm::EcCurve::p256, {"lea-tls", {}});
        if (!ref) die(ref.error().message());
        auto spki = hsm::export_public_key_spki(*token.pool(), *ref);
        if (!spki) die(spki.error().message());
        const fs::path d = dir.path();
        testing::TestCa ca("Enclave Bench CA");
        testing::write_pem_certs(d / "ca.pem", {ca.cert()});
        testing::LeafSpec server;
        server.common_name = "lea.enclave.test";
        server.ips = {"127.0.0.1"};
        server.client_auth = false;
        auto token_cert = ca.issue(*spki, server);
        testing::write_pem_certs(d / "server-token.pem", {token_cert.get()});
        issue_file_identity(ca, server, "server-file");
        testing::LeafSpec client_spec;
        client_spec.common_name = "demo-lea";
        client_spec.server_auth = false;
        issue_file_identity(ca, client_spec, "client");
        make_contexts();
    }

    void issue_file_identity(const testing::TestCa& ca, const testing::LeafSpec& spec,
                             const std::string& name) {
        auto key = testing::generate_test_key(testing::TestKeyType::ec_p256);
        auto cert = ca.issue(key.get(), spec);
        testing::write_pem_certs(dir.path() / (name + ".pem"), {cert.get()});
        testing::write_pem_key(dir.path() / (name + ".key"), key.get());
    }

    void make_contexts() {
        const fs::path d = dir.path();
        auto resolver = hsm::make_key_resolver(token.pool(), true);
        auto ep = [&](const std::string& cert, const std::string& key) {
            return hsm::TlsEndpoint{d / cert, key, d / "ca.pem", {}, TLS1_3_VERSION};
        };
        server_token = must(hsm::make_server_context(
            ep("server-token.pem", "pkcs11:object=lea-tls;type=private"), *resolver));
        server_file = must(hsm::make_server_context(
            ep("server-file.pem", (d / "server-file.key").string()), *resolver));
        client = must(
            hsm::make_client_context(ep("client.pem", (d / "client.key").string()), *resolver));
        // The same suite and group against every server measured.
        SSL_CTX_set_ciphersuites(client.get(), "TLS_AES_128_GCM_SHA256");
        SSL_CTX_set1_groups_list(client.get(), "X25519");
    }
};

/// One server's figures over the rounds.
struct Series {
    std::vector<double> rate, per_cpu;
};

void report(const Options& o, const Series& token, const Series& file, const Series& ngx,
            std::size_t peak) {
    bench::print_header(
        "mutual-TLS handshakes/s, TLS 1.3, ECDSA P-256 server key, new TCP connection each, "
        "no resumption");
    std::printf("(%d client threads, %d server workers, %.1f s x %d rounds, medians)\n",
                o.threads, o.threads, o.seconds, o.rounds);
    if (o.nginx) {
        bench::print_row("ours(token) vs nginx+libp11(token)", median(token.rate),
                         median(ngx.rate), "hs/s", ">= 1.0x");
        // The machine is shared: each round measures the servers within
        // seconds of each other, so per-round ratios are steadier.
        std::vector<double> ratios;
        for (std::size_t i = 0; i < ngx.rate.size(); ++i) {
            ratios.push_back(token.rate[i] / ngx.rate[i]);
        }
        std::printf("%-44s %14s %14s %7.2fx  %s\n", "  median of per-round ratios", "", "",
                    median(ratios), ">= 1.0x");
        bench::print_row("per server CPU-second: ours(token) vs nginx", median(token.per_cpu),
                         median(ngx.per_cpu), "hs", ">= 1.0x");
    }
    bench::print_row("ours(token) vs ours(file key)", median(token.rate), median(file.rate),
                     "hs/s", "context");
    bench::print_row("per server CPU-second: token vs file key", median(token.per_cpu),
                     median(file.per_cpu), "hs", "context");
    bench::print_figure("token pool: peak sessions in use", static_cast<double>(peak), "sessions");
}

/// Our server with `ctx`: one measurement into `out`.
void measure_ours(SSL_CTX* ctx, SSL_CTX* client, const Options& o, const char* what,
                  Series& out) {
    BenchServer server(ctx, o.threads);
    const Measured m = measure(client, server.port(), o, what);
    server.stop();
    if (server.failures() > 0) die(std::string(what) + ": server-side handshake failures");
    out.rate.push_back(m.rate);
    out.per_cpu.push_back(server.per_cpu_second());
}

int run(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    Setup s;
    const fs::path d = s.dir.path();
    Series token, file, ngx;
    for (int round = 0; round < o.rounds; ++round) {
        measure_ours(s.server_token.get(), s.client.get(), o, "ours (token key)", token);
        measure_ours(s.server_file.get(), s.client.get(), o, "ours (file key)", file);
        if (o.nginx) {
            NginxReference ref(d, s.token, d / "server-token.pem", d / "ca.pem", o.threads);
            const double cpu0 = ref.cpu_seconds();
            const Measured m = measure(s.client.get(), ref.port(), o, "nginx+libp11 (token key)");
            const double cpu = ref.cpu_seconds() - cpu0;
            ngx.rate.push_back(m.rate);
            ngx.per_cpu.push_back(cpu > 0 ? static_cast<double>(m.handshakes) / cpu : 0);
        }
        std::printf("round %d: ours(token) %.1f  ours(file) %.1f  nginx+libp11(token) %.1f hs/s\n",
                    round + 1, token.rate.back(), file.rate.back(),
                    o.nginx ? ngx.rate.back() : 0.0);
    }
    report(o, token, file, ngx, s.token.pool()->stats().peak_in_use);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-tls: %s\n", e.what());
        return 1;
    }
}
