// SPDX-License-Identifier: Apache-2.0
#pragma once
// Counters and gauges of the daemon, rendered in the Prometheus text
// exposition format (version 0.0.4) for GET /metrics on the admin API.
//
// Names (labels in braces):
//   enclave_connections_active{listener}             gauge
//   enclave_http_requests_in_progress{listener}      gauge (a request has started
//                                                    arriving and its response is
//                                                    not written yet)
//   enclave_connections_total{listener}              counter (accepted, not refused)
//   enclave_connections_refused_total{listener,reason="limit"}  counter
//   enclave_tls_handshakes_total{listener}           counter (completed handshakes)
//   enclave_tls_handshake_failures_total{listener,reason}       counter
//   enclave_http_requests_total{listener,status}     counter (responses sent)
//   enclave_tls_reloads_total{result="ok"|"failed"}  counter (SIGHUP)
//   enclave_hsm_sessions_open, enclave_hsm_sessions_in_use,
//   enclave_hsm_sessions_peak_in_use                 gauges (the PKCS#11 session pool)
//   enclave_hsm_session_leases_total                 counter
//   enclave_uptime_seconds, enclave_ready            gauges
//   enclave_token_available                          gauge (TokenSupervisor)
// Label values are fixed names chosen by the daemon (listener names, reason
// names, status codes), never input from a peer. Holds no secret.
// Thread-safe: every counter is an atomic; listeners are registered before the
// daemon starts serving (add_listener is not safe against concurrent render).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hsm/session_pool.hpp"

namespace enclave::appliance {

/// Why a TLS handshake failed, mapped from OpenSSL's reason codes.
enum class HandshakeFailure : std::uint8_t {
    no_client_certificate,      ///< the client sent no certificate (mutual TLS required)
    certificate_verify_failed,  ///< its chain does not verify against the trust anchors / CRL
    protocol_version,           ///< TLS 1.1 or older, or SSLv3
    no_shared_cipher,           ///< no RFC 9325 suite in common
    no_shared_signature_algorithm,
    not_tls,  ///< plain HTTP or garbage on a TLS port
    timeout,  ///< handshake_timeout elapsed
    closed,   ///< the peer closed or reset the connection mid-handshake
    other,
};
inline constexpr std::size_t kHandshakeFailureKinds = 9;
std::string_view handshake_failure_name(HandshakeFailure f) noexcept;

class ListenerMetrics {
public:
    ListenerMetrics(std::string name, bool tls);
    ListenerMetrics(const ListenerMetrics&) = delete;
    ListenerMetrics& operator=(const ListenerMetrics&) = delete;

    void connection_opened() noexcept;
    void connection_closed() noexcept;
    void connection_refused() noexcept;
    void handshake_succeeded() noexcept;
    void handshake_failed(HandshakeFailure reason) noexcept;
    /// Counts one response; statuses outside 100..599 count as 500.
    void request_served(unsigned status) noexcept;
    void request_started() noexcept;
    void request_finished() noexcept;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] bool tls() const noexcept { return tls_; }
    [[nodiscard]] std::uint64_t active() const noexcept;
    [[nodiscard]] std::uint64_t total() const noexcept;
    [[nodiscard]] std::uint64_t refused() const noexcept;
    [[nodiscard]] std::uint64_t handshakes() const noexcept;
    [[nodiscard]] std::uint64_t handshake_failures(HandshakeFailure reason) const noexcept;
    [[nodiscard]] std::uint64_t requests(unsigned status) const noexcept;
    [[nodiscard]] std::uint64_t requests_in_progress() const noexcept;

private:
    friend class Metrics;
    std::string name_;
    bool tls_;
    std::atomic<std::int64_t> active_{0};
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> handshakes_{0};
    std::atomic<std::int64_t> in_progress_{0};
    std::array<std::atomic<std::uint64_t>, kHandshakeFailureKinds> failures_{};
    std::array<std::atomic<std::uint64_t>, 500> by_status_{};  // index status - 100
};

class Metrics {
public:
    Metrics();

    /// Registers a listener (before serving starts). The reference stays valid
    /// for the Metrics' lifetime. A duplicate name is a logic_error.
    ListenerMetrics& add_listener(std::string name, bool tls);
    /// nullptr when no listener has that name.
    [[nodiscard]] ListenerMetrics* listener(std::string_view name) noexcept;

    void set_ready(bool ready) noexcept;
    /// Serving (set_ready) and the token available (set_token_available).
    [[nodiscard]] bool ready() const noexcept;
    /// The token supervisor's verdict; true until it says otherwise.
    void set_token_available(bool available) noexcept;
    [[nodiscard]] bool token_available() const noexcept;
    void tls_reload(bool ok) noexcept;
    /// Pool statistics for the enclave_hsm_* gauges (optional).
    void set_pool_stats_source(std::function<hsm::PoolStats()> source);
    /// More exposition text (whole families) appended to render(), e.g. the
    /// certificates' expiry gauges (optional; set before serving).
    void set_extra_source(std::function<std::string()> source);

    /// The exposition text (Content-Type: text/plain; version=0.0.4).
    [[nodiscard]] std::string render() const;

private:
    std::vector<std::unique_ptr<ListenerMetrics>> listeners_;
    std::atomic<bool> ready_{false};
    std::atomic<bool> token_available_{true};
    std::atomic<std::uint64_t> reloads_ok_{0};
    std::atomic<std::uint64_t> reloads_failed_{0};
    std::function<hsm::PoolStats()> pool_stats_;
    std::function<std::string()> extra_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace enclave::appliance
