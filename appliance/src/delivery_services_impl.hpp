// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeliveryServices internals shared by its translation units (wiring,
// endpoint routes, ingest routes). Holds no secret itself (see
// delivery_services.hpp).
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "appliance/delivery_services.hpp"
#include "appliance/http_types.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/sealed_db.hpp"

namespace enclave::appliance {

/// An uploaded binary as the ingest catalogue knows it.
struct UploadedBlob {
    std::string id;
    std::string content_type;
    std::uint64_t size = 0;
    std::string sha256;    ///< lowercase hex of the plaintext
    std::string uploader;  ///< SHA-256 of the collector's certificate
    std::int64_t created = 0;  ///< Unix seconds
    bool attached = false;     ///< named by an accepted item
};

/// The ingest catalogue (DIR/state/ingest.db): one row per uploaded binary.
class BlobCatalog {
public:
    static crypto::Result<std::unique_ptr<BlobCatalog>> open(const std::filesystem::path& db,
                                                             crypto::KeyWrapper& kek);
    crypto::Result<void> insert(const UploadedBlob& blob);
    crypto::Result<std::optional<UploadedBlob>> find(std::string_view id);
    /// Marks blobs as named by accepted items (they are no longer erased as unattached).
    crypto::Result<void> attach(const std::vector<std::string>& ids);
    /// Unattached blobs created before `cutoff` (Unix seconds).
    crypto::Result<std::vector<std::string>> unattached_before(std::int64_t cutoff);
    crypto::Result<void> erase(std::string_view id);

private:
    explicit BlobCatalog(crypto::SealedDb db) : db_(std::move(db)) {}
    std::mutex mu_;
    crypto::SealedDb db_;
};

struct DeliveryServices::Impl {
    Config config;
    AuditServices* audit = nullptr;
    std::unique_ptr<EndpointStore> endpoints;
    std::unique_ptr<BlobCatalog> catalog;
    std::optional<crypto::BlobStore> blobs;
};

namespace detail {

void add_endpoint_routes(DeliveryServices::Impl& s, Router& admin);
void add_ingest_routes(DeliveryServices::Impl& s, Router& ingest);

/// Whether `text` is a media type "type/subtype" with optional parameters
/// (RFC 9110 8.3.1), at most 255 characters.
bool valid_media_type(std::string_view text);

}  // namespace detail
}  // namespace enclave::appliance
