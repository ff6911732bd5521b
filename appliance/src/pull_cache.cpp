// SPDX-License-Identifier: Apache-2.0
#include "pull_cache.hpp"

#include <algorithm>

namespace enclave::appliance {

std::optional<PullCache::Entry> PullCache::find(const crypto::Bytes& token_hash,
                                                const std::string& client,
                                                std::chrono::steady_clock::time_point now,
                                                std::int64_t unix_now_s) const {
    if (client.empty()) return std::nullopt;
    std::lock_guard lock(mu_);
    const auto it = slots_.find(key_of(token_hash));
    if (it == slots_.end()) return std::nullopt;
    const Slot& slot = it->second;
    if (now - slot.made >= ttl_ || unix_now_s >= slot.entry.url.expires ||
        slot.client != client) {
        return std::nullopt;
    }
    return slot.entry;
}

void PullCache::put(const PullUrl& url, const std::string& client,
                    std::shared_ptr<const crypto::BlobReader> reader,
                    std::chrono::steady_clock::time_point now) {
    if (client.empty() || !reader || ttl_.count() <= 0 || capacity_ == 0) return;
    std::lock_guard lock(mu_);
    slots_.erase(key_of(url.token_hash));
    drop_stale_locked(now);
    slots_.emplace(key_of(url.token_hash), Slot{Entry{url, std::move(reader)}, client, now});
}

void PullCache::set_accessed(const crypto::Bytes& token_hash, std::int64_t when) {
    std::lock_guard lock(mu_);
    const auto it = slots_.find(key_of(token_hash));
    if (it != slots_.end() && it->second.entry.url.accessed == 0) {
        it->second.entry.url.accessed = when;
    }
}

void PullCache::drop_blob(const std::string& blob_id) {
    std::lock_guard lock(mu_);
    std::erase_if(slots_, [&](const auto& kv) { return kv.second.entry.url.blob_id == blob_id; });
}

void PullCache::clear() {
    std::lock_guard lock(mu_);
    slots_.clear();
}

std::size_t PullCache::size() const {
    std::lock_guard lock(mu_);
    return slots_.size();
}

void PullCache::drop_stale_locked(std::chrono::steady_clock::time_point now) {
    std::erase_if(slots_, [&](const auto& kv) { return now - kv.second.made >= ttl_; });
    while (slots_.size() >= capacity_) {
        const auto oldest = std::min_element(
            slots_.begin(), slots_.end(),
            [](const auto& a, const auto& b) { return a.second.made < b.second.made; });
        slots_.erase(oldest);
    }
}

std::string pull_client_key(const Peer& peer) {
    if (!peer.psk_identity.empty()) return "psk " + peer.psk_endpoint + " " + peer.psk_identity;
    if (!peer.cert_sha256.empty()) return "cert " + peer.cert_sha256;
    return {};
}

}  // namespace enclave::appliance
