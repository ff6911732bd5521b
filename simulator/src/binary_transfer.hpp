// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: one Model A/C transfer of one binary into an open file (see
// simulator/binary_fetcher.hpp for the rules). BinaryFetcher owns the queue,
// the clients, the files and the records; this is the protocol.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "crypto/result.hpp"
#include "delivery/lea_client.hpp"
#include "simulator/delivery_inspector.hpp"

namespace enclave::simulator::detail {

struct TransferSettings {
    std::uint64_t range_bytes = 0;
    unsigned max_attempts = 5;
    std::chrono::milliseconds backoff{200};
    std::chrono::milliseconds max_backoff{5'000};
    std::uint64_t max_object_bytes = 0;
};

struct TransferControl {
    /// Waits (the backoff); false when the fetcher is stopping.
    std::function<bool(std::chrono::milliseconds)> sleep;
    std::function<bool()> stopping;
};

struct TransferOutcome {
    std::uint64_t size = 0;
    std::string sha256;  ///< "" unless the transfer completed
    std::optional<crypto::Error> error;
    unsigned attempts = 0;
    unsigned ranges = 0;
};

/// Fetches `object.url` with `client` into `fd` (an empty file open for
/// writing; it may be truncated and rewritten), then checks size and SHA-256.
TransferOutcome run_transfer(delivery::LeaClient& client, const BinaryObjectFacts& object, int fd,
                             const TransferSettings& settings, const TransferControl& control);

/// Whether `text` is 64 hex digits (either case).
bool is_sha256_hex(std::string_view text) noexcept;

}  // namespace enclave::simulator::detail
