// SPDX-License-Identifier: Apache-2.0
// TaskStore: reading records, deliveries, and the JSON form of a record.
#include <limits>

#include "audit/task_store.hpp"
#include "crypto/encoding.hpp"
#include "task_store_internal.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Result;
using detail::from_us;
using detail::prepare_bound;
using detail::run_sql;

constexpr std::string_view kRowColumns =
    "id, task_id, reference, kind, start_us, end_us, endpoint, state, created_us, created_by, closed_us,"
    " closed_by, close_reason, purged_us, destroyed_secrets, destroyed_keys";

std::optional<std::string> opt_text(const crypto::Statement& st, int col) {
    if (st.column_is_null(col)) return std::nullopt;
    return st.column_text(col);
}

std::optional<UtcTime> opt_time(const crypto::Statement& st, int col) {
    if (st.column_is_null(col)) return std::nullopt;
    return from_us(st.column_int64(col));
}

Actor parse_actor(const std::string& text) {
    // Written by this store from a checked Actor; the page it came from was
    // authenticated by SQLCipher. A parse failure is a broken invariant.
    return nlohmann::json::parse(text);
}

bool is_delivery_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        if (c < '!' || c > '~') return false;
    }
    return true;
}

}  // namespace

std::string_view task_state_name(TaskState s) noexcept { return s == TaskState::active ? "active" : "closed"; }

std::string_view close_reason_name(CloseReason r) noexcept {
    return r == CloseReason::operator_request ? "operator" : "expired";
}

std::optional<CloseReason> close_reason_from_name(std::string_view name) noexcept {
    if (name == "operator") return CloseReason::operator_request;
    if (name == "expired") return CloseReason::expired;
    return std::nullopt;
}

TaskStore::Row TaskStore::read_row(const crypto::Statement& st) {
    Row r;
    r.rowid = st.column_int64(0);
    r.task_id = st.column_blob(1);
    r.reference = st.column_text(2);
    r.kind = st.column_text(3) == "LD" ? TaskKind::ld : TaskKind::li;
    r.start = from_us(st.column_int64(4));
    r.end = from_us(st.column_int64(5));
    r.endpoint = opt_text(st, 6);
    r.state = st.column_text(7) == "closed" ? TaskState::closed : TaskState::active;
    r.created_at = from_us(st.column_int64(8));
    r.created_by = st.column_text(9);
    r.closed_at = opt_time(st, 10);
    r.closed_by = opt_text(st, 11);
    if (auto reason = opt_text(st, 12)) r.close_reason = close_reason_from_name(*reason);
    r.purged_at = opt_time(st, 13);
    r.destroyed_secrets = st.column_int64(14);
    r.destroyed_keys = st.column_int64(15);
    return r;
}

Result<TaskStore::Row> TaskStore::find_row(std::string_view reference) {
    auto st = prepare_bound(db_, "SELECT " + std::string(kRowColumns) + " FROM tasks WHERE reference = ?1",
                            reference);
    if (!st) return tl::unexpected(st.error());
    auto has = st->step();
    if (!has) return tl::unexpected(has.error());
    if (!*has) {
        // Echo the reference only when it has reference syntax (it is then
        // printable and short); anything else is request noise.
        return crypto::fail(Errc::not_found, is_valid_reference(reference)
                                                 ? "no task \"" + std::string(reference) + "\""
                                                 : std::string("no task with that reference"));
    }
    return read_row(*st);
}

Result<TaskRecord> TaskStore::load_record(const Row& row) {
    TaskRecord rec;
    rec.reference = row.reference;
    rec.task_id = crypto::hex_encode(row.task_id);
    rec.kind = row.kind;
    rec.start = row.start;
    rec.end = row.end;
    rec.endpoint = row.endpoint;
    rec.state = row.state;
    rec.created_at = row.created_at;
    rec.created_by = parse_actor(row.created_by);
    rec.closed_at = row.closed_at;
    if (row.closed_by) rec.closed_by = parse_actor(*row.closed_by);
    rec.close_reason = row.close_reason;
    rec.purged_at = row.purged_at;
    auto fields = prepare_bound(db_, "SELECT idx, format_name, algorithm, hash FROM task_fields WHERE task = ?1"
                                     " ORDER BY idx", row.rowid);
    if (!fields) return tl::unexpected(fields.error());
    while (true) {
        auto more = fields->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
        const auto alg = crypto::salted_hash_from_name(fields->column_text(2));
        if (!alg) return crypto::fail(Errc::integrity_failure, "task \"" + row.reference + "\": unknown algorithm");
        rec.fields.push_back({static_cast<std::size_t>(fields->column_int64(0)), fields->column_text(1), *alg,
                              fields->column_blob(3)});
    }
    auto del = prepare_bound(db_, "SELECT delivery_id, size, sha256, recorded_us FROM deliveries WHERE task = ?1"
                                  " ORDER BY recorded_us, delivery_id", row.rowid);
    if (!del) return tl::unexpected(del.error());
    while (true) {
        auto more = del->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
        rec.deliveries.push_back({del->column_text(0), static_cast<std::uint64_t>(del->column_int64(1)),
                                  del->column_blob(2), from_us(del->column_int64(3))});
    }
    return rec;
}

