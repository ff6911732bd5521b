// SPDX-License-Identifier: Apache-2.0
// enclave-bench-tls: full mutual-TLS handshakes per second over loopback TCP,
// measured in one run beside references:
//   (a) ours: make_server_context with the ECDSA P-256 key on a SoftHSM2 token
//       (through the enclave-pkcs11 provider), as N threads in one process
//       (the daemon's model) and as N prefork worker processes (nginx's
//       model; each worker re-initialises the token after fork);
//   (b) ours with a file key (the same server code, key in memory);
//   (c) nginx (Debian) with the SAME token key through libp11's ENGINE
//       (libengine-pkcs11-openssl), ssl_verify_client on;
//   (d) the real daemon: an instance provisioned by `enclavectl init`,
//       `enclaved` in a child process, its LEA listener (Beast, one listening
//       socket served by the daemon's threads), the demo LEA certificate
//       (bench_tls_daemon.hpp). Its token is its own SoftHSM2 token with its
//       own P-256 key, the same kind of key as (a) and (c).
// Every handshake: a new TCP connection, TLS 1.3, TLS_AES_128_GCM_SHA256,
// X25519, no tickets, no resumption, a client certificate (P-256 file key),
// then one small HTTP request and response (so the server has checked the
// client certificate before we count it). The load generator (N threads)
// runs in a child process, so no server measured shares a process with it.
// Beside the wall-clock rate, each row has the handshakes per second of CPU
// time spent by the server side (steadier on a shared machine).
//
// nginx set-up and why: nginx loads ssl_certificate_key in the master
// process; with libp11 the forked workers then fail ("Object handle invalid"
// with SoftHSM's reset_on_fork=false; with reset_on_fork=true the worker hangs
// inside libp11's fork recovery). What works: `master_process off`, so the
// process that loaded the key serves. To give nginx the same N server
// "workers" as ours, the bench starts N such single-process nginx instances,
// each on its own port, and client thread i always connects to instance i
// (one listening socket shared by them is not possible: nginx crashes when it
// inherits a socket without a master process, and SO_REUSEPORT would hash
// each connection to one instance, so two clients would often queue on the
// same one). Our servers use the same layout: worker i (thread or process)
// has its own listening socket. The token PIN reaches libp11 through `pin-source=file:` in the
// key URI (a 0600 file without a trailing newline: libp11 does not strip
// one), never argv; the engine is configured in an openssl.cnf named by
// OPENSSL_CONF for nginx only.
//
// Options: --seconds S (per measurement, default 3), --rounds N (default 3,
// medians reported), --threads N (client threads and server workers,
// default 2), --no-nginx, --no-daemon.

#include <fcntl.h>
#include <spawn.h>

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "bench_tls_daemon.hpp"
#include "bench_tls_nginx.hpp"
#include "bench_tls_servers.hpp"
#include "bench_util.hpp"
#include "hsm/keygen.hpp"
#include "hsm/public_key.hpp"
#include "hsm/tls_context.hpp"
#include "support/softhsm_token.hpp"
#include "support/test_pki.hpp"

namespace {

using namespace enclave;
using namespace enclave::bench::tls;
namespace fs = std::filesystem;

struct Options {
    double seconds = 3.0;
    int rounds = 3;
    int threads = 2;
    bool nginx = true;
    bool daemon = true;
    // Internal: the load generator runs as a child process of the bench
    // (--client-dir D --client-ports P1,P2).
    std::string client_dir;
    std::vector<std::uint16_t> client_ports;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool value = i + 1 < argc;
        if (a == "--seconds" && value)
            o.seconds = std::stod(argv[++i]);
        else if (a == "--rounds" && value)
            o.rounds = std::stoi(argv[++i]);
        else if (a == "--threads" && value)
            o.threads = std::stoi(argv[++i]);
        else if (a == "--no-nginx")
            o.nginx = false;
        else if (a == "--no-daemon")
            o.daemon = false;
        else if (a == "--client-dir" && value)
            o.client_dir = argv[++i];
        else if (a == "--client-ports" && value) {
            std::istringstream ports(argv[++i]);
            for (std::string p; std::getline(ports, p, ',');) {
                o.client_ports.push_back(static_cast<std::uint16_t>(std::stoi(p)));
            }
        } else
            die("usage: enclave-bench-tls [--seconds S] [--rounds N] [--threads T] [--no-nginx] "
                "[--no-daemon]");
    }
    if (o.rounds < 1 || o.threads < 1 || o.seconds <= 0) die("bad option value");
    return o;
}

