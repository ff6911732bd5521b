// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeliveryServices internals shared by its translation units (wiring,
// endpoint routes, ingest routes). Holds no secret itself (see
// delivery_services.hpp).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "appliance/delivery_services.hpp"
#include "appliance/http_types.hpp"
#include "appliance/lea_identity_monitor.hpp"
#include "appliance/psk_store.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/sealed_db.hpp"
#include "delivery/handover_item.hpp"
#include "delivery/lea_client.hpp"
#include "delivery/outbox.hpp"
#include "hsm/session_pool.hpp"
#include "delivery/xml_schema.hpp"

namespace enclave::appliance {

/// Unix seconds now (the catalogue's clock).
inline std::int64_t unix_now() noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// An uploaded binary as the ingest catalogue knows it.
struct UploadedBlob {
    std::string id;
    std::string content_type;
    std::uint64_t size = 0;
    std::string sha256;    ///< lowercase hex of the plaintext
    std::string uploader;  ///< SHA-256 of the collector's certificate
    std::int64_t created = 0;  ///< Unix seconds
    bool attached = false;     ///< named by an accepted item
    std::string attached_by;   ///< "<reference> <idempotency key>" of that item ("" = no key)
    std::int64_t erased = 0;   ///< Unix seconds its bytes were erased after delivery (0 = not)
};

/// A Model A/C URL as the catalogue keeps it, with its upload's facts.
struct PullUrl {
    crypto::Bytes token_hash;  ///< SHA-256 of the token (the token itself is not stored)
    std::string blob_id;
    std::string endpoint;      ///< whose client may fetch it
    std::int64_t created = 0;  ///< Unix seconds
    std::int64_t expires = 0;  ///< Unix seconds; fetchable while now < expires
    std::int64_t accessed = 0;  ///< first access (0 = never)
    // From the upload (find_pull_url only):
    std::string content_type;
    std::uint64_t size = 0;
    std::string sha256;
};

/// The ingest catalogue (DIR/state/ingest.db): one row per uploaded binary,
/// and the ObjectIdentifiers of tasks created over HI1.
class BlobCatalog {
public:
    static crypto::Result<std::unique_ptr<BlobCatalog>> open(const std::filesystem::path& db,
                                                             crypto::KeyWrapper& kek);
    crypto::Result<void> insert(const UploadedBlob& blob);
    crypto::Result<std::optional<UploadedBlob>> find(std::string_view id);
    /// Claims blobs (id, attached_by) for the items about to be enqueued,
    /// all or nothing: each must be free, or held by the same keyed
    /// submission (a retry); invalid_argument otherwise. Claimed blobs are
    /// not erased as unattached and no other item may name them. Done
    /// BEFORE the enqueue, so no crash can leave an enqueued item whose
    /// upload is unclaimed (and swept, or claimed by another item).
    crypto::Result<void> claim(const std::vector<std::pair<std::string, std::string>>& ids,
                               std::int64_t now);
    /// Undoes claim() for an enqueue that failed.
    crypto::Result<void> release(const std::vector<std::pair<std::string, std::string>>& ids);
    /// Claimed, not erased, claimed before `cutoff`, id > `after`, in id
    /// order: the orphan sweep's candidates (a crash between claim and
    /// enqueue leaves a claim no item holds).
    crypto::Result<std::vector<std::string>> claimed_before(std::int64_t cutoff,
                                                            std::string_view after,
                                                            std::size_t limit);
    /// Deletes the row if it is still such a candidate (a retry re-claiming
    /// it in the meantime moved attached_at). True when deleted.
    crypto::Result<bool> forget_claimed_before(std::string_view id, std::int64_t cutoff);
    /// Unattached blobs created before `cutoff` (Unix seconds).
    crypto::Result<std::vector<std::string>> unattached_before(std::int64_t cutoff);
    crypto::Result<void> erase(std::string_view id);
    /// The upload's bytes are gone (delivered); the row stays for the
    /// idempotency window so a keyed retry of its item is still a duplicate.
    crypto::Result<void> mark_erased(std::string_view id, std::int64_t when);
    crypto::Result<void> forget_erased_before(std::int64_t cutoff);

