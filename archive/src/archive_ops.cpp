// SPDX-License-Identifier: Apache-2.0
// The five LTAP operations over the catalogue (draft-ietf-ltans-ltap-03 6).
#include <ctime>

#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "archive_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::archive {
namespace {

using crypto::Errc;
using detail::ObjectRow;

constexpr std::string_view kDefaultPolicy = "urn:x-enclave:ltap:policy:default";

}  // namespace

void note_modifications(OperationResponse& response, const ObjectRow& row) {
    if (row.state != "granted" || response.status != StatusInfo::granted) return;
    for (const auto& m : row.metadata) {
        if (m.name == "enclave:modified") {
            response.status = StatusInfo::granted_with_mods;
            response.error = GeneralErrorNotice{static_cast<std::int32_t>(Notice::modified), m.value};
            return;
        }
    }
}

namespace {

/// The lifetime an ARCHIVE asks for in its ServiceConfiguration
/// ("lifetime-days"), within the policy's: seconds, and what was changed.
struct Lifetime {
    std::int64_t seconds = 0;
    std::optional<std::string> modified;
    std::optional<std::string> refusal;
};

Lifetime lifetime_of(const RequestInformation& info, std::chrono::seconds policy) {
    Lifetime out{policy.count(), std::nullopt, std::nullopt};
    const std::int64_t max_days = policy.count() / 86400;
    for (const auto& c : info.configuration) {
        if (c.name != "lifetime-days") {
            out.refusal = "unknown ServiceConfiguration item (known: lifetime-days)";
            return out;
        }
        std::int64_t days = 0;
        const bool digits = !c.value.empty() && c.value.size() <= 6 &&
                            c.value.find_first_not_of("0123456789") == std::string::npos;
        if (digits) days = std::stoll(c.value);
        if (!digits || days < 1) {
            out.refusal = "lifetime-days must be a whole number of days, 1 or more";
            return out;
        }
        if (days > max_days) {
            out.modified = "lifetime-days " + std::to_string(days) + " requested, " +
                           std::to_string(max_days) + " granted (the policy's maximum)";
            days = max_days;
        }
        out.seconds = days * 86400;
    }
    return out;
}

/// An item of an ARCHIVE request, checked.
struct Incoming {
    const DataItem* item = nullptr;
    crypto::HashAlg alg = crypto::HashAlg::sha256;
    crypto::Bytes digest;  ///< empty for an artifact-only retry
};

/// The per-owner idempotency key of an ARCHIVE (see archive_service.hpp).
std::string request_key(const RequestInformation& info, const std::vector<Incoming>& items) {
    if (info.serial_number) return "sn:" + std::to_string(*info.serial_number);
    crypto::Hasher h(crypto::HashAlg::sha256);
    for (const auto& in : items) {
        const auto name = crypto::hash_name(in.alg);
        h.update(crypto::as_bytes(name));
        h.update(crypto::as_bytes(":"));
        h.update(in.digest);
    }
    return "im:" + crypto::hex_encode(h.finish());
}

}  // namespace

