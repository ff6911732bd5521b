// SPDX-License-Identifier: Apache-2.0
// The io_context, its threads, signals and the shutdown sequence. Asio core
// only (no Beast, no SSL streams): the listeners live behind their pimpls.
#include "appliance/server.hpp"
#include "appliance/roles.hpp"

#include <atomic>
#include <csignal>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "appliance/admin_api.hpp"
#include "appliance/admin_server.hpp"
#include "appliance/bulk_pool.hpp"
#include "appliance/listener.hpp"
#include "appliance/log.hpp"
#include "appliance/sd_notify.hpp"

namespace enclave::appliance {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

std::vector<TcpListenerSpec> tcp_listeners(const Config& config) {
    std::vector<TcpListenerSpec> out;
    if (config.lea.enabled) out.push_back({"lea", &config.lea, false});
    if (config.ingest.enabled) out.push_back({"ingest", &config.ingest, false});
    if (config.admin.tls_listener.enabled)
        out.push_back({"admin-tls", &config.admin.tls_listener, true});
    return out;
}

struct Server::Impl {
    explicit Impl(ServerSetup s)
        : setup(std::move(s)),
          control(io.get_executor()),
          signals(control, SIGINT, SIGTERM, SIGHUP),
          timer(control) {}

    // Declaration order is destruction order reversed: the Metrics outlive the
    // io_context (sessions destroyed with it report to them), and the I/O
    // objects die before it.
    ServerSetup setup;
    Metrics metrics;
    /// One io_context per I/O thread for the connections: a connection
    /// lives on one of them from accept to close, so its handlers never hop
    /// threads (one shared io_context made every completion a cross-thread
    /// wake-up: slow at low concurrency). Declared before `io`, so they
    /// outlive it: an accept still pending on `io` holds a socket bound to a
    /// worker, and destroying it needs that worker.
    std::vector<std::unique_ptr<net::io_context>> workers;
    net::io_context io;  ///< acceptors, signals, timers, the shutdown sequence
    /// Prepares streamed body pieces (bulk_pool.hpp). Declared after the
    /// io_contexts, so it is destroyed (stopped, joined, its queued jobs and
    /// the connections they hold dropped) while they still exist.
    std::unique_ptr<BulkPool> bulk;
    std::atomic<std::size_t> next_worker{0};
    net::strand<net::io_context::executor_type> control;
    net::signal_set signals;
    net::steady_timer timer;
    std::vector<TcpListenerSpec> specs;
    std::vector<std::unique_ptr<TlsListener>> listeners;  // same order as specs
    std::unique_ptr<AdminSocketServer> admin;
    bool stopping = false;
    bool tcp_closed = false;
    Clock::time_point deadline;

    net::io_context& pick_worker() {
        return *workers[next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size()];
    }

    std::size_t thread_count() const {
        if (setup.threads != 0) return setup.threads;
        return std::max<std::size_t>(2, std::thread::hardware_concurrency());
    }

    std::vector<ListenerStatus> listener_status() const {
        std::vector<ListenerStatus> out;
        for (const auto& l : listeners)
            out.push_back({l->name(), l->address(), l->active_connections()});
        if (admin) out.push_back({"admin", admin->path().string(), admin->active_connections()});
        return out;
    }

    void wait_signal() {
        signals.async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                reload();
            } else {
                begin_stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
            }
            if (!tcp_closed) wait_signal();
        });
    }

    void reload();
    void begin_stop(const std::string& reason);
    void poll_tcp();
    void close_tcp();
    void poll_admin();
};

void Server::Impl::reload() {
    log(LogLevel::info, "server", "SIGHUP: reloading certificates and trust anchors");
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const auto& spec = specs[i];
        auto ctx = setup.make_context(spec.name, spec.config->tls);
        crypto::Result<void> ok = ctx ? listeners[i]->replace_context(std::move(*ctx))
                                      : crypto::Result<void>(tl::unexpected(ctx.error()));
        metrics.tls_reload(ok.has_value());
        setup.events->emit(events::TlsReloaded{spec.name, ok.has_value()});
        if (ok) {
            log(LogLevel::info, spec.name, "new connections use the reloaded certificates");
        } else {
            log(LogLevel::error, spec.name,
                "reload failed, keeping the current certificates: " + ok.error().message());
        }
    }
}

