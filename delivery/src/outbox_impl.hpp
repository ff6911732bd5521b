// SPDX-License-Identifier: Apache-2.0
#pragma once
// Outbox internals shared by outbox*.cpp. The database is the truth; the
// maps below are a cache of it, loaded by open() and changed only after the
// transaction that changes the database has committed.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "crypto/sealed_db.hpp"
#include "delivery/outbox.hpp"

namespace enclave::delivery {

namespace outbox_detail {

/// One (endpoint, reference).
struct RefState {
    std::int64_t id = 0;
    std::string endpoint;
    std::string reference;
    std::int64_t next_seq = 0;
    bool closing = false;       ///< close_reference() was called
    bool final_formed = false;  ///< its LastSequence delivery exists (or existed)
    bool finished = false;      ///< ... and was delivered
    std::int64_t pending = 0;         ///< items not in a delivery
    std::int64_t oldest_pending = 0;  ///< id of the oldest of them (0: none)
    std::string outstanding;          ///< formed delivery whose object is unacknowledged ("" none)
    std::int64_t open = 0;            ///< formed deliveries not yet delivered (object or binaries left)

    /// Needs a new delivery formed: pending items, or the closing marker
    /// (only once every earlier delivery is delivered, binaries included).
    [[nodiscard]] bool formable() const noexcept {
        return outstanding.empty() && !final_formed && (pending > 0 || (closing && open == 0));
    }
};

struct DeliveryState {
    std::string id;
    std::int64_t ref_id = 0;
    std::int64_t seq = 0;
    bool last = false;
    std::int64_t first_item = 0;  ///< items of ref_id with first_item <= id <= last_item
    std::int64_t last_item = -1;
    std::int64_t item_count = 0;
    std::int64_t bytes = 0;
    std::uint32_t attempts = 0;
    std::int64_t due_ms = 0;
    bool object_done = false;
    bool in_flight = false;  ///< object lane: handed out, not yet acknowledged or retried (memory only)
    struct Binary {
        PendingBinary binary;
        bool done = false;
        bool in_flight = false;  ///< binary lane: handed out (memory only)
    };
    std::vector<Binary> binaries;  ///< in item order, then submission order
    std::uint32_t bin_attempts = 0;
    std::int64_t bin_due_ms = 0;

    [[nodiscard]] bool binaries_left() const noexcept {
        for (const Binary& b : binaries) {
            if (!b.done) return true;
        }
        return false;
    }
    /// next_delivery() may hand it out: its object to send, or it is complete
    /// and to be finished.
    [[nodiscard]] bool object_lane_ready(std::int64_t now_ms) const noexcept {
        return !in_flight && due_ms <= now_ms && (!object_done || !binaries_left());
    }
    /// next_binary_job() may hand out one of its binaries.
    [[nodiscard]] const Binary* binary_ready(std::int64_t now_ms) const noexcept {
        if (!object_done || bin_due_ms > now_ms) return nullptr;
        for (const Binary& b : binaries) {
            if (!b.done && !b.in_flight) return &b;
        }
        return nullptr;
    }
};

/// A worker's acknowledgement not yet written: applied at the start of the
/// next transaction (an enqueue group, forming a delivery, or a flush when
/// there is nothing else to do). Losing one to a crash only makes the
/// delivery (same id) or the part go out again: at-least-once.
struct Deferred {
    enum class Kind { delivered, object_done, binary_done, retry, binary_retry };
    Deferred(Kind k, std::string id) : kind(k), delivery_id(std::move(id)) {}

    Kind kind;
    std::string delivery_id;
    std::int64_t ref_id = 0;
    std::int64_t first_item = 0;
    std::int64_t last_item = -1;
    bool last = false;
    std::string url;              ///< binary_done
    std::int64_t attempts = 0;    ///< retry
    std::int64_t due_ms = 0;      ///< retry
};

/// One waiting enqueue_batch() call.
struct Request {
    std::string_view endpoint;
    std::string_view reference;
    std::vector<EnqueueUnit>* units = nullptr;
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;
    std::optional<crypto::Result<std::vector<EnqueueResult>>> result;
    bool done = false;
};

std::int64_t to_ms(Outbox::TimePoint t) noexcept;
Outbox::TimePoint from_ms(std::int64_t ms) noexcept;
/// Uniform in [0, bound] from the CSPRNG.
std::uint64_t random_below_or_equal(std::uint64_t bound);

/// The binaries of items first..last of a reference, in item then submission order.
crypto::Result<std::vector<DeliveryBinary>> read_binaries(crypto::SealedDb& db, std::int64_t ref_id,
                                                          std::int64_t first, std::int64_t last);
/// Uniform in [0, min(max, initial * 2^(attempts-1))] after now_ms.
std::int64_t backoff_due(const OutboxOptions& o, std::uint32_t attempts, std::int64_t now_ms);

/// The item ids stored in an idempotency row (8 bytes each, little-endian).
std::vector<std::uint64_t> unpack_ids(const crypto::Bytes& b);

}  // namespace outbox_detail

struct Outbox::Impl {
    Impl(crypto::SealedDb database, int lock_fd_in, OutboxOptions opts)
        : db(std::move(database)), lock_fd(lock_fd_in), options(std::move(opts)) {}
    ~Impl();

    crypto::SealedDb db;
    int lock_fd;
    OutboxOptions options;

    // db, the maps and the counters below.
    mutable std::mutex mu;
    std::condition_variable work_cv;
    bool interrupted = false;
    std::map<std::int64_t, outbox_detail::RefState> refs;
    std::map<std::pair<std::string, std::string>, std::int64_t> ref_index;  // (endpoint, reference)
    std::map<std::string, outbox_detail::DeliveryState, std::less<>> deliveries;
    std::uint64_t total_items = 0;
    std::uint64_t total_bytes = 0;
    std::int64_t last_purge_ms = 0;
    std::vector<outbox_detail::Deferred> deferred;

    // Group commit: callers queue here; one leader at a time runs the batch.
    std::mutex queue_mu;
    std::condition_variable queue_cv;
    std::deque<outbox_detail::Request*> queue;
    bool leader_active = false;

    // outbox.cpp
    crypto::Result<void> load();
    outbox_detail::RefState* find_ref(std::string_view endpoint, std::string_view reference);
    const outbox_detail::RefState* find_ref(std::string_view endpoint, std::string_view reference) const;
    /// Requires mu held.
    [[nodiscard]] bool has_work(std::string_view endpoint, std::int64_t now_ms, OutboxLane lane) const;
    /// Earliest time something of `endpoint` falls due in `lane` (nullopt:
    /// nothing waits for a time). Requires mu held.
    [[nodiscard]] std::optional<std::int64_t> earliest_due(std::string_view endpoint, OutboxLane lane) const;

    // outbox_enqueue.cpp
    void run_group(std::vector<outbox_detail::Request*>& batch);

    // outbox_delivery.cpp
    crypto::Result<Delivery> read_delivery(const outbox_detail::DeliveryState& d);
    crypto::Result<std::optional<Delivery>> form_delivery(outbox_detail::RefState& ref, std::int64_t now_ms);
    outbox_detail::DeliveryState* find_delivery(std::string_view id);
    /// Writes `deferred` inside the caller's open transaction. Requires mu.
    crypto::Result<void> apply_deferred();
    /// apply_deferred() in a transaction of its own, when there is any.
    crypto::Result<void> flush_deferred();
};

}  // namespace enclave::delivery
