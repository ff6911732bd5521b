// SPDX-License-Identifier: Apache-2.0
// AuditServices: opening the KEK, the audit key, the audit log and the task
// store; the maintenance thread; shared HTTP helpers.
#include <chrono>
#include <filesystem>
#include <system_error>

#include "appliance/admin_api.hpp"
#include "appliance/log.hpp"
#include "audit/task_actor.hpp"
#include "audit_services_impl.hpp"
#include "monitoring_audit.hpp"
#include "hsm/object.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::Result;
using nlohmann::json;

namespace {

constexpr const char* kKekLabel = "kek";
constexpr const char* kAuditKeyLabel = "audit-signing";

Result<std::filesystem::path> state_dir(const Config& config) {
    const auto dir = config.data_dir / "state";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return crypto::fail(Errc::io_error, "creating " + dir.string() + ": " + ec.message());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    return dir;
}

Result<void> open_keys(AuditServices::Impl& s) {
    auto kek = hsm::TokenKeyWrapper::open(
        s.pool, hsm::KeyQuery::by_label(kKekLabel, hsm::ObjectType::secret_key));
    if (!kek) return tl::unexpected(kek.error().wrap("the KEK (token label 'kek')"));
    s.kek = std::move(*kek);
    auto signer = hsm::Signer::open(
        s.pool, hsm::KeyQuery::by_label(kAuditKeyLabel, hsm::ObjectType::private_key));
    if (!signer) {
        return tl::unexpected(signer.error().wrap("the audit key (token label 'audit-signing')"));
    }
    s.signer = std::make_unique<hsm::Signer>(std::move(*signer));
    auto key = audit::note_verifier_key(*s.signer, s.config.audit_origin());
    if (!key) return tl::unexpected(key.error().wrap("the audit key's public half"));
    s.verifier_key = std::make_unique<audit::NoteVerifierKey>(std::move(*key));
    return {};
}

Result<void> open_stores(AuditServices::Impl& s, const std::filesystem::path& dir) {
    audit::AuditLogOptions o;
    o.origin = s.config.audit_origin();
    o.checkpoint_every = s.config.audit.checkpoint_every;
    o.checkpoint_interval = s.config.audit.checkpoint_interval;
    o.signer = [&s](std::string_view body) {
        return audit::sign_note(body, *s.verifier_key, *s.signer);
    };
    auto log = audit::AuditLog::open(dir / "audit.db", *s.kek, std::move(o));
    if (!log) return tl::unexpected(log.error().wrap("audit log " + (dir / "audit.db").string()));
    s.audit_log = std::move(*log);
    auto tasks = audit::TaskStore::open(dir / "tasks.db", *s.kek, *s.audit_log);
    if (!tasks) {
        return tl::unexpected(tasks.error().wrap("task store " + (dir / "tasks.db").string()));
    }
    s.tasks = std::move(*tasks);
    audit::ReverifyOptions ro;
    ro.review_window = s.config.audit.review_window;
    s.reverify = std::make_unique<audit::ReverifyService>(*s.tasks, *s.audit_log, audit::system_now, ro);
    return {};
}

}  // namespace

AuditServices::AuditServices(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

crypto::KeyWrapper& AuditServices::kek() noexcept { return *impl_->kek; }
audit::AuditSink& AuditServices::audit_sink() noexcept { return *impl_->audit_log; }
audit::TaskStore& AuditServices::tasks() noexcept { return *impl_->tasks; }
audit::AuditLog& AuditServices::audit_log() noexcept { return *impl_->audit_log; }
void AuditServices::set_on_task_closed(std::function<void()> hook) {
    impl_->on_task_closed = std::move(hook);
}

void AuditServices::set_endpoint_subjects(SubjectLookup lookup) {
    impl_->endpoint_subjects = std::move(lookup);
}

AuditServices::~AuditServices() {
    stop();
    // The reverify service and the store refer to the log: they go first.
    impl_->reverify.reset();
    impl_->tasks.reset();
    if (impl_->audit_log) impl_->audit_log->close();
}

Result<std::unique_ptr<AuditServices>> AuditServices::open(const Config& config,
                                                           std::shared_ptr<hsm::SessionPool> pool) {
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->pool = std::move(pool);
    auto dir = state_dir(config);
    if (!dir) return tl::unexpected(dir.error());
    if (auto ok = open_keys(*impl); !ok) return tl::unexpected(ok.error());
    if (auto ok = open_stores(*impl, *dir); !ok) return tl::unexpected(ok.error());
    const hsm::TokenInfo& token = impl->pool->token();
    auto started = impl->audit_log->append(json{{"event", "daemon.started"},
                                          {"instance", config.instance_name},
                                          {"version", std::string(kEnclaveVersion)},
                                          {"token", {{"label", token.label},
                                                     {"serial", token.serial}}},
                                          {"audit_key", impl->verifier_key->to_string()}});
    if (!started) return tl::unexpected(started.error().wrap("recording daemon.started"));
    log(LogLevel::info, "audit",
        "audit log " + impl->audit_log->origin() + " open: " + std::to_string(impl->audit_log->size()) +
            " entries, key " + impl->verifier_key->label());
    return std::unique_ptr<AuditServices>(new AuditServices(std::move(impl)));
}

void AuditServices::add_routes(Routers& routers) {
    detail::add_task_routes(*impl_, routers.admin);
    detail::add_audit_routes(*impl_, routers.admin);
    detail::add_lea_routes(*impl_, routers.lea);
}

void AuditServices::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->maintenance.joinable() || impl_->stopped) return;
    impl_->maintenance = std::thread([s = impl_.get()] { s->run_maintenance(); });
}

