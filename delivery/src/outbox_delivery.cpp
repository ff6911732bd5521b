// SPDX-License-Identifier: Apache-2.0
// Outbox: closing references, forming and handing out deliveries, progress,
// acknowledgement and retries (docs/outbox.md).
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include "delivery/uuid.hpp"
#include "outbox_impl.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::Result;
using outbox_detail::DeliveryState;
using outbox_detail::RefState;

namespace {

/// Binds int64 parameters 1..n in order and runs the statement.
Result<void> run_with(crypto::SealedDb& db, std::string_view sql, std::initializer_list<std::int64_t> ints,
                      std::optional<std::string_view> text_last = std::nullopt) {
    auto st = db.prepare(sql);
    if (!st) return tl::unexpected(st.error());
    int i = 1;
    for (std::int64_t v : ints) {
        if (auto ok = st->bind_int64(i++, v); !ok) return ok;
    }
    if (text_last) {
        if (auto ok = st->bind_text(i, *text_last); !ok) return ok;
    }
    return st->run();
}

std::string take_payload(const crypto::Statement& st, int col) {
    crypto::Bytes b = st.column_blob(col);
    std::string s(b.begin(), b.end());
    crypto::wipe(b);
    return s;
}

}  // namespace

Result<std::vector<DeliveryBinary>> outbox_detail::read_binaries(crypto::SealedDb& db, std::int64_t ref_id,
                                                                 std::int64_t first, std::int64_t last) {
    std::vector<DeliveryBinary> out;
    if (last < first) return out;
    auto st = db.prepare(
        "SELECT blob_id, url, size, content_type, sha256, done FROM binaries "
        "WHERE ref_id = ?1 AND item_id BETWEEN ?2 AND ?3 ORDER BY item_id, ord");
    if (!st) return tl::unexpected(st.error());
    Result<void> ok = st->bind_int64(1, ref_id);
    if (ok) ok = st->bind_int64(2, first);
    if (ok) ok = st->bind_int64(3, last);
    if (!ok) return tl::unexpected(ok.error());
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        DeliveryBinary b;
        b.binary.blob_id = st->column_text(0);
        b.binary.url = st->column_text(1);
        b.binary.size = static_cast<std::uint64_t>(st->column_int64(2));
        b.binary.content_type = st->column_text(3);
        b.binary.sha256_hex = st->column_text(4);
        b.done = st->column_int64(5) != 0;
        out.push_back(std::move(b));
    }
    return out;
}

std::int64_t outbox_detail::backoff_due(const OutboxOptions& o, std::uint32_t attempts, std::int64_t now_ms) {
    const std::int64_t max_ms = o.backoff_max.count();
    std::int64_t cap = o.backoff_initial.count();
    for (std::uint32_t i = 1; i < attempts && cap < max_ms; ++i) cap *= 2;
    cap = std::min(cap, max_ms);
    // "Equal jitter": uniform in [cap/2, cap]. The floor of cap/2 spaces a
    // delivery's attempts by a guaranteed minimum (no retry storm, whatever
    // the draws); the upper half still spreads many deliveries apart.
    const std::int64_t floor_ms = cap / 2;
    return now_ms + floor_ms +
           static_cast<std::int64_t>(random_below_or_equal(static_cast<std::uint64_t>(cap - floor_ms)));
}

namespace {

Delivery header_of(const DeliveryState& d, const RefState& r) {
    Delivery out;
    out.delivery_id = d.id;
    out.endpoint = r.endpoint;
    out.reference = r.reference;
    out.sequence_number = static_cast<std::uint64_t>(d.seq);
    out.last_sequence = d.last;
    out.object_delivered = d.object_done;
    out.attempts = d.attempts;
    return out;
}

/// One more failed attempt of a lane (the object's, or the binaries'): the
/// count (saturating), the next due time with backoff, both queued for the
/// database; wakes the waiting workers. Returns when it is due.
Outbox::TimePoint schedule_retry(Outbox::Impl& impl, outbox_detail::Deferred::Kind kind,
                                 const std::string& id, std::uint32_t& attempts,
                                 std::int64_t& due_ms, Outbox::TimePoint now) {
    if (attempts != std::numeric_limits<std::uint32_t>::max()) ++attempts;
    due_ms = outbox_detail::backoff_due(impl.options, attempts, outbox_detail::to_ms(now));
    outbox_detail::Deferred op{kind, id};
    op.attempts = attempts;
    op.due_ms = due_ms;
    impl.deferred.push_back(std::move(op));
    impl.work_cv.notify_all();
    return outbox_detail::from_ms(due_ms);
}

}  // namespace

