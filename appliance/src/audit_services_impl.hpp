// SPDX-License-Identifier: Apache-2.0
#pragma once
// AuditServices internals shared by its translation units (wiring, task
// routes, audit routes). Holds no secret itself (see audit_services.hpp).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "appliance/audit_services.hpp"
#include "appliance/http_types.hpp"
#include "audit/audit_log.hpp"
#include "audit/reverify.hpp"
#include "audit/signed_note.hpp"
#include "audit/task_store.hpp"
#include "hsm/signer.hpp"
#include "hsm/token_key_wrapper.hpp"

namespace enclave::appliance {

/// Forwards events and records the audit-worthy ones (see event_bridge()).
class AuditEventBridge final : public EventSink {
public:
    AuditEventBridge(audit::AuditSink& audit, EventSink& next) : audit_(audit), next_(next) {}
    void emit(const Event& event) noexcept override;
    void admin_act(const AdminAct& act) noexcept override { next_.admin_act(act); }

private:
    audit::AuditSink& audit_;
    EventSink& next_;
};

struct AuditServices::Impl {
    Config config;
    std::shared_ptr<hsm::SessionPool> pool;
    std::unique_ptr<hsm::TokenKeyWrapper> kek;
    std::unique_ptr<hsm::Signer> signer;
    std::unique_ptr<audit::NoteVerifierKey> verifier_key;
    std::unique_ptr<audit::AuditLog> audit_log;
    std::unique_ptr<audit::TaskStore> tasks;
    std::unique_ptr<audit::ReverifyService> reverify;
    std::unique_ptr<AuditEventBridge> bridge;
    AuditServices::SubjectLookup endpoint_subjects;  ///< endpoints not in the config file
    std::function<void()> on_task_closed;            ///< after a close (operator or expiry)

    std::mutex mu;
    std::condition_variable wake;
    bool stopping = false;
    bool stopped = false;
    std::thread maintenance;

    void run_maintenance();
    void maintain_once();
};

namespace detail {

/// The audit Actor of a verified caller (audit/task_actor.hpp shapes).
audit::Actor actor_of(const Peer& peer);

/// True when `e` is a full file system: SQLITE_FULL from a database, or
/// ENOSPC ("No space left on device") from a file write.
bool is_disk_full(const crypto::Error& e);

/// An error as an HTTP answer: the status for its Errc, the Errc's name and
/// its context. `expose` false hides the context of server-side failures
/// (5xx) from the caller (the LEA listener); they are logged instead. A full
/// disk (is_disk_full) is 507 insufficient_storage with Retry-After: nothing
/// was stored, the same request may succeed once space returns.
Response error_response(const crypto::Error& e, bool expose = true);

/// JSON body, 200 (or `status`).
Response json_response(const nlohmann::json& body, unsigned status = 200);

void add_task_routes(AuditServices::Impl& s, Router& admin);
void add_audit_routes(AuditServices::Impl& s, Router& admin);
void add_lea_routes(AuditServices::Impl& s, Router& lea);

}  // namespace detail
}  // namespace enclave::appliance
