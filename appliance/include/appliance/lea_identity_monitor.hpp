// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeaIdentityMonitor: turns the server identity checks of one LEA endpoint's
// new connections (LeaClientOptions::on_identity_check, both lanes) into
// protective-monitoring events without flooding (docs/operations.md):
//
// - lea_endpoint_tls_failed on entering the failing state, then at most
//   once per `repeat` (15 minutes in the daemon) while it lasts, with the
//   latest reason and the number of connections refused since the last
//   event. Never more than one failure event per `repeat`, so an endpoint
//   that flaps (a bad node behind a balancer) gives at most two events per
//   `repeat`: a failure and a recovery.
// - lea_endpoint_tls_recovered on the first accepted check after a failure
//   that was reported.
//
// The delivery retries themselves are the outbox's (backoff); this only
// tells the operator. Thread-safe. Holds no secret: the endpoint name and a
// reason from a closed set.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "appliance/event_sink.hpp"
#include "delivery/server_identity.hpp"

namespace enclave::appliance {

class LeaIdentityMonitor {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::minutes kDefaultRepeat{15};

    /// `sink` may be null (no events: the counts are still kept).
    LeaIdentityMonitor(std::string endpoint, EventSink* sink,
                       Clock::duration repeat = kDefaultRepeat);

    /// One new connection's check: nullopt = the identity was accepted.
    void report(std::optional<delivery::ServerIdentityFailure> outcome) {
        report(outcome, Clock::now());
    }
    void report(std::optional<delivery::ServerIdentityFailure> outcome, Clock::time_point now);

    [[nodiscard]] bool failing() const;
    /// Connections refused since the endpoint's workers started.
    [[nodiscard]] std::uint64_t refused_total() const;

private:
    const std::string endpoint_;
    EventSink* const sink_;
    const Clock::duration repeat_;
    mutable std::mutex mu_;
    bool failing_ = false;
    bool reported_ = false;  ///< a failure event was emitted for the current failure
    std::optional<Clock::time_point> last_failure_event_;
    std::uint64_t refused_since_event_ = 0;
    std::uint64_t refused_total_ = 0;
};

}  // namespace enclave::appliance
