// SPDX-License-Identifier: Apache-2.0
#pragma once
// TlsListener: one mutual-TLS TCP listener (LEA, ingest, admin over TLS) on
// Boost.Beast. Asio and Beast stay inside tls_listener.cpp; this header
// forward-declares the io_context.
//
// Every connection: a strand of its own; the TLS handshake under the
// listener's current SSL context (hsm/tls_context.hpp sets the policy:
// TLS 1.2/1.3, RFC 9325 suites, verify_peer + fail_if_no_peer_cert, trust
// anchors, CRL); a deadline before every asynchronous operation
// (handshake_timeout, idle_timeout, read_timeout, write_timeout); a fresh
// parser per request with max_header_bytes / max_body_bytes (431 / 413).
// Beyond max_connections open connections a new one is closed at once and
// counted (enclave_connections_refused_total{reason="limit"}).
//
// Reload (SIGHUP): replace_context() swaps the context for NEW connections;
// a connection keeps the SSL_CTX it was accepted with (the SSL object holds
// a reference), so nothing is dropped.
//
// Holds no secret: the SSL_CTX refers to the token key through the hsm
// provider; the private key never enters this process's memory.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "appliance/event_sink.hpp"
#include "appliance/http_types.hpp"
#include "appliance/metrics.hpp"
#include "crypto/result.hpp"
#include "hsm/tls_context.hpp"

namespace boost::asio {
class io_context;
}

namespace enclave::appliance {

class BulkPool;

struct TlsListenerOptions {
    std::string name;       ///< "lea", "ingest", "admin-tls" (metrics label, log component)
    ListenerConfig config;  ///< address, port and limits (the TLS material is in the context)
    RoleSet peer_roles;     ///< admin roles of every verified peer (empty for LEA/ingest)
    std::shared_ptr<const Router> router;
    ListenerMetrics* metrics = nullptr;  ///< required; outlives the listener
    EventSink* events = nullptr;         ///< required; outlives the listener
    /// The io_contexts that accept and serve connections, one per I/O
    /// thread: each waits on the same listening socket (a duplicate of its
    /// descriptor), and a connection stays on the thread that accepted it,
    /// from handshake to close (no hand-over between threads). Empty: the
    /// listener's own io_context accepts and serves.
    std::vector<boost::asio::io_context*> accept_contexts;
    /// When set, a verified peer's roles come from its certificate's RFC 2253
    /// subject instead (admin.tls_roles); must be thread-safe.
    std::function<RoleSet(const std::string& subject)> roles_of_subject;
    /// Prepares the pieces of streamed bodies (Model A/C) off the I/O
    /// threads (bulk_pool.hpp); null: the I/O thread does. Must outlive
    /// every connection's I/O (the Server stops it after its I/O threads).
    BulkPool* bulk = nullptr;
};

class TlsListener {
public:
    /// Binds and listens (does not accept yet). Errors name the listener and
    /// the address: invalid_argument (address), io_error (bind/listen).
    static crypto::Result<std::unique_ptr<TlsListener>> bind(boost::asio::io_context& io,
                                                             TlsListenerOptions options,
                                                             hsm::SslCtxPtr context);
    ~TlsListener();
    TlsListener(const TlsListener&) = delete;
    TlsListener& operator=(const TlsListener&) = delete;

    /// Starts accepting. Thread-safe.
    void start();
    /// Closes the listening socket: new connections are refused by the kernel.
    void stop_accepting();
    /// Lets in-flight requests finish; idle connections close now.
    void drain();
    /// Closes every connection now.
    void abort();
    /// The context for new connections (SIGHUP). internal when the SSL_CTX
    /// carries callback data we cannot take over.
    crypto::Result<void> replace_context(hsm::SslCtxPtr context);

    [[nodiscard]] const std::string& name() const noexcept;
    /// "127.0.0.1:8443" or "[::1]:8443", with the port actually bound.
    [[nodiscard]] const std::string& address() const noexcept;
    [[nodiscard]] std::uint16_t port() const noexcept;
    [[nodiscard]] std::uint64_t active_connections() const noexcept;

private:
    struct Impl;
    explicit TlsListener(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace enclave::appliance