hsm::SslCtxPtr must(crypto::Result<hsm::SslCtxPtr> r) {
    if (!r) die(r.error().message());
    return std::move(*r);
}

/// The load generator (child process): prints "<rate> <handshakes>".
int client_main(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    const fs::path d = o.client_dir;
    auto resolver = hsm::make_key_resolver(nullptr, true);
    auto client = must(hsm::make_client_context(
        {d / "client.pem", (d / "client.key").string(), d / "ca.pem", {}, TLS1_3_VERSION},
        *resolver));
    // The same suite and group against every server measured.
    SSL_CTX_set_ciphersuites(client.get(), "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set1_groups_list(client.get(), "X25519");
    const Measured m = measure(client.get(), o.client_ports, o.threads, o.seconds, "client");
    std::printf("%.3f %llu\n", m.rate, static_cast<unsigned long long>(m.handshakes));
    return 0;
}

/// Runs the load generator in a child process against `ports`.
Measured run_client(const fs::path& dir, const std::vector<std::uint16_t>& ports, const Options& o,
                    const char* what) {
    std::string port_list;
    for (auto p : ports) port_list += (port_list.empty() ? "" : ",") + std::to_string(p);
    std::string d = dir.string(), secs = std::to_string(o.seconds), thr = std::to_string(o.threads);
    std::vector<char*> argv = {const_cast<char*>("/proc/self/exe"),
                               const_cast<char*>("--client-dir"),
                               d.data(),
                               const_cast<char*>("--client-ports"),
                               port_list.data(),
                               const_cast<char*>("--seconds"),
                               secs.data(),
                               const_cast<char*>("--threads"),
                               thr.data(),
                               nullptr};
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) die("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; rc == 0 && (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        die(std::string(what) + ": the load generator failed (see its message above)");
    }
    Measured m;
    unsigned long long n = 0;
    if (std::sscanf(out.c_str(), "%lf %llu", &m.rate, &n) != 2) die("bad load generator output");
    m.handshakes = n;
    return m;
}

/// The token with the server key, the PKI files and the server SSL_CTXs.
struct Setup {
    testing::SoftHsmToken token;
    testing::TempDir dir;
    hsm::SslCtxPtr server_token, server_file;

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
    }
};

/// One server's figures over the rounds.
struct Series {
    std::vector<double> rate, per_cpu;
};

/// The row against nginx, plus the median of per-round ratios: each round
/// measures the servers within seconds of each other, which is steadier on a
/// shared machine than the ratio of medians.
void row_vs(const char* what, const Series& ours, const Series& ref) {
    bench::print_row(what, median(ours.rate), median(ref.rate), "hs/s", ">= 1.0x");
    std::vector<double> ratios;
    for (std::size_t i = 0; i < ref.rate.size(); ++i) ratios.push_back(ours.rate[i] / ref.rate[i]);
    std::printf("%-44s %14s %14s %7.2fx  %s\n", "  median of per-round ratios", "", "",
                median(ratios), ">= 1.0x");
    bench::print_row("  per server CPU-second", median(ours.per_cpu), median(ref.per_cpu), "hs",
                     ">= 1.0x");
}

