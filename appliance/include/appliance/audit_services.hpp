// SPDX-License-Identifier: Apache-2.0
#pragma once
// AuditServices: the daemon's tasks, re-verification and audit log, wired
// together and served (issue #4; docs/tasks.md, docs/audit-log.md,
// docs/auditor-guide.md).
//
//   DIR/state/audit.db   the audit log (SQLCipher, key wrapped by the KEK)
//   DIR/state/tasks.db   tasks and their records (SQLCipher, same)
//   token "kek"          wraps both database keys and every per-task key
//   token "audit-signing" Ed25519: signs every checkpoint (C2SP signed note)
//
// A maintenance thread closes tasks whose end time has passed (every
// tasks.expiry_check_interval_s), ends re-verification reviews whose window
// has passed, and lets the log make its time-driven checkpoints.
//
// Endpoints (admin routes on the Unix socket and the admin mTLS port; LEA
// routes on listeners.lea) are listed in docs/operations.md. Who may call
// what:
//   tasks: create, close            security-officer, operator
//   tasks: list, show               any role
//   tasks: reveal                   security-officer (audited)
//   audit: reverify, review         auditor (a review only by its requester)
//   audit: log, proofs, export      auditor, security-officer
//   LEA:   reverify, review         the LEA of the task's endpoint
//                                   (config endpoints.<name>.client_subjects)
//
// Holds no secret itself: per-task keys, values and salts live in the task
// store and the re-verification service (Secrets), database keys inside
// SealedDb, the signing key on the token.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/server.hpp"
#include "audit/audit_sink.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::audit {
class AuditLog;
class TaskStore;
}

namespace enclave::appliance {

class AuditServices {
public:
    /// Opens the KEK and the audit key on the token, the audit log (verified
    /// on open) and the task store (completing interrupted purges), and
    /// records "daemon.started" with the token it logged in to. Errors name
    /// the part that failed.
    static crypto::Result<std::unique_ptr<AuditServices>> open(
        const Config& config, std::shared_ptr<hsm::SessionPool> pool);
    /// stop(), then closes the store and the log.
    ~AuditServices();
    AuditServices(const AuditServices&) = delete;
    AuditServices& operator=(const AuditServices&) = delete;

    /// Adds the task, audit and LEA endpoints. The services must outlive the
    /// routers' use (the Server).
    void add_routes(Routers& routers);
    /// Starts the maintenance thread.
    void start();
    /// Stops it (joins); records "daemon.stopping". Idempotent.
    void stop();

    /// An EventSink that passes every event to `next` and records the
    /// certificate events (SIGHUP reloads: "certificates.reloaded" with the
    /// listener and whether it worked) in the audit log. Lives as long as
    /// the services.
    [[nodiscard]] EventSink& event_bridge(EventSink& next);

    /// For the delivery services (same daemon, same token): the KEK that
    /// wraps every database key, the audit log, and the task store.
    [[nodiscard]] crypto::KeyWrapper& kek() noexcept;
    [[nodiscard]] audit::AuditSink& audit_sink() noexcept;
    [[nodiscard]] audit::TaskStore& tasks() noexcept;
    /// The log itself (for reading entries: the archive copies closed-task
    /// records and delivery receipts into long-term evidence).
    [[nodiscard]] audit::AuditLog& audit_log() noexcept;

    /// The LEA client subjects of an endpoint that is not in the config file
    /// (the endpoint store's), for LEA re-verification. Set before start().
    using SubjectLookup = std::function<std::vector<std::string>(const std::string& endpoint)>;
    void set_endpoint_subjects(SubjectLookup lookup);
    /// Called (on the closing thread) after a task closes by operator
    /// request or at its end time. Set before start().
    void set_on_task_closed(std::function<void()> hook);

    struct Impl;

private:
    explicit AuditServices(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
