// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals of ArchiveService: the catalogue (archive.db) and shared helpers.
// Not installed; included by archive_*.cpp only.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/archive_service.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/sealed_db.hpp"

namespace enclave::archive::detail {

/// One catalogue row.
struct ObjectRow {
    std::string reference;
    std::string owner;
    std::string state;  ///< pending | granted | deleted
    std::string blob_id;
    std::string alg;    ///< crypto::hash_name of the imprint algorithm
    std::string policy;
    crypto::Bytes digest;  ///< h(data) under alg; empty once deleted
    std::vector<MetaEntry> metadata;
    std::int64_t size = 0, created = 0, granted = 0, expires = 0, deleted = 0, verified = 0;
    crypto::Bytes evidence;  ///< DER; empty until granted and once deleted
};

/// The digest algorithm URIs of MessageImprint (xmlenc / xmldsig-more).
std::optional<crypto::HashAlg> alg_from_uri(std::string_view uri) noexcept;
std::string_view uri_of(crypto::HashAlg alg) noexcept;

std::string metadata_to_json(const std::vector<MetaEntry>& metadata);
std::vector<MetaEntry> metadata_from_json(std::string_view json);

/// The catalogue. Every member runs under the caller's lock (Impl::mu).
class Catalog {
public:
    static crypto::Result<Catalog> open(const std::filesystem::path& path, crypto::KeyWrapper& kek);

    crypto::Result<std::optional<ObjectRow>> find(std::string_view reference);
    /// Objects with this digest: `owner`'s, or any owner's when it is empty.
    crypto::Result<std::vector<ObjectRow>> find_by_digest(std::string_view owner,
                                                          std::string_view alg,
                                                          crypto::ByteView digest);
    /// The transaction recorded under (owner, key), or by artifact.
    struct Txn {
        std::string owner, key, artifact;
        std::vector<std::string> references;
    };
    crypto::Result<std::optional<Txn>> find_txn(std::string_view owner, std::string_view key);
    crypto::Result<std::optional<Txn>> find_txn_by_artifact(std::string_view artifact);
    /// The objects of a new ARCHIVE and its transaction, in one database
    /// transaction (all or nothing).
    crypto::Result<void> insert_archive(const std::vector<ObjectRow>& rows, const Txn& txn,
                                        std::int64_t now);

    /// Up to `limit` pending rows, oldest first (reference, alg, digest, created).
    crypto::Result<std::vector<ObjectRow>> pending(std::size_t limit);
    crypto::Result<std::size_t> pending_count();
    crypto::Result<std::optional<std::int64_t>> oldest_pending();
    /// Granted rows after `after_reference` (paging), up to `limit`.
    crypto::Result<std::vector<ObjectRow>> granted_page(std::string_view after_reference,
                                                        std::size_t limit);
    /// Marks rows granted with their evidence (only rows still pending).
    crypto::Result<std::int64_t> grant(const std::vector<ObjectRow>& rows,
                                       const std::vector<crypto::Bytes>& evidence,
                                       std::int64_t now);
    crypto::Result<void> set_evidence(const std::vector<ObjectRow>& rows,
                                      const std::vector<crypto::Bytes>& evidence);
    crypto::Result<void> set_verified(std::string_view reference, std::int64_t now);
    /// The trace a DELETE leaves (metadata replaced by `metadata`).
    crypto::Result<void> mark_deleted(std::string_view reference,
                                      const std::vector<MetaEntry>& metadata, std::int64_t now);
    /// Rows whose lifetime ended (reference, blob_id, state), up to `limit`.
    crypto::Result<std::vector<ObjectRow>> expired(std::int64_t now, std::size_t limit);
    crypto::Result<void> remove(std::string_view reference);
    /// Every blob id the catalogue names.
    crypto::Result<std::vector<std::string>> blob_ids();
    crypto::Result<ArchiveService::Counts> counts();
    crypto::Result<std::uint64_t> cursor(std::string_view name);
    crypto::Result<void> set_cursor(std::string_view name, std::uint64_t value);

private:
    explicit Catalog(crypto::SealedDb db) : db_(std::move(db)) {}
    crypto::SealedDb db_;
};

}  // namespace enclave::archive::detail

namespace enclave::archive {

struct ArchiveService::Impl {
    ArchiveOptions options;
    std::shared_ptr<TimeStampAuthority> tsa;
    crypto::BlobStore blobs;
    std::mutex mu;       ///< guards the catalogue
    std::mutex seal_mu;  ///< one sealing or renewal at a time (the sealer thread, an officer)
    detail::Catalog catalog;

    Impl(ArchiveOptions o, std::shared_ptr<TimeStampAuthority> t, crypto::BlobStore b,
         detail::Catalog c)
        : options(std::move(o)), tsa(std::move(t)), blobs(std::move(b)), catalog(std::move(c)) {}

    // archive_ops.cpp
    OperationResponse do_archive(const Request& req, const Caller& caller, std::int64_t now);
    OperationResponse do_lookup(const Request& req, const Caller& caller, std::int64_t now);
    // archive_seal.cpp
    /// Stores `data` as a new blob (encrypted, fsynced); returns its id.
    crypto::Result<std::string> store_blob(crypto::ByteView data);
    /// Stores and catalogues a new ARCHIVE (blobs first, then one database
    /// transaction; on failure the new blobs are erased again).
    crypto::Result<void> store_archive(std::vector<detail::ObjectRow>& rows,
                                       const std::vector<const crypto::Bytes*>& data,
                                       const detail::Catalog::Txn& txn, std::int64_t now);
    crypto::Result<crypto::Bytes> read_data(const detail::ObjectRow& row);
};

/// The data item an answer carries for one object: its reference, the
/// transaction's artifact, its imprint and metadata (server entries
/// "enclave:*" first, then the client's own).
DataItem describe_object(const detail::ObjectRow& row, const std::optional<std::string>& artifact);
/// A granted object the archive accepted with modifications turns a
/// `granted` answer into `grantedWithMods` with notice 12 saying what.
void note_modifications(OperationResponse& response, const detail::ObjectRow& row);

/// RFC 3339 UTC, second precision.
std::string iso_time(std::int64_t unix_seconds);

/// A rejection carrying `notice` and `text` (never request content).
OperationResponse rejection(const RequestInformation& echo, Notice notice, std::string text);
/// The RequestInformation an answer carries: the request's, with the server's
/// time and entity.
RequestInformation echo_info(const RequestInformation& in, const ArchiveOptions& options,
                             std::int64_t now_ms);

}  // namespace enclave::archive
