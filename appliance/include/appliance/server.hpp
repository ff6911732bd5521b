// SPDX-License-Identifier: Apache-2.0
#pragma once
// Server: everything enclaved serves. The calling thread runs the control
// io_context (acceptors, signals, the shutdown sequence); N I/O threads each
// run an io_context of their own, and every accepted connection (TLS or the
// admin socket) lives on one of them, picked round-robin, from accept to
// close.
//
// - the mutual-TLS listeners (LEA, ingest, and the admin port when enabled),
// - the admin API on the Unix socket,
// - signals: SIGTERM/SIGINT stop gracefully (stop accepting, STOPPING=1,
//   in-flight requests get up to shutdown_grace, then every connection is
//   closed and run() returns 0; a second signal closes everything at once);
//   SIGHUP rebuilds every listener's SSL context from the files named in the
//   configuration (certificates, trust anchors, CRLs); new connections use the
//   new context, open ones keep theirs; a listener whose reload fails keeps
//   its current context and the failure is logged.
// - readiness: /readyz and enclave_ready turn true when run() starts
//   accepting (the token login already succeeded: a Server needs the pool), and
//   false when stopping; READY=1 / STOPPING=1 go to $NOTIFY_SOCKET.
// Holds no secret itself (the pool holds the PIN; see hsm/session_pool.hpp).

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/http_types.hpp"
#include "appliance/metrics.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/tls_context.hpp"

namespace enclave::appliance {

/// Builds the SSL context of one listener from its TLS configuration (the
/// daemon passes a function over hsm::make_server_context and its key resolver).
/// Builds a listener's SSL_CTX: (listener name, its TLS settings).
using TlsContextFactory =
    std::function<crypto::Result<hsm::SslCtxPtr>(const std::string& listener, const TlsConfig&)>;

struct TcpListenerSpec {
    std::string name;                        ///< "lea", "ingest", "admin-tls"
    const ListenerConfig* config = nullptr;  ///< points into the Config it came from
    bool admin = false;                      ///< serves the admin API (peers get the operator role)
};

/// The enabled TCP listeners of `config`: lea, ingest, admin-tls.
std::vector<TcpListenerSpec> tcp_listeners(const Config& config);

/// The routers a Server serves, for services to add their endpoints to
/// before anything listens (tasks and the audit log add theirs here).
struct Routers {
    Router& admin;   ///< the Unix socket and the admin mTLS port
    Router& lea;     ///< listeners.lea
    Router& ingest;  ///< listeners.ingest
};
using RouteInstaller = std::function<void(Routers&)>;

struct ServerSetup {
    Config config;
    std::shared_ptr<hsm::SessionPool> pool;  ///< logged in
    TlsContextFactory make_context;          ///< used again on SIGHUP
    EventSink* events = nullptr;             ///< required; outlives the Server
    std::size_t threads = 0;                 ///< I/O threads; 0: max(2, hardware_concurrency)
    RouteInstaller add_routes;               ///< optional: more endpoints
    /// The bulk threads' nice offset (bulk_pool.hpp; as many threads as I/O
    /// threads).
    int bulk_nice_offset = 10;
};

class Server {
public:
    /// Binds the admin socket and every enabled TCP listener, each with its
    /// context from `contexts` (keyed by listener name). Nothing is accepted
    /// before run(). Errors name the listener or socket and the reason.
    static crypto::Result<std::unique_ptr<Server>> create(
        ServerSetup setup, std::map<std::string, hsm::SslCtxPtr> contexts);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Serves until stopped (signal or request_stop). Returns the exit code (0).
    int run();
    /// As SIGTERM. Thread-safe.
    void request_stop();

    [[nodiscard]] const Metrics& metrics() const noexcept;
    /// For the token supervisor (Metrics::set_token_available). Thread-safe.
    [[nodiscard]] Metrics& metrics() noexcept;
    /// Swaps one listener's SSL context (a certificate switch): new
    /// connections use `context`, open ones keep theirs. Counted and reported
    /// as a reload (tls_reloaded). not_found for a listener that is not
    /// serving. Thread-safe.
    crypto::Result<void> replace_context(const std::string& listener, hsm::SslCtxPtr context);
    /// The TCP listeners' bound addresses ("lea" -> "127.0.0.1:8443").
    [[nodiscard]] std::map<std::string, std::string> addresses() const;

private:
    struct Impl;
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