    /// Model A/C URLs (pull_urls.cpp). A URL is known by the SHA-256 of its
    /// token; it names one upload, the endpoint whose client may fetch it
    /// and its expiry.
    crypto::Result<void> add_pull_url(const PullUrl& url);
    /// The URL and its upload (not erased); std::nullopt when unknown.
    crypto::Result<std::optional<PullUrl>> find_pull_url(crypto::ByteView token_hash);
    /// Records the first access; true when this call was the first.
    crypto::Result<bool> mark_pull_accessed(crypto::ByteView token_hash, std::int64_t when);
    /// Deletes these URLs (by token hash: minted for a submission that failed).
    crypto::Result<void> forget_pull_urls(const std::vector<crypto::Bytes>& token_hashes);
    /// Uploads with a URL that expired at `now` or before, at most `limit`.
    crypto::Result<std::vector<std::string>> expired_pull_blobs(std::int64_t now, std::size_t limit);
    /// Deletes the upload's expired URLs; true when it has no URL left.
    crypto::Result<bool> forget_expired_pull_urls(std::string_view blob_id, std::int64_t now);
    /// Whether any URL names the upload.
    crypto::Result<bool> has_pull_url(std::string_view blob_id);

    /// HI1 tasking: the LEA's ObjectIdentifier of a task and back.
    crypto::Result<void> map_object(std::string_view object_id, std::string_view reference);
    crypto::Result<std::optional<std::string>> object_reference(std::string_view object_id);
    crypto::Result<std::optional<std::string>> reference_object(std::string_view reference);

private:
    crypto::Result<std::optional<std::string>> lookup(std::string_view sql, std::string_view key);
    explicit BlobCatalog(crypto::SealedDb db) : db_(std::move(db)) {}
    std::mutex mu_;
    crypto::SealedDb db_;
};

/// One endpoint's clients and worker threads (delivery_worker.cpp). Two
/// lanes, each with a LeaClient (and so a connection pool) of its own, so a
/// binary upload never holds a connection a DeliveryObject needs: `urgent`
/// sends DeliveryObjects only; `bulk` sends binaries, and DeliveryObjects
/// when it has no binary to send.
struct EndpointWorkers {
    std::string name;
    EndpointSpec spec;
    std::unique_ptr<delivery::LeaClient> urgent;
    std::unique_ptr<delivery::LeaClient> bulk;
    /// The server identity checks of both lanes' new connections, for the
    /// monitoring events (lea_endpoint_tls_failed / _recovered).
    std::shared_ptr<LeaIdentityMonitor> identity;
    std::vector<std::thread> threads;
    /// Size and SHA-256 of each DeliveryObject as sent, until its delivery is
    /// complete and recorded in the audit log (lost on a restart: the record
    /// then names the object rebuilt for it, as before).
    std::mutex sent_mu;
    std::map<std::string, std::pair<std::uint64_t, crypto::Bytes>, std::less<>> sent;
};

class PullCache;  // pull_cache.hpp

struct DeliveryServices::Impl {
    Config config;
    AuditServices* audit = nullptr;
    std::shared_ptr<hsm::SessionPool> pool;
    std::unique_ptr<EndpointStore> endpoints;
    std::unique_ptr<PskStore> psks;
    std::unique_ptr<BlobCatalog> catalog;
    std::optional<crypto::BlobStore> blobs;
    std::unique_ptr<delivery::Outbox> outbox;
    std::shared_ptr<const delivery::SchemaSet> schemas;
    /// Model C: recently opened URLs, for the next range (pull_cache.hpp).
    std::shared_ptr<PullCache> pull_cache;
    EventSink* event_sink = nullptr;  ///< monitoring events (may be null)

    // Delivery (delivery_worker.cpp).
    std::atomic<bool> stopping{false};
    std::mutex wake_mu;
    std::condition_variable wake;
    bool poke = false;
    bool closed_tasks_changed = true;  ///< scan the task list for closed tasks (start: yes)
    std::chrono::steady_clock::time_point last_closed_scan{};  ///< supervisor thread only
    std::optional<std::chrono::steady_clock::time_point> last_orphan_sweep;  ///< supervisor only
    std::thread supervisor;
    std::mutex workers_mu;
    std::map<std::string, std::unique_ptr<EndpointWorkers>> workers;