Result<std::vector<TaskRecord>> TaskStore::list() {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " + std::string(kRowColumns) + " FROM tasks ORDER BY id");
    if (!st) return tl::unexpected(st.error());
    std::vector<Row> rows;
    while (true) {
        auto more = st->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
        rows.push_back(read_row(*st));
    }
    std::vector<TaskRecord> out;
    out.reserve(rows.size());
    for (const Row& row : rows) {
        auto rec = load_record(row);
        if (!rec) return tl::unexpected(rec.error());
        out.push_back(std::move(*rec));
    }
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> TaskStore::closed_with_endpoint() {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT " + std::string(kRowColumns) +
        " FROM tasks WHERE state = 'closed' AND endpoint IS NOT NULL ORDER BY id");
    if (!st) return tl::unexpected(st.error());
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
        auto more = st->step();
        if (!more) return tl::unexpected(more.error());
        if (!*more) break;
        Row row = read_row(*st);
        if (row.state != TaskState::closed || !row.endpoint) continue;
        out.emplace_back(std::move(row.reference), std::move(*row.endpoint));
    }
    return out;
}

Result<TaskRecord> TaskStore::show(std::string_view reference) {
    std::lock_guard lock(mu_);
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    return load_record(*row);
}

Result<std::optional<UtcTime>> TaskStore::next_end() {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT min(end_us) FROM tasks WHERE state = 'active'");
    if (!st) return tl::unexpected(st.error());
    auto has = st->step();
    if (!has) return tl::unexpected(has.error());
    if (!*has || st->column_is_null(0)) return std::optional<UtcTime>{};
    return std::optional<UtcTime>{from_us(st->column_int64(0))};
}

Result<std::optional<std::string>> TaskStore::owner_endpoint(std::string_view reference) {
    std::lock_guard lock(mu_);
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    return row->endpoint;
}

Result<TaskStore::Routing> TaskStore::routing(std::string_view reference) {
    std::lock_guard lock(mu_);
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    return Routing{row->kind, row->state, row->endpoint};
}

Result<void> TaskStore::record_delivery(std::string_view reference, std::string_view delivery_id,
                                        std::uint64_t size, crypto::ByteView sha256) {
    if (!is_delivery_id(delivery_id)) {
        return crypto::fail(Errc::invalid_argument, "delivery id: 1-128 visible ASCII characters");
    }
    if (sha256.size() != 32) return crypto::fail(Errc::invalid_argument, "delivery sha256: must be 32 bytes");
    if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return crypto::fail(Errc::invalid_argument, "delivery size: too large");
    }
    std::lock_guard lock(mu_);
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    auto row = find_row(reference);
    if (!row) return tl::unexpected(row.error());
    auto same = prepare_bound(db_, "SELECT size, sha256 FROM deliveries WHERE task = ?1 AND delivery_id = ?2",
                              row->rowid, delivery_id);
    if (!same) return tl::unexpected(same.error());
    auto has = same->step();
    if (!has) return tl::unexpected(has.error());
    if (*has) {
        const crypto::Bytes stored = same->column_blob(1);
        if (static_cast<std::uint64_t>(same->column_int64(0)) == size &&
            crypto::constant_time_equal(stored, sha256)) {
            return {};  // the same delivery reported again
        }
        return crypto::fail(Errc::already_exists, "delivery \"" + std::string(delivery_id) +
                                                      "\" is already recorded with another size or checksum");
    }
    const UtcTime now = clock_();
    auto ev = detail::task_event("delivery.recorded", row->reference, row->task_id);
    ev["delivery_id"] = delivery_id;
    ev["size"] = size;
    ev["sha256"] = crypto::hex_encode(sha256);
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("delivery not recorded: audit log"));
    auto ok = run_sql(db_, "INSERT INTO deliveries(task, delivery_id, size, sha256, recorded_us) VALUES(?1, ?2, ?3, ?4, ?5)",
                      row->rowid, delivery_id, static_cast<std::int64_t>(size), sha256, detail::to_us(now));
    if (!ok) return tl::unexpected(ok.error());
    return tx->commit();
}

nlohmann::json to_json(const TaskRecord& r) {
    nlohmann::json fields = nlohmann::json::array();
    for (const FieldRecord& f : r.fields) {
        fields.push_back({{"index", f.index},
                          {"formatName", f.format_name},
                          {"algorithm", crypto::salted_hash_name(f.algorithm)},
                          {"hash", crypto::hex_encode(f.hash)}});
    }
    nlohmann::json deliveries = nlohmann::json::array();
    for (const DeliveryRecord& d : r.deliveries) {
        deliveries.push_back({{"id", d.id},
                              {"size", d.size},
                              {"sha256", crypto::hex_encode(d.sha256)},
                              {"recorded", format_utc_time(d.recorded_at)}});
    }
    nlohmann::json j{{"reference", r.reference},
                     {"task_id", r.task_id},
                     {"kind", task_kind_name(r.kind)},
                     {"start", format_utc_time(r.start)},
                     {"end", format_utc_time(r.end)},
                     {"state", task_state_name(r.state)},
                     {"fields", std::move(fields)},
                     {"created", format_utc_time(r.created_at)},
                     {"created_by", r.created_by},
                     {"deliveries", {{"count", r.deliveries.size()}, {"items", std::move(deliveries)}}}};
    if (r.endpoint) j["endpoint"] = *r.endpoint;
    if (r.closed_at) j["closed"] = format_utc_time(*r.closed_at);
    if (r.closed_by) j["closed_by"] = *r.closed_by;
    if (r.close_reason) j["close_reason"] = close_reason_name(*r.close_reason);
    if (r.purged_at) j["purged"] = format_utc_time(*r.purged_at);
    return j;
}

}  // namespace enclave::audit
