// SPDX-License-Identifier: Apache-2.0
// Outbox: open, schema, state loading, queries (docs/outbox.md).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include "outbox_impl.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::Result;
using outbox_detail::DeliveryState;
using outbox_detail::RefState;

namespace outbox_detail {

std::int64_t to_ms(Outbox::TimePoint t) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Outbox::TimePoint from_ms(std::int64_t ms) noexcept {
    return Outbox::TimePoint(std::chrono::duration_cast<Outbox::Clock::duration>(std::chrono::milliseconds(ms)));
}

namespace {
void random_bytes(unsigned char* out, int n) {
    if (RAND_bytes(out, n) != 1) throw std::runtime_error("the OpenSSL CSPRNG failed");  // broken invariant
}
}  // namespace

std::uint64_t random_below_or_equal(std::uint64_t bound) {
    if (bound == 0) return 0;
    const std::uint64_t range = bound + 1;  // bound < 2^63 here (milliseconds)
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t v = 0;
    do {
        random_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
    } while (v >= limit);  // no modulo bias
    return v % range;
}

}  // namespace outbox_detail

namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE refs(
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  reference TEXT NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 0,
  closing INTEGER NOT NULL DEFAULT 0,
  final_formed INTEGER NOT NULL DEFAULT 0,
  finished INTEGER NOT NULL DEFAULT 0,
  UNIQUE(endpoint, reference));
CREATE TABLE items(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ref_id INTEGER NOT NULL,
  size INTEGER NOT NULL,
  payload BLOB NOT NULL);
CREATE INDEX items_by_ref ON items(ref_id, id);
CREATE TABLE binaries(
  ref_id INTEGER NOT NULL,
  item_id INTEGER NOT NULL,
  ord INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  url TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(ref_id, item_id, ord)) WITHOUT ROWID;
CREATE TABLE deliveries(
  id TEXT PRIMARY KEY,
  ref_id INTEGER NOT NULL UNIQUE,
  seq INTEGER NOT NULL,
  last INTEGER NOT NULL,
  first_item INTEGER NOT NULL,
  last_item INTEGER NOT NULL,
  item_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_ms INTEGER NOT NULL DEFAULT 0,
  object_done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE idem(
  reference TEXT NOT NULL,
  key TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  item_ids BLOB NOT NULL,
  PRIMARY KEY(reference, key)) WITHOUT ROWID;
CREATE INDEX idem_by_age ON idem(created_ms);
)sql";

// v2: uploads are looked up by id (holds_blob, the daemon's orphan sweep).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE INDEX binaries_by_blob ON binaries(blob_id);
)sql";

// v3: two lanes (docs/delivery.md). A reference may have several formed
// deliveries (one whose object is unacknowledged, others whose binaries are
// still going out), so ref_id is no longer UNIQUE; the binary lane keeps its
// own attempt count and due time.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE deliveries_v3(
  id TEXT PRIMARY KEY,
  ref_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  last INTEGER NOT NULL,
  first_item INTEGER NOT NULL,
  last_item INTEGER NOT NULL,
  item_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_ms INTEGER NOT NULL DEFAULT 0,
  object_done INTEGER NOT NULL DEFAULT 0,
  bin_attempts INTEGER NOT NULL DEFAULT 0,
  bin_due_ms INTEGER NOT NULL DEFAULT 0,
  UNIQUE(ref_id, seq));
INSERT INTO deliveries_v3(id, ref_id, seq, last, first_item, last_item, item_count, bytes, attempts, due_ms,
                          object_done)
  SELECT id, ref_id, seq, last, first_item, last_item, item_count, bytes, attempts, due_ms, object_done
  FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v3 RENAME TO deliveries;
)sql";

constexpr crypto::Migration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}};

/// An exclusive flock on "<db>.lock": one Outbox per file.
Result<int> lock_file(const std::filesystem::path& db_path) {
    const std::string lock_path = db_path.string() + ".lock";
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return crypto::fail(Errc::io_error, "outbox lock file " + lock_path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) {
            return crypto::fail(Errc::unavailable, "outbox " + db_path.string() + " is already open");
        }
        return crypto::fail(Errc::io_error, "outbox lock file " + lock_path + ": " + std::strerror(err));
    }
    return fd;
}

}  // namespace

