// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-delivery: the real programs as the measured system. A fresh
// instance is provisioned with `enclavectl init` (its own SoftHSM2 token, the
// delivery client key on the token, demo PKI); its LEA and ingest ports are
// moved to free loopback ports; `enclaved` runs as a child process with its
// default thread count; `enclave-lea-sim` runs as another child process with
// the instance's demo LEA server identity (as tests/daemon/delivery_test_util
// does); `enclavectl endpoint add` points an endpoint at it and
// `enclavectl task create` makes the tasks that own the items.
// The load generator talks HTTPS through delivery::LeaClient (persistent
// mutual-TLS connections) with the demo file keys: the demo collector
// identity on the ingest listener, the demo LEA identity on the simulator.
// Holds no secret: the instance's PIN file stays in its data dir; the demo
// client keys are the instance's own demo files.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_tls_servers.hpp"
#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"
#include "delivery/lea_client.hpp"
#include "hsm/tls_context.hpp"
#include "support/paths.hpp"

namespace enclave::bench::delivery_bench {

using tls::die;
using tls::process_cpu_seconds;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// The last `lines` lines of a log file (for failure messages; the logs hold
/// no item content: the daemon never logs bodies).
inline std::string tail_of(const fs::path& file, std::size_t lines = 15) {
    std::ifstream in(file);
    std::vector<std::string> all;
    for (std::string l; std::getline(in, l);) all.push_back(l);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
        out += "  | " + all[i] + "\n";
    }
    return out;
}

/// A child process, stdout and stderr appended to `log`. SIGTERM on stop().
class Child {
public:
    Child(const std::vector<std::string>& args, const fs::path& log) : name_(args.at(0)), log_(log) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) die("cannot start " + name_);
    }
    ~Child() { (void)stop(SIGTERM, 20s); }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] const fs::path& log() const noexcept { return log_; }

    /// True while it runs (reaps it when it has exited).
    bool alive() {
        if (pid_ <= 0) return false;
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
        return pid_ > 0;
    }
    /// Exit status after waiting (`limit`, then SIGKILL); -1 = killed or crashed.
    int wait(std::chrono::seconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (alive() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
            pid_ = -1;
            return -1;
        }
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    }
    int stop(int sig, std::chrono::seconds limit) {
        if (pid_ > 0) ::kill(pid_, sig);
        return wait(limit);
    }

private:
    std::string name_;
    fs::path log_;
    pid_t pid_ = -1;
    int status_ = 0;
};

