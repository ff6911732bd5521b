// SPDX-License-Identifier: Apache-2.0
#pragma once
// Outbox: the durable queue between ingest and the LEA (docs/outbox.md).
//
// Items (one serialised handoverItem each, plus the Model B binaries it
// names) are stored in a SealedDb (SQLCipher, key wrapped by the token KEK,
// WAL, synchronous=FULL, secure_delete). enqueue() returns only once the
// items are committed and fsync'd; concurrent callers are group-committed (one
// transaction and one fsync for everything that queued up while the previous
// commit was running).
//
// Deliveries. next_delivery() forms a Delivery from the oldest pending items
// of ONE reference, with a fresh DeliveryID (UUID v4) and the reference's next
// SequenceNumber (0-based, gap-free, persisted), and stores it before handing
// it out. A formed delivery never changes: a retry resends the same id,
// sequence and items. A reference has at most one formed delivery whose
// DeliveryObject is not yet acknowledged, so DeliveryObjects of one reference
// go out in sequence order. At-least-once: a delivery handed out and not yet
// acknowledged when the process dies is handed out again (same id) after
// open().
//
// Two lanes per endpoint (no head-of-line blocking, docs/delivery.md). The
// object lane (next_delivery) hands out DeliveryObjects to send. Once a
// delivery's object is acknowledged (object_delivered) while it still has
// Model B binaries to send, it moves to the binary lane (next_binary_job,
// one binary per job, with a retry/backoff state of its own) and the
// reference's next delivery may be formed at once. When its last binary is
// acknowledged it comes back through next_delivery (object_delivered set,
// every binary done) for the caller to finish it (audit record, delivered()).
// The LastSequence delivery is formed only when every earlier delivery of the
// reference is delivered, binaries included.
//
// Holds: interception content (the item payloads) in memory only while a
// call runs, and in the caller's Delivery. No key: the database key lives
// inside SealedDb::open() only. Errors name references, endpoints and
// delivery ids (not secret: they are on the wire to the LEA), never payloads.
//
// Thread-safety: every member function may be called from any thread.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "crypto/sealed_db.hpp"

namespace enclave::delivery {

/// A Model B binary an item names: sent after the DeliveryObject, to `url`.
struct PendingBinary {
    std::string blob_id;       ///< blob store object id (1-64 of A-Z a-z 0-9 - _)
    std::string url;           ///< the URL in the item's binaryObject (unique per binary)
    std::uint64_t size = 0;    ///< contentLength
    std::string content_type;  ///< "" = none
    std::string sha256_hex;    ///< 64 lowercase hex digits
    bool operator==(const PendingBinary&) const = default;
};

struct OutboxItem {
    std::string payload;  ///< one handoverItem element (XML), opaque to the outbox
    std::vector<PendingBinary> binaries;
};

/// Items submitted under one idempotency key (or none).
struct EnqueueUnit {
    std::optional<std::string> idempotency_key;
    std::vector<OutboxItem> items;
};

struct EnqueueResult {
    std::vector<std::uint64_t> item_ids;  ///< in submission order
    bool duplicate = false;               ///< the key was seen: nothing added, the first answer
};

struct DeliveryBinary {
    PendingBinary binary;
    bool done = false;  ///< binary_delivered() was called for it
};

struct Delivery {
    std::string delivery_id;  ///< UUID v4, lowercase
    std::string endpoint;
    std::string reference;
    std::uint64_t sequence_number = 0;
    bool last_sequence = false;
    std::vector<std::string> items;        ///< payloads, in order (none: a closing marker)
    std::vector<DeliveryBinary> binaries;  ///< in item order, then submission order
    bool object_delivered = false;         ///< object_delivered() was called: do not POST the XML again
    std::uint32_t attempts = 0;            ///< failed attempts so far (retry_later calls)
};

/// One Model B binary to send (the binary lane).
struct BinaryJob {
    std::string delivery_id;
    std::string endpoint;
    std::string reference;
    std::uint64_t sequence_number = 0;
    PendingBinary binary;
    std::uint32_t attempts = 0;  ///< failed attempts of this delivery's binaries so far
};

/// Which work wait_for_work() waits for.
enum class OutboxLane {
    objects,   ///< next_delivery() would have something
    binaries,  ///< next_binary_job() would have something
    any,       ///< either
};

struct OutboxStats {
    std::uint64_t items = 0;              ///< every stored item (pending or in a formed delivery)
    std::uint64_t bytes = 0;              ///< their payload bytes
    std::uint64_t pending_items = 0;      ///< items not yet in a delivery
    std::uint64_t formed_deliveries = 0;  ///< formed and not yet delivered()
    std::uint64_t references = 0;         ///< references known (including finished ones)
};

struct OutboxOptions {
    crypto::SealedDbOptions db;
    // Capacity: enqueue answers resource_exhausted when it would go over.
    std::uint64_t max_items = 1'000'000;
    std::uint64_t max_bytes = 4ull << 30;
    // Per call.
    std::size_t max_item_bytes = 2u << 20;  ///< one payload
    std::size_t max_items_per_enqueue = 10'000;
    std::size_t max_binaries_per_item = 64;
    // Forming a delivery.
    std::size_t max_delivery_items = 100;
    std::size_t max_delivery_bytes = 8u << 20;  ///< one item over it still goes, alone
    // Retries: exponential backoff with equal jitter (each wait in [step/2, step]).
    std::chrono::milliseconds backoff_initial{1000};
    std::chrono::milliseconds backoff_max{5 * 60 * 1000};
    std::chrono::seconds idempotency_window{24 * 60 * 60};
};

class Outbox {
public:
    using Clock = std::chrono::system_clock;
    using TimePoint = Clock::time_point;

