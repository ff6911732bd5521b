// SPDX-License-Identifier: Apache-2.0
#pragma once
// ArchiveServices: the daemon's long-term archive (issue #8; docs/archive.md):
// the LTAP service (archive/archive_service.hpp) with its on-token TSA, the
// batch sealer, and the routes.
//
//   DIR/state/archive.db      the catalogue (SQLCipher, key wrapped by the KEK)
//   DIR/state/archive-blobs/  archived data (BlobStore)
//   DIR/<archive.tsa_certificate>  the TSA certificate (DER; public)
//
// Routes:
//   lea    POST /ltap                 LTAP, for LEA endpoints' clients; each
//                                     endpoint sees only its own objects
//   admin  POST /v1/archive/ltap      LTAP for the CSP: security officers
//                                     (every operation; they archive as "csp")
//                                     and auditors (STATUS, VERIFY, EXPORT)
//                                     over every owner's objects
//          POST /v1/archive/seal      seal every waiting object now
//          POST /v1/archive/renew     time-stamp or hash-tree renewal
//          GET  /v1/archive/status    counts and the TSA certificate
//
// Holds no secret itself; archived data is content (sensitive): request
// bodies are wiped after use and never logged.

#include <memory>

#include "appliance/audit_services.hpp"
#include "appliance/config.hpp"
#include "appliance/delivery_services.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/server.hpp"
#include "archive/archive_service.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::appliance {

class ArchiveServices {
public:
    /// Opens the TSA (its key and certificate come from `enclavectl init`),
    /// the catalogue and the blob store. nullptr when archive.enabled is
    /// false.
    static crypto::Result<std::unique_ptr<ArchiveServices>> open(
        const Config& config, AuditServices& audit, std::shared_ptr<hsm::SessionPool> pool,
        DeliveryServices& delivery);
    ~ArchiveServices();
    ArchiveServices(const ArchiveServices&) = delete;
    ArchiveServices& operator=(const ArchiveServices&) = delete;

    void add_routes(Routers& routers);
    /// The sealer thread (batches, lifetimes). stop() is idempotent.
    void start();
    void stop();

    /// null when the instance has no TSA (provisioned before the archive):
    /// then every archive route answers 503.
    archive::ArchiveService* service();

    struct Impl;

private:
    explicit ArchiveServices(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