    /// The client identity of endpoints without their own client
    /// certificate: [lea_client] at start, then what switch_client_identity
    /// installed (cert import of its key).
    mutable std::mutex client_identity_mu;
    std::filesystem::path client_certificate;  ///< resolved path
    std::string client_key;                    ///< pkcs11: URI
    /// The endpoint's client TLS context (its anchors, CRL, PSK and the
    /// client identity in force now).
    crypto::Result<hsm::SslCtxPtr> make_client_tls(const EndpointSpec& spec);
    /// A LeaClient of the endpoint; `identity` (may be null) hears every
    /// new connection's server identity check.
    crypto::Result<std::unique_ptr<delivery::LeaClient>> make_client(
        const EndpointSpec& spec, std::uint32_t connections,
        std::shared_ptr<LeaIdentityMonitor> identity);
    /// Sends a delivery's object (if not yet acknowledged); when nothing is
    /// left to send (no binaries, or all sent), finishes it: audit record,
    /// delivered(), uploads erased.
    crypto::Result<void> send(EndpointWorkers& w, delivery::LeaClient& client, const delivery::Delivery& d);
    crypto::Result<void> finish(EndpointWorkers& w, const delivery::Delivery& d);
    /// The HI1 DELIVER request of `d` (a fresh transaction id and timestamp each time).
    crypto::Result<std::string> build_object(EndpointWorkers& w, const delivery::Delivery& d);
    /// Sends one binary (the binary lane); failures are retried by the outbox.
    void send_binary(EndpointWorkers& w, const delivery::BinaryJob& job);
    void work(EndpointWorkers& w, bool bulk);
    void supervise_once(std::set<std::string>& closed_seen);
    /// Crypto-erases uploads no accepted item named within ingest.unattached_blob_ttl.
    void sweep_unattached();
    /// Claims no item holds (a crash between claim and enqueue), older
    /// than the unattached TTL: erased. Hourly.
    void sweep_orphans();
    /// Model A/C URLs past their expiry are forgotten; an upload whose last
    /// URL expired is crypto-erased.
    void sweep_expired_urls();
    void supervise();
    /// A task closed: the supervisor scans for closed tasks at once.
    void task_closed();
    /// New items for `endpoint`: start its workers if it has none yet.
    void wake_workers(const std::string& endpoint);
};

namespace detail {

void add_endpoint_routes(DeliveryServices::Impl& s, Router& admin);
void add_psk_routes(DeliveryServices::Impl& s, Router& admin);  // psk_routes.cpp
/// Makes an endpoint's client context offer its current PSK (psk_tls.cpp).
crypto::Result<void> use_endpoint_psk(DeliveryServices::Impl& s, const EndpointSpec& spec,
                                      SSL_CTX* ctx);

/// The outbox item of one accepted handover item: each binary it names (by
/// blob_id; uploaded by `uploader`) gets its URL (Model A/C: a fresh one of
/// ours, its hash appended to `minted`; Model B: the endpoint's scheme),
/// size, type and checksum, and the item its XML.
crypto::Result<delivery::OutboxItem> outbox_item(DeliveryServices::Impl& s,
                                                 const EndpointSpec& endpoint,
                                                 delivery::HandoverItem item,
                                                 const std::string& uploader,
                                                 const std::string& attached_by,
                                                 std::vector<crypto::Bytes>& minted);

void add_ingest_routes(DeliveryServices::Impl& s, Router& ingest);
void add_hi1_routes(DeliveryServices::Impl& s, Router& lea);
/// Endpoints (store and config file) whose client subjects hold the
/// caller's certificate subject, or the endpoint of its PSK (hi1_routes.cpp).
std::vector<std::string> endpoints_of(DeliveryServices::Impl& s, const Peer& peer);

/// Models A/C (binary_routes.cpp): GET/HEAD /v1/binaries/{token} on the LEA listener.
void add_binary_routes(DeliveryServices::Impl& s, Router& lea);
/// delivery.binary_base_url, or https://<listeners.lea address>:<port>.
std::string pull_base_url(const Config& config);
/// A fresh Model A/C URL for an upload, for `endpoint`'s client, and its
/// expiry (QualifiedDateTime) for the binaryObject.
struct PullGrant {
    std::string url;
    std::string expiry;
    crypto::Bytes token_hash;  ///< the catalogue's key of the URL
};
crypto::Result<PullGrant> grant_pull_url(DeliveryServices::Impl& s, const std::string& blob_id,
                                         const std::string& endpoint);

/// Whether `text` is a media type "type/subtype" with optional parameters
/// (RFC 9110 8.3.1), at most 255 characters.
bool valid_media_type(std::string_view text);

}  // namespace detail
}  // namespace enclave::appliance
