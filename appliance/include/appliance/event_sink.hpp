// SPDX-License-Identifier: Apache-2.0
#pragma once
// The seam for protective monitoring (ARCHITECTURE section 8).
//
// The daemon reports security-relevant facts as typed events from a closed
// set; each event type has fixed fields chosen so that none can carry a
// secret or free text from a peer (listener names and reasons are the
// daemon's own words; addresses and uids are facts of the connection).
// For now the only sink is LogEventSink, which writes one log line per event.
// TODO(#7): JSON-lines and RFC 5424/5425 syslog sinks, the per-type field
// allow-list, and the audit-log sink plug in here.
//
// Holds no secret.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <variant>

#include "appliance/metrics.hpp"
#include "crypto/result.hpp"
#include "delivery/server_identity.hpp"

namespace enclave::appliance::events {

struct DaemonStarted {
    std::string instance;
    std::string version;
};
struct DaemonStopping {
    std::string reason;  ///< "SIGTERM", "SIGINT"
};
struct TlsHandshakeFailed {
    std::string listener;
    HandshakeFailure reason;
    std::string peer_address;  ///< "ip:port"
};
struct AdminAccessDenied {
    uid_t uid;
    std::string method;  ///< only for a registered route, else ""
    std::string route;   ///< the registered path, never the raw request target
};
struct TokenLoginFailed {
    std::string token_label;
    crypto::Errc code;  ///< hsm_pin_incorrect, hsm_pin_locked, ...
};
struct TlsReloaded {
    std::string listener;
    bool ok;
};
struct ConnectionLimitReached {
    std::string listener;
};
/// Repeated failed authentication locked a source (auth_guard.hpp).
struct AuthLockout {
    std::string listener;
    std::string source;  ///< "address 192.0.2.7", "uid 1001", "certificate <sha256>"
    std::int64_t seconds;  ///< how long it is refused
};
/// A LEA endpoint's server certificate (chain, host name, pin) or PSK was
/// refused: on entering that state, then at most once per 15 minutes per
/// endpoint while it lasts (LeaIdentityMonitor).
struct LeaEndpointTlsFailed {
    std::string endpoint;  ///< the configured endpoint name
    delivery::ServerIdentityFailure reason;
    std::uint64_t refused;  ///< connections refused since the last such event
};
/// The endpoint's server identity is accepted again after a reported failure.
struct LeaEndpointTlsRecovered {
    std::string endpoint;
};
/// The token stopped answering while the daemon ran (readiness drops).
struct TokenUnavailable {
    std::string token_label;
    crypto::Errc code;  ///< unavailable, hsm_error, ...
};
/// The token answers again and the daemon logged in again (readiness back).
struct TokenRecovered {
    std::string token_label;
};
/// A certificate in use expires within 30, 7 or 1 days (once per
/// certificate and threshold; an expired one reports a negative days_left).
struct CertificateExpiring {
    std::string used_by;  ///< "lea", "ingest", "admin-tls", "lea-client"
    std::string label;    ///< its token key's label
    std::string sha256;   ///< the certificate's fingerprint (public)
    std::int64_t days_left;
    int threshold_days;   ///< 30, 7 or 1
};
/// An officer changed the appliance's certificates or keys.
struct CertificateChanged {
    std::string action;    ///< "key_created", "imported", "switched", "retired"
    std::string label;     ///< the token key's label
    std::string listener;  ///< the listener concerned, "" when none
};

}  // namespace enclave::appliance::events

namespace enclave::appliance {

using Event =
    std::variant<events::DaemonStarted, events::DaemonStopping, events::TlsHandshakeFailed,
                 events::AdminAccessDenied, events::TokenLoginFailed, events::TlsReloaded,
                 events::ConnectionLimitReached, events::AuthLockout,
                 events::LeaEndpointTlsFailed, events::LeaEndpointTlsRecovered,
                 events::TokenUnavailable, events::TokenRecovered,
                 events::CertificateExpiring, events::CertificateChanged>;

/// "daemon_started", "tls_handshake_failed", ...
std::string_view event_name(const Event& event) noexcept;

class EventSink {
public:
    virtual ~EventSink() = default;
    /// Must be thread-safe and must not throw; called from I/O threads.
    virtual void emit(const Event& event) noexcept = 0;
};

/// Writes each event as one log line, component "event":
/// "warning event: tls_handshake_failed listener=lea reason=no_client_certificate
/// peer=127.0.0.1:40000".
class LogEventSink final : public EventSink {
public:
    void emit(const Event& event) noexcept override;
};

/// "key=value ..." text of an event's fields (as LogEventSink prints it).
std::string describe_event(const Event& event);

}  // namespace enclave::appliance
