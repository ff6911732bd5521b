// SPDX-License-Identifier: Apache-2.0
#include "appliance/daemon.hpp"

#include <csignal>
#include <exception>
#include <map>
#include <mutex>
#include <optional>

#include "appliance/admin_api.hpp"
#include "appliance/admin_server.hpp"
#include "appliance/archive_services.hpp"
#include "appliance/audit_services.hpp"
#include "appliance/cert_services.hpp"
#include "appliance/delivery_services.hpp"
#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/monitoring.hpp"
#include "appliance/monitoring_syslog.hpp"
#include "appliance/log.hpp"
#include "appliance/process_hardening.hpp"
#include "appliance/server.hpp"
#include "appliance/token_supervisor.hpp"
#include "appliance/two_person.hpp"
#include "token_login.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/tls_context.hpp"
#include "hsm/tls_psk.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;

/// A start-up step failed: the exit code and what to log.
struct Failure {
    ExitCode code;
    std::string component;
    std::string message;
};

template <class T>
using Step = tl::expected<T, Failure>;

tl::unexpected<Failure> failure(ExitCode code, std::string component, std::string message) {
    return tl::unexpected<Failure>(Failure{code, std::move(component), std::move(message)});
}

hsm::TlsEndpoint endpoint_of(const Config& cfg, const TlsConfig& tls) {
    hsm::TlsEndpoint e;
    e.certificate = cfg.resolve(tls.certificate);
    e.private_key = tls.private_key;
    e.trust_anchors = cfg.resolve(tls.trust_anchors);
    e.crl = tls.crl.empty() ? std::filesystem::path() : cfg.resolve(tls.crl);
    e.min_version = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    return e;
}

/// Forwards PSK lookups to the delivery services' resolver once bound;
/// knows no identity before (and after unbinding).
class DeferredPskResolver final : public hsm::ServerPskResolver {
public:
    void bind(std::shared_ptr<hsm::ServerPskResolver> target) {
        std::lock_guard lock(mu_);
        target_ = std::move(target);
    }
    std::optional<hsm::ServerPsk> find(std::string_view identity) override {
        std::shared_ptr<hsm::ServerPskResolver> t;
        {
            std::lock_guard lock(mu_);
            t = target_;
        }
        return t ? t->find(identity) : std::nullopt;
    }

private:
    std::mutex mu_;
    std::shared_ptr<hsm::ServerPskResolver> target_;
};

Step<std::map<std::string, hsm::SslCtxPtr>> build_contexts(const Config& cfg,
                                                           const TlsContextFactory& factory) {
    std::map<std::string, hsm::SslCtxPtr> contexts;
    for (const auto& spec : tcp_listeners(cfg)) {
        auto ctx = factory(spec.name, spec.config->tls);
        if (!ctx) {
            return failure(ExitCode::tls, spec.name,
                           "TLS set-up failed (certificate " +
                               cfg.resolve(spec.config->tls.certificate).string() +
                               "): " + ctx.error().message());
        }
        contexts.emplace(spec.name, std::move(*ctx));
    }
    return contexts;
}

/// While the token is unavailable the ingest listener takes nothing new:
/// the appliance cannot deliver, sign or prove its identity, and a collector
/// keeps its material and retries (Retry-After) rather than have it sit here.
Router::Gate ingest_gate(const TokenSupervisor& supervisor) {
    return [&supervisor]() -> std::optional<Response> {
        if (supervisor.available()) return std::nullopt;
        Response r = Response::error(503, "token_unavailable",
                                     "the appliance's token is unavailable; retry later");
        r.headers.push_back({"Retry-After", "5"});
        return r;
    };
}

Step<Config> load(const DaemonOptions& options) {
    std::error_code ec;
    const auto data_dir = std::filesystem::absolute(options.data_dir, ec);
    const auto file = options.config_file.empty()
                          ? data_dir / "enclave.toml"
                          : std::filesystem::absolute(options.config_file, ec);
    auto cfg = load_config(file, data_dir);
    // load_config's errors name the file and the key.
    if (!cfg) return failure(ExitCode::config, "config", cfg.error().context());
    LogLevel level = LogLevel::info;
    if (parse_log_level(cfg->log.level, level)) set_log_level(level);
    return std::move(*cfg);
}

