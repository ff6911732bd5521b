// SPDX-License-Identifier: Apache-2.0
// STATUS, EXPORT, VERIFY and DELETE: find the objects a request names, then
// answer for each (draft-ietf-ltans-ltap-03 6.2-6.5).
#include <ctime>

#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "archive_impl.hpp"

namespace enclave::archive {
namespace {

using crypto::Errc;
using detail::ObjectRow;

struct Found {
    ObjectRow row;
    std::optional<std::string> artifact;
    const DataItem* item = nullptr;  ///< the request item that named it
};

/// Objects named by one request item, or a rejection text.
struct Resolution {
    std::vector<Found> found;
    std::optional<Notice> notice;
    std::string text;
};

Resolution fail_with(Notice n, std::string text) {
    Resolution r;
    r.notice = n;
    r.text = std::move(text);
    return r;
}


/// Resolves one item: a DataReference, an Artifact, or the data / imprint
/// (looked up among the caller's own objects).
Resolution resolve(detail::Catalog& catalog, const DataItem& d, const Caller& caller,
                   crypto::HashAlg default_alg) {
    Resolution out;
    if (d.data_reference) {
        if (!object_reference_ok(*d.data_reference)) {
            return fail_with(Notice::malformed_request,
                             "DataReference is not a reference of this archive (check digits)");
        }
        auto row = catalog.find(*d.data_reference);
        if (!row) return fail_with(Notice::unavailable, "catalogue unavailable");
        if (!*row || !caller.can_use((*row)->owner)) return fail_with(Notice::unknown_object, "no such object");
        out.found.push_back({std::move(**row), std::nullopt, &d});
        return out;
    }
    if (d.artifact) {
        auto txn = artifact_ok(*d.artifact) ? catalog.find_txn_by_artifact(*d.artifact)
                                            : crypto::Result<std::optional<detail::Catalog::Txn>>{};
        if (!txn) return fail_with(Notice::unavailable, "catalogue unavailable");
        if (!*txn || !caller.can_use((*txn)->owner)) return fail_with(Notice::unknown_object, "no such transaction");
        for (const auto& ref : (*txn)->references) {
            auto row = catalog.find(ref);
            if (!row || !*row) return fail_with(Notice::unavailable, "catalogue unavailable");
            out.found.push_back({std::move(**row), (*txn)->artifact, &d});
        }
        return out;
    }
    crypto::HashAlg alg = default_alg;
    if (d.imprint) {
        auto a = detail::alg_from_uri(d.imprint->digest_algorithm);
        if (!a) return fail_with(Notice::unsupported_algorithm, "digest algorithm not supported");
        alg = *a;
    }
    crypto::Bytes digest;
    if (d.raw_data) {
        digest = crypto::digest(alg, *d.raw_data);
        if (d.imprint && !crypto::constant_time_equal(digest, d.imprint->digest_value)) {
            return fail_with(Notice::imprint_mismatch, "MessageImprint does not match RawData");
        }
    } else if (d.imprint) {
        digest = d.imprint->digest_value;
    } else {
        return fail_with(Notice::malformed_request, "no DataReference, Artifact, RawData or MessageImprint");
    }
    // Among the caller's own objects, or anyone's for administrative callers.
    auto rows = catalog.find_by_digest(caller.all_owners ? std::string_view() : std::string_view(caller.owner),
                                       crypto::hash_name(alg), digest);
    if (!rows) return fail_with(Notice::unavailable, "catalogue unavailable");
    if (rows->empty()) return fail_with(Notice::unknown_object, "no such object");
    for (auto& r : *rows) out.found.push_back({std::move(r), std::nullopt, &d});
    return out;
}


/// VERIFY of one granted object: the record the client sent (with its data
/// or ours), or our own record against our data.
std::optional<std::string> verify_one(ArchiveService::Impl& impl, const Found& f) {
    if (!impl.tsa) return "the time-stamping authority is not available";
    auto stored = impl.read_data(f.row);
    if (!stored) return "the archived data could not be read";
    const crypto::Bytes& data = f.item->raw_data ? *f.item->raw_data : *stored;
    const crypto::Bytes& record = f.item->evidence_record ? *f.item->evidence_record : f.row.evidence;
    const std::vector<crypto::Bytes> certs{impl.tsa->certificate_der()};
    auto check = verify_evidence_record(
        record, [&](crypto::HashAlg a) { return crypto::digest(a, data); }, certs);
    if (!check) return "evidence record does not verify: " + check.error().context();
    return std::nullopt;
}

}  // namespace

OperationResponse ArchiveService::Impl::do_lookup(const Request& req, const Caller& caller,
                                                  std::int64_t now_ms) {
    const auto echo = echo_info(req.info, options, now_ms);
    const std::int64_t now = now_ms / 1000;
    const ServiceType op = req.info.service;
    std::vector<Found> found;
    {
        std::lock_guard lock(mu);
        for (std::size_t i = 0; i < req.data.size(); ++i) {
            auto r = resolve(catalog, req.data[i], caller, options.default_alg);
            if (r.notice) return rejection(echo, *r.notice, "Data " + std::to_string(i + 1) + ": " + r.text);
            for (auto& f : r.found) found.push_back(std::move(f));
        }
    }
    OperationResponse out;
    out.info = echo;
    out.status = StatusInfo::granted;
    std::uint64_t exported = 0;
    for (auto& f : found) {
        ObjectRow& row = f.row;
        if (op == ServiceType::delete_) {
            if (row.state != "deleted") {
                std::lock_guard lock(mu);
                if (auto e = blobs.remove(row.blob_id); !e && e.error().code() != Errc::not_found) {
                    return rejection(echo, Notice::unavailable, "the archive could not erase the data");
                }
                if (!catalog.mark_deleted(row.reference, f.item->metadata, now)) {
                    return rejection(echo, Notice::unavailable, "catalogue unavailable");
                }
                auto again = catalog.find(row.reference);
                if (again && *again) row = std::move(**again);
            }
            out.data.push_back(describe_object(row, f.artifact));
            continue;
        }
        if (row.state == "pending") {
            out.status = StatusInfo::waiting;
            out.data.push_back(describe_object(row, f.artifact));
            continue;
        }
        if (row.state == "deleted" && op != ServiceType::status) {
            return rejection(echo, Notice::object_deleted,
                             "the object was deleted on " + iso_time(row.deleted));
        }
        note_modifications(out, row);
        DataItem d = describe_object(row, f.artifact);
        if (op == ServiceType::verify) {
            if (auto problem = verify_one(*this, f)) return rejection(echo, Notice::evidence_invalid, *problem);
            std::lock_guard lock(mu);
            (void)catalog.set_verified(row.reference, now);
            row.verified = now;
            d = describe_object(row, f.artifact);
            d.evidence_record = f.item->evidence_record ? *f.item->evidence_record : row.evidence;
        }
        if (op == ServiceType::export_) {
            exported += static_cast<std::uint64_t>(row.size);
            if (exported > options.limits.max_raw_bytes) {
                return rejection(echo, Notice::too_large, "the objects exceed one answer: export them one by one");
            }
            auto data = read_data(row);
            if (!data) return rejection(echo, Notice::unavailable, "the archived data could not be read");
            d.raw_data = std::move(*data);
            d.evidence_record = row.evidence;
        }
        out.data.push_back(std::move(d));
    }
    return out;
}

}  // namespace enclave::archive
