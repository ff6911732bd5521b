// SPDX-License-Identifier: Apache-2.0
// DeliveryServices: opening the endpoint store, the ingest catalogue and the
// blob store; the ingest catalogue itself.
#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include "appliance/log.hpp"
#include "delivery_services_impl.hpp"
#include "pull_cache.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::Result;

namespace {

constexpr std::string_view kCatalogV1 = R"sql(
CREATE TABLE blobs (
    id           TEXT PRIMARY KEY NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    uploader     TEXT NOT NULL,
    created      INTEGER NOT NULL,
    attached     INTEGER NOT NULL DEFAULT 0,
    attached_by  TEXT NOT NULL DEFAULT '',
    erased       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX blobs_unattached ON blobs(attached, created);
CREATE TABLE hi1_objects (
    object_id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE
);
)sql";
// v2: when an upload was claimed by an item (the orphan sweep's clock).
constexpr std::string_view kCatalogV2 = R"sql(
ALTER TABLE blobs ADD COLUMN attached_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX blobs_claimed ON blobs(attached, erased, attached_at);
)sql";
// v3: Model A/C URLs (docs/delivery.md, "Models A and C"): the SHA-256 of
// each URL's token, never the token.
constexpr std::string_view kCatalogV3 = R"sql(
CREATE TABLE pull_urls (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    blob_id     TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    accessed    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pull_urls_blob ON pull_urls(blob_id);
CREATE INDEX pull_urls_expires ON pull_urls(expires);
)sql";
constexpr std::array<crypto::Migration, 3> kCatalogSchema{
    {{1, kCatalogV1}, {2, kCatalogV2}, {3, kCatalogV3}}};

template <class T>
tl::unexpected<crypto::Error> err(const Result<T>& r) {
    return tl::unexpected(r.error());
}

/// The first column of every row (blob ids).
Result<std::vector<std::string>> first_column(crypto::Statement& st) {
    std::vector<std::string> out;
    for (;;) {
        auto row = st.step();
        if (!row) return err(row);
        if (!*row) break;
        out.push_back(st.column_text(0));
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<BlobCatalog>> BlobCatalog::open(const std::filesystem::path& db,
                                                       crypto::KeyWrapper& kek) {
    auto sealed = crypto::SealedDb::open_or_create(db, kek);
    if (!sealed) return tl::unexpected(sealed.error().wrap("ingest catalogue"));
    if (auto v = sealed->migrate(kCatalogSchema); !v) {
        return tl::unexpected(v.error().wrap("ingest catalogue schema"));
    }
    return std::unique_ptr<BlobCatalog>(new BlobCatalog(std::move(*sealed)));
}

Result<void> BlobCatalog::insert(const UploadedBlob& b) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO blobs(id, content_type, size, sha256, uploader, created, attached) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0)");
    if (!st) return err(st);
    for (auto r : {st->bind_text(1, b.id), st->bind_text(2, b.content_type),
                   st->bind_int64(3, static_cast<std::int64_t>(b.size)),
                   st->bind_text(4, b.sha256), st->bind_text(5, b.uploader),
                   st->bind_int64(6, b.created)}) {
        if (!r) return r;
    }
    return st->run();
}

Result<std::optional<UploadedBlob>> BlobCatalog::find(std::string_view id) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT id, content_type, size, sha256, uploader, created, attached, attached_by, erased "
        "FROM blobs "
        "WHERE id = ?1");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, id); !r) return tl::unexpected(r.error());
    auto row = st->step();
    if (!row) return err(row);
    if (!*row) return std::optional<UploadedBlob>{};
    UploadedBlob b;
    b.id = st->column_text(0);
    b.content_type = st->column_text(1);
    b.size = static_cast<std::uint64_t>(st->column_int64(2));
    b.sha256 = st->column_text(3);
    b.uploader = st->column_text(4);
    b.created = st->column_int64(5);
    b.attached = st->column_int64(6) != 0;
    b.attached_by = st->column_text(7);
    b.erased = st->column_int64(8);
    return std::optional<UploadedBlob>(std::move(b));
}