/// The instance's folders are private and key memory can be locked
/// (process_hardening.hpp). DIR/state may not exist yet: AuditServices
/// creates it 0700.
Step<void> check_private(const Config& cfg) {
    // Search-only for a group (0710) is allowed: docs/operations.md, admin socket.
    if (auto ok = check_private_dir(cfg.data_dir, 0066, "data directory"); !ok) {
        return failure(ExitCode::unsafe, "daemon", ok.error().context());
    }
    const auto state = cfg.data_dir / "state";
    std::error_code ec;
    if (std::filesystem::symlink_status(state, ec).type() != std::filesystem::file_type::not_found) {
        if (auto ok = check_private_dir(state, 0077, "state directory"); !ok) {
            return failure(ExitCode::unsafe, "daemon", ok.error().context());
        }
    }
    if (auto ok = ensure_memory_lockable(); !ok) {
        return failure(ExitCode::unsafe, "daemon", ok.error().context());
    }
    return {};
}

/// Events from before the monitoring hub opened: logged at once, and held
/// (at most 1000) for the hub. Used from the starting thread only.
class StartupEvents final : public EventSink {
public:
    explicit StartupEvents(EventSink& log) : log_(log) {}
    void emit(const Event& event) noexcept override {
        log_.emit(event);
        try {
            if (held_.size() < 1000) held_.push_back(event);
        } catch (...) {
            // bad_alloc: it was logged.
        }
    }
    void replay_into(MonitoringHub& hub) {
        for (const Event& e : held_) hub.replay(e);
        held_.clear();
    }

private:
    EventSink& log_;
    std::vector<Event> held_;
};

/// The monitoring hub with its file and stdout sinks (docs/monitoring.md);
/// the syslog sink needs the token and comes later.
Step<std::unique_ptr<MonitoringHub>> open_monitoring(const Config& cfg, EventSink& log_events) {
    auto hub = MonitoringHub::open(cfg, &log_events);
    if (!hub) return failure(ExitCode::store, "monitoring", hub.error().message());
    const MonitoringConfig& m = cfg.monitoring;
    if (m.file_enabled) {
        (*hub)->add_sink(make_file_sink(cfg.resolve(m.file_path), m.file_max_bytes, m.file_keep));
    }
    if (m.stdout_enabled) (*hub)->add_sink(make_stdout_sink());
    return std::move(*hub);
}

/// Adds the syslog sink when enabled. When it borrows the outbound LEA
/// client identity (`lea_client`: chain file and key with a cert import's
/// binding applied), the returned switch follows later imports; else empty.
Step<SyslogIdentitySwitch> add_syslog_sink(const Config& cfg, MonitoringHub& hub,
                                           std::shared_ptr<hsm::PrivateKeyResolver> keys,
                                           const std::pair<std::filesystem::path, std::string>& lea_client) {
    const MonitoringConfig& m = cfg.monitoring;
    if (!m.syslog_enabled) return SyslogIdentitySwitch{};
    SyslogSinkOptions o;
    o.host = m.syslog_host;
    o.port = m.syslog_port;
    o.server_name = m.syslog_server_name;
    o.trust_anchors = cfg.resolve(m.syslog_trust_anchors);
    if (!m.syslog_crl.empty()) o.crl = cfg.resolve(m.syslog_crl);
    const bool own = !m.syslog_certificate.empty();
    o.certificate = own ? cfg.resolve(m.syslog_certificate) : lea_client.first;
    o.private_key = own ? m.syslog_private_key : lea_client.second;
    o.facility = m.syslog_facility;
    o.app_name = m.syslog_app_name;
    o.instance = cfg.instance_name;
    auto parts = make_syslog_sink(std::move(o), std::move(keys));
    if (!parts) return failure(ExitCode::config, "monitoring", parts.error().context());
    hub.add_sink(std::move(parts->sink));
    if (own) return SyslogIdentitySwitch{};
    return std::move(parts->switch_identity);
}