std::string iso_time(std::int64_t t) {
    std::tm tm{};
    const std::time_t tt = static_cast<std::time_t>(t);
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

DataItem describe_object(const ObjectRow& row, const std::optional<std::string>& artifact) {
    DataItem d;
    d.data_reference = row.reference;
    d.artifact = artifact;
    if (!row.digest.empty()) {
        if (auto alg = crypto::hash_from_name(row.alg)) {
            d.imprint = MessageImprint{std::string(detail::uri_of(*alg)), row.digest};
        }
    }
    d.metadata.push_back({"enclave:state", row.state});
    d.metadata.push_back({"enclave:archived", iso_time(row.created)});
    if (row.granted != 0) d.metadata.push_back({"enclave:granted", iso_time(row.granted)});
    d.metadata.push_back({"enclave:expires", iso_time(row.expires)});
    if (row.deleted != 0) d.metadata.push_back({"enclave:deleted", iso_time(row.deleted)});
    if (row.verified != 0) d.metadata.push_back({"enclave:verified", iso_time(row.verified)});
    if (row.state != "deleted") d.metadata.push_back({"enclave:size", std::to_string(row.size)});
    for (const auto& m : row.metadata) d.metadata.push_back(m);
    return d;
}

OperationResponse ArchiveService::Impl::do_archive(const Request& req, const Caller& caller,
                                                   std::int64_t now_ms) {
    const auto echo = echo_info(req.info, options, now_ms);
    const std::int64_t now = now_ms / 1000;
    for (const auto& p : req.info.policies) {
        if (p != kDefaultPolicy) return rejection(echo, Notice::not_permitted, "unknown service policy");
    }
    const Lifetime lifetime = lifetime_of(req.info, options.default_lifetime);
    if (lifetime.refusal) return rejection(echo, Notice::not_permitted, *lifetime.refusal);
    std::vector<Incoming> items;
    std::optional<std::string> artifact;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < req.data.size(); ++i) {
        const DataItem& d = req.data[i];
        const std::string which = "Data " + std::to_string(i + 1) + ": ";
        Incoming in{&d, options.default_alg, {}};
        if (d.data_reference) {
            return rejection(echo, Notice::malformed_request,
                             which + "ARCHIVE takes RawData, or an Artifact or MessageImprint on a retry");
        }
        if (d.imprint) {
            auto alg = detail::alg_from_uri(d.imprint->digest_algorithm);
            if (!alg) return rejection(echo, Notice::unsupported_algorithm, which + "digest algorithm not supported");
            in.alg = *alg;
            if (d.imprint->digest_value.size() != crypto::digest_size(*alg)) {
                return rejection(echo, Notice::malformed_request, which + "DigestValue has the wrong length");
            }
        }
        if (d.raw_data) {
            total += d.raw_data->size();
            if (d.raw_data->size() > options.max_object_bytes) {
                return rejection(echo, Notice::too_large, which + "RawData over the per-object limit");
            }
            in.digest = crypto::digest(in.alg, *d.raw_data);
            if (d.imprint && !crypto::constant_time_equal(in.digest, d.imprint->digest_value)) {
                return rejection(echo, Notice::imprint_mismatch, which + "MessageImprint does not match RawData");
            }
        } else if (d.imprint) {
            in.digest = d.imprint->digest_value;
        }
        if (d.artifact) artifact = d.artifact;
        if (in.digest.empty() && !d.artifact) {
            return rejection(echo, Notice::malformed_request, which + "no RawData, Artifact or MessageImprint");
        }
        items.push_back(std::move(in));
    }
    (void)total;

    std::lock_guard lock(mu);
    std::optional<detail::Catalog::Txn> txn;
    if (artifact) {
        auto t = artifact_ok(*artifact) ? catalog.find_txn_by_artifact(*artifact)
                                        : crypto::Result<std::optional<detail::Catalog::Txn>>{};
        if (!t) return rejection(echo, Notice::unavailable, "catalogue unavailable");
        if (!*t || (*t)->owner != caller.owner) {
            return rejection(echo, Notice::unknown_object, "no such transaction");
        }
        txn = std::move(*t);
    } else {
        bool all_digests = true;
        for (const auto& in : items) all_digests = all_digests && !in.digest.empty();
        if (!all_digests) return rejection(echo, Notice::malformed_request, "a Data element without data");
        auto t = catalog.find_txn(caller.owner, request_key(req.info, items));
        if (!t) return rejection(echo, Notice::unavailable, "catalogue unavailable");
        txn = std::move(*t);
    }
    if (txn) {
        // A retry: the same answer for the same transaction.
        OperationResponse r;
        r.info = echo;
        r.status = StatusInfo::granted;
        if (txn->references.size() != items.size() && !artifact) {
            return rejection(echo, Notice::serial_conflict, "SerialNumber already used for other data");
        }
        for (std::size_t i = 0; i < txn->references.size(); ++i) {
            auto row = catalog.find(txn->references[i]);
            if (!row || !*row) return rejection(echo, Notice::unavailable, "catalogue unavailable");
            const ObjectRow& o = **row;
            if (!artifact && o.state != "deleted" &&
                (o.alg != crypto::hash_name(items[i].alg) || !crypto::constant_time_equal(o.digest, items[i].digest))) {
                return rejection(echo, Notice::serial_conflict, "SerialNumber already used for other data");
            }
            if (o.state == "pending") r.status = StatusInfo::waiting;
            note_modifications(r, o);
            r.data.push_back(describe_object(o, txn->artifact));
        }
        return r;
    }
    for (const auto& in : items) {
        if (!in.item->raw_data) {
            return rejection(echo, Notice::unknown_object,
                             "no earlier ARCHIVE matches: send the RawData");
        }
    }
    detail::Catalog::Txn fresh{caller.owner, request_key(req.info, items), new_artifact(), {}};
    std::vector<ObjectRow> rows;
    std::vector<const crypto::Bytes*> data;
    for (const auto& in : items) {
        ObjectRow row;
        row.reference = new_object_reference();
        row.owner = caller.owner;
        row.state = "pending";
        row.alg = std::string(crypto::hash_name(in.alg));
        row.policy = std::string(kDefaultPolicy);
        row.digest = in.digest;
        row.metadata = in.item->metadata;
        row.size = static_cast<std::int64_t>(in.item->raw_data->size());
        row.created = now;
        row.expires = now + lifetime.seconds;
        if (lifetime.modified) row.metadata.push_back({"enclave:modified", *lifetime.modified});
        fresh.references.push_back(row.reference);
        rows.push_back(std::move(row));
        data.push_back(&*in.item->raw_data);
    }
    if (!store_archive(rows, data, fresh, now)) {
        return rejection(echo, Notice::unavailable, "the archive could not store the data");
    }
    OperationResponse r;
    r.info = echo;
    r.status = StatusInfo::waiting;
    for (const auto& row : rows) r.data.push_back(describe_object(row, fresh.artifact));
    return r;
}

}  // namespace enclave::archive