void report(const Options& o, const Series& threads, const Series& procs, const Series& file,
            const Series& ngx, const Series& daemon, std::size_t peak) {
    bench::print_header(
        "mutual-TLS handshakes/s, TLS 1.3, ECDSA P-256 server key, new TCP connection each, "
        "no resumption");
    std::printf(
        "(%d client threads in a child process, %d server workers, %.1f s x %d rounds, "
        "medians)\n",
        o.threads, o.threads, o.seconds, o.rounds);
    if (o.nginx) {
        row_vs("ours(token, threads) vs nginx+libp11(token)", threads, ngx);
        row_vs("ours(token, processes) vs nginx+libp11(token)", procs, ngx);
        if (o.daemon) row_vs("enclaved LEA listener vs nginx+libp11(token)", daemon, ngx);
    }
    if (o.daemon) {
        bench::print_row("enclaved LEA listener vs ours(token, threads)", median(daemon.rate),
                         median(threads.rate), "hs/s", "context");
    }
    bench::print_row("ours(token, threads) vs ours(file, threads)", median(threads.rate),
                     median(file.rate), "hs/s", "context");
    bench::print_row("  per server CPU-second", median(threads.per_cpu), median(file.per_cpu), "hs",
                     "context");
    bench::print_figure("token pool: peak sessions in use (threads)", static_cast<double>(peak),
                        "sessions");
}

/// Our threaded server with `ctx`: one measurement into `out`.
void measure_threads(SSL_CTX* ctx, const fs::path& dir, const Options& o, const char* what,
                     Series& out) {
    BenchServer server(ctx, o.threads);
    const Measured m = run_client(dir, server.ports(), o, what);
    server.stop();
    if (server.failures() > 0) die(std::string(what) + ": server-side handshake failures");
    out.rate.push_back(m.rate);
    out.per_cpu.push_back(server.per_cpu_second());
}

/// A server whose CPU time is read from its processes (prefork or nginx).
template <class Server>
void measure_processes(const Server& server, const std::vector<std::uint16_t>& ports,
                       const fs::path& dir, const Options& o, const char* what, Series& out) {
    const double cpu0 = server.cpu_seconds();
    const Measured m = run_client(dir, ports, o, what);
    const double cpu = server.cpu_seconds() - cpu0;
    out.rate.push_back(m.rate);
    out.per_cpu.push_back(cpu > 0 ? static_cast<double>(m.handshakes) / cpu : 0);
}

int run(const Options& o) {
    ::signal(SIGPIPE, SIG_IGN);
    Setup s;
    const fs::path d = s.dir.path();
    Series threads, procs, file, ngx, daemon;
    // The daemon runs through every round (provisioning takes seconds); it
    // is idle while the other servers are measured.
    std::unique_ptr<DaemonReference> enclaved;
    if (o.daemon) enclaved = std::make_unique<DaemonReference>(d);
    // The order of the servers rotates every round, so load from elsewhere
    // on the machine does not always fall on the same one.
    std::vector<std::function<void()>> steps = {
        [&] {
            // The bench process has no threads between measurements, so it
            // may fork here.
            ForkedServer server(s.server_token.get(), o.threads, s.token.pool());
            measure_processes(server, server.ports(), d, o, "ours (token, processes)", procs);
        },
        [&] { measure_threads(s.server_token.get(), d, o, "ours (token, threads)", threads); },
        [&] { measure_threads(s.server_file.get(), d, o, "ours (file, threads)", file); },
    };
    if (o.nginx) {
        steps.emplace_back([&] {
            NginxReference ref(d, s.token, d / "server-token.pem", d / "ca.pem", o.threads);
            measure_processes(ref, ref.ports(), d, o, "nginx+libp11 (token key)", ngx);
        });
    }
    if (o.daemon) {
        steps.emplace_back([&] {
            measure_processes(*enclaved, enclaved->ports(), enclaved->client_dir(), o,
                              "enclaved LEA listener", daemon);
        });
    }
    for (int round = 0; round < o.rounds; ++round) {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            steps[(i + static_cast<std::size_t>(round)) % steps.size()]();
        }
        std::printf(
            "round %d: ours(token) threads %.1f processes %.1f, ours(file) %.1f, "
            "nginx+libp11(token) %.1f, enclaved %.1f hs/s\n",
            round + 1, threads.rate.back(), procs.rate.back(), file.rate.back(),
            o.nginx ? ngx.rate.back() : 0.0, o.daemon ? daemon.rate.back() : 0.0);
    }
    if (enclaved) enclaved->stop();
    report(o, threads, procs, file, ngx, daemon, s.token.pool()->stats().peak_in_use);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        return o.client_dir.empty() ? run(o) : client_main(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-tls: %s\n", e.what());
        return 1;
    }
}