void AuditServices::stop() {
    {
        std::lock_guard lock(impl_->mu);
        if (impl_->stopped) return;
        impl_->stopping = true;
        impl_->stopped = true;
    }
    impl_->wake.notify_all();
    if (impl_->maintenance.joinable()) impl_->maintenance.join();
    if (impl_->audit_log) {
        if (auto r = impl_->audit_log->append(json{{"event", "daemon.stopping"}}); !r) {
            log(LogLevel::error, "audit", "recording daemon.stopping: " + r.error().message());
        }
        if (auto c = impl_->audit_log->checkpoint(); !c) {
            log(LogLevel::error, "audit", "final checkpoint: " + c.error().message());
        }
    }
}

EventSink& AuditServices::event_bridge(EventSink& next) {
    impl_->bridge = std::make_unique<AuditEventBridge>(*impl_->audit_log, next);
    // Audited acts that are also monitoring events (monitoring_audit.hpp).
    impl_->audit_log->set_observer([&next](const json& entry, std::uint64_t) {
        if (auto event = monitoring_event_of(entry)) next.emit(*event);
    });
    return *impl_->bridge;
}

void AuditEventBridge::emit(const Event& event) noexcept {
    next_.emit(event);
    const auto* reloaded = std::get_if<events::TlsReloaded>(&event);
    if (reloaded == nullptr) return;
    try {
        auto r = audit_.append(json{{"event", "certificates.reloaded"},
                                    {"listener", reloaded->listener.str()},
                                    {"ok", reloaded->ok}});
        if (!r) log(LogLevel::error, "audit", "recording certificates.reloaded: " + r.error().message());
    } catch (...) {
        log(LogLevel::error, "audit", "recording certificates.reloaded failed");
    }
}

void AuditServices::Impl::run_maintenance() {
    std::unique_lock lock(mu);
    while (!stopping) {
        lock.unlock();
        maintain_once();
        lock.lock();
        wake.wait_for(lock, config.tasks.expiry_check_interval, [this] { return stopping; });
    }
}

void AuditServices::Impl::maintain_once() {
    const audit::UtcTime now = audit::system_now();
    const audit::ExpiryReport report = tasks->close_expired(now);
    // References stay out of the operational log (they identify an
    // interception); the audit log has them.
    if (!report.closed.empty()) {
        if (on_task_closed) on_task_closed();
        log(LogLevel::info, "tasks",
            "closed " + std::to_string(report.closed.size()) +
                " task(s) at their end time (see the audit log)");
    }
    for (const auto& [what, error] : report.failed) {
        log(LogLevel::error, "tasks", "closing an ended task failed: " + error.message());
    }
    if (auto r = reverify->expire(now); !r) {
        log(LogLevel::error, "audit", "ending re-verification reviews: " + r.error().message());
    }
    if (auto e = audit_log->last_checkpoint_error()) {
        log(LogLevel::error, "audit", "automatic checkpoint failed: " + e->message());
    }
}

namespace detail {

audit::Actor actor_of(const Peer& peer) {
    if (peer.transport == Peer::Transport::unix_socket) {
        json roles = json::array();
        for (auto name : peer.roles.names()) roles.push_back(std::string(name));
        return json{{"kind", "local"}, {"uid", peer.uid}, {"roles", roles}};
    }
    if (!peer.psk_identity.empty()) {
        return json{{"kind", "psk"},
                    {"listener", peer.listener},
                    {"psk_identity", peer.psk_identity},
                    {"endpoint", peer.psk_endpoint}};
    }
    return json{{"kind", "certificate"},
                {"listener", peer.listener},
                {"subject", peer.cert_subject},
                {"sha256", peer.cert_sha256}};
}

bool is_disk_full(const crypto::Error& e) {
    const std::string& c = e.context();
    return (e.code() == Errc::db_error && c.find("SQLITE_FULL") != std::string::npos) ||
           (e.code() == Errc::io_error && c.find("No space left") != std::string::npos);
}

Response error_response(const crypto::Error& e, bool expose) {
    if (is_disk_full(e)) {
        log(LogLevel::error, "storage", "request refused, the disk is full: " + e.message());
        Response res = Response::error(507, "insufficient_storage",
                                       expose ? e.context() : "no space left to store the request");
        res.headers.push_back({"Retry-After", "30"});
        return res;
    }
    unsigned status = 500;
    switch (e.code()) {
        case Errc::not_found: status = 404; break;
        case Errc::already_exists:
        case Errc::invalid_state: status = 409; break;
        case Errc::permission_denied: status = 403; break;
        case Errc::expired: status = 410; break;
        case Errc::too_large: status = 413; break;
        case Errc::invalid_argument:
        case Errc::malformed_input:
        case Errc::unsupported_algorithm:
        case Errc::salt_too_short:
        case Errc::hash_mismatch: status = 400; break;
        case Errc::unavailable: status = 503; break;
        case Errc::resource_exhausted: status = 429; break;
        default: status = 500;
    }
    if (status == 429) {
        Response res = Response::error(status, crypto::errc_name(e.code()), e.context());
        res.headers.push_back({"Retry-After", "5"});
        return res;
    }
    if (status >= 500) {
        log(LogLevel::error, "audit", "request failed: " + e.message());
        if (!expose) return Response::error(status, "internal", "the request could not be completed");
    }
    return Response::error(status, crypto::errc_name(e.code()), e.context());
}

Response json_response(const json& body, unsigned status) {
    return Response::json(status, body.dump());
}

}  // namespace detail
}  // namespace enclave::appliance