    /// Opens (or creates, with its wrapped key file) the outbox database at
    /// `path`, brings its schema up to date and loads its state. One Outbox
    /// per file: a second open, in this or another process, is refused
    /// (unavailable) while the first is alive (an flock on "<path>.lock").
    static crypto::Result<std::unique_ptr<Outbox>> open(const std::filesystem::path& path,
                                                        crypto::KeyWrapper& kek,
                                                        const OutboxOptions& options = {});
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    /// Adds `items` for `reference` on `endpoint`, all or nothing, and returns
    /// once they are durable. The same (reference, key) again within the
    /// idempotency window: nothing added, the first answer with duplicate=true
    /// (also after the items were delivered). Errors: invalid_argument (empty
    /// or bad endpoint/reference/key, no items, a bad binary), too_large (an
    /// item or the call over its limit, or over the whole capacity),
    /// invalid_state (the reference was closed), resource_exhausted (the
    /// outbox is full now: retry later), db_error.
    crypto::Result<EnqueueResult> enqueue(std::string_view endpoint, std::string_view reference,
                                          std::optional<std::string_view> idempotency_key,
                                          std::vector<OutboxItem> items);

    /// Several units (e.g. a JSON array with a key per element) in one
    /// transaction, all or nothing: one result per unit, in order.
    crypto::Result<std::vector<EnqueueResult>> enqueue_batch(std::string_view endpoint,
                                                             std::string_view reference,
                                                             std::vector<EnqueueUnit> units);

    /// The reference's final delivery (formed after all its pending items)
    /// carries LastSequence=true; with nothing pending, a delivery with zero
    /// items. Later enqueues for it are refused (invalid_state). Idempotent.
    crypto::Result<void> close_reference(std::string_view endpoint, std::string_view reference);

    /// The next delivery to send on `endpoint`, or nullopt: a formed delivery
    /// that is due (a retry, or one handed out before a restart), else a new
    /// one formed (and committed) from the oldest pending items of the
    /// reference whose oldest pending item is the oldest. A delivery handed
    /// out is not handed out again until retry_later() (or a restart).
    crypto::Result<std::optional<Delivery>> next_delivery(std::string_view endpoint, TimePoint now);

    // Acknowledgements. They take effect in memory at once and are written
    // to the database with the next transaction (the next enqueue group or
    // delivery formed, next_delivery() finding nothing to do, flush(),
    // checkpoint() or the destructor), so a worker pays no fsync of its own
    // for them. A crash before that write only makes the delivery (same id,
    // sequence and items) or the part go out again: at-least-once, which the
    // LEA absorbs by DeliveryID.