Result<void> BlobCatalog::claim(const std::vector<std::pair<std::string, std::string>>& ids,
                                std::int64_t now) {
    if (ids.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = db_.begin();
    if (!tx) return err(tx);
    // Free, or held by the same keyed submission (a retry of it).
    auto st = db_.prepare(
        "UPDATE blobs SET attached = 1, attached_by = ?2, attached_at = ?3 "
        "WHERE id = ?1 AND erased = 0 AND (attached = 0 OR (attached_by = ?2 AND ?2 <> ''))");
    if (!st) return err(st);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const auto& [id, by] = ids[i];
        st->reset();
        if (auto r = st->bind_text(1, id); !r) return r;
        if (auto r = st->bind_text(2, by); !r) return r;
        if (auto r = st->bind_int64(3, now); !r) return r;
        if (auto r = st->run(); !r) return r;
        if (db_.changes() != 1) {
            return crypto::fail(Errc::invalid_argument,
                                "binaries: upload " + std::to_string(i + 1) + " of " +
                                    std::to_string(ids.size()) +
                                    " already belongs to an item, or is gone");
        }
    }
    return tx->commit();
}

Result<void> BlobCatalog::release(const std::vector<std::pair<std::string, std::string>>& ids) {
    if (ids.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = db_.begin();
    if (!tx) return err(tx);
    auto st = db_.prepare(
        "UPDATE blobs SET attached = 0, attached_by = '', attached_at = 0 "
        "WHERE id = ?1 AND attached_by = ?2 AND erased = 0");
    if (!st) return err(st);
    for (const auto& [id, by] : ids) {
        st->reset();
        if (auto r = st->bind_text(1, id); !r) return r;
        if (auto r = st->bind_text(2, by); !r) return r;
        if (auto r = st->run(); !r) return r;
    }
    return tx->commit();
}

Result<std::vector<std::string>> BlobCatalog::claimed_before(std::int64_t cutoff,
                                                             std::string_view after,
                                                             std::size_t limit) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT id FROM blobs WHERE attached = 1 AND erased = 0 AND attached_at < ?1 AND id > ?2 "
        "ORDER BY id LIMIT ?3");
    if (!st) return err(st);
    if (auto r = st->bind_int64(1, cutoff); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_text(2, after); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_int64(3, static_cast<std::int64_t>(limit)); !r) {
        return tl::unexpected(r.error());
    }
    return first_column(*st);
}

Result<bool> BlobCatalog::forget_claimed_before(std::string_view id, std::int64_t cutoff) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "DELETE FROM blobs WHERE id = ?1 AND attached = 1 AND erased = 0 AND attached_at < ?2");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, id); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_int64(2, cutoff); !r) return tl::unexpected(r.error());
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    return db_.changes() == 1;
}

Result<std::vector<std::string>> BlobCatalog::unattached_before(std::int64_t cutoff) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT id FROM blobs WHERE attached = 0 AND created < ?1 LIMIT 1000");
    if (!st) return err(st);
    if (auto r = st->bind_int64(1, cutoff); !r) return tl::unexpected(r.error());
    return first_column(*st);
}

Result<void> BlobCatalog::mark_erased(std::string_view id, std::int64_t when) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("UPDATE blobs SET erased = ?2 WHERE id = ?1");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, id); !r) return r;
    if (auto r = st->bind_int64(2, when); !r) return r;
    return st->run();
}

Result<void> BlobCatalog::forget_erased_before(std::int64_t cutoff) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM blobs WHERE erased > 0 AND erased < ?1");
    if (!st) return err(st);
    if (auto r = st->bind_int64(1, cutoff); !r) return r;
    return st->run();
}

Result<void> BlobCatalog::erase(std::string_view id) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("DELETE FROM blobs WHERE id = ?1");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, id); !r) return r;
    return st->run();
}

Result<void> BlobCatalog::map_object(std::string_view object_id, std::string_view reference) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("INSERT OR REPLACE INTO hi1_objects(object_id, reference) VALUES(?1, ?2)");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, object_id); !r) return r;
    if (auto r = st->bind_text(2, reference); !r) return r;
    return st->run();
}

Result<std::optional<std::string>> BlobCatalog::lookup(std::string_view sql, std::string_view key) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(sql);
    if (!st) return err(st);
    if (auto r = st->bind_text(1, key); !r) return tl::unexpected(r.error());
    auto row = st->step();
    if (!row) return err(row);
    if (!*row) return std::optional<std::string>{};
    return std::optional<std::string>(st->column_text(0));
}

