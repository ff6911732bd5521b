// SPDX-License-Identifier: Apache-2.0
// Storing objects, sealing batches into evidence records, renewals, the end
// of lifetimes, and the appliance's own records.
#include <map>

#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "archive_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::archive {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using detail::ObjectRow;

namespace {

std::int64_t seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

/// Groups rows by their digest algorithm (one hash tree per algorithm).
std::map<std::string, std::vector<ObjectRow>> by_alg(std::vector<ObjectRow> rows) {
    std::map<std::string, std::vector<ObjectRow>> out;
    for (auto& r : rows) out[r.alg].push_back(std::move(r));
    return out;
}

}  // namespace

Result<std::string> ArchiveService::Impl::store_blob(crypto::ByteView data) {
    auto w = blobs.create();
    if (!w) return tl::unexpected(w.error());
    if (auto r = w->write(data); !r) return tl::unexpected(r.error());
    auto info = w->commit();
    if (!info) return tl::unexpected(info.error());
    return w->id();
}

Result<void> ArchiveService::Impl::store_archive(std::vector<ObjectRow>& rows,
                                                 const std::vector<const crypto::Bytes*>& data,
                                                 const detail::Catalog::Txn& txn, std::int64_t now) {
    auto undo = [&] {
        for (const auto& r : rows) {
            if (!r.blob_id.empty()) (void)blobs.remove(r.blob_id);
        }
    };
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto id = store_blob(*data[i]);
        if (!id) {
            undo();
            return tl::unexpected(id.error());
        }
        rows[i].blob_id = *id;
    }
    if (auto r = catalog.insert_archive(rows, txn, now); !r) {
        undo();
        return r;
    }
    return {};
}

Result<crypto::Bytes> ArchiveService::Impl::read_data(const ObjectRow& row) {
    auto reader = blobs.open_object(row.blob_id);
    if (!reader) return tl::unexpected(reader.error().wrap("archive object " + row.reference));
    crypto::Bytes data(static_cast<std::size_t>(reader->size()));
    if (auto r = reader->read_into(0, data); !r) {
        return tl::unexpected(r.error().wrap("archive object " + row.reference));
    }
    // The catalogue's digest is the evidence's leaf: data that no longer
    // hashes to it is damaged, whatever the blob format said.
    const auto alg = crypto::hash_from_name(row.alg);
    if (!alg || !crypto::constant_time_equal(crypto::digest(*alg, data), row.digest)) {
        return fail(Errc::integrity_failure, "archive object " + row.reference + ": digest differs");
    }
    return data;
}

Result<SealReport> ArchiveService::seal_due(std::chrono::system_clock::time_point now, bool force) {
    auto& s = *impl_;
    std::lock_guard sealing(s.seal_mu);
    SealReport report;
    for (;;) {
        std::vector<ObjectRow> rows;
        {
            std::lock_guard lock(s.mu);
            auto count = s.catalog.pending_count();
            if (!count) return tl::unexpected(count.error());
            if (*count == 0) return report;
            auto oldest = s.catalog.oldest_pending();
            if (!oldest) return tl::unexpected(oldest.error());
            const bool due = force || *count >= s.options.batch_max_objects ||
                             (*oldest && **oldest + s.options.batch_max_wait.count() <= seconds(now));
            if (!due) return report;
            auto pending = s.catalog.pending(s.options.batch_max_objects);
            if (!pending) return tl::unexpected(pending.error());
            rows = std::move(*pending);
        }
        if (!s.tsa) return fail(Errc::unavailable, "archive: no time-stamping authority");
        for (auto& [alg_name, group] : by_alg(std::move(rows))) {
            const auto alg = crypto::hash_from_name(alg_name);
            if (!alg) return fail(Errc::integrity_failure, "archive catalogue: digest algorithm");
            std::vector<crypto::Bytes> leaves;
            leaves.reserve(group.size());
            for (const auto& r : group) leaves.push_back(r.digest);
            // The token signs outside the catalogue lock.
            auto records = make_evidence_records(*alg, leaves, *s.tsa);
            if (!records) return tl::unexpected(records.error().wrap("archive batch"));
            std::lock_guard lock(s.mu);
            auto granted = s.catalog.grant(group, *records, seconds(std::chrono::system_clock::now()));
            if (!granted) return tl::unexpected(granted.error());
            report.batches += 1;
            report.objects += static_cast<std::size_t>(*granted);
        }
    }
}

