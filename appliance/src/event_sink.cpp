// SPDX-License-Identifier: Apache-2.0
#include "appliance/event_sink.hpp"

#include "appliance/log.hpp"

namespace enclave::appliance {
namespace {

template <class... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

LogLevel level_of(const Event& event) noexcept {
    return std::visit(
        Overloaded{
            [](const events::DaemonStarted&) { return LogLevel::info; },
            [](const events::DaemonStopping&) { return LogLevel::info; },
            [](const events::TlsReloaded& e) { return e.ok ? LogLevel::info : LogLevel::error; },
            [](const events::LeaEndpointTlsFailed&) { return LogLevel::error; },
            [](const events::LeaEndpointTlsRecovered&) { return LogLevel::info; },
            [](const events::TokenUnavailable&) { return LogLevel::error; },
            [](const events::TokenRecovered&) { return LogLevel::info; },
            [](const events::CertificateExpiring& e) {
                return e.threshold_days <= 1 ? LogLevel::error : LogLevel::warning;
            },
            [](const events::CertificateChanged&) { return LogLevel::info; },
            [](const auto&) { return LogLevel::warning; },
        },
        event);
}

}  // namespace

std::string_view event_name(const Event& event) noexcept {
    return std::visit(
        Overloaded{
            [](const events::DaemonStarted&) { return "daemon_started"; },
            [](const events::DaemonStopping&) { return "daemon_stopping"; },
            [](const events::TlsHandshakeFailed&) { return "tls_handshake_failed"; },
            [](const events::AdminAccessDenied&) { return "admin_access_denied"; },
            [](const events::TokenLoginFailed&) { return "token_login_failed"; },
            [](const events::TlsReloaded&) { return "tls_reloaded"; },
            [](const events::ConnectionLimitReached&) { return "connection_limit_reached"; },
            [](const events::AuthLockout&) { return "auth_lockout"; },
            [](const events::LeaEndpointTlsFailed&) { return "lea_endpoint_tls_failed"; },
            [](const events::LeaEndpointTlsRecovered&) { return "lea_endpoint_tls_recovered"; },
            [](const events::TokenUnavailable&) { return "token_unavailable"; },
            [](const events::TokenRecovered&) { return "token_recovered"; },
            [](const events::CertificateExpiring&) { return "certificate_expiring"; },
            [](const events::CertificateChanged&) { return "certificate_changed"; },
        },
        event);
}

std::string describe_event(const Event& event) {
    return std::visit(
        Overloaded{
            [](const events::DaemonStarted& e) {
                return "instance=" + e.instance + " version=" + e.version;
            },
            [](const events::DaemonStopping& e) { return "reason=" + e.reason; },
            [](const events::TlsHandshakeFailed& e) {
                return "listener=" + e.listener +
                       " reason=" + std::string(handshake_failure_name(e.reason)) +
                       " peer=" + e.peer_address;
            },
            [](const events::AdminAccessDenied& e) {
                std::string s = "uid=" + std::to_string(e.uid);
                if (!e.route.empty()) s += " route=" + e.method + ' ' + e.route;
                return s;
            },
            [](const events::TokenLoginFailed& e) {
                return "token=" + e.token_label +
                       " error=" + std::string(crypto::errc_name(e.code));
            },
            [](const events::TlsReloaded& e) {
                return "listener=" + e.listener + " result=" + (e.ok ? "ok" : "failed");
            },
            [](const events::ConnectionLimitReached& e) { return "listener=" + e.listener; },
            [](const events::AuthLockout& e) {
                return "listener=" + e.listener + " source=" + e.source +
                       " seconds=" + std::to_string(e.seconds);
            },
            [](const events::LeaEndpointTlsFailed& e) {
                return "endpoint=" + e.endpoint + " reason=" +
                       std::string(delivery::server_identity_failure_name(e.reason)) +
                       " refused=" + std::to_string(e.refused);
            },
            [](const events::LeaEndpointTlsRecovered& e) { return "endpoint=" + e.endpoint; },
            [](const events::TokenUnavailable& e) {
                return "token=" + e.token_label +
                       " error=" + std::string(crypto::errc_name(e.code));
            },
            [](const events::TokenRecovered& e) { return "token=" + e.token_label; },
            [](const events::CertificateExpiring& e) {
                return "used_by=" + e.used_by + " label=" + e.label + " sha256=" + e.sha256 +
                       " days_left=" + std::to_string(e.days_left) +
                       " threshold_days=" + std::to_string(e.threshold_days);
            },
            [](const events::CertificateChanged& e) {
                std::string s = "action=" + e.action + " label=" + e.label;
                if (!e.listener.empty()) s += " listener=" + e.listener;
                return s;
            },
        },
        event);
}

void LogEventSink::emit(const Event& event) noexcept {
    try {
        std::string line(event_name(event));
        line += ' ';
        line += describe_event(event);
        log(level_of(event), "event", line);
    } catch (...) {
        // bad_alloc: the event is lost, the daemon goes on.
    }
}

}  // namespace enclave::appliance
