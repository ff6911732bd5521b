// SPDX-License-Identifier: Apache-2.0
#include "appliance/lea_identity_monitor.hpp"

#include <utility>

namespace enclave::appliance {

LeaIdentityMonitor::LeaIdentityMonitor(std::string endpoint, EventSink* sink, Clock::duration repeat)
    : endpoint_(std::move(endpoint)), sink_(sink), repeat_(repeat) {}

void LeaIdentityMonitor::report(std::optional<delivery::ServerIdentityFailure> outcome,
                                Clock::time_point now) {
    // The event is emitted under the lock, so a failure and a recovery
    // reported by two lanes at once reach the sink in the order decided here.
    std::lock_guard lock(mu_);
    std::optional<Event> event;
    if (!outcome) {
        if (failing_ && reported_) event = events::LeaEndpointTlsRecovered{endpoint_};
        failing_ = false;
        reported_ = false;
    } else {
        failing_ = true;
        ++refused_since_event_;
        ++refused_total_;
        if (!last_failure_event_ || now - *last_failure_event_ >= repeat_) {
            event = events::LeaEndpointTlsFailed{endpoint_, *outcome, refused_since_event_};
            last_failure_event_ = now;
            refused_since_event_ = 0;
            reported_ = true;
        }
    }
    if (event && sink_ != nullptr) sink_->emit(*event);
}

bool LeaIdentityMonitor::failing() const {
    std::lock_guard lock(mu_);
    return failing_;
}

std::uint64_t LeaIdentityMonitor::refused_total() const {
    std::lock_guard lock(mu_);
    return refused_total_;
}

}  // namespace enclave::appliance