Result<Delivery> Outbox::Impl::read_delivery(const DeliveryState& d) {
    Delivery out = header_of(d, refs.at(d.ref_id));
    if (d.item_count > 0) {
        auto st = db.prepare("SELECT payload FROM items WHERE ref_id = ?1 AND id BETWEEN ?2 AND ?3 ORDER BY id");
        if (!st) return tl::unexpected(st.error());
        Result<void> ok = st->bind_int64(1, d.ref_id);
        if (ok) ok = st->bind_int64(2, d.first_item);
        if (ok) ok = st->bind_int64(3, d.last_item);
        if (!ok) return tl::unexpected(ok.error());
        out.items.reserve(static_cast<std::size_t>(d.item_count));
        for (;;) {
            auto row = st->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) break;
            out.items.push_back(take_payload(*st, 0));
        }
    }
    if (static_cast<std::int64_t>(out.items.size()) != d.item_count) {
        return crypto::fail(Errc::integrity_failure, "delivery " + d.id + " lost items");
    }
    // The binaries and their progress as this process knows them (the
    // database may not have the latest acknowledgements yet).
    for (const DeliveryState::Binary& b : d.binaries) out.binaries.push_back({b.binary, b.done});
    return out;
}

Result<void> Outbox::Impl::apply_deferred() {
    using Kind = outbox_detail::Deferred::Kind;
    for (const outbox_detail::Deferred& op : deferred) {
        Result<void> ok = {};
        switch (op.kind) {
            case Kind::delivered:
                ok = run_with(db, "DELETE FROM binaries WHERE ref_id = ?1 AND item_id BETWEEN ?2 AND ?3",
                              {op.ref_id, op.first_item, op.last_item});
                if (ok) ok = run_with(db, "DELETE FROM items WHERE ref_id = ?1 AND id BETWEEN ?2 AND ?3",
                                      {op.ref_id, op.first_item, op.last_item});
                if (ok) ok = run_with(db, "DELETE FROM deliveries WHERE id = ?1", {}, op.delivery_id);
                if (ok && op.last) ok = run_with(db, "UPDATE refs SET finished = 1 WHERE id = ?1", {op.ref_id});
                break;
            case Kind::object_done:
                ok = run_with(db, "UPDATE deliveries SET object_done = 1 WHERE id = ?1", {}, op.delivery_id);
                break;
            case Kind::binary_done:
                ok = run_with(db, "UPDATE binaries SET done = 1 WHERE ref_id = ?1 AND item_id BETWEEN ?2 AND ?3 AND url = ?4",
                              {op.ref_id, op.first_item, op.last_item}, op.url);
                break;
            case Kind::retry:
                ok = run_with(db, "UPDATE deliveries SET attempts = ?1, due_ms = ?2 WHERE id = ?3",
                              {op.attempts, op.due_ms}, op.delivery_id);
                break;
            case Kind::binary_retry:
                ok = run_with(db, "UPDATE deliveries SET bin_attempts = ?1, bin_due_ms = ?2 WHERE id = ?3",
                              {op.attempts, op.due_ms}, op.delivery_id);
                break;
        }
        if (!ok) return tl::unexpected(ok.error().wrap("recording progress of delivery " + op.delivery_id));
    }
    return {};
}

Result<void> Outbox::Impl::flush_deferred() {
    if (deferred.empty()) return {};
    auto tx = db.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    if (auto ok = apply_deferred(); !ok) return ok;
    if (auto ok = tx->commit(); !ok) return ok;
    deferred.clear();
    return {};
}