Result<std::optional<std::string>> BlobCatalog::object_reference(std::string_view object_id) {
    return lookup("SELECT reference FROM hi1_objects WHERE object_id = ?1", object_id);
}

Result<std::optional<std::string>> BlobCatalog::reference_object(std::string_view reference) {
    return lookup("SELECT object_id FROM hi1_objects WHERE reference = ?1", reference);
}

DeliveryServices::DeliveryServices(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeliveryServices::~DeliveryServices() {
    stop();
    impl_->audit->set_endpoint_subjects({});  // the hooks point into this object
    impl_->audit->set_on_task_closed({});
}

Result<std::unique_ptr<DeliveryServices>> DeliveryServices::open(
    const Config& config, AuditServices& audit, std::shared_ptr<hsm::SessionPool> pool,
    EventSink* event_sink) {
    auto impl = std::make_unique<Impl>();
    impl->config = config;
    impl->client_certificate = config.resolve(config.lea_client.certificate);
    impl->client_key = config.lea_client.private_key;
    impl->event_sink = event_sink;
    impl->audit = &audit;
    impl->pool = std::move(pool);
    const auto dir = config.data_dir / "state";  // made (0700) by AuditServices
    auto endpoints = EndpointStore::open(dir / "endpoints.db", audit.kek());
    if (!endpoints) {
        return tl::unexpected(endpoints.error().wrap((dir / "endpoints.db").string()));
    }
    impl->endpoints = std::move(*endpoints);
    auto psks = PskStore::open(dir / "psks.db", audit.kek());
    if (!psks) return tl::unexpected(psks.error().wrap((dir / "psks.db").string()));
    impl->psks = std::move(*psks);
    auto catalog = BlobCatalog::open(dir / "ingest.db", audit.kek());
    if (!catalog) return tl::unexpected(catalog.error().wrap((dir / "ingest.db").string()));
    impl->catalog = std::move(*catalog);
    auto blobs = crypto::BlobStore::open(dir / "blobs", audit.kek());
    if (!blobs) return tl::unexpected(blobs.error().wrap("blob store " + (dir / "blobs").string()));
    impl->blobs.emplace(std::move(*blobs));
    delivery::OutboxOptions oo;
    oo.max_items = config.delivery.outbox_max_items;
    oo.max_bytes = config.delivery.outbox_max_bytes;
    oo.backoff_initial = config.delivery.retry_initial;
    oo.backoff_max = config.delivery.retry_max;
    oo.max_delivery_items = config.delivery.batch_items;
    auto outbox = delivery::Outbox::open(dir / "outbox.db", audit.kek(), oo);
    if (!outbox) return tl::unexpected(outbox.error().wrap("outbox " + (dir / "outbox.db").string()));
    impl->outbox = std::move(*outbox);
    const auto schema_paths = delivery::SchemaPaths::defaults();
    log(LogLevel::info, "delivery",
        "XML schemas from " + schema_paths.project_dir.string() + " and " +
            schema_paths.etsi_dir.string());
    auto schemas = delivery::SchemaSet::shared();
    if (!schemas) return tl::unexpected(schemas.error().wrap("XML schemas"));
    impl->schemas = *schemas;
    impl->pull_cache = std::make_shared<PullCache>(kPullCacheTtl, kPullCacheEntries);
    EndpointStore* store = impl->endpoints.get();
    Impl* raw = impl.get();
    audit.set_on_task_closed([raw] { raw->task_closed(); });
    audit.set_endpoint_subjects([store](const std::string& name) {
        auto e = store->get(name);
        return e && *e ? (*e)->client_subjects : std::vector<std::string>{};
    });
    return std::unique_ptr<DeliveryServices>(new DeliveryServices(std::move(impl)));
}

void DeliveryServices::add_routes(Routers& routers) {
    detail::add_endpoint_routes(*impl_, routers.admin);
    detail::add_psk_routes(*impl_, routers.admin);
    detail::add_ingest_routes(*impl_, routers.ingest);
    detail::add_hi1_routes(*impl_, routers.lea);
    detail::add_binary_routes(*impl_, routers.lea);
}

std::vector<std::string> DeliveryServices::endpoints_for(const Peer& peer) {
    auto out = detail::endpoints_of(*impl_, peer);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}


}  // namespace enclave::appliance