Result<SealReport> ArchiveService::renew(RenewalKind kind, crypto::HashAlg new_alg) {
    auto& s = *impl_;
    if (!s.tsa) return fail(Errc::unavailable, "archive: no time-stamping authority");
    std::lock_guard sealing(s.seal_mu);
    SealReport report;
    std::string after;
    for (;;) {
        std::vector<ObjectRow> page;
        {
            std::lock_guard lock(s.mu);
            auto rows = s.catalog.granted_page(after, s.options.batch_max_objects);
            if (!rows) return tl::unexpected(rows.error());
            page = std::move(*rows);
        }
        if (page.empty()) return report;
        after = page.back().reference;
        std::vector<crypto::Bytes> records;
        for (const auto& r : page) records.push_back(r.evidence);
        Result<std::vector<crypto::Bytes>> renewed;
        if (kind == RenewalKind::timestamp) {
            renewed = renew_timestamps(records, *s.tsa);
        } else {
            std::vector<crypto::Bytes> digests;
            for (const auto& r : page) {
                auto data = s.read_data(r);
                if (!data) return tl::unexpected(data.error());
                digests.push_back(crypto::digest(new_alg, *data));
            }
            renewed = renew_hash_trees(records, digests, new_alg, *s.tsa);
        }
        if (!renewed) return tl::unexpected(renewed.error().wrap("archive renewal"));
        std::lock_guard lock(s.mu);
        if (auto r = s.catalog.set_evidence(page, *renewed); !r) return tl::unexpected(r.error());
        report.batches += 1;
        report.objects += page.size();
    }
}

Result<std::size_t> ArchiveService::expire(std::chrono::system_clock::time_point now) {
    auto& s = *impl_;
    std::size_t removed = 0;
    for (;;) {
        std::lock_guard lock(s.mu);
        auto rows = s.catalog.expired(seconds(now), 256);
        if (!rows) return tl::unexpected(rows.error());
        if (rows->empty()) return removed;
        for (const auto& r : *rows) {
            if (r.state != "deleted") {
                if (auto e = s.blobs.remove(r.blob_id); !e && e.error().code() != Errc::not_found) {
                    return tl::unexpected(e.error());
                }
            }
            if (auto e = s.catalog.remove(r.reference); !e) return tl::unexpected(e.error());
            ++removed;
        }
    }
}

Result<std::string> ArchiveService::archive_internal(std::string_view owner, std::string_view key,
                                                     crypto::ByteView data,
                                                     const std::vector<MetaEntry>& metadata,
                                                     std::chrono::system_clock::time_point now) {
    auto& s = *impl_;
    const std::string txn_key = "int:" + std::string(key);
    std::lock_guard lock(s.mu);
    auto known = s.catalog.find_txn(owner, txn_key);
    if (!known) return tl::unexpected(known.error());
    if (*known && !(*known)->references.empty()) return (*known)->references.front();
    ObjectRow row;
    row.reference = new_object_reference();
    row.owner = std::string(owner);
    row.state = "pending";
    row.alg = std::string(crypto::hash_name(s.options.default_alg));
    row.policy = "urn:x-enclave:ltap:policy:default";
    row.digest = crypto::digest(s.options.default_alg, data);
    row.metadata = metadata;
    row.size = static_cast<std::int64_t>(data.size());
    row.created = seconds(now);
    row.expires = row.created + s.options.default_lifetime.count();
    std::vector<ObjectRow> rows{row};
    const crypto::Bytes copy(data.begin(), data.end());
    detail::Catalog::Txn txn{std::string(owner), txn_key, new_artifact(), {row.reference}};
    if (auto r = s.store_archive(rows, {&copy}, txn, row.created); !r) return tl::unexpected(r.error());
    return row.reference;
}

}  // namespace enclave::archive
