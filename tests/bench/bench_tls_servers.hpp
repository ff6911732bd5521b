// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-tls internals: loopback sockets, our two bench servers
// (threads in this process; prefork worker processes), the client side of
// one handshake and the timed load loop. Holds no secret.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/tls_context.hpp"

namespace enclave::bench::tls {

inline constexpr const char* kRequest =
    "GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
inline constexpr const char* kResponse =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

[[noreturn]] inline void die(const std::string& what) { throw std::runtime_error(what); }

inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

inline int listen_loopback(std::uint16_t port, bool reuseport) {
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

inline std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

/// A free loopback port for nginx (bound and released; nginx binds it next).
inline std::uint16_t free_port() {
    const int fd = listen_loopback(0, false);
    const std::uint16_t p = port_of(fd);
    ::close(fd);
    return p;
}

inline int connect_loopback(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(port);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A server that died must fail the measurement, not hang it.
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/// Accepts one connection on `fd` and serves it: a full handshake, one
/// request, one response. 1 = served, 0 = failed, -1 = accept failed.
inline int serve_one(SSL_CTX* ctx, int fd) {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return -1;
    const int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(ctx);
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
    ERR_clear_error();
    SSL_free(ssl);
    ::close(c);
    return ok ? 1 : 0;
}

/// CPU seconds (user + system) used so far by the processes `pids`.
inline double process_cpu_seconds(const std::vector<pid_t>& pids) {
    double total = 0;
    for (pid_t p : pids) {
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

/// Our server for the bench: `threads` threads, each with its own listening
/// socket and a blocking accept loop; each connection a full handshake, one
/// request, one response.
class BenchServer {
public:
    BenchServer(SSL_CTX* ctx, int threads) : ctx_(ctx) {
        for (int i = 0; i < threads; ++i) fds_.push_back(listen_loopback(0, false));
        for (int fd : fds_) workers_.emplace_back([this, fd] { serve(fd); });
    }
    ~BenchServer() {
        stop();
        for (int fd : fds_) ::close(fd);
    }
    BenchServer(const BenchServer&) = delete;
    BenchServer& operator=(const BenchServer&) = delete;
    /// Thread i listens on ports()[i] (the layout of the nginx reference).
    [[nodiscard]] std::vector<std::uint16_t> ports() const {
        std::vector<std::uint16_t> out;
        for (int fd : fds_) out.push_back(port_of(fd));
        return out;
    }
    [[nodiscard]] std::uint64_t failures() const { return failures_; }
    /// Stops the workers; afterwards per_cpu_second() is final.
    void stop() {
        if (stop_.exchange(true)) return;
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);  // wakes accept()
        for (auto& t : workers_) t.join();
    }
    /// Handshakes served per second of CPU time spent by the server threads
    /// (TLS, the provider and, for the token key, SoftHSM: it runs in the
    /// calling thread).
    [[nodiscard]] double per_cpu_second() const {
        return cpu_ns_ > 0 ? static_cast<double>(served_) * 1e9 / static_cast<double>(cpu_ns_) : 0;
    }

private:
    void serve(int fd) {
        while (!stop_) {
            const int ok = serve_one(ctx_, fd);
            if (ok >= 0) ++(ok == 1 ? served_ : failures_);
        }
        timespec ts{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        cpu_ns_ += static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
                   static_cast<std::uint64_t>(ts.tv_nsec);
    }

    SSL_CTX* ctx_;
    std::vector<int> fds_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> failures_{0}, served_{0}, cpu_ns_{0};
    std::vector<std::thread> workers_;
};

/// Our server as prefork worker processes, the model nginx uses: one
/// listening socket per worker (the same layout as the nginx reference, see
/// bench_tls.cpp) is made first, then `workers` children are forked; each
/// re-initialises the PKCS#11 module and the session pool (the documented
/// recovery after fork: the token key in `ctx` works again) and runs one
/// blocking accept loop until it is terminated. The bench process must have
/// no other threads when this is constructed.
class ForkedServer {
public:
    ForkedServer(SSL_CTX* ctx, int workers, const std::shared_ptr<hsm::SessionPool>& pool) {
        for (int i = 0; i < workers; ++i) fds_.push_back(listen_loopback(0, false));
        try {
            // One at a time: each waits until the previous one has logged in
            // (SoftHSM's file store is not made for processes that open the
            // same token at the same instant).
            for (int fd : fds_) start_worker(ctx, pool, fd);
        } catch (...) {
            stop();
            throw;
        }
    }
    ~ForkedServer() { stop(); }
    ForkedServer(const ForkedServer&) = delete;
    ForkedServer& operator=(const ForkedServer&) = delete;
    /// Worker i listens on ports()[i] (as the nginx instances do).
    [[nodiscard]] std::vector<std::uint16_t> ports() const {
        std::vector<std::uint16_t> out;
        for (int fd : fds_) out.push_back(port_of(fd));
        return out;
    }
    [[nodiscard]] double cpu_seconds() const { return process_cpu_seconds(pids_); }

private:
    void stop() {
        for (pid_t p : pids_) ::kill(p, SIGTERM);
        for (pid_t p : pids_) ::waitpid(p, nullptr, 0);
        pids_.clear();
        for (int fd : fds_) ::close(fd);
        fds_.clear();
    }

    void start_worker(SSL_CTX* ctx, const std::shared_ptr<hsm::SessionPool>& pool, int fd) {
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) die("pipe failed");
        std::fflush(nullptr);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::close(ready[0]);
            ::_exit(worker(ctx, pool, fd, ready[1]));
        }
        ::close(ready[1]);
        if (pid < 0) die("fork failed");
        pids_.push_back(pid);
        char msg[512] = {};
        const ssize_t n = ::read(ready[0], msg, sizeof msg - 1);
        ::close(ready[0]);
        if (n != 1 || msg[0] != 'R') {
            die("a forked server worker did not start: " + std::string(n > 1 ? msg + 1 : "?"));
        }
    }

    /// In the child: re-initialise the token (the documented recovery after
    /// fork), report on `ready`, then serve until terminated.
    static int worker(SSL_CTX* ctx, const std::shared_ptr<hsm::SessionPool>& pool, int fd,
                      int ready) {
        crypto::Result<void> ok = pool->module().reinitialize_after_fork();
        if (ok) ok = pool->reset_after_fork();
        if (!ok) {
            const std::string msg = "F" + ok.error().message();
            (void)!::write(ready, msg.data(), msg.size());
            return 1;
        }
        (void)!::write(ready, "R", 1);
        ::close(ready);
        for (;;) serve_one(ctx, fd);
    }

    std::vector<int> fds_;
    std::vector<pid_t> pids_;
};

/// One client handshake + request on a fresh connection; false on any failure.
inline bool client_once(SSL_CTX* ctx, std::uint16_t port) {
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
    // Every server answers 200 with a body ("ok", or enclaved's whoami JSON).
    ok = ok && resp.starts_with("HTTP/1.1 200") && !resp.ends_with("\r\n\r\n");
    ERR_clear_error();
    SSL_free(ssl);
    ::close(fd);
    return ok;
}

struct Measured {
    double rate = 0;               ///< handshakes per wall-clock second
    std::uint64_t handshakes = 0;  ///< including the warm-up
};

/// Handshakes per second against `port` with `threads` client threads; dies
/// if any handshake fails (a failing reference must not look fast).
/// Client thread t connects to ports[t % ports.size()].
inline Measured measure(SSL_CTX* client, const std::vector<std::uint16_t>& ports, int threads,
                        double seconds, const char* what) {
    constexpr int kWarmUp = 20;
    std::atomic<std::uint64_t> failed{0};
    for (int i = 0; i < kWarmUp; ++i) {
        if (!client_once(client, ports[static_cast<std::size_t>(i) % ports.size()])) ++failed;
    }
    auto rate = bench::measure_threads(
        threads,
        [&](int t) {
            if (!client_once(client, ports[static_cast<std::size_t>(t) % ports.size()])) ++failed;
        },
        seconds);
    if (failed > 0) {
        die(std::string(what) + ": " + std::to_string(failed.load()) + " of " +
            std::to_string(rate.count) + " handshakes failed");
    }
    return {rate.per_second, rate.count + kWarmUp};
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace enclave::bench::tls
