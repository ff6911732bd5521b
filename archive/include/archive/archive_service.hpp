// SPDX-License-Identifier: Apache-2.0
#pragma once
// The long-term archive (issue #8; draft-ietf-ltans-ltap-03 sections 3 and 6):
// ARCHIVE, STATUS, VERIFY, EXPORT and DELETE over the LTAP messages of
// ltap.hpp, with RFC 4998 evidence records (evidence.hpp) whose time stamps
// come from the on-token TSA (tsa.hpp). docs/archive.md is the reference.
//
//   DIR/state/archive.db     SQLCipher (key wrapped by the token KEK): the
//                            catalogue of objects, transactions and batches
//   DIR/state/archive-blobs  BlobStore: each object's data, under its own key
//
// Life of an object (draft 3.4.2):
//   ARCHIVE   the data is stored (encrypted, fsynced) and catalogued as
//             `pending`; the answer is `waiting` with an artifact and the
//             object's reference.
//   sealing   pending objects are grouped in batches (by count or age), one
//             hash tree and one time stamp per batch; each object gets its
//             evidence record and becomes `granted` (STATUS, or a retry of
//             the ARCHIVE, then answers `granted`).
//   DELETE    crypto-erases the data (its key first), drops its digest,
//             metadata and evidence, and keeps a trace (state `deleted`, the
//             deletion time) until the end of the lifetime.
//   lifetime  at its end the object, or its trace, is removed entirely.
//
// Idempotency (draft 3.4.1 T2): an ARCHIVE is identified per owner by its
// SerialNumber when it has one, otherwise by the message imprints of its
// data. The same request gets the same artifact and references; a retry may
// carry only the imprints (or the artifact) instead of the raw data. A
// SerialNumber reused for other data is rejected.
//
// Ownership: every object belongs to the owner that archived it (an LEA
// endpoint, the CSP through the admin API, or the appliance itself for its
// own records). Other owners get exactly the answer an unknown reference
// gets.
//
// Thread-safe. Holds no secret itself (keys live in the stores); archived
// data passes through memory only while a request or a hash needs it.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/ltap.hpp"
#include "archive/tsa.hpp"
#include "crypto/digest.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"

namespace enclave::archive {

struct ArchiveOptions {
    std::filesystem::path db_path;   ///< DIR/state/archive.db
    std::filesystem::path blob_dir;  ///< DIR/state/archive-blobs
    std::size_t batch_max_objects = 1000;          ///< seal when this many are pending
    std::chrono::seconds batch_max_wait{5};        ///< or when the oldest waited this long
    std::chrono::seconds default_lifetime{10LL * 365 * 24 * 3600};  ///< per object
    std::uint64_t max_object_bytes = 6u << 20;     ///< RawData per object
    crypto::HashAlg default_alg = crypto::HashAlg::sha256;  ///< when no imprint says
    std::string server_entity = "enclave";         ///< ServerEntityIdentifier in answers
    LtapLimits limits;                             ///< for handle_xml
};

/// Who is asking, as the transport established it (never from the message).
struct Caller {
    std::string owner;                  ///< owner of what this caller archives
    std::vector<std::string> readable;  ///< owners whose objects it may use
    bool all_owners = false;            ///< may use every owner's objects (admin roles)
    bool may_archive = true;
    bool may_delete = true;
    [[nodiscard]] bool can_use(std::string_view object_owner) const;
};

/// GeneralErrorNotice / ErrorNotice identifiers (docs/archive.md).
enum class Notice : std::int32_t {
    malformed_request = 1,
    unknown_object = 2,
    imprint_mismatch = 3,
    serial_conflict = 4,
    object_deleted = 5,
    not_permitted = 6,
    too_large = 7,
    evidence_invalid = 8,
    unavailable = 9,
    unsupported_algorithm = 10,
    not_archived_yet = 11,
    modified = 12,  ///< with grantedWithMods: what the archive changed
};

/// One object as the catalogue shows it (no data, no digest).
struct ObjectSummary {
    std::string reference;
    std::string owner;
    std::string state;  ///< "pending", "granted", "deleted"
    std::uint64_t size = 0;
    std::int64_t created = 0, granted = 0, expires = 0, deleted = 0, verified = 0;
};

/// What the sealer and the renewals did.
struct SealReport {
    std::size_t batches = 0;
    std::size_t objects = 0;
};

enum class RenewalKind { timestamp, hash_tree };

class ArchiveService {
public:
    /// Opens (creating on first use) the catalogue and the blob store.
    /// Removes blobs no catalogue row names (a crash between storing the data
    /// and cataloguing it). `tsa` may be null for offline use (export of
    /// granted objects); then sealing and renewals fail with unavailable.
    static crypto::Result<std::unique_ptr<ArchiveService>> open(
        ArchiveOptions options, crypto::KeyWrapper& kek, std::shared_ptr<TimeStampAuthority> tsa);

    /// One LTAP request. Never fails: problems become a rejection with a
    /// GeneralErrorNotice (or an ErrorNotice when nothing can be done).
    Response handle(const Request& request, const Caller& caller,
                    std::chrono::system_clock::time_point now);
    /// parse_request + handle + render_response. `status` gets the HTTP
    /// status to send (200, or 400/413 with an ErrorNotice).
    std::string handle_xml(std::string_view body, const Caller& caller,
                           std::chrono::system_clock::time_point now, int& status);

    /// Seals what is due at `now` (all pending objects when `force`).
    crypto::Result<SealReport> seal_due(std::chrono::system_clock::time_point now, bool force);
    /// Renews the evidence of every granted object (in batches).
    crypto::Result<SealReport> renew(RenewalKind kind, crypto::HashAlg new_alg);
    /// Removes objects and traces whose lifetime ended before `now`.
    crypto::Result<std::size_t> expire(std::chrono::system_clock::time_point now);

    /// Archives the appliance's own record (audit records, delivery
    /// receipts) for `owner`, idempotent on `key`. Returns the reference.
    crypto::Result<std::string> archive_internal(std::string_view owner, std::string_view key,
                                                 crypto::ByteView data,
                                                 const std::vector<MetaEntry>& metadata,
                                                 std::chrono::system_clock::time_point now);

    /// The catalogue entry of `reference` (any owner: for the CLI and tests).
    crypto::Result<ObjectSummary> summary(std::string_view reference);
    /// A granted object's data and evidence record (offline export).
    struct Exported {
        crypto::Bytes data;
        crypto::Bytes evidence_record;
        std::vector<MetaEntry> metadata;
    };
    crypto::Result<Exported> export_object(std::string_view reference);
    /// Counts by state, for /metrics.
    struct Counts {
        std::uint64_t pending = 0, granted = 0, deleted = 0;
    };
    crypto::Result<Counts> counts();

    /// A named position kept in the catalogue (0 until set): how far the
    /// appliance has copied its audit log into the archive.
    crypto::Result<std::uint64_t> cursor(std::string_view name);
    crypto::Result<void> set_cursor(std::string_view name, std::uint64_t value);

    ~ArchiveService();
    ArchiveService(const ArchiveService&) = delete;
    ArchiveService& operator=(const ArchiveService&) = delete;

    struct Impl;
    explicit ArchiveService(std::unique_ptr<Impl> impl) noexcept;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::archive
