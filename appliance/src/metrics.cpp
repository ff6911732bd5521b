// SPDX-License-Identifier: Apache-2.0
#include "appliance/metrics.hpp"

#include <stdexcept>

namespace enclave::appliance {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

constexpr std::array<HandshakeFailure, kHandshakeFailureKinds> kAllFailures = {
    HandshakeFailure::no_client_certificate,
    HandshakeFailure::certificate_verify_failed,
    HandshakeFailure::protocol_version,
    HandshakeFailure::no_shared_cipher,
    HandshakeFailure::no_shared_signature_algorithm,
    HandshakeFailure::not_tls,
    HandshakeFailure::timeout,
    HandshakeFailure::closed,
    HandshakeFailure::other,
};

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

// name{listener="x"[,extra]} value
void sample(std::string& out, std::string_view name, std::string_view listener,
            std::string_view extra, std::uint64_t value) {
    out += name;
    out += "{listener=\"";
    out += listener;
    out += '"';
    if (!extra.empty()) {
        out += ',';
        out += extra;
    }
    out += "} ";
    out += std::to_string(value);
    out += '\n';
}

void plain(std::string& out, std::string_view name, std::uint64_t value) {
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

}  // namespace

std::string_view handshake_failure_name(HandshakeFailure f) noexcept {
    switch (f) {
        case HandshakeFailure::no_client_certificate:
            return "no_client_certificate";
        case HandshakeFailure::certificate_verify_failed:
            return "certificate_verify_failed";
        case HandshakeFailure::protocol_version:
            return "protocol_version";
        case HandshakeFailure::no_shared_cipher:
            return "no_shared_cipher";
        case HandshakeFailure::no_shared_signature_algorithm:
            return "no_shared_signature_algorithm";
        case HandshakeFailure::not_tls:
            return "not_tls";
        case HandshakeFailure::timeout:
            return "timeout";
        case HandshakeFailure::closed:
            return "closed";
        case HandshakeFailure::other:
            return "other";
    }
    return "other";
}

ListenerMetrics::ListenerMetrics(std::string name, bool tls) : name_(std::move(name)), tls_(tls) {}

void ListenerMetrics::connection_opened() noexcept {
    active_.fetch_add(1, kRelaxed);
    total_.fetch_add(1, kRelaxed);
}
void ListenerMetrics::connection_closed() noexcept { active_.fetch_sub(1, kRelaxed); }
void ListenerMetrics::connection_refused() noexcept { refused_.fetch_add(1, kRelaxed); }
void ListenerMetrics::handshake_succeeded() noexcept { handshakes_.fetch_add(1, kRelaxed); }
void ListenerMetrics::handshake_failed(HandshakeFailure reason) noexcept {
    failures_[static_cast<std::size_t>(reason)].fetch_add(1, kRelaxed);
}
void ListenerMetrics::request_served(unsigned status) noexcept {
    if (status < 100 || status > 599) status = 500;
    by_status_[status - 100].fetch_add(1, kRelaxed);
}

void ListenerMetrics::request_started() noexcept { in_progress_.fetch_add(1, kRelaxed); }
void ListenerMetrics::request_finished() noexcept { in_progress_.fetch_sub(1, kRelaxed); }
std::uint64_t ListenerMetrics::requests_in_progress() const noexcept {
    const auto v = in_progress_.load(kRelaxed);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}

std::uint64_t ListenerMetrics::active() const noexcept {
    const auto v = active_.load(kRelaxed);
    return v < 0 ? 0 : static_cast<std::uint64_t>(v);
}
std::uint64_t ListenerMetrics::total() const noexcept { return total_.load(kRelaxed); }
std::uint64_t ListenerMetrics::refused() const noexcept { return refused_.load(kRelaxed); }
std::uint64_t ListenerMetrics::handshakes() const noexcept { return handshakes_.load(kRelaxed); }
std::uint64_t ListenerMetrics::handshake_failures(HandshakeFailure reason) const noexcept {
    return failures_[static_cast<std::size_t>(reason)].load(kRelaxed);
}
std::uint64_t ListenerMetrics::requests(unsigned status) const noexcept {
    if (status < 100 || status > 599) return 0;
    return by_status_[status - 100].load(kRelaxed);
}

Metrics::Metrics() : started_(std::chrono::steady_clock::now()) {}

ListenerMetrics& Metrics::add_listener(std::string name, bool tls) {
    if (listener(name) != nullptr) throw std::logic_error("Metrics: duplicate listener " + name);
    listeners_.push_back(std::make_unique<ListenerMetrics>(std::move(name), tls));
    return *listeners_.back();
}

ListenerMetrics* Metrics::listener(std::string_view name) noexcept {
    for (auto& l : listeners_) {
        if (l->name() == name) return l.get();
    }
    return nullptr;
}

void Metrics::set_ready(bool ready) noexcept { ready_.store(ready, std::memory_order_release); }
bool Metrics::ready() const noexcept {
    return ready_.load(std::memory_order_acquire) && token_available();
}
void Metrics::set_token_available(bool available) noexcept {
    token_available_.store(available, std::memory_order_release);
}
bool Metrics::token_available() const noexcept {
    return token_available_.load(std::memory_order_acquire);
}
void Metrics::tls_reload(bool ok) noexcept {
    (ok ? reloads_ok_ : reloads_failed_).fetch_add(1, kRelaxed);
}
void Metrics::set_pool_stats_source(std::function<hsm::PoolStats()> source) {
    pool_stats_ = std::move(source);
}

void Metrics::set_extra_source(std::function<std::string()> source) {
    extra_ = std::move(source);
}

std::string Metrics::render() const {
    std::string out;
    out.reserve(4096);
    family(out, "enclave_connections_active", "gauge", "Open connections.");
    for (const auto& l : listeners_)
        sample(out, "enclave_connections_active", l->name(), "", l->active());
    family(out, "enclave_http_requests_in_progress", "gauge",
           "Requests being received or answered.");
    for (const auto& l : listeners_) {
        sample(out, "enclave_http_requests_in_progress", l->name(), "", l->requests_in_progress());
    }
    family(out, "enclave_connections_total", "counter", "Accepted connections.");
    for (const auto& l : listeners_)
        sample(out, "enclave_connections_total", l->name(), "", l->total());
    family(out, "enclave_connections_refused_total", "counter",
           "Connections closed at accept because max_connections was reached.");
    for (const auto& l : listeners_) {
        sample(out, "enclave_connections_refused_total", l->name(), "reason=\"limit\"",
               l->refused());
    }
    family(out, "enclave_tls_handshakes_total", "counter", "Completed mutual-TLS handshakes.");
    for (const auto& l : listeners_) {
        if (l->tls()) sample(out, "enclave_tls_handshakes_total", l->name(), "", l->handshakes());
    }
    family(out, "enclave_tls_handshake_failures_total", "counter",
           "Failed TLS handshakes by reason.");
    for (const auto& l : listeners_) {
        if (!l->tls()) continue;
        for (const HandshakeFailure f : kAllFailures) {
            const std::string reason = "reason=\"" + std::string(handshake_failure_name(f)) + '"';
            sample(out, "enclave_tls_handshake_failures_total", l->name(), reason,
                   l->handshake_failures(f));
        }
    }
    family(out, "enclave_http_requests_total", "counter", "HTTP responses sent, by status.");
    for (const auto& l : listeners_) {
        for (unsigned s = 100; s < 600; ++s) {
            if (const auto n = l->requests(s); n != 0) {
                sample(out, "enclave_http_requests_total", l->name(),
                       "status=\"" + std::to_string(s) + '"', n);
            }
        }
    }
    family(out, "enclave_tls_reloads_total", "counter",
           "Certificate and trust anchor reloads (SIGHUP).");
    out += "enclave_tls_reloads_total{result=\"ok\"} " +
           std::to_string(reloads_ok_.load(kRelaxed)) + '\n';
    out += "enclave_tls_reloads_total{result=\"failed\"} " +
           std::to_string(reloads_failed_.load(kRelaxed)) + '\n';
    if (pool_stats_) {
        const hsm::PoolStats s = pool_stats_();
        family(out, "enclave_hsm_sessions_open", "gauge", "PKCS#11 worker sessions open.");
        plain(out, "enclave_hsm_sessions_open", s.open_sessions);
        family(out, "enclave_hsm_sessions_in_use", "gauge", "PKCS#11 sessions leased now.");
        plain(out, "enclave_hsm_sessions_in_use", s.in_use);
        family(out, "enclave_hsm_sessions_peak_in_use", "gauge",
               "Most PKCS#11 sessions leased at once.");
        plain(out, "enclave_hsm_sessions_peak_in_use", s.peak_in_use);
        family(out, "enclave_hsm_session_leases_total", "counter", "PKCS#11 session leases.");
        plain(out, "enclave_hsm_session_leases_total", s.leases);
    }
    const auto up = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started_);
    family(out, "enclave_uptime_seconds", "gauge", "Seconds since the daemon started.");
    plain(out, "enclave_uptime_seconds", static_cast<std::uint64_t>(up.count()));
    family(out, "enclave_token_available", "gauge",
           "1 while the token answers and the daemon is logged in.");
    plain(out, "enclave_token_available", token_available() ? 1 : 0);
    family(out, "enclave_ready", "gauge",
           "1 when the token is logged in and the listeners are bound.");
    plain(out, "enclave_ready", ready() ? 1 : 0);
    if (extra_) out += extra_();
    return out;
}

}  // namespace enclave::appliance
