// SPDX-License-Identifier: Apache-2.0
#include "appliance/token_supervisor.hpp"

#include <algorithm>

#include "appliance/log.hpp"

namespace enclave::appliance {

using crypto::Errc;
using std::chrono::milliseconds;

TokenSupervisor::TokenSupervisor(std::shared_ptr<hsm::SessionPool> pool, EventSink& events,
                                 TokenSupervisorOptions options)
    : pool_(std::move(pool)), events_(events), options_(options) {}

TokenSupervisor::~TokenSupervisor() { stop(); }

void TokenSupervisor::start(OnChange on_change) {
    on_change_ = std::move(on_change);
    thread_ = std::thread([this] { run(); });
}

void TokenSupervisor::stop() noexcept {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void TokenSupervisor::run() noexcept {
    milliseconds wait = options_.probe_interval;
    std::unique_lock lk(mu_);
    while (!stop_) {
        if (cv_.wait_for(lk, wait, [this] { return stop_; })) break;
        lk.unlock();
        try {
            wait = available_ ? check() : retry();
        } catch (const std::exception& e) {
            log(LogLevel::error, "hsm", std::string("token supervisor: ") + e.what());
            wait = options_.max_retry;
        } catch (...) {
            wait = options_.max_retry;
        }
        lk.lock();
    }
}

void TokenSupervisor::set_available(bool available) {
    available_ = available;
    if (on_change_) on_change_(available);
}

milliseconds TokenSupervisor::check() {
    auto ok = pool_->probe();
    if (ok) return options_.probe_interval;
    const std::string& label = pool_->token().label;
    set_available(false);
    events_.emit(events::TokenUnavailable{label, ok.error().code()});
    log(LogLevel::error, "hsm",
        "token '" + label + "' is unavailable: " + ok.error().message() +
            "; not ready, ingest answers 503 and nothing that needs the token is done until "
            "it returns; recovering");
    backoff_ = options_.first_retry;
    last_failure_.clear();
    pin_reported_ = false;
    // Right away: recover() suspends the pool, so requests fail at once
    // instead of reaching a token that is gone.
    return retry();
}

milliseconds TokenSupervisor::retry() {
    const std::string& label = pool_->token().label;
    auto ok = pool_->recover(options_.drain_timeout);
    if (ok) {
        set_available(true);
        events_.emit(events::TokenRecovered{label});
        log(LogLevel::info, "hsm",
            "token '" + label + "' is back: logged in again, ready");
        return options_.probe_interval;
    }
    const Errc code = ok.error().code();
    if (code == Errc::hsm_pin_incorrect || code == Errc::hsm_pin_locked) {
        if (!pin_reported_) {
            pin_reported_ = true;
            events_.emit(events::TokenLoginFailed{label, code});
            log(LogLevel::error, "hsm",
                "token '" + label + "' is back but refused the PIN enclaved started with (was "
                "it changed?): " + ok.error().message() +
                    "; not trying it again: fix token.pin_source and restart enclaved");
        }
        return options_.max_retry;
    }
    const milliseconds wait = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.max_retry);
    if (ok.error().message() != last_failure_) {
        last_failure_ = ok.error().message();
        log(LogLevel::warning, "hsm",
            "token '" + label + "' still unavailable: " + last_failure_ +
                " (retrying with backoff up to " + std::to_string(options_.max_retry.count()) +
                " ms)");
    }
    return wait;
}

}  // namespace enclave::appliance