void Server::Impl::begin_stop(const std::string& reason) {
    if (stopping) {
        log(LogLevel::warning, "server", reason + " again: closing every connection now");
        if (!tcp_closed) close_tcp();
        return;
    }
    stopping = true;
    metrics.set_ready(false);
    if (auto n = sd_notify("STOPPING=1\nSTATUS=stopping"); !n) {
        log(LogLevel::warning, "server", n.error().message());
    }
    setup.events->emit(events::DaemonStopping{reason});
    log(LogLevel::info, "server",
        reason + ": no new connections; in-flight requests get " +
            std::to_string(setup.config.shutdown_grace.count()) + " ms");
    for (auto& l : listeners) {
        l->stop_accepting();
        l->drain();
    }
    deadline = Clock::now() + setup.config.shutdown_grace;
    poll_tcp();
}

void Server::Impl::poll_tcp() {
    if (tcp_closed) return;
    std::uint64_t open = 0;
    for (const auto& l : listeners) open += l->active_connections();
    if (open == 0) return close_tcp();
    if (Clock::now() >= deadline) {
        log(LogLevel::warning, "server",
            "shutdown_grace elapsed with " + std::to_string(open) +
                " connection(s) open; closing them");
        return close_tcp();
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll_tcp();
    });
}

void Server::Impl::close_tcp() {
    tcp_closed = true;
    for (auto& l : listeners) l->abort();
    // The admin socket answered status and readiness (503) while draining; it
    // gets a short grace of its own for a request in progress.
    admin->stop_accepting();
    admin->drain();
    deadline = Clock::now() + std::chrono::seconds(1);
    poll_admin();
}

void Server::Impl::poll_admin() {
    std::uint64_t open = admin->active_connections();
    for (const auto& l : listeners) open += l->active_connections();
    if (open == 0 || Clock::now() >= deadline) {
        admin->abort();
        boost::system::error_code ignored;
        signals.cancel(ignored);
        log(LogLevel::info, "server", "stopped");
        io.stop();
        return;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll_admin();
    });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
    // No job may still post to an io_context that goes away.
    if (impl_->bulk) impl_->bulk->stop();
    // Listeners and the admin socket close before the io_context goes.
    impl_->admin.reset();
    impl_->listeners.clear();
}