Result<std::optional<Delivery>> Outbox::Impl::form_delivery(RefState& ref, std::int64_t /*now_ms*/) {
    DeliveryState d;
    d.id = delivery::uuid_v4();
    d.ref_id = ref.id;
    d.seq = ref.next_seq;
    Delivery out = header_of(d, ref);
    std::int64_t next_oldest = 0;
    if (ref.pending > 0) {
        auto st = db.prepare("SELECT id, size, payload FROM items WHERE ref_id = ?1 AND id >= ?2 ORDER BY id LIMIT ?3");
        if (!st) return tl::unexpected(st.error());
        Result<void> ok = st->bind_int64(1, ref.id);
        if (ok) ok = st->bind_int64(2, ref.oldest_pending);
        if (ok) ok = st->bind_int64(3, static_cast<std::int64_t>(options.max_delivery_items) + 1);
        if (!ok) return tl::unexpected(ok.error());
        for (;;) {
            auto row = st->step();
            if (!row) return tl::unexpected(row.error());
            if (!*row) break;
            const std::int64_t size = st->column_int64(1);
            const bool fits = d.item_count == 0 ||
                              (static_cast<std::size_t>(d.item_count) < options.max_delivery_items &&
                               static_cast<std::uint64_t>(d.bytes + size) <= options.max_delivery_bytes);
            if (!fits) {
                next_oldest = st->column_int64(0);  // the row after the batch: no payload read
                break;
            }
            if (d.item_count == 0) d.first_item = st->column_int64(0);
            d.last_item = st->column_int64(0);
            d.item_count += 1;
            d.bytes += size;
            out.items.push_back(take_payload(*st, 2));
        }
        if (d.item_count == 0) return crypto::fail(Errc::integrity_failure, "pending items of " + ref.reference + " are gone");
        auto bins = outbox_detail::read_binaries(db, ref.id, d.first_item, d.last_item);
        if (!bins) return tl::unexpected(bins.error());
        out.binaries = std::move(*bins);
    }
    const std::int64_t remaining = ref.pending - d.item_count;
    // LastSequence means "everything is there": not while an earlier
    // delivery still has binaries going out (a bare closing marker follows).
    d.last = ref.closing && remaining == 0 && ref.open == 0;
    out.last_sequence = d.last;
    {
        auto tx = db.begin(crypto::TransactionMode::immediate);
        if (!tx) return tl::unexpected(tx.error());
        auto st = db.prepare(
            "INSERT INTO deliveries(id, ref_id, seq, last, first_item, last_item, item_count, bytes) "
            "VALUES(?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!st) return tl::unexpected(st.error());
        Result<void> ok = apply_deferred();
        int i = 1;
        for (std::int64_t v : {d.ref_id, d.seq, std::int64_t{d.last}, d.first_item, d.last_item, d.item_count, d.bytes}) {
            if (ok) ok = st->bind_int64(i++, v);
        }
        if (ok) ok = st->bind_text(8, d.id);
        if (ok) ok = st->run();
        if (ok) ok = run_with(db, "UPDATE refs SET next_seq = ?1, final_formed = ?2 WHERE id = ?3",
                              {d.seq + 1, std::int64_t{d.last || ref.final_formed}, ref.id});
        if (ok) ok = tx->commit();
        if (!ok) return tl::unexpected(ok.error().wrap("forming a delivery of " + ref.reference));
        deferred.clear();
    }
    ref.next_seq = d.seq + 1;
    ref.final_formed = ref.final_formed || d.last;
    ref.pending = remaining;
    ref.oldest_pending = next_oldest;
    ref.outstanding = d.id;
    ref.open += 1;
    if (remaining > 0 && next_oldest == 0) {
        // The batch stopped on its item count: find the next pending id (index only).
        auto st = db.prepare("SELECT MIN(id) FROM items WHERE ref_id = ?1 AND id > ?2");
        if (!st) return tl::unexpected(st.error());
        Result<void> ok = st->bind_int64(1, ref.id);
        if (ok) ok = st->bind_int64(2, d.last_item);
        auto row = ok ? st->step() : Result<bool>(tl::unexpected(ok.error()));
        if (!row) return tl::unexpected(row.error());
        ref.oldest_pending = *row ? st->column_int64(0) : 0;
    }
    d.in_flight = true;
    for (const DeliveryBinary& b : out.binaries) d.binaries.push_back({b.binary, b.done, false});
    deliveries[d.id] = std::move(d);
    return out;
}

Result<std::optional<Delivery>> Outbox::next_delivery(std::string_view endpoint, TimePoint now) {
    std::lock_guard lock(impl_->mu);
    const std::int64_t now_ms = outbox_detail::to_ms(now);
    DeliveryState* retry = nullptr;
    RefState* fresh = nullptr;
    for (auto& [id, d] : impl_->deliveries) {
        if (impl_->refs.at(d.ref_id).endpoint != endpoint || !d.object_lane_ready(now_ms)) continue;
        // The earliest due; on a tie the oldest items (ids grow with time).
        if (retry == nullptr || std::pair(d.due_ms, d.first_item) < std::pair(retry->due_ms, retry->first_item)) {
            retry = &d;
        }
    }
    if (retry == nullptr) {
        for (auto& [id, r] : impl_->refs) {
            if (r.endpoint != endpoint || !r.formable()) continue;
            // The reference whose oldest pending item is the oldest; a bare
            // closing marker (nothing pending) goes first.
            const std::int64_t key = r.pending > 0 ? r.oldest_pending : 0;
            if (fresh == nullptr || key < (fresh->pending > 0 ? fresh->oldest_pending : 0)) fresh = &r;
        }
    }
    if (retry != nullptr) {
        auto out = impl_->read_delivery(*retry);
        if (!out) return tl::unexpected(out.error());
        retry->in_flight = true;
        return std::optional<Delivery>(std::move(*out));
    }
    if (fresh == nullptr) {
        // Idle: write the acknowledgements that are waiting for a transaction.
        if (auto ok = impl_->flush_deferred(); !ok) return tl::unexpected(ok.error());
        return std::optional<Delivery>();
    }
    return impl_->form_delivery(*fresh, now_ms);
}

Result<std::optional<BinaryJob>> Outbox::next_binary_job(std::string_view endpoint, TimePoint now) {
    std::lock_guard lock(impl_->mu);
    const std::int64_t now_ms = outbox_detail::to_ms(now);
    DeliveryState* best = nullptr;
    for (auto& [id, d] : impl_->deliveries) {
        if (impl_->refs.at(d.ref_id).endpoint != endpoint || d.binary_ready(now_ms) == nullptr) continue;
        // The earliest due; on a tie the oldest items (ids grow with time).
        if (best == nullptr || std::pair(d.bin_due_ms, d.first_item) < std::pair(best->bin_due_ms, best->first_item)) {
            best = &d;
        }
    }
    if (best == nullptr) return std::optional<BinaryJob>();
    for (DeliveryState::Binary& b : best->binaries) {
        if (b.done || b.in_flight) continue;
        b.in_flight = true;
        const RefState& r = impl_->refs.at(best->ref_id);
        BinaryJob job;
        job.delivery_id = best->id;
        job.endpoint = r.endpoint;
        job.reference = r.reference;
        job.sequence_number = static_cast<std::uint64_t>(best->seq);
        job.binary = b.binary;
        job.attempts = best->bin_attempts;
        return std::optional<BinaryJob>(std::move(job));
    }
    throw std::logic_error("outbox: binary_ready() and the binaries disagree");  // broken invariant
}

Result<void> Outbox::close_reference(std::string_view endpoint, std::string_view reference) {
    if (endpoint.empty() || endpoint.size() > 128 || reference.empty() || reference.size() > 256) {
        return crypto::fail(Errc::invalid_argument, "close_reference: bad endpoint or reference");
    }
    std::lock_guard lock(impl_->mu);
    RefState* ref = impl_->find_ref(endpoint, reference);
    if (ref != nullptr && ref->closing) return {};
    if (ref == nullptr) {
        auto st = impl_->db.prepare("INSERT INTO refs(endpoint, reference, closing) VALUES(?1, ?2, 1)");
        if (!st) return tl::unexpected(st.error());
        Result<void> ok = st->bind_text(1, endpoint);
        if (ok) ok = st->bind_text(2, reference);
        if (ok) ok = st->run();
        if (!ok) return tl::unexpected(ok.error().wrap("closing " + std::string(reference)));
        RefState r;
        r.id = impl_->db.last_insert_rowid();
        r.endpoint = endpoint;
        r.reference = reference;
        r.closing = true;
        impl_->ref_index[{r.endpoint, r.reference}] = r.id;
        impl_->refs[r.id] = std::move(r);
    } else {
        if (auto ok = run_with(impl_->db, "UPDATE refs SET closing = 1 WHERE id = ?1", {ref->id}); !ok) {
            return tl::unexpected(ok.error().wrap("closing " + std::string(reference)));
        }
        ref->closing = true;
    }
    impl_->work_cv.notify_all();
    return {};
}

Result<void> Outbox::object_delivered(std::string_view delivery_id) {
    std::lock_guard lock(impl_->mu);
    DeliveryState* d = impl_->find_delivery(delivery_id);
    if (d == nullptr) return crypto::fail(Errc::not_found, "no formed delivery " + std::string(delivery_id));
    if (d->object_done) return {};
    d->object_done = true;
    impl_->deferred.push_back({outbox_detail::Deferred::Kind::object_done, d->id});
    // The sequence slot is used: the reference's next delivery may be formed.
    RefState& ref = impl_->refs.at(d->ref_id);
    if (ref.outstanding == d->id) ref.outstanding.clear();
    // Binaries left: the binary lane takes it over from the caller.
    if (d->binaries_left()) d->in_flight = false;
    impl_->work_cv.notify_all();
    return {};
}

namespace {

/// A formed delivery and one of its binaries, by the binary's URL.
Result<std::pair<DeliveryState*, DeliveryState::Binary*>> find_binary(Outbox::Impl& impl,
                                                                      std::string_view delivery_id,
                                                                      std::string_view url) {
    DeliveryState* d = impl.find_delivery(delivery_id);
    if (d == nullptr) return crypto::fail(Errc::not_found, "no formed delivery " + std::string(delivery_id));
    const auto b = std::find_if(d->binaries.begin(), d->binaries.end(),
                                [url](const DeliveryState::Binary& x) { return x.binary.url == url; });
    if (b == d->binaries.end()) {
        return crypto::fail(Errc::not_found, "delivery " + d->id + " has no binary with that url");
    }
    return std::pair{d, &*b};
}

}  // namespace

Result<void> Outbox::binary_delivered(std::string_view delivery_id, std::string_view url) {
    std::lock_guard lock(impl_->mu);
    auto found = find_binary(*impl_, delivery_id, url);
    if (!found) return tl::unexpected(found.error());
    auto [d, b] = *found;
    if (!d->object_done) {
        return crypto::fail(Errc::invalid_state,
                            "delivery " + d->id + ": a binary before its DeliveryObject was acknowledged");
    }
    b->in_flight = false;
    if (b->done) return {};
    b->done = true;
    // The last one: the delivery comes back through next_delivery() to be finished.
    if (!d->binaries_left()) impl_->work_cv.notify_all();
    outbox_detail::Deferred op{outbox_detail::Deferred::Kind::binary_done, d->id};
    op.ref_id = d->ref_id;
    op.first_item = d->first_item;
    op.last_item = d->last_item;
    op.url = url;
    impl_->deferred.push_back(std::move(op));
    return {};
}

Result<void> Outbox::delivered(std::string_view delivery_id) {
    std::lock_guard lock(impl_->mu);
    DeliveryState* d = impl_->find_delivery(delivery_id);
    if (d == nullptr) return crypto::fail(Errc::not_found, "no formed delivery " + std::string(delivery_id));
    outbox_detail::Deferred op{outbox_detail::Deferred::Kind::delivered, d->id};
    op.ref_id = d->ref_id;
    op.first_item = d->first_item;
    op.last_item = d->last_item;
    op.last = d->last;
    impl_->deferred.push_back(std::move(op));
    RefState& ref = impl_->refs.at(d->ref_id);
    if (ref.outstanding == d->id) ref.outstanding.clear();
    ref.open -= 1;
    ref.finished = ref.finished || d->last;
    impl_->total_items -= static_cast<std::uint64_t>(d->item_count);
    impl_->total_bytes -= static_cast<std::uint64_t>(d->bytes);
    impl_->deliveries.erase(impl_->deliveries.find(delivery_id));
    impl_->work_cv.notify_all();
    return {};
}

Result<void> Outbox::flush() {
    std::lock_guard lock(impl_->mu);
    return impl_->flush_deferred();
}

Result<Outbox::TimePoint> Outbox::retry_later(std::string_view delivery_id, TimePoint now) {
    std::lock_guard lock(impl_->mu);
    DeliveryState* d = impl_->find_delivery(delivery_id);
    if (d == nullptr) return crypto::fail(Errc::not_found, "no formed delivery " + std::string(delivery_id));
    d->in_flight = false;
    return schedule_retry(*impl_, outbox_detail::Deferred::Kind::retry, d->id, d->attempts, d->due_ms,
                          now);
}

Result<Outbox::TimePoint> Outbox::retry_binary_later(std::string_view delivery_id, std::string_view url,
                                                     TimePoint now) {
    std::lock_guard lock(impl_->mu);
    auto found = find_binary(*impl_, delivery_id, url);
    if (!found) return tl::unexpected(found.error());
    auto [d, b] = *found;
    b->in_flight = false;
    return schedule_retry(*impl_, outbox_detail::Deferred::Kind::binary_retry, d->id, d->bin_attempts,
                          d->bin_due_ms, now);
}

}  // namespace enclave::delivery