/// A store that fails authentication at start is also a monitoring event
/// (the daemon then exits 10: docs/operations.md).
void report_integrity(EventSink& events, const crypto::Error& error, std::string_view store) {
    if (error.code() == crypto::Errc::integrity_failure || error.code() == crypto::Errc::db_wrong_key) {
        events.emit(events::IntegrityFailure{store, {}});
    }
}

Step<int> start(const DaemonOptions& options, EventSink& log_events) {
    auto cfg = load(options);
    if (!cfg) return tl::unexpected(cfg.error());
    log(LogLevel::info, "daemon",
        "enclaved " + std::string(kEnclaveVersion) + " starting: instance '" + cfg->instance_name +
            "', data directory " + cfg->data_dir.string());
    if (auto ok = check_private(*cfg); !ok) return tl::unexpected(ok.error());
    if (auto free = check_admin_socket_free(cfg->resolve(cfg->admin.socket)); !free) {
        return failure(ExitCode::bind, "admin", free.error().context());
    }
    // Until the token opened, events are logged and held: a start that
    // fails there leaves the instance folder untouched (the queue is only
    // created once the daemon can run).
    StartupEvents early(log_events);
    auto pool = open_token_session(*cfg, &early);
    if (!pool) return failure(pool.error().code, pool.error().component, pool.error().message);
    auto hub = open_monitoring(*cfg, log_events);
    if (!hub) return tl::unexpected(hub.error());
    MonitoringHub& events = **hub;
    early.replay_into(events);

    std::shared_ptr<hsm::PrivateKeyResolver> resolver = hsm::make_key_resolver(*pool, false);
    // The LEA listener also takes endpoints' TLS PSKs; the store opens with
    // the delivery services below, the contexts are built before them.
    auto lea_psks = std::make_shared<DeferredPskResolver>();
    TlsContextFactory raw = [resolver, lea_psks, c = *cfg](
                                const std::string& listener,
                                const TlsConfig& tls) -> crypto::Result<hsm::SslCtxPtr> {
        auto ctx = hsm::make_server_context(endpoint_of(c, tls), *resolver);
        if (ctx && listener == "lea") {
            if (auto ok = hsm::enable_server_psk(ctx->get(), lea_psks); !ok) {
                return tl::unexpected(ok.error());
            }
        }
        return ctx;
    };
    // A listener switched to another token key (cert import) uses it from
    // start-up on and across SIGHUP: the factory applies the binding.
    auto certs = CertServices::open(*cfg, *pool, raw);
    if (!certs) return failure(ExitCode::store, "certs", certs.error().message());
    CertServices& csvc = **certs;
    // The outbound identity with a cert import's binding applied: delivery
    // and (when it borrows it) the syslog sink present it.
    const auto lea_client = csvc.lea_client_identity();
    auto syslog_switch = add_syslog_sink(*cfg, events, resolver, lea_client);
    if (!syslog_switch) return tl::unexpected(syslog_switch.error());
    events.start();
    TlsContextFactory factory = [raw, &csvc](const std::string& listener, const TlsConfig& tls) {
        return raw(listener, csvc.effective(listener, tls));
    };
    auto contexts = build_contexts(*cfg, factory);
    if (!contexts) return tl::unexpected(contexts.error());

    auto services = AuditServices::open(*cfg, *pool);
    if (!services) {
        report_integrity(events, services.error(), "audit");
        return failure(ExitCode::store, "audit", services.error().message());
    }
    AuditServices& svc = **services;
    EventSink& sink = svc.event_bridge(events);
    auto delivery = DeliveryServices::open(*cfg, svc, *pool, &sink);
    if (!delivery) {
        report_integrity(events, delivery.error(), "delivery");
        return failure(ExitCode::store, "delivery", delivery.error().message());
    }
    DeliveryServices& dsvc = **delivery;
    if (auto ok = dsvc.switch_client_identity(lea_client.first, lea_client.second); !ok) {
        return failure(ExitCode::config, "lea_client", ok.error().message());
    }
    lea_psks->bind(dsvc.lea_psk_resolver());
    csvc.attach(svc.audit_sink(), sink);
    auto archive = ArchiveServices::open(*cfg, svc, *pool, dsvc);
    if (!archive) return failure(ExitCode::store, "archive", archive.error().message());
    ArchiveServices* asvc = archive->get();  // null when archive.enabled is false

    // Watches the token while serving (readiness, ingest gate, recovery).
    TokenSupervisor supervisor(*pool, sink);
    // Two-person control wraps routes the services registered: installed last.
    const TwoPersonConfig two_person = cfg->admin.two_person;
    std::optional<crypto::Error> guard_error;
    ServerSetup setup{std::move(*cfg), *pool, std::move(factory), &sink, 0,
                      [&svc, &dsvc, asvc, &csvc, &supervisor, &two_person,
                       &guard_error](Routers& routers) {
                          svc.add_routes(routers);
                          csvc.add_routes(routers);
                          dsvc.add_routes(routers);
                          if (asvc != nullptr) asvc->add_routes(routers);
                          routers.ingest.set_gate(ingest_gate(supervisor));
                          if (auto ok = install_two_person(routers.admin, two_person,
                                                           svc.audit_sink());
                              !ok) {
                              guard_error = ok.error();
                          }
                      }};
    auto server = Server::create(std::move(setup), std::move(*contexts));
    if (guard_error) return failure(ExitCode::config, "config", guard_error->context());
    if (!server) return failure(ExitCode::bind, "server", server.error().message());
    svc.start();
    dsvc.start();
    if (asvc != nullptr) asvc->start();
    Server& srv = **server;
    csvc.set_context_swap([&srv](const std::string& listener, hsm::SslCtxPtr ctx) {
        return srv.replace_context(listener, std::move(ctx));
    });
    csvc.set_client_switch([&dsvc, syslog = *syslog_switch](const std::filesystem::path& chain,
                                                            const std::string& key) -> crypto::Result<void> {
        auto switched = dsvc.switch_client_identity(chain, key);
        if (!switched) return tl::unexpected(switched.error());
        log(LogLevel::info, "lea-client",
            std::to_string(*switched) + " running endpoint(s) present the new certificate");
        if (syslog) {
            if (auto ok = syslog(chain, key); !ok) return tl::unexpected(ok.error());
        }
        return {};
    });
    srv.metrics().set_extra_source([&csvc] { return csvc.metrics_text(); });
    csvc.start();
    supervisor.start([&srv](bool available) { srv.metrics().set_token_available(available); });
    const int rc = srv.run();
    supervisor.stop();
    csvc.stop();
    csvc.set_context_swap(nullptr);
    csvc.set_client_switch(nullptr);
    // After the listeners stopped: no request is in flight any more.
    lea_psks->bind(nullptr);
    if (asvc != nullptr) asvc->stop();
    dsvc.stop();
    svc.stop();
    events.stop();
    return rc;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
    install_hsm_log_sink();
    // Peers that vanish must not kill the process; writes report EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    LogEventSink events;
    // First: nothing secret is in memory yet.
    if (auto ok = disable_core_dumps(); !ok) {
        log(LogLevel::error, "daemon", ok.error().context());
        return static_cast<int>(ExitCode::unsafe);
    }
    try {
        crypto::ensure_sodium();
        auto result = start(options, events);
        if (!result) {
            log(LogLevel::error, result.error().component, result.error().message);
            return static_cast<int>(result.error().code);
        }
        return *result;
    } catch (const std::exception& e) {
        log(LogLevel::error, "daemon", std::string("unexpected failure: ") + e.what());
    } catch (...) {
        log(LogLevel::error, "daemon", "unexpected failure");
    }
    return static_cast<int>(ExitCode::internal);
}

}  // namespace enclave::appliance