Outbox::Impl::~Impl() {
    if (lock_fd >= 0) ::close(lock_fd);
}

Result<std::unique_ptr<Outbox>> Outbox::open(const std::filesystem::path& path, crypto::KeyWrapper& kek,
                                             const OutboxOptions& options) {
    if (options.max_delivery_items == 0 || options.max_delivery_bytes == 0 || options.max_items == 0 ||
        options.max_item_bytes == 0 || options.backoff_initial.count() <= 0 ||
        options.backoff_max < options.backoff_initial) {
        return crypto::fail(Errc::invalid_argument, "outbox options: a zero limit or backoff_max < backoff_initial");
    }
    auto fd = lock_file(path);
    if (!fd) return tl::unexpected(fd.error());
    auto db = crypto::SealedDb::open_or_create(path, kek, options.db);
    if (!db) {
        ::close(*fd);
        return tl::unexpected(db.error().wrap("opening the outbox"));
    }
    auto impl = std::make_unique<Impl>(std::move(*db), *fd, options);
    if (auto v = impl->db.migrate(kMigrations); !v) return tl::unexpected(v.error().wrap("outbox schema"));
    if (auto ok = impl->load(); !ok) return tl::unexpected(ok.error().wrap("loading the outbox"));
    return std::unique_ptr<Outbox>(new Outbox(std::move(impl)));
}

Outbox::Outbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Outbox::~Outbox() {
    if (!impl_) return;
    std::lock_guard lock(impl_->mu);
    (void)impl_->flush_deferred();  // best effort: what is lost is only resent
}

Result<void> Outbox::Impl::load() {
    std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> taken_by_ref;  // items in deliveries, last item
    auto rs = db.prepare("SELECT id, endpoint, reference, next_seq, closing, final_formed, finished FROM refs");
    if (!rs) return tl::unexpected(rs.error());
    for (;;) {
        auto row = rs->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        RefState r;
        r.id = rs->column_int64(0);
        r.endpoint = rs->column_text(1);
        r.reference = rs->column_text(2);
        r.next_seq = rs->column_int64(3);
        r.closing = rs->column_int64(4) != 0;
        r.final_formed = rs->column_int64(5) != 0;
        r.finished = rs->column_int64(6) != 0;
        ref_index[{r.endpoint, r.reference}] = r.id;
        refs[r.id] = std::move(r);
    }
    auto ds = db.prepare(
        "SELECT id, ref_id, seq, last, first_item, last_item, item_count, bytes, attempts, due_ms, "
        "object_done, bin_attempts, bin_due_ms FROM deliveries ORDER BY ref_id, seq");
    if (!ds) return tl::unexpected(ds.error());
    for (;;) {
        auto row = ds->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        DeliveryState d;
        d.id = ds->column_text(0);
        d.ref_id = ds->column_int64(1);
        d.seq = ds->column_int64(2);
        d.last = ds->column_int64(3) != 0;
        d.first_item = ds->column_int64(4);
        d.last_item = ds->column_int64(5);
        d.item_count = ds->column_int64(6);
        d.bytes = ds->column_int64(7);
        d.attempts = static_cast<std::uint32_t>(ds->column_int64(8));
        d.due_ms = ds->column_int64(9);
        d.object_done = ds->column_int64(10) != 0;
        d.bin_attempts = static_cast<std::uint32_t>(ds->column_int64(11));
        d.bin_due_ms = ds->column_int64(12);
        auto it = refs.find(d.ref_id);
        if (it == refs.end()) return crypto::fail(Errc::integrity_failure, "a delivery of an unknown reference");
        it->second.open += 1;
        // The oldest one whose object is unacknowledged holds the sequence.
        if (!d.object_done && it->second.outstanding.empty()) it->second.outstanding = d.id;
        auto& [taken, last_item] = taken_by_ref[d.ref_id];
        taken += d.item_count;
        last_item = std::max(last_item, d.last_item);
        deliveries[d.id] = std::move(d);
    }
    for (auto& [id, d] : deliveries) {
        auto bins = outbox_detail::read_binaries(db, d.ref_id, d.first_item, d.last_item);
        if (!bins) return tl::unexpected(bins.error());
        for (DeliveryBinary& b : *bins) d.binaries.push_back({std::move(b.binary), b.done, false});
    }
    auto cs = db.prepare("SELECT ref_id, COUNT(*), COALESCE(SUM(size), 0) FROM items GROUP BY ref_id");
    if (!cs) return tl::unexpected(cs.error());
    for (;;) {
        auto row = cs->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        auto it = refs.find(cs->column_int64(0));
        if (it == refs.end()) return crypto::fail(Errc::integrity_failure, "items of an unknown reference");
        const std::int64_t count = cs->column_int64(1);
        total_items += static_cast<std::uint64_t>(count);
        total_bytes += static_cast<std::uint64_t>(cs->column_int64(2));
        const auto t = taken_by_ref.find(it->first);
        it->second.pending = count - (t == taken_by_ref.end() ? 0 : t->second.first);
    }
    auto os = db.prepare("SELECT MIN(id) FROM items WHERE ref_id = ?1 AND id > ?2");
    if (!os) return tl::unexpected(os.error());
    for (auto& [id, r] : refs) {
        if (r.pending <= 0) continue;
        const auto t = taken_by_ref.find(id);
        os->reset();
        if (auto ok = os->bind_int64(1, id); !ok) return ok;
        if (auto ok = os->bind_int64(2, t == taken_by_ref.end() ? 0 : std::max<std::int64_t>(0, t->second.second)); !ok) return ok;
        auto row = os->step();
        if (!row) return tl::unexpected(row.error());
        r.oldest_pending = *row ? os->column_int64(0) : 0;
    }
    return {};
}

