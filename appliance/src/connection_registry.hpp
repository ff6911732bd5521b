// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: the live connections of one listener, so that shutdown can ask
// each to finish (drain) or close at once (abort). No Asio here: a
// Connection posts the request to its own strand.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace enclave::appliance::detail {

class Connection {
public:
    virtual ~Connection() = default;
    /// Finish the request in progress (if any), then close; an idle
    /// connection or one still in its handshake closes now. Thread-safe.
    virtual void drain() = 0;
    /// Close the socket now. Thread-safe.
    virtual void abort() = 0;
};

class ConnectionRegistry {
public:
    std::uint64_t add(std::weak_ptr<Connection> c) {
        std::lock_guard lock(mu_);
        const std::uint64_t id = next_++;
        map_.emplace(id, std::move(c));
        return id;
    }
    void remove(std::uint64_t id) noexcept {
        std::lock_guard lock(mu_);
        map_.erase(id);
    }
    /// Calls `fn` on every live connection, outside the lock.
    void for_each(const std::function<void(Connection&)>& fn) {
        std::vector<std::shared_ptr<Connection>> live;
        {
            std::lock_guard lock(mu_);
            live.reserve(map_.size());
            for (auto& [id, weak] : map_) {
                if (auto c = weak.lock()) live.push_back(std::move(c));
            }
        }
        for (auto& c : live) fn(*c);
    }

private:
    std::mutex mu_;
    std::uint64_t next_ = 1;
    std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> map_;
};

}  // namespace enclave::appliance::detail