/// RFC 3339 UTC "now + offset", whole seconds.
inline std::string utc_in(std::chrono::seconds offset) {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// A LeaClient (persistent mutual-TLS connections) with a demo file identity.
inline std::unique_ptr<delivery::LeaClient> https_client(const fs::path& pki, const std::string& who,
                                                        const std::string& base_url,
                                                        std::size_t connections) {
    auto resolver = hsm::make_key_resolver(nullptr, true);
    auto ctx = hsm::make_client_context(
        {pki / (who + ".pem"), (pki / (who + ".key")).string(), pki / "demo-ca.pem", {},
         TLS1_2_VERSION},
        *resolver);
    if (!ctx) die("client TLS context (" + who + "): " + ctx.error().message());
    delivery::LeaClientOptions o;
    o.base_url = base_url;
    o.tls = std::move(*ctx);
    o.max_connections = connections;
    o.read_timeout = 60s;
    auto c = delivery::LeaClient::create(std::move(o));
    if (!c) die("client for " + base_url + ": " + c.error().message());
    return std::move(*c);
}

/// The provisioned instance, enclaved, the simulator, the endpoint and tasks.
class Rig {
public:
    /// `workers`: the endpoint's max_connections (delivery worker threads).
    Rig(const fs::path& root, int tasks, int workers, int batch_items = 500)
        : root_(root), data_(root / "instance"), batch_items_(batch_items) {
#if !defined(ENCLAVED_PATH) || !defined(ENCLAVECTL_PATH) || !defined(ENCLAVE_LEA_SIM_PATH)
        (void)tasks;
        (void)workers;
        die("the bench was built without enclaved/enclavectl/enclave-lea-sim");
#else
        ctl({"init"}, "enclavectl init");
        ingest_port_ = move_ports();
        daemon_ = std::make_unique<Child>(
            std::vector<std::string>{ENCLAVED_PATH, "--data-dir", data_.string()},
            data_ / "enclaved.log");
        start_simulator();
        wait_listening(*daemon_, ingest_port_, "enclaved (ingest listener)");
        add_endpoint(workers);
        for (int t = 0; t < tasks; ++t) create_task(reference(t));
#endif
    }

    [[nodiscard]] static std::string reference(int t) { return "LIID-BENCH-" + std::to_string(t); }
    [[nodiscard]] fs::path pki() const { return data_ / "pki"; }
    [[nodiscard]] std::string ingest_base() const {
        return "https://127.0.0.1:" + std::to_string(ingest_port_);
    }
    [[nodiscard]] std::uint16_t lea_port() const noexcept { return lea_port_; }
    [[nodiscard]] std::uint16_t ingest_port() const noexcept { return ingest_port_; }
    [[nodiscard]] std::string sim_base() const {
        return "https://127.0.0.1:" + std::to_string(sim_port_);
    }
    [[nodiscard]] const fs::path& store() const noexcept { return store_; }
    Child& daemon() { return *daemon_; }
    Child& simulator() { return *sim_; }

    /// Both processes still run; otherwise dies naming the one that stopped.
    void check_alive() {
        if (!daemon_->alive()) die("enclaved exited; its log:\n" + tail_of(daemon_->log()));
        if (!sim_->alive()) die("enclave-lea-sim exited; its log:\n" + tail_of(sim_->log()));
    }

    /// Stops both; a non-zero exit of either is reported (a crash under load
    /// must not pass unnoticed).
    void stop() {
        if (!daemon_ || !sim_) return;
        const int d = daemon_->stop(SIGTERM, 30s);
        const int s = sim_->stop(SIGTERM, 10s);
        if (d != 0) std::fprintf(stderr, "enclaved exit status %d; log:\n%s", d, tail_of(daemon_->log()).c_str());
        if (s != 0) std::fprintf(stderr, "enclave-lea-sim exit status %d\n", s);
    }

#if defined(ENCLAVED_PATH) && defined(ENCLAVECTL_PATH) && defined(ENCLAVE_LEA_SIM_PATH)
    /// enclavectl --data-dir DIR args; true on exit 0.
    bool try_ctl(const std::vector<std::string>& args) {
        std::vector<std::string> all = {ENCLAVECTL_PATH, "--data-dir", data_.string()};
        all.insert(all.end(), args.begin(), args.end());
        Child c(all, root_ / "enclavectl.log");
        return c.wait(120s) == 0;
    }
    void ctl(const std::vector<std::string>& args, const std::string& what) {
        if (!try_ctl(args)) die(what + " failed:\n" + tail_of(root_ / "enclavectl.log"));
    }

    /// A task `ref` (one salted-hash field) owned by `endpoint`.
    void create_task(const std::string& ref, const std::string& endpoint = "lea-sim") {
        const std::string value = "442079460223", salt_hex = "8f1c2a9b3d4e5f60718293a4b5c6d7e8";
        const auto alg = crypto::salted_hash_from_name("sha256");
        auto salt = crypto::hex_decode(salt_hex);
        if (!alg || !salt) die("salted hash of the task field");
        auto hash = crypto::compute_salted_hash(*alg, *salt, value);
        if (!hash) die("salted hash of the task field: " + hash.error().message());
        const nlohmann::json field{{"formatName", "InternationalE164"}, {"value", value},
                                   {"salt", salt_hex}, {"hash", crypto::hex_encode(*hash)},
                                   {"algorithm", "sha256"}};
        const nlohmann::json task{{"reference", ref},          {"kind", "LI"},
                                  {"start", utc_in(-1h)},      {"end", utc_in(24h)},
                                  {"fields", nlohmann::json::array({field})}, {"endpoint", endpoint}};
        const auto file = root_ / ("task-" + ref + ".json");
        std::ofstream(file, std::ios::trunc) << task.dump();
        ctl({"task", "create", "--file", file.string()}, "enclavectl task create " + ref);
    }

private:
    /// LEA and ingest listeners on free ports (the defaults may be taken).
    std::uint16_t move_ports() {
        const auto path = data_ / "enclave.toml";
        std::string text;
        {
            std::ifstream in(path);
            text.assign(std::istreambuf_iterator<char>(in), {});
        }
        const std::uint16_t ingest = tls::free_port();
        lea_port_ = tls::free_port();
        replace_once(text, "port = 8443", "port = " + std::to_string(lea_port_));
        replace_once(text, "port = 9443", "port = " + std::to_string(ingest));
        replace_once(text, "batch_items = 500", "batch_items = " + std::to_string(batch_items_));
        // One caller adds the endpoint: no second officer to approve it.
        replace_once(text, "approval.\nenabled = true", "approval.\nenabled = false");
        std::ofstream(path, std::ios::trunc) << text;
        return ingest;
    }
    static void replace_once(std::string& text, const std::string& from, const std::string& to) {
        const auto at = text.find(from);
        if (at == std::string::npos) die("enclave.toml has no '" + from + "'");
        text.replace(at, from.size(), to);
    }

    void start_simulator() {
        store_ = root_ / "lea-store";
        const auto port_file = root_ / "sim.port";
        sim_ = std::make_unique<Child>(
            std::vector<std::string>{ENCLAVE_LEA_SIM_PATH, "--listen", "127.0.0.1:0", "--cert",
                                     (pki() / "demo-lea-server.pem").string(), "--key",
                                     (pki() / "demo-lea-server.key").string(), "--ca",
                                     (pki() / "demo-ca.pem").string(), "--store", store_.string(),
                                     "--port-file", port_file.string()},
            root_ / "sim.log");
        const auto end = std::chrono::steady_clock::now() + 30s;
        while (!fs::exists(port_file)) {
            if (!sim_->alive()) die("enclave-lea-sim exited at start:\n" + tail_of(sim_->log()));
            if (std::chrono::steady_clock::now() > end) die("enclave-lea-sim: no port within 30 s");
            std::this_thread::sleep_for(20ms);
        }
        std::ifstream in(port_file);
        int port = 0;
        in >> port;
        sim_port_ = static_cast<std::uint16_t>(port);
    }

    void wait_listening(Child& c, std::uint16_t port, const std::string& what) {
        const auto end = std::chrono::steady_clock::now() + 60s;
        while (std::chrono::steady_clock::now() < end) {
            if (!c.alive()) die(what + " exited at start; its log:\n" + tail_of(c.log()));
            const int fd = tls::connect_loopback(port);
            if (fd >= 0) {
                ::close(fd);
                return;
            }
            std::this_thread::sleep_for(50ms);
        }
        die(what + " did not listen within 60 s; its log:\n" + tail_of(c.log()));
    }

    /// The admin socket may come up just after the listeners: retry 30 s.
    void add_endpoint(int workers) {
        const std::vector<std::string> args = {
            "endpoint", "add", "lea-sim", "--url", sim_base() + "/hi1/delivery", "--ca",
            (pki() / "demo-ca.pem").string(), "--binary-url-scheme", sim_base() + "/binaryData/{id}/",
            "--receiver-country", "GB", "--max-connections", std::to_string(workers)};
        const auto end = std::chrono::steady_clock::now() + 30s;
        while (!try_ctl(args)) {
            check_alive();
            if (std::chrono::steady_clock::now() > end) {
                die("enclavectl endpoint add failed:\n" + tail_of(root_ / "enclavectl.log"));
            }
            std::this_thread::sleep_for(200ms);
        }
    }
#endif

private:
    fs::path root_, data_, store_;
    int batch_items_ = 500;  ///< delivery.batch_items of the instance
    std::uint16_t ingest_port_ = 0, lea_port_ = 0, sim_port_ = 0;
    std::unique_ptr<Child> daemon_, sim_;
};

/// `perf record` attached to one process while alive (for --perf DIR).
class PerfRecorder {
public:
    PerfRecorder(pid_t pid, const fs::path& out)
        : child_({"/usr/bin/perf", "record", "-q", "-F", "999", "-g", "-p", std::to_string(pid), "-o",
                  out.string()},
                 fs::path(out.string() + ".log")) {
        std::this_thread::sleep_for(300ms);  // perf attaches
    }
    void stop() { (void)child_.stop(SIGINT, 60s); }

private:
    Child child_;
};

}  // namespace enclave::bench::delivery_bench
