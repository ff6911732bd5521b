// SPDX-License-Identifier: Apache-2.0
#include "appliance/auth_guard.hpp"

#include <algorithm>

namespace enclave::appliance {

bool AuthGuard::locked(const std::string& key, Clock::time_point now) const {
    if (o_.max_failures == 0) return false;
    std::lock_guard lock(mu_);
    const auto it = keys_.find(key);
    return it != keys_.end() && now < it->second.locked_until;
}

bool AuthGuard::failure(const std::string& key, Clock::time_point now) {
    if (o_.max_failures == 0) return false;
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) {
        make_room_locked(now);
        it = keys_.emplace(key, State{}).first;
    }
    State& s = it->second;
    s.last = now;
    if (now < s.locked_until) return false;  // locked already: not extended
    if (s.failures == 0 || now - s.first >= o_.window) {
        s.failures = 0;
        s.first = now;
    }
    if (++s.failures < o_.max_failures) return false;
    s.failures = 0;
    s.locked_until = now + o_.lockout;
    return true;
}

void AuthGuard::success(const std::string& key) {
    std::lock_guard lock(mu_);
    const auto it = keys_.find(key);
    if (it != keys_.end()) it->second.failures = 0;
}

std::size_t AuthGuard::tracked() const {
    std::lock_guard lock(mu_);
    return keys_.size();
}

void AuthGuard::make_room_locked(Clock::time_point now) {
    if (keys_.size() < o_.max_keys) return;
    // Keys with nothing left to remember first.
    std::erase_if(keys_, [&](const auto& kv) {
        return now >= kv.second.locked_until && now - kv.second.last >= o_.window;
    });
    // Then the longest-quiet unlocked key; a lock in force goes last.
    while (keys_.size() >= o_.max_keys) {
        const auto victim = std::min_element(keys_.begin(), keys_.end(), [&](const auto& a, const auto& b) {
            const bool a_locked = now < a.second.locked_until;
            const bool b_locked = now < b.second.locked_until;
            if (a_locked != b_locked) return !a_locked;
            return a.second.last < b.second.last;
        });
        keys_.erase(victim);
    }
}

}  // namespace enclave::appliance
