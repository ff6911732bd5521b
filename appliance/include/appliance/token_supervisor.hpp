// SPDX-License-Identifier: Apache-2.0
#pragma once
// TokenSupervisor: watches the PKCS#11 token while enclaved runs, and brings
// the daemon back when a lost token returns, without a restart.
//
// One thread. Every probe_interval it asks the session pool whether the token
// still answers and our login still holds (hsm::SessionPool::probe). When it
// does not:
//   - available() turns false: readiness drops (/readyz 503, enclave_ready 0,
//     enclave_token_available 0) through the on_change callback, the ingest
//     listener answers 503 token_unavailable (the daemon's router gate), and a
//     token_unavailable event is emitted;
//   - the pool is recovered (hsm::SessionPool::recover: suspended at once so
//     no request waits on a dead token, sessions closed, module
//     re-initialised, token found again, logged in again with the PIN the
//     daemon started with), retried with exponential backoff from
//     first_retry up to max_retry;
//   - on success available() turns true again, readiness comes back and a
//     token_recovered event is emitted.
// A PIN that the token refuses on a re-login (it was changed on the token
// since start) is never tried again (lock-out protection): a
// token_login_failed event, an error naming the cure (restart with the new
// PIN), and the daemon stays not ready.
//
// Holds no secret (the pool holds the PIN). Never forks.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "appliance/event_sink.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::appliance {

struct TokenSupervisorOptions {
    std::chrono::milliseconds probe_interval{1000};  ///< while the token answers
    std::chrono::milliseconds first_retry{1000};     ///< first recovery retry after a failure
    std::chrono::milliseconds max_retry{8000};       ///< backoff cap
    std::chrono::milliseconds drain_timeout{5000};   ///< wait for leases before re-initialising
};

class TokenSupervisor {
public:
    /// Called from the supervisor thread on every change of available().
    using OnChange = std::function<void(bool available)>;

    TokenSupervisor(std::shared_ptr<hsm::SessionPool> pool, EventSink& events,
                    TokenSupervisorOptions options = {});
    ~TokenSupervisor();
    TokenSupervisor(const TokenSupervisor&) = delete;
    TokenSupervisor& operator=(const TokenSupervisor&) = delete;

    /// Starts the thread. Call once.
    void start(OnChange on_change);
    /// Stops and joins the thread (also done by the destructor).
    void stop() noexcept;

    /// False from the probe that found the token gone until it is recovered.
    /// Thread-safe.
    [[nodiscard]] bool available() const noexcept { return available_.load(); }

private:
    void run() noexcept;
    std::chrono::milliseconds check();
    std::chrono::milliseconds retry();
    void set_available(bool available);

    std::shared_ptr<hsm::SessionPool> pool_;
    EventSink& events_;
    TokenSupervisorOptions options_;
    OnChange on_change_;
    std::atomic<bool> available_{true};
    std::chrono::milliseconds backoff_{0};
    std::string last_failure_;    ///< logged once per distinct message
    bool pin_reported_ = false;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace enclave::appliance