crypto::Result<std::unique_ptr<Server>> Server::create(
    ServerSetup setup, std::map<std::string, hsm::SslCtxPtr> contexts) {
    if (!setup.pool || !setup.make_context || setup.events == nullptr) {
        return crypto::fail(crypto::Errc::internal,
                            "Server: pool, context factory and events are required");
    }
    auto impl = std::make_unique<Impl>(std::move(setup));
    Impl& s = *impl;
    const Config& cfg = s.setup.config;
    s.specs = tcp_listeners(cfg);
    auto pool = s.setup.pool;
    s.metrics.set_pool_stats_source([pool] { return pool->stats(); });

    auto lea_router = std::make_shared<Router>();
    add_identity_routes(*lea_router);
    auto ingest_router = std::make_shared<Router>();
    add_identity_routes(*ingest_router);
    auto admin_router = std::make_shared<Router>();
    add_admin_routes(*admin_router,
                     AdminApiContext{cfg.instance_name, pool, &s.metrics,
                                     [&s] { return s.listener_status(); }, Clock::now()});
    if (s.setup.add_routes) {
        Routers routers{*admin_router, *lea_router, *ingest_router};
        s.setup.add_routes(routers);
    }
    add_role_table_route(*admin_router);
    auto router_of = [&](const TcpListenerSpec& spec) -> std::shared_ptr<const Router> {
        if (spec.admin) return admin_router;
        return spec.name == "lea" ? lea_router : ingest_router;
    };

    const auto connection_context = [&s]() -> net::io_context& { return s.pick_worker(); };
    AdminSocketOptions admin_options{cfg.resolve(cfg.admin.socket),
                                     cfg.admin.socket_mode,
                                     cfg.admin.socket_group,
                                     cfg.admin.roles,
                                     cfg.admin.limits,
                                     admin_router,
                                     nullptr,
                                     s.setup.events,
                                     connection_context};
    for (std::size_t i = 0; i < s.thread_count(); ++i) {
        s.workers.push_back(std::make_unique<net::io_context>(1));
    }
    s.bulk = std::make_unique<BulkPool>(
        BulkPoolOptions{s.thread_count(), s.setup.bulk_nice_offset});
    for (const auto& spec : s.specs) s.metrics.add_listener(spec.name, true);
    admin_options.metrics = &s.metrics.add_listener("admin", false);
    auto admin = AdminSocketServer::bind(s.io, std::move(admin_options));
    if (!admin) return tl::unexpected(admin.error());
    s.admin = std::move(*admin);

    for (const auto& spec : s.specs) {
        TlsListenerOptions o{spec.name,
                             *spec.config,
                             spec.admin ? RoleSet{Role::operator_} : RoleSet{},
                             router_of(spec),
                             s.metrics.listener(spec.name),
                             s.setup.events,
                             {},
                             {}};
        for (auto& w : s.workers) o.accept_contexts.push_back(w.get());
        o.bulk = s.bulk.get();
        if (spec.admin && !s.setup.config.admin.tls_roles.empty()) {
            o.roles_of_subject = [map = s.setup.config.admin.tls_roles](const std::string& subject) {
                return roles_of_subject(map, subject);
            };
        }
        auto it = contexts.find(spec.name);
        if (it == contexts.end() || !it->second) {
            return crypto::fail(crypto::Errc::internal, "no SSL context for listener " + spec.name);
        }
        auto listener = TlsListener::bind(s.io, std::move(o), std::move(it->second));
        if (!listener) return tl::unexpected(listener.error());
        s.listeners.push_back(std::move(*listener));
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::run() {
    Impl& s = *impl_;
    for (auto& l : s.listeners) {
        l->start();
        log(LogLevel::info, l->name(), "listening on " + l->address() + " (mutual TLS)");
    }
    s.admin->start();
    log(LogLevel::info, "admin", "listening on " + s.admin->path().string());
    s.wait_signal();
    s.metrics.set_ready(true);
    s.setup.events->emit(
        events::DaemonStarted{s.setup.config.instance_name, std::string(kEnclaveVersion)});
    if (auto n = sd_notify("READY=1\nSTATUS=serving"); !n)
        log(LogLevel::warning, "server", n.error().message());

    // A handler that throws is a bug; log it and keep serving (STYLE.md 3).
    const auto runner = [](net::io_context& io) {
        for (;;) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                log(LogLevel::error, "server", std::string("an I/O handler threw: ") + e.what());
            } catch (...) {
                log(LogLevel::error, "server", "an I/O handler threw");
            }
        }
    };
    // Each worker io_context runs on its own thread until the control
    // io_context (acceptors, signals, the shutdown sequence: this thread)
    // has stopped; by then every connection is closed or aborted.
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    std::vector<std::thread> threads;
    for (auto& w : s.workers) {
        guards.push_back(net::make_work_guard(*w));
        threads.emplace_back([&runner, &w] { runner(*w); });
    }
    runner(s.io);
    for (auto& g : guards) g.reset();
    for (auto& w : s.workers) w->stop();
    for (auto& t : threads) t.join();
    s.bulk->stop();
    return 0;
}

void Server::request_stop() {
    net::post(impl_->control, [impl = impl_.get()] { impl->begin_stop("stop requested"); });
}

const Metrics& Server::metrics() const noexcept { return impl_->metrics; }
Metrics& Server::metrics() noexcept { return impl_->metrics; }

crypto::Result<void> Server::replace_context(const std::string& listener,
                                             hsm::SslCtxPtr context) {
    Impl& s = *impl_;
    for (auto& l : s.listeners) {
        if (l->name() != listener) continue;
        auto ok = l->replace_context(std::move(context));
        s.metrics.tls_reload(ok.has_value());
        s.setup.events->emit(events::TlsReloaded{listener, ok.has_value()});
        return ok;
    }
    return crypto::fail(crypto::Errc::not_found, "no listener " + listener + " is serving");
}

std::map<std::string, std::string> Server::addresses() const {
    std::map<std::string, std::string> out;
    for (const auto& l : impl_->listeners) out[l->name()] = l->address();
    return out;
}

}  // namespace enclave::appliance
