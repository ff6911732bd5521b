// SPDX-License-Identifier: Apache-2.0
#pragma once
// PullCache: what a Model C client's next range request of the same URL
// needs, kept for a few seconds (docs/delivery.md, "Reader cache").
//
// A LEA fetching one binary in ranges sends many requests for one URL.
// Without the cache each one looks the URL up in the catalogue, reads the
// endpoint to authorise the client, unwraps the object's data key on the
// token and authenticates the object's header and final chunk: about 4 ms
// before the first byte of an 8 MiB range that takes about 14 ms to send.
// The cache keeps, per URL, the catalogue row, the client the full check
// authorised, and the open BlobReader, so a later request of the same URL
// by the same client goes straight to the bytes.
//
// What bounds it:
//   - an entry is used for `ttl` after the full check that made it, never
//     extended by use: a change the cache does not hear of (a client
//     certificate taken off an endpoint) takes effect within `ttl`;
//   - an entry is used only before the URL's own expiry and only by the very
//     client (certificate SHA-256, or PSK identity) the full check let in;
//     anyone else goes through the full check, so a refusal still looks like
//     an unknown URL and is still logged;
//   - the caller checks that the object still exists before it serves from
//     an entry, and drops entries when an endpoint is removed or a PSK
//     revoked: a crypto-erased binary is not served from a cached reader;
//   - at most `capacity` entries; expired ones are dropped on every insert,
//     the oldest when it is full.
//
// Holds: open BlobReaders, i.e. the data keys of recently fetched objects
// (each in a Secret inside its reader), for at most `ttl` after they were
// opened plus the time a response still streams from one. Holds no token:
// entries are keyed by the token's SHA-256. Thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crypto/blob_format.hpp"
#include "delivery_services_impl.hpp"

namespace enclave::appliance {

/// The daemon's cache: 5 s per entry, 256 URLs (docs/delivery.md).
inline constexpr std::chrono::milliseconds kPullCacheTtl{5000};
inline constexpr std::size_t kPullCacheEntries = 256;

class PullCache {
public:
    struct Entry {
        PullUrl url;
        std::shared_ptr<const crypto::BlobReader> reader;
    };

    PullCache(std::chrono::milliseconds ttl, std::size_t capacity) noexcept
        : ttl_(ttl), capacity_(capacity) {}

    /// The entry of the URL whose token hashes to `token_hash`, when one was
    /// made less than ttl ago, the URL has not expired at `now`, and it was
    /// made for `client`. A disabled cache (ttl 0 or capacity 0) finds nothing.
    std::optional<Entry> find(const crypto::Bytes& token_hash, const std::string& client,
                              std::chrono::steady_clock::time_point now,
                              std::int64_t unix_now_s) const;
    /// Remembers what the full check found for `client`, replacing an entry
    /// of the same URL. An empty `client` is not cached.
    void put(const PullUrl& url, const std::string& client,
             std::shared_ptr<const crypto::BlobReader> reader,
             std::chrono::steady_clock::time_point now);
    /// The URL's first access was recorded at `when` (Unix seconds).
    void set_accessed(const crypto::Bytes& token_hash, std::int64_t when);
    /// Drops the entries of one object (it was erased or found missing).
    void drop_blob(const std::string& blob_id);
    /// Drops every entry (an endpoint removed, a PSK revoked).
    void clear();
    [[nodiscard]] std::size_t size() const;

private:
    struct Slot {
        Entry entry;
        std::string client;
        std::chrono::steady_clock::time_point made;
    };
    using Key = std::string;  ///< the token hash's bytes

    static Key key_of(const crypto::Bytes& token_hash) {
        return Key(token_hash.begin(), token_hash.end());
    }
    void drop_stale_locked(std::chrono::steady_clock::time_point now);

    std::chrono::milliseconds ttl_;
    std::size_t capacity_;
    mutable std::mutex mu_;
    std::map<Key, Slot> slots_;
};

/// The cache's name for the peer a full check authorised: its certificate's
/// SHA-256 or its PSK identity; "" when it has neither (not cached).
std::string pull_client_key(const Peer& peer);

}  // namespace enclave::appliance
