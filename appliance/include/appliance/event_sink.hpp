// SPDX-License-Identifier: Apache-2.0
#pragma once
// Protective monitoring: the closed catalogue of typed events
// (ARCHITECTURE section 8; every event and field is in docs/monitoring.md,
// and MonitoringFieldsTest in tests/appliance/monitoring_test.cpp checks that the two
// agree).
//
// Each event type is a struct with its name, its severity and its fields,
// visited by name. Field types come only from monitoring_fields.hpp (Name,
// Fingerprint, Address, Uid, Count, Account, bool and the reason enums
// below): the serialisers are overloaded for those and nothing else, so a
// field that could carry free text or a secret does not compile. That is the
// per-type allow-list: the fields an event type has are the fields it may
// carry.
//
// Sinks (monitoring.hpp) give every event a sequence number, so that a gap
// is visible downstream.
//
// Holds no secret.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "appliance/metrics.hpp"
#include "appliance/monitoring_fields.hpp"
#include "crypto/result.hpp"
#include "delivery/server_identity.hpp"

namespace enclave::appliance {

/// RFC 5424 severities used by events.
enum class Severity : std::uint8_t { critical = 2, error = 3, warning = 4, notice = 5, info = 6 };
std::string_view severity_name(Severity s) noexcept;

namespace events {
using monitoring::Account;
using monitoring::Address;
using monitoring::Count;
using monitoring::Fingerprint;
using monitoring::Name;
using monitoring::Number;
using monitoring::Uid;

// --- the daemon -----------------------------------------------------------
struct DaemonStarted {
    static constexpr std::string_view kName = "daemon_started";
    static constexpr Severity kSeverity = Severity::notice;
    Name instance;
    Name version;
    template <class F> void fields(F&& f) const { f("instance", instance); f("version", version); }
};
struct DaemonStopping {
    static constexpr std::string_view kName = "daemon_stopping";
    static constexpr Severity kSeverity = Severity::notice;
    Name reason;  ///< "SIGTERM", "SIGINT"
    template <class F> void fields(F&& f) const { f("reason", reason); }
};

// --- TLS and authentication -------------------------------------------------
struct TlsHandshakeFailed {
    static constexpr std::string_view kName = "tls_handshake_failed";
    static constexpr Severity kSeverity = Severity::warning;
    Name listener;
    HandshakeFailure reason;
    Address peer;  ///< "ip:port"
    Fingerprint certificate;  ///< SHA-256 of the certificate the peer presented, if any
    template <class F> void fields(F&& f) const {
        f("listener", listener); f("reason", reason); f("peer", peer);
        f("certificate", certificate);
    }
};
struct AdminAccessDenied {
    static constexpr std::string_view kName = "admin_access_denied";
    static constexpr Severity kSeverity = Severity::warning;
    Account account;
    Name method;  ///< only for a registered route, else ""
    Name route;   ///< the registered path template, never the raw request target
    template <class F> void fields(F&& f) const {
        f("account", account); f("method", method); f("route", route);
    }
};
/// An admin caller holding at least one role opened a session (its first
/// request on a connection): the login of the admin API.
struct AdminLogin {
    static constexpr std::string_view kName = "admin_login";
    static constexpr Severity kSeverity = Severity::info;
    Name listener;  ///< "admin" (Unix socket) or "admin-tls"
    Account account;
    Name roles;  ///< "security-officer+auditor"
    template <class F> void fields(F&& f) const {
        f("listener", listener); f("account", account); f("roles", roles);
    }
};
/// Repeated failed authentication locked a source (auth_guard.hpp).
struct AuthLockout {
    static constexpr std::string_view kName = "auth_lockout";
    static constexpr Severity kSeverity = Severity::warning;
    Name listener;
    Account account;  ///< an address on a TLS listener, a uid or certificate on admin
    Count seconds;    ///< how long it is refused
    template <class F> void fields(F&& f) const {
        f("listener", listener); f("account", account); f("seconds", seconds);
    }
};
struct ConnectionLimitReached {
    static constexpr std::string_view kName = "connection_limit_reached";
    static constexpr Severity kSeverity = Severity::warning;
    Name listener;
    template <class F> void fields(F&& f) const { f("listener", listener); }
};
struct TlsReloaded {
    static constexpr std::string_view kName = "tls_reloaded";
    static constexpr Severity kSeverity = Severity::notice;
    Name listener;
    bool ok = false;
    template <class F> void fields(F&& f) const { f("listener", listener); f("ok", ok); }
};
/// A LEA endpoint's server certificate (chain, host name, pin) or PSK was
/// refused: on entering that state, then at most once per 15 minutes per
/// endpoint while it lasts (LeaIdentityMonitor).
struct LeaEndpointTlsFailed {
    static constexpr std::string_view kName = "lea_endpoint_tls_failed";
    static constexpr Severity kSeverity = Severity::error;
    Name endpoint;
    delivery::ServerIdentityFailure reason;
    Count refused;  ///< connections refused since the last such event
    template <class F> void fields(F&& f) const {
        f("endpoint", endpoint); f("reason", reason); f("refused", refused);
    }
};
/// The endpoint's server identity is accepted again after a reported failure.
struct LeaEndpointTlsRecovered {
    static constexpr std::string_view kName = "lea_endpoint_tls_recovered";
    static constexpr Severity kSeverity = Severity::notice;
    Name endpoint;
    template <class F> void fields(F&& f) const { f("endpoint", endpoint); }
};

// --- accounts and privileges (AccountWatch, monitoring.hpp) ----------------
/// An admin account (uid or certificate) acted for the first time.
struct AccountCreated {
    static constexpr std::string_view kName = "account_created";
    static constexpr Severity kSeverity = Severity::notice;
    Account account;
    Name roles;
    template <class F> void fields(F&& f) const { f("account", account); f("roles", roles); }
};
struct PrivilegeGranted {
    static constexpr std::string_view kName = "privilege_granted";
    static constexpr Severity kSeverity = Severity::notice;
    Account account;
    Name role;
    template <class F> void fields(F&& f) const { f("account", account); f("role", role); }
};
struct PrivilegeRevoked {
    static constexpr std::string_view kName = "privilege_revoked";
    static constexpr Severity kSeverity = Severity::notice;
    Account account;
    Name role;
    template <class F> void fields(F&& f) const { f("account", account); f("role", role); }
};
/// Account behaviour: an admin act outside the configured working hours.
struct AccessOutsideHours {
    static constexpr std::string_view kName = "access_outside_hours";
    static constexpr Severity kSeverity = Severity::warning;
    Account account;
    Name route;
    template <class F> void fields(F&& f) const { f("account", account); f("route", route); }
};
/// Account behaviour: more reveals or re-verifications by one account in an
/// hour than configured.
struct UnusualVolume {
    static constexpr std::string_view kName = "unusual_volume";
    static constexpr Severity kSeverity = Severity::warning;
    Account account;
    Name action;  ///< "reveal", "reverify"
    Count count;  ///< acts in the last hour
    template <class F> void fields(F&& f) const {
        f("account", account); f("action", action); f("count", count);
    }
};

// --- sensitive stores, tasks, keys -----------------------------------------
/// Who read or changed which record of a sensitive store; never the value.
struct SensitiveAccess {
    static constexpr std::string_view kName = "sensitive_access";
    static constexpr Severity kSeverity = Severity::info;
    Account account;
    Name store;   ///< "tasks", "blobs", "audit", "archive", "psks", "endpoints"
    Name action;  ///< "create", "close", "reveal", "reverify", "read", "export", "delete", ...
    Fingerprint record;  ///< the record's random id (task id, blob id, object id digest)
    template <class F> void fields(F&& f) const {
        f("account", account); f("store", store); f("action", action); f("record", record);
    }
};
/// A key, certificate, PSK or endpoint changed (created, rotated, revoked,
/// imported, retired, removed).
struct CredentialChanged {
    static constexpr std::string_view kName = "credential_changed";
    static constexpr Severity kSeverity = Severity::notice;
    Account account;
    Name kind;    ///< "psk", "endpoint", "certificate", "key"
    Name action;  ///< "create", "import", "rotate", "revoke", "remove", "retire"
    Name subject; ///< the endpoint name or key label
    Fingerprint fingerprint;  ///< PSK fingerprint prefix, certificate SHA-256; "" if none
    template <class F> void fields(F&& f) const {
        f("account", account); f("kind", kind); f("action", action); f("subject", subject);
        f("fingerprint", fingerprint);
    }
};

/// Two-person control (docs/security-officer-guide.md): a guarded act was
/// proposed, approved (and so run), rejected, or its proposal expired.
struct TwoPersonControl {
    static constexpr std::string_view kName = "two_person_control";
    static constexpr Severity kSeverity = Severity::notice;
    Account account;       ///< who proposed, approved or rejected ("daemon" for an expiry)
    Name action;           ///< "propose", "approve", "reject", "expire"
    Name route;            ///< the guarded route
    Fingerprint proposal;  ///< the proposal's random id
    template <class F> void fields(F&& f) const {
        f("account", account); f("action", action); f("route", route); f("proposal", proposal);
    }
};

// --- the token --------------------------------------------------------------
struct TokenLoginFailed {
    static constexpr std::string_view kName = "token_login_failed";
    static constexpr Severity kSeverity = Severity::error;
    Name token;
    crypto::Errc code;  ///< hsm_pin_incorrect, hsm_pin_locked, ...
    template <class F> void fields(F&& f) const { f("token", token); f("error", code); }
};
/// The token stopped answering while the daemon ran (readiness drops).
struct TokenUnavailable {
    static constexpr std::string_view kName = "token_unavailable";
    static constexpr Severity kSeverity = Severity::critical;
    Name token;
    crypto::Errc code;
    template <class F> void fields(F&& f) const { f("token", token); f("error", code); }
};
/// The token answers again and the daemon logged in again (readiness back).
struct TokenRecovered {
    static constexpr std::string_view kName = "token_recovered";
    static constexpr Severity kSeverity = Severity::notice;
    Name token;
    template <class F> void fields(F&& f) const { f("token", token); }
};
/// A certificate in use expires within 30, 7 or 1 days (once per
/// certificate and threshold; an expired one reports a negative days_left).
/// Severity warning, error at the 1-day threshold.
struct CertificateExpiring {
    static constexpr std::string_view kName = "certificate_expiring";
    static constexpr Severity kSeverity = Severity::warning;
    Name used_by;          ///< "lea", "ingest", "admin-tls", "lea-client"
    Name label;            ///< its token key's label
    Fingerprint sha256;    ///< the certificate's fingerprint (public)
    Number days_left;
    Count threshold_days;  ///< 30, 7 or 1
    template <class F> void fields(F&& f) const {
        f("used_by", used_by); f("label", label); f("sha256", sha256); f("days_left", days_left);
        f("threshold_days", threshold_days);
    }
};
/// An officer changed the appliance's certificates or keys.
struct CertificateChanged {
    static constexpr std::string_view kName = "certificate_changed";
    static constexpr Severity kSeverity = Severity::notice;
    Name action;    ///< "key_created", "imported", "switched", "retired"
    Name label;     ///< the token key's label
    Name listener;  ///< the listener concerned, "" when none
    template <class F> void fields(F&& f) const {
        f("action", action); f("label", label); f("listener", listener);
    }
};

// --- integrity and the monitoring pipeline itself ---------------------------
/// Stored data failed authentication or an integrity check.
struct IntegrityFailure {
    static constexpr std::string_view kName = "integrity_failure";
    static constexpr Severity kSeverity = Severity::critical;
    Name store;  ///< "blobs", "outbox", "audit", ...
    Fingerprint record;
    template <class F> void fields(F&& f) const { f("store", store); f("record", record); }
};
/// A monitoring sink stopped accepting events; they queue durably meanwhile.
struct SinkFailed {
    static constexpr std::string_view kName = "sink_failed";
    static constexpr Severity kSeverity = Severity::error;
    Name sink;    ///< "file", "syslog", "stdout"
    Name reason;  ///< "connect", "tls", "write", "rotate"
    template <class F> void fields(F&& f) const { f("sink", sink); f("reason", reason); }
};
struct SinkRecovered {
    static constexpr std::string_view kName = "sink_recovered";
    static constexpr Severity kSeverity = Severity::notice;
    Name sink;
    Count pending;  ///< events queued for it when it came back
    template <class F> void fields(F&& f) const { f("sink", sink); f("pending", pending); }
};
/// Events a sink will never get: they were dropped from the queue when it
/// passed monitoring.queue_max_bytes. Sequence numbers first..last.
struct EventsLost {
    static constexpr std::string_view kName = "events_lost";
    static constexpr Severity kSeverity = Severity::critical;
    Name sink;  ///< the sink that missed them
    Count count;
    Count first_seq;
    Count last_seq;
    template <class F> void fields(F&& f) const {
        f("sink", sink); f("count", count); f("first_seq", first_seq); f("last_seq", last_seq);
    }
};

}  // namespace events

using Event =
    std::variant<events::DaemonStarted, events::DaemonStopping, events::TlsHandshakeFailed,
                 events::AdminAccessDenied, events::AdminLogin, events::AuthLockout,
                 events::ConnectionLimitReached, events::TlsReloaded,
                 events::LeaEndpointTlsFailed, events::LeaEndpointTlsRecovered,
                 events::AccountCreated, events::PrivilegeGranted, events::PrivilegeRevoked,
                 events::AccessOutsideHours, events::UnusualVolume, events::SensitiveAccess,
                 events::CredentialChanged, events::TwoPersonControl, events::TokenLoginFailed, events::TokenUnavailable,
                 events::TokenRecovered, events::CertificateExpiring, events::CertificateChanged,
                 events::IntegrityFailure, events::SinkFailed, events::SinkRecovered,
                 events::EventsLost>;

/// "daemon_started", "tls_handshake_failed", ...
std::string_view event_name(const Event& event) noexcept;
Severity event_severity(const Event& event) noexcept;

/// An admin request of a caller holding at least one role, answered with
/// anything but 403/429: what account behaviour monitoring watches.
struct AdminAct {
    monitoring::Account account;
    std::uint8_t role_bits = 0;  ///< RoleSet bits (http_types.hpp)
    monitoring::Name roles;      ///< "security-officer+auditor"
    monitoring::Name route;      ///< the registered path
};

class EventSink {
public:
    virtual ~EventSink() = default;
    /// Must be thread-safe and must not throw; called from I/O threads.
    virtual void emit(const Event& event) noexcept = 0;
    /// Account behaviour monitoring (monitoring.hpp); the default ignores it.
    virtual void admin_act(const AdminAct& /*act*/) noexcept {}
};

/// Writes each event as one log line, component "event":
/// "warning event: tls_handshake_failed listener=lea reason=no_client_certificate
/// peer=127.0.0.1:40000". Empty fields are left out of the line.
class LogEventSink final : public EventSink {
public:
    void emit(const Event& event) noexcept override;
};

/// "key=value ..." text of an event's fields (as LogEventSink prints it).
std::string describe_event(const Event& event);

/// The event's fields as a JSON object text ({"listener":"lea",...}); every
/// field is present (empty ones as "").
std::string event_fields_json(const Event& event);

/// The names of every event type and of each one's fields, in catalogue
/// order (the catalogue test compares it with docs/monitoring.md).
struct EventTypeInfo {
    std::string_view name;
    Severity severity;
    std::vector<std::string_view> fields;
};
std::vector<EventTypeInfo> event_catalogue();

}  // namespace enclave::appliance