RefState* Outbox::Impl::find_ref(std::string_view endpoint, std::string_view reference) {
    const auto it = ref_index.find({std::string(endpoint), std::string(reference)});
    return it == ref_index.end() ? nullptr : &refs.at(it->second);
}

const RefState* Outbox::Impl::find_ref(std::string_view endpoint, std::string_view reference) const {
    const auto it = ref_index.find({std::string(endpoint), std::string(reference)});
    return it == ref_index.end() ? nullptr : &refs.at(it->second);
}

DeliveryState* Outbox::Impl::find_delivery(std::string_view id) {
    const auto it = deliveries.find(id);
    return it == deliveries.end() ? nullptr : &it->second;
}

bool Outbox::Impl::has_work(std::string_view endpoint, std::int64_t now_ms, OutboxLane lane) const {
    const bool objects = lane != OutboxLane::binaries;
    const bool bins = lane != OutboxLane::objects;
    if (objects) {
        for (const auto& [id, r] : refs) {
            if (r.endpoint == endpoint && r.formable()) return true;
        }
    }
    for (const auto& [id, d] : deliveries) {
        if (refs.at(d.ref_id).endpoint != endpoint) continue;
        if (objects && d.object_lane_ready(now_ms)) return true;
        if (bins && d.binary_ready(now_ms) != nullptr) return true;
    }
    return false;
}

std::optional<std::int64_t> Outbox::Impl::earliest_due(std::string_view endpoint, OutboxLane lane) const {
    std::optional<std::int64_t> best;
    const auto consider = [&best](std::int64_t t) { best = best ? std::min(*best, t) : t; };
    for (const auto& [id, d] : deliveries) {
        if (refs.at(d.ref_id).endpoint != endpoint) continue;
        if (lane != OutboxLane::binaries && d.object_lane_ready(std::numeric_limits<std::int64_t>::max())) {
            consider(d.due_ms);
        }
        if (lane != OutboxLane::objects && d.binary_ready(std::numeric_limits<std::int64_t>::max()) != nullptr) {
            consider(d.bin_due_ms);
        }
    }
    return best;
}

std::optional<Outbox::TimePoint> Outbox::next_due(std::string_view endpoint) const {
    std::lock_guard lock(impl_->mu);
    for (const auto& [id, r] : impl_->refs) {
        if (r.endpoint == endpoint && r.formable()) return TimePoint{};
    }
    const auto best = impl_->earliest_due(endpoint, OutboxLane::any);
    if (!best) return std::nullopt;
    return outbox_detail::from_ms(*best);
}

