// SPDX-License-Identifier: Apache-2.0
#pragma once
// DeliveryServices: the daemon's delivery side (issue #5; docs/delivery.md,
// docs/ingest.md): LEA endpoints, collector ingest, the blob store.
//
//   DIR/state/endpoints.db   LEA endpoints (EndpointStore)
//   DIR/state/ingest.db      uploaded binaries: id, media type, size, SHA-256,
//                            the collector that uploaded it (SQLCipher)
//   DIR/state/blobs/         the binaries themselves (crypto::BlobStore)
// All keys are wrapped by the token KEK (AuditServices::kek()).
//
// Routes:
//   admin   GET  /v1/endpoints                 list (any role)
//           GET  /v1/endpoint?name=N           show (any role)
//           POST /v1/endpoints                 add (security-officer; audited)
//           POST /v1/endpoint/remove?name=N    remove (security-officer; audited)
//   ingest  PUT  /ingest/v1/blobs              upload one binary (streamed)
//           POST /ingest/v1/tasks/{ref}/items  handover items into the outbox
//
//   DIR/state/outbox.db      items waiting for delivery (delivery::Outbox)
//   DIR/state/psks.db        TLS PSKs of endpoints (PskStore; each value
//                            wrapped by the KEK on its own)
//
// Delivery (Model B): per endpoint with work, max_connections worker
// threads send DeliveryObjects and binaries (delivery_worker.cpp).
//
// Holds no secret itself: uploaded binaries are content (sensitive) and are
// only ever in the encrypted blob store; the request bytes pass through a
// fixed buffer that the listener wipes.
#include <memory>

#include "appliance/audit_services.hpp"
#include "appliance/config.hpp"
#include "appliance/endpoint_store.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/server.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {
class ServerPskResolver;
}

namespace enclave::appliance {

class DeliveryServices {
public:
    /// Opens the endpoint store, the ingest catalogue and the blob store
    /// with the audit services' KEK. Errors name the part that failed.
    /// `event_sink` (may be null; must outlive the services) receives the
    /// delivery side's monitoring events (lea_endpoint_tls_failed, ...).
    static crypto::Result<std::unique_ptr<DeliveryServices>> open(
        const Config& config, AuditServices& audit, std::shared_ptr<hsm::SessionPool> pool,
        EventSink* event_sink = nullptr);
    ~DeliveryServices();
    DeliveryServices(const DeliveryServices&) = delete;
    DeliveryServices& operator=(const DeliveryServices&) = delete;

    /// Adds the endpoint (admin) and ingest routes. The services must outlive
    /// the routers' use (the Server).
    void add_routes(Routers& routers);
    /// TLS PSK identities of LEA endpoints (DIR/state/psks.db) for the LEA
    /// listener (hsm::enable_server_psk): an identity usable now gives its
    /// endpoint's name and key. Valid while these services live.
    std::shared_ptr<hsm::ServerPskResolver> lea_psk_resolver();
    /// The LEA endpoints a caller on listeners.lea acts for (by its client
    /// certificate's subject or its PSK), sorted; empty for anyone else.
    std::vector<std::string> endpoints_for(const Peer& peer);
    /// The client certificate (chain file) and token key (pkcs11: URI) that
    /// endpoints without their own client certificate present to the LEA
    /// ([lea_client] at start). Every running endpoint's new TLS contexts
    /// are built first (a failure changes nothing), then swapped in: new
    /// connections present the new certificate, exchanges in progress
    /// finish on the old one. Returns how many endpoints switched.
    crypto::Result<std::size_t> switch_client_identity(const std::filesystem::path& certificate,
                                                       const std::string& private_key);
    /// Starts / stops the background work. stop() is idempotent.
    void start();
    void stop();

    struct Impl;

private:
    explicit DeliveryServices(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