    /// The DeliveryObject was accepted: a retry does not POST it again, and
    /// the reference's next delivery may be formed. With binaries still to
    /// send, the delivery leaves the caller for the binary lane (the caller
    /// stops there); without, the caller goes on to finish it.
    crypto::Result<void> object_delivered(std::string_view delivery_id);
    /// The next binary to send on `endpoint` (a delivery whose object is
    /// acknowledged, due), or nullopt. A job handed out is not handed out
    /// again until binary_delivered(), retry_binary_later() (or a restart).
    crypto::Result<std::optional<BinaryJob>> next_binary_job(std::string_view endpoint, TimePoint now);
    /// One binary was accepted (`url` one of the delivery's: not_found
    /// otherwise; invalid_state before its object was acknowledged).
    crypto::Result<void> binary_delivered(std::string_view delivery_id, std::string_view url);
    /// Sending the binary `url` failed: the delivery's binaries are due again
    /// after the same backoff as retry_later() (their own attempt count; the
    /// object lane is not held up). Returns when they are due.
    crypto::Result<TimePoint> retry_binary_later(std::string_view delivery_id, std::string_view url,
                                                 TimePoint now);
    /// Done: the delivery and its items are deleted (secure_delete). Call it
    /// once the object and every binary are acknowledged.
    crypto::Result<void> delivered(std::string_view delivery_id);
    /// The attempt failed: counted, due again after an exponential backoff
    /// with equal jitter: uniform in [step/2, step], step = min(max, initial *
    /// 2^(attempts-1)). The floor of step/2 guarantees a minimum spacing of a
    /// delivery's attempts (no retry storm), whatever the random draws.
    /// Returns when it is due.
    crypto::Result<TimePoint> retry_later(std::string_view delivery_id, TimePoint now);
    /// Writes the acknowledgements not yet written (one transaction).
    crypto::Result<void> flush();

    /// When next_delivery(endpoint) or next_binary_job(endpoint) will have
    /// something: a time <= now means now; nullopt: nothing waits for a time
    /// (wait for an enqueue or an acknowledgement).
    [[nodiscard]] std::optional<TimePoint> next_due(std::string_view endpoint) const;
    /// Blocks until `lane` of `endpoint` would have something, `until`, or
    /// interrupt_waits(). True when there is work.
    bool wait_for_work(std::string_view endpoint, TimePoint until, OutboxLane lane = OutboxLane::objects);
    /// Wakes every wait_for_work() for good (shutdown).
    void interrupt_waits();

    [[nodiscard]] OutboxStats stats() const;
    /// References on `endpoint` with anything left to deliver, sorted.
    [[nodiscard]] std::vector<std::string> references(std::string_view endpoint) const;
    /// Endpoints with anything left to deliver, sorted.
    [[nodiscard]] std::vector<std::string> endpoints() const;
    /// True once the reference's LastSequence delivery has been delivered().
    [[nodiscard]] bool reference_finished(std::string_view endpoint, std::string_view reference) const;

    /// The first answer to (reference, key) while the key is remembered (as
    /// enqueue() would give it, duplicate=true), or nullopt. Lets a caller
    /// answer a keyed retry before it re-checks anything the first request
    /// consumed (an upload already delivered and erased, say).
    crypto::Result<std::optional<EnqueueResult>> find_key(std::string_view reference,
                                                          std::string_view key) const;
    /// find_key for several keys at once (one lock, one statement): one
    /// answer per key, in order.
    crypto::Result<std::vector<std::optional<EnqueueResult>>> find_keys(
        std::string_view reference, const std::vector<std::string>& keys) const;
    /// True while a pending or formed item still names the upload `blob_id`
    /// (its bytes are still needed).
    crypto::Result<bool> holds_blob(std::string_view blob_id) const;

    /// Forgets idempotency keys recorded before now - window. enqueue() also
    /// does it, at most once a minute. Returns how many were forgotten.
    crypto::Result<std::size_t> purge_idempotency(TimePoint now);
    /// Copies the WAL into the database and truncates it, so page images of
    /// delivered items are gone from the WAL too (call when idle).
    crypto::Result<void> checkpoint();

    struct Impl;

private:
    explicit Outbox(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::delivery