bool Outbox::wait_for_work(std::string_view endpoint, TimePoint until, OutboxLane lane) {
    std::unique_lock lock(impl_->mu);
    for (;;) {
        if (impl_->interrupted) return false;
        const auto now = Clock::now();
        if (impl_->has_work(endpoint, outbox_detail::to_ms(now), lane)) return true;
        if (now >= until) return false;
        // Wake for a retry falling due, too.
        TimePoint wake = until;
        if (const auto due = impl_->earliest_due(endpoint, lane)) wake = std::min(wake, outbox_detail::from_ms(*due));
        impl_->work_cv.wait_until(lock, std::max(wake, now + std::chrono::milliseconds(1)));
    }
}

void Outbox::interrupt_waits() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->interrupted = true;
    }
    impl_->work_cv.notify_all();
}

OutboxStats Outbox::stats() const {
    std::lock_guard lock(impl_->mu);
    OutboxStats s;
    s.items = impl_->total_items;
    s.bytes = impl_->total_bytes;
    for (const auto& [id, r] : impl_->refs) s.pending_items += static_cast<std::uint64_t>(r.pending);
    s.formed_deliveries = impl_->deliveries.size();
    s.references = impl_->refs.size();
    return s;
}

std::vector<std::string> Outbox::references(std::string_view endpoint) const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> out;
    for (const auto& [id, r] : impl_->refs) {
        if (r.endpoint == endpoint && (r.formable() || r.open > 0)) out.push_back(r.reference);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> Outbox::endpoints() const {
    std::lock_guard lock(impl_->mu);
    std::set<std::string> out;
    for (const auto& [id, r] : impl_->refs) {
        if (r.formable() || r.open > 0) out.insert(r.endpoint);
    }
    return {out.begin(), out.end()};
}

bool Outbox::reference_finished(std::string_view endpoint, std::string_view reference) const {
    std::lock_guard lock(impl_->mu);
    const RefState* r = impl_->find_ref(endpoint, reference);
    return r != nullptr && r->finished;
}

Result<std::optional<EnqueueResult>> Outbox::find_key(std::string_view reference,
                                                      std::string_view key) const {
    auto all = find_keys(reference, {std::string(key)});
    if (!all) return tl::unexpected(all.error());
    return std::move(all->front());
}

Result<std::vector<std::optional<EnqueueResult>>> Outbox::find_keys(
    std::string_view reference, const std::vector<std::string>& keys) const {
    std::vector<std::optional<EnqueueResult>> out;
    out.reserve(keys.size());
    if (keys.empty()) return out;
    std::lock_guard lock(impl_->mu);
    auto st = impl_->db.prepare("SELECT item_ids FROM idem WHERE reference = ?1 AND key = ?2");
    if (!st) return tl::unexpected(st.error());
    for (const std::string& key : keys) {
        st->reset();
        if (auto ok = st->bind_text(1, reference); !ok) return tl::unexpected(ok.error());
        if (auto ok = st->bind_text(2, key); !ok) return tl::unexpected(ok.error());
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (*row) {
            out.emplace_back(EnqueueResult{outbox_detail::unpack_ids(st->column_blob(0)), true});
        } else {
            out.emplace_back();
        }
    }
    return out;
}

Result<bool> Outbox::holds_blob(std::string_view blob_id) const {
    std::lock_guard lock(impl_->mu);
    auto st = impl_->db.prepare("SELECT 1 FROM binaries WHERE blob_id = ?1 LIMIT 1");
    if (!st) return tl::unexpected(st.error());
    if (auto ok = st->bind_text(1, blob_id); !ok) return tl::unexpected(ok.error());
    auto row = st->step();
    if (!row) return tl::unexpected(row.error());
    return *row;
}

Result<std::size_t> Outbox::purge_idempotency(TimePoint now) {
    std::lock_guard lock(impl_->mu);
    auto st = impl_->db.prepare("DELETE FROM idem WHERE created_ms < ?1");
    if (!st) return tl::unexpected(st.error());
    const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(impl_->options.idempotency_window);
    if (auto ok = st->bind_int64(1, outbox_detail::to_ms(now) - window.count()); !ok) return tl::unexpected(ok.error());
    if (auto ok = st->run(); !ok) return tl::unexpected(ok.error());
    return static_cast<std::size_t>(impl_->db.changes());
}

Result<void> Outbox::checkpoint() {
    std::lock_guard lock(impl_->mu);
    if (auto ok = impl_->flush_deferred(); !ok) return ok;
    return impl_->db.checkpoint_truncate();
}

}  // namespace enclave::delivery
