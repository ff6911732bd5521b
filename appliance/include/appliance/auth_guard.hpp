// SPDX-License-Identifier: Apache-2.0
#pragma once
// AuthGuard: failed authentication is rate-limited, and repeated failures
// lock the one who failed for a while (issue #7, docs/operations.md
// "Authentication failures and lockout").
//
// A key names who failed, in the daemon's own words: "address 192.0.2.7"
// for a TLS handshake that failed authentication (no verified identity
// exists then), "uid 1001" for a caller of the admin socket, "certificate
// <sha256>" for a verified client certificate on the admin TLS port.
// `max_failures` failures of one key within `window` lock it for `lockout`
// from the last of them; while it is locked, more failures do not extend
// the lockout (an attacker cannot keep a victim's address locked for ever
// by failing once a minute past the limit: only the first lock and each
// later fresh run of max_failures lock it). A success clears the key's
// failures (not a lock in force).
//
// Memory is bounded: at most `max_keys` keys are tracked; when full, keys
// that are neither locked nor recently failing go first, then the unlocked
// key quiet the longest, and a lock in force only when every key is locked
// (a spray of failures from many sources cannot push a lock out).
//
// Holds no secret (keys are addresses, uids and certificate hashes).
// Thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace enclave::appliance {

struct AuthGuardOptions {
    std::uint32_t max_failures = 20;  ///< 0 = never lock
    std::chrono::seconds window{60};
    std::chrono::seconds lockout{300};
    std::size_t max_keys = 4096;
};

class AuthGuard {
public:
    using Clock = std::chrono::steady_clock;

    explicit AuthGuard(AuthGuardOptions options) noexcept : o_(options) {}

    /// Whether `key` is locked at `now`.
    [[nodiscard]] bool locked(const std::string& key, Clock::time_point now) const;
    /// Records one failure; true when this failure locked the key (the
    /// caller raises the event then, once per lock).
    bool failure(const std::string& key, Clock::time_point now);
    /// Clears the key's failure count (a lock in force stays).
    void success(const std::string& key);
    /// How long a lock lasts (for the event).
    [[nodiscard]] std::chrono::seconds lockout() const noexcept { return o_.lockout; }
    [[nodiscard]] std::size_t tracked() const;

private:
    struct State {
        std::uint32_t failures = 0;
        Clock::time_point first{};         ///< start of the current window
        Clock::time_point locked_until{};  ///< epoch = not locked
        Clock::time_point last{};          ///< last failure
    };
    void make_room_locked(Clock::time_point now);

    AuthGuardOptions o_;
    mutable std::mutex mu_;
    std::map<std::string, State, std::less<>> keys_;
};

}  // namespace enclave::appliance
