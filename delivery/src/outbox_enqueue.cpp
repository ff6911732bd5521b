// SPDX-License-Identifier: Apache-2.0
// Outbox::enqueue: argument checks and the group commit.
//
// Each caller puts its request on a queue. Whoever finds no leader running
// becomes the leader: it takes everything queued, runs it in ONE transaction
// (one WAL fsync at commit), then wakes the callers. While it commits, new
// callers queue up for the next leader, so under load each fsync carries many
// enqueues; alone, a caller pays one transaction, as it would anyway.
// Each request is all or nothing: its checks (reference state, duplicates,
// capacity) all run before any of its rows is written; a database error
// fails and rolls back the whole group.
#include <set>

#include "outbox_impl.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::Result;
using outbox_detail::RefState;
using outbox_detail::Request;
using outbox_detail::unpack_ids;

namespace outbox_detail {

std::vector<std::uint64_t> unpack_ids(const crypto::Bytes& b) {
    std::vector<std::uint64_t> ids(b.size() / 8);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        for (int k = 0; k < 8; ++k) ids[i] |= std::uint64_t{b[i * 8 + k]} << (8 * k);
    }
    return ids;
}

}  // namespace outbox_detail

namespace {

constexpr std::size_t kMaxEndpointChars = 128;
constexpr std::size_t kMaxReferenceChars = 256;
constexpr std::size_t kMaxKeyChars = 256;
constexpr std::size_t kMaxUrlChars = 2048;
constexpr std::size_t kMaxContentTypeChars = 255;
constexpr std::int64_t kPurgeEveryMs = 60'000;

bool printable_ascii(std::string_view s, std::size_t max) noexcept {
    if (s.empty() || s.size() > max) return false;
    for (char c : s) {
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

bool blob_id_ok(std::string_view s) noexcept {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_';
        if (!ok) return false;
    }
    return true;
}

bool sha256_hex_ok(std::string_view s) noexcept {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

Result<void> check_binary(const PendingBinary& b, const std::string& where) {
    if (!blob_id_ok(b.blob_id)) return crypto::fail(Errc::invalid_argument, where + ": bad blob id");
    if (!printable_ascii(b.url, kMaxUrlChars)) return crypto::fail(Errc::invalid_argument, where + ": bad url");
    if (!b.content_type.empty() && !printable_ascii(b.content_type, kMaxContentTypeChars)) {
        return crypto::fail(Errc::invalid_argument, where + ": bad content type");
    }
    if (!sha256_hex_ok(b.sha256_hex)) {
        return crypto::fail(Errc::invalid_argument, where + ": sha256 is not 64 lowercase hex digits");
    }
    return {};
}

/// Everything that needs no database. Sets req.items / req.bytes.
Result<void> check_request(Request& req, const OutboxOptions& o) {
    if (!printable_ascii(req.endpoint, kMaxEndpointChars)) {
        return crypto::fail(Errc::invalid_argument, "endpoint name: 1-128 printable ASCII characters");
    }
    if (!printable_ascii(req.reference, kMaxReferenceChars)) {
        return crypto::fail(Errc::invalid_argument, "reference: 1-256 printable ASCII characters");
    }
    if (req.units->empty()) return crypto::fail(Errc::invalid_argument, "nothing to enqueue");
    std::set<std::string_view> keys;
    for (std::size_t u = 0; u < req.units->size(); ++u) {
        const EnqueueUnit& unit = (*req.units)[u];
        const std::string where = "unit " + std::to_string(u);
        if (unit.idempotency_key) {
            if (!printable_ascii(*unit.idempotency_key, kMaxKeyChars)) {
                return crypto::fail(Errc::invalid_argument, where + ": idempotency key: 1-256 printable ASCII");
            }
            if (!keys.insert(*unit.idempotency_key).second) {
                return crypto::fail(Errc::invalid_argument, where + ": the same idempotency key twice in one call");
            }
        }
        if (unit.items.empty()) return crypto::fail(Errc::invalid_argument, where + ": no items");
        for (std::size_t i = 0; i < unit.items.size(); ++i) {
            const OutboxItem& item = unit.items[i];
            const std::string at = where + " item " + std::to_string(i);
            if (item.payload.empty()) return crypto::fail(Errc::invalid_argument, at + ": empty payload");
            if (item.payload.size() > o.max_item_bytes) {
                return crypto::fail(Errc::too_large, at + ": payload over " + std::to_string(o.max_item_bytes) +
                                                         " bytes");
            }
            if (item.binaries.size() > o.max_binaries_per_item) {
                return crypto::fail(Errc::too_large, at + ": more than " +
                                                         std::to_string(o.max_binaries_per_item) + " binaries");
            }
            for (std::size_t b = 0; b < item.binaries.size(); ++b) {
                if (auto ok = check_binary(item.binaries[b], at + " binary " + std::to_string(b)); !ok) return ok;
            }
            req.items += 1;
            req.bytes += item.payload.size();
        }
    }
    if (req.items > o.max_items_per_enqueue || req.items > o.max_items || req.bytes > o.max_bytes) {
        return crypto::fail(Errc::too_large, std::to_string(req.items) + " items of " + std::to_string(req.bytes) +
                                                 " bytes in one call: over the outbox limits");
    }
    return {};
}

crypto::Bytes pack_ids(const std::vector<std::uint64_t>& ids) {
    crypto::Bytes out;
    out.reserve(ids.size() * 8);
    for (std::uint64_t id : ids) {
        for (int k = 0; k < 8; ++k) out.push_back(static_cast<std::uint8_t>(id >> (8 * k)));
    }
    return out;
}

/// One group's transaction: statements, and the state it will change.
struct Group {
    crypto::SealedDb& db;
    const OutboxOptions& options;
    std::int64_t now_ms;
    std::optional<crypto::Statement> find_idem, put_idem, put_ref, put_item, put_binary;
    std::map<std::int64_t, RefState> touched;  // copies, applied after commit
    std::map<std::pair<std::string, std::string>, std::int64_t> new_refs;
    std::map<std::pair<std::string, std::string>, EnqueueResult> keys;  // (reference, key) this group
    std::uint64_t items = 0;
    std::uint64_t bytes = 0;

    Result<void> prepare() {
        const std::pair<std::optional<crypto::Statement>*, const char*> sql[] = {
            {&find_idem, "SELECT item_ids FROM idem WHERE reference = ?1 AND key = ?2"},
            {&put_idem, "INSERT INTO idem(reference, key, created_ms, item_ids) VALUES(?1, ?2, ?3, ?4)"},
            {&put_ref, "INSERT INTO refs(endpoint, reference) VALUES(?1, ?2)"},
            {&put_item, "INSERT INTO items(ref_id, size, payload) VALUES(?1, ?2, ?3)"},
            {&put_binary,
             "INSERT INTO binaries(ref_id, item_id, ord, blob_id, url, size, content_type, sha256) "
             "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
        };
        for (const auto& [slot, text] : sql) {
            auto st = db.prepare(text);
            if (!st) return tl::unexpected(st.error());
            slot->emplace(std::move(*st));
        }
        return {};
    }

    /// A key seen before (this group or the database): its first answer.
    Result<std::optional<EnqueueResult>> seen(std::string_view reference, const std::string& key) {
        if (auto it = keys.find({std::string(reference), key}); it != keys.end()) {
            EnqueueResult r = it->second;
            r.duplicate = true;
            return r;
        }
        crypto::Statement& st = *find_idem;
        st.reset();
        if (auto ok = st.bind_text(1, reference); !ok) return tl::unexpected(ok.error());
        if (auto ok = st.bind_text(2, key); !ok) return tl::unexpected(ok.error());
        auto row = st.step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) return std::nullopt;
        return EnqueueResult{unpack_ids(st.column_blob(0)), true};
    }
};

/// The ref state this group works on (a copy), or nullptr when unknown.
RefState* group_ref(Group& g, Outbox::Impl& box, std::string_view endpoint, std::string_view reference) {
    const std::pair<std::string, std::string> k{std::string(endpoint), std::string(reference)};
    std::int64_t id = 0;
    if (auto it = g.new_refs.find(k); it != g.new_refs.end()) {
        id = it->second;
    } else if (auto jt = box.ref_index.find(k); jt != box.ref_index.end()) {
        id = jt->second;
    } else {
        return nullptr;
    }
    auto t = g.touched.find(id);
    if (t == g.touched.end()) t = g.touched.emplace(id, box.refs.at(id)).first;
    return &t->second;
}

Result<RefState*> create_ref(Group& g, std::string_view endpoint, std::string_view reference) {
    crypto::Statement& st = *g.put_ref;
    st.reset();
    if (auto ok = st.bind_text(1, endpoint); !ok) return tl::unexpected(ok.error());
    if (auto ok = st.bind_text(2, reference); !ok) return tl::unexpected(ok.error());
    if (auto ok = st.run(); !ok) return tl::unexpected(ok.error());
    RefState r;
    r.id = g.db.last_insert_rowid();
    r.endpoint = endpoint;
    r.reference = reference;
    g.new_refs[{r.endpoint, r.reference}] = r.id;
    return &(g.touched[r.id] = std::move(r));
}

/// Writes one unit's rows; returns its answer.
Result<EnqueueResult> write_unit(Group& g, RefState& ref, const EnqueueUnit& unit) {
    EnqueueResult res;
    res.item_ids.reserve(unit.items.size());
    for (const OutboxItem& item : unit.items) {
        crypto::Statement& st = *g.put_item;
        st.reset();
        if (auto ok = st.bind_int64(1, ref.id); !ok) return tl::unexpected(ok.error());
        if (auto ok = st.bind_int64(2, static_cast<std::int64_t>(item.payload.size())); !ok) return tl::unexpected(ok.error());
        if (auto ok = st.bind_blob(3, crypto::as_bytes(item.payload)); !ok) return tl::unexpected(ok.error());
        if (auto ok = st.run(); !ok) return tl::unexpected(ok.error());
        const std::int64_t id = g.db.last_insert_rowid();
        res.item_ids.push_back(static_cast<std::uint64_t>(id));
        for (std::size_t b = 0; b < item.binaries.size(); ++b) {
            const PendingBinary& bin = item.binaries[b];
            crypto::Statement& sb = *g.put_binary;
            sb.reset();
            Result<void> ok = sb.bind_int64(1, ref.id);
            if (ok) ok = sb.bind_int64(2, id);
            if (ok) ok = sb.bind_int64(3, static_cast<std::int64_t>(b));
            if (ok) ok = sb.bind_text(4, bin.blob_id);
            if (ok) ok = sb.bind_text(5, bin.url);
            if (ok) ok = sb.bind_int64(6, static_cast<std::int64_t>(bin.size));
            if (ok) ok = sb.bind_text(7, bin.content_type);
            if (ok) ok = sb.bind_text(8, bin.sha256_hex);
            if (ok) ok = sb.run();
            if (!ok) return tl::unexpected(ok.error());
        }
        if (ref.pending == 0) ref.oldest_pending = id;
        ref.pending += 1;
        g.items += 1;
        g.bytes += item.payload.size();
    }
    if (unit.idempotency_key) {
        crypto::Statement& st = *g.put_idem;
        st.reset();
        Result<void> ok = st.bind_text(1, ref.reference);
        if (ok) ok = st.bind_text(2, *unit.idempotency_key);
        if (ok) ok = st.bind_int64(3, g.now_ms);
        if (ok) ok = st.bind_blob(4, pack_ids(res.item_ids));
        if (ok) ok = st.run();
        if (!ok) return tl::unexpected(ok.error());
        g.keys[{ref.reference, *unit.idempotency_key}] = res;
    }
    return res;
}

/// One request: its checks, then its rows. A logical refusal is the value of
/// the outer Result (the group goes on); a database error is the outer error
/// (the group is rolled back).
Result<Result<std::vector<EnqueueResult>>> apply_request(Group& g, Outbox::Impl& box, Request& req) {
    using Inner = Result<std::vector<EnqueueResult>>;
    std::vector<std::optional<EnqueueResult>> answers(req.units->size());
    std::uint64_t new_items = 0;
    std::uint64_t new_bytes = 0;
    for (std::size_t u = 0; u < req.units->size(); ++u) {
        const EnqueueUnit& unit = (*req.units)[u];
        if (unit.idempotency_key) {
            auto dup = g.seen(req.reference, *unit.idempotency_key);
            if (!dup) return tl::unexpected(dup.error());
            answers[u] = std::move(*dup);
        }
        if (answers[u]) continue;
        for (const OutboxItem& item : unit.items) {
            new_items += 1;
            new_bytes += item.payload.size();
        }
    }
    if (new_items > 0) {
        const RefState* ref = group_ref(g, box, req.endpoint, req.reference);
        if (ref != nullptr && (ref->closing || ref->final_formed)) {
            return Inner(crypto::fail(Errc::invalid_state, "reference " + std::string(req.reference) +
                                                               " is closed: no more items"));
        }
        if (g.items + new_items > box.options.max_items || g.bytes + new_bytes > box.options.max_bytes) {
            return Inner(crypto::fail(Errc::resource_exhausted, "the outbox is full (" + std::to_string(g.items) +
                                                                    " items, " + std::to_string(g.bytes) +
                                                                    " bytes): retry later"));
        }
    }
    RefState* ref = nullptr;
    for (std::size_t u = 0; u < req.units->size(); ++u) {
        if (answers[u]) continue;
        if (ref == nullptr) ref = group_ref(g, box, req.endpoint, req.reference);
        if (ref == nullptr) {
            auto created = create_ref(g, req.endpoint, req.reference);
            if (!created) return tl::unexpected(created.error());
            ref = *created;
        }
        auto res = write_unit(g, *ref, (*req.units)[u]);
        if (!res) return tl::unexpected(res.error());
        answers[u] = std::move(*res);
    }
    std::vector<EnqueueResult> out;
    out.reserve(answers.size());
    for (auto& a : answers) out.push_back(std::move(*a));
    return Inner(std::move(out));
}

Result<void> purge_old_keys(Group& g) {
    auto st = g.db.prepare("DELETE FROM idem WHERE created_ms < ?1");
    if (!st) return tl::unexpected(st.error());
    const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(g.options.idempotency_window);
    if (auto ok = st->bind_int64(1, g.now_ms - window.count()); !ok) return ok;
    return st->run();
}

/// Runs the whole group in one transaction; the error fails every request
/// that had not been refused on its own.
Result<void> run_transaction(Group& g, Outbox::Impl& box, std::vector<Request*>& batch, bool purge) {
    auto tx = g.db.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    if (auto ok = g.prepare(); !ok) return ok;
    if (auto ok = box.apply_deferred(); !ok) return ok;
    if (purge) {
        if (auto ok = purge_old_keys(g); !ok) return ok;
    }
    for (Request* req : batch) {
        if (req->result) continue;  // refused before it queued
        auto r = apply_request(g, box, *req);
        if (!r) return tl::unexpected(r.error());
        req->result = std::move(*r);
    }
    return tx->commit();
}

}  // namespace

void Outbox::Impl::run_group(std::vector<Request*>& batch) {
    std::lock_guard lock(mu);
    Group g{db, options, outbox_detail::to_ms(Clock::now()), {}, {}, {}, {}, {}, {}, {}, {}, total_items, total_bytes};
    const bool purge = g.now_ms - last_purge_ms >= kPurgeEveryMs;
    auto ok = run_transaction(g, *this, batch, purge);
    if (!ok) {
        const crypto::Error err = ok.error().wrap("outbox enqueue");
        for (Request* req : batch) {
            if (!req->result || *req->result) req->result = tl::unexpected(err);
        }
        return;
    }
    if (purge) last_purge_ms = g.now_ms;
    deferred.clear();
    for (auto& [k, id] : g.new_refs) ref_index[k] = id;
    for (auto& [id, r] : g.touched) refs[id] = std::move(r);
    total_items = g.items;
    total_bytes = g.bytes;
    work_cv.notify_all();
}

Result<EnqueueResult> Outbox::enqueue(std::string_view endpoint, std::string_view reference,
                                      std::optional<std::string_view> idempotency_key,
                                      std::vector<OutboxItem> items) {
    std::vector<EnqueueUnit> units(1);
    if (idempotency_key) units[0].idempotency_key = std::string(*idempotency_key);
    units[0].items = std::move(items);
    auto r = enqueue_batch(endpoint, reference, std::move(units));
    if (!r) return tl::unexpected(r.error());
    return std::move(r->front());
}

Result<std::vector<EnqueueResult>> Outbox::enqueue_batch(std::string_view endpoint, std::string_view reference,
                                                         std::vector<EnqueueUnit> units) {
    Request req;
    req.endpoint = endpoint;
    req.reference = reference;
    req.units = &units;
    if (auto ok = check_request(req, impl_->options); !ok) return tl::unexpected(ok.error());
    Impl& box = *impl_;
    std::unique_lock lock(box.queue_mu);
    box.queue.push_back(&req);
    while (!req.done) {
        if (box.leader_active) {
            box.queue_cv.wait(lock);
            continue;
        }
        box.leader_active = true;
        std::vector<Request*> batch(box.queue.begin(), box.queue.end());
        box.queue.clear();
        lock.unlock();
        try {
            box.run_group(batch);
        } catch (...) {  // bad_alloc or a broken invariant: never leave callers waiting
            for (Request* r : batch) {
                if (!r->result || *r->result) r->result = crypto::fail(Errc::internal, "outbox enqueue failed");
            }
        }
        lock.lock();
        for (Request* r : batch) r->done = true;
        box.leader_active = false;
        box.queue_cv.notify_all();
    }
    return std::move(*req.result);
}

}  // namespace enclave::delivery
