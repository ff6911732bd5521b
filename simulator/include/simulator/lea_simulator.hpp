// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeaSimulator: a law-enforcement endpoint for tests, benchmarks and the
// demo (enclave-lea-sim is its command-line front). A mutual-TLS HTTPS/1.1
// server (Beast, in lea_simulator.cpp only) that:
//
//   POST <delivery_path>        an HI1 DELIVER message (DeliveryObject):
//                               200 + HI1 DELIVERResponse when accepted (also
//                               for a DeliveryID seen before: counted as a
//                               duplicate, not stored twice); 400 + HI1
//                               ErrorInformation when it does not parse or
//                               the validator refuses it; 413 over the limit
//   POST /binaryData/{uuid}/    a Model B binary (Content-Length required;
//                               Expect: 100-continue honoured): 200 when
//                               stored (SHA-256 recorded), 200 at once (no
//                               100) for a UUID already stored, 409 while the
//                               same UUID is uploading, 411 without length,
//                               413 over max_binary_bytes, 404 for a bad UUID
//   GET  /status                JSON counts (see status_json)
//   POST /control/fault         JSON {"kind": "none"|"refuse"|"close_mid_body"|
//                               "delay"|"status"|"reset"|"stall", "target":
//                               "all"|"xml"|"binary", "delay_ms": n,
//                               "count": n (-1 = until reset), "status": n
//                               (500..599, kind status only)}
//
// Misbehaviour (Fault) for tests: refuse = 503 with Retry-After: 1 before
// reading a body (binaries: instead of 100 Continue), then close;
// close_mid_body = drop the connection after part of a binary body (or after
// reading a whole XML request, without an answer); delay = wait delay_ms
// before answering (binaries: before the 100 Continue); status = answer
// `status` (5xx) without storing anything (XML: after reading the request,
// keep-alive; binaries: instead of 100 Continue, then close); reset = a TCP
// reset (SO_LINGER 0, close) right after the request header; stall = read
// the header and part of the body, then answer nothing for delay_ms and
// drop the connection (the client's timeouts must end it first).
//
// Hooks (TODO(#5, Part A) in the lead's wiring):
//   validator  - schema validation of each DELIVER message (Part A's
//                parse_xml + SchemaSet::validate). Empty: no schema check.
//   responder  - the HI1 answers (Part A's build_deliver_response). Empty:
//                minimal_deliver_response / minimal_error_response.
//   on_delivery - called after a new delivery is stored (on an I/O thread:
//                keep it short).
//
// Model A/C (issue #6): with `fetch` set, each new delivery's binaryObject
// URLs (other than the simulator's own /binaryData/ ones) are queued to a
// BinaryFetcher (binary_fetcher.hpp) that GETs them on its own threads into
// <store>/fetched/ and records fetched.jsonl; the status counts them.
//
// Holds: the simulator's own TLS key (a PEM file: it stands for another
// party) and what it receives, stored in the clear in the store directory.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "hsm/tls_context.hpp"
#include "hsm/tls_psk.hpp"
#include "simulator/binary_fetcher.hpp"
#include "simulator/delivery_inspector.hpp"
#include "simulator/sim_store.hpp"

namespace enclave::simulator {

enum class FaultKind { none, refuse, close_mid_body, delay, status, reset, stall };
enum class FaultTarget { all, xml, binary };

struct Fault {
    FaultKind kind = FaultKind::none;
    FaultTarget target = FaultTarget::all;
    std::chrono::milliseconds delay{0};
    int count = -1;  ///< requests it applies to; -1 = until replaced
    unsigned status = 0;  ///< kind status: the HTTP status to answer (500..599)
};

/// Parses the /control/fault JSON form (also used by the CLI's --fault).
crypto::Result<Fault> parse_fault_json(std::string_view json);

using XmlValidator = std::function<crypto::Result<void>(std::string_view xml)>;

struct Responder {
    std::function<std::string(const DeliveryFacts&)> accepted;
    std::function<std::string(const DeliveryFacts&, unsigned code, std::string_view description)>
        error;
};

struct LeaSimulatorOptions {
    std::string address = "127.0.0.1";  ///< IP literal
    std::uint16_t port = 0;             ///< 0 = any free port (see port())
    /// Server certificate chain, PEM key file, client trust anchors (+ CRL).
    hsm::TlsEndpoint tls;
    /// Also accept TLS PSK clients (identities it knows); certificates still work.
    std::shared_ptr<hsm::ServerPskResolver> psk;
    std::filesystem::path store;
    std::string delivery_path = "/hi1/delivery";
    std::size_t max_xml_bytes = 64u * 1024u * 1024u;
    std::uint64_t max_binary_bytes = 16ull * 1024u * 1024u * 1024u;
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_connections = 256;
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds idle_timeout{60'000};  ///< between requests
    std::chrono::milliseconds read_timeout{60'000};  ///< each read (header, body, one chunk)
    std::chrono::milliseconds write_timeout{30'000};
    unsigned threads = 2;
    XmlValidator validator;
    Responder responder;
    std::function<void(const DeliveryFacts&)> on_delivery;
    Fault fault;
    /// Model A/C fetching; empty = none. An empty fetch->store means `store`.
    std::optional<BinaryFetcherOptions> fetch;
};

/// The PSKs a simulator accepts, from a file of lines "IDENTITY HEXKEY"
/// (blank lines and lines starting with '#' ignored; at most 64 KiB; keys
/// 32..64 bytes). Errors name the line, never a key. (psk_file.cpp)
crypto::Result<std::shared_ptr<hsm::ServerPskResolver>> load_psk_file(
    const std::filesystem::path& path);

struct SimStatus {
    StoreCounts store;
    std::uint64_t connections = 0;  ///< TLS connections accepted (handshake done)
    std::uint64_t psk_connections = 0;  ///< of which authenticated with a PSK
    std::uint64_t handshake_failures = 0;
    std::uint64_t requests = 0;             ///< requests answered or dropped
    std::uint64_t deliveries_rejected = 0;  ///< DELIVER messages answered 4xx
    std::uint64_t faults_applied = 0;
    std::uint64_t active_connections = 0;
    /// Certificate-authenticated connections by the SHA-256 (hex) of the
    /// client certificate presented: which identity the appliance showed.
    std::map<std::string, std::uint64_t> client_certificates;
    bool fetching = false;  ///< a fetcher is configured
    FetchCounts fetch;      ///< zero without one
};

class LeaSimulator {
public:
    /// Opens the store, builds the TLS context (file key allowed), binds and
    /// starts `threads` I/O threads.
    static crypto::Result<std::unique_ptr<LeaSimulator>> start(LeaSimulatorOptions options);
    ~LeaSimulator();  ///< stops
    LeaSimulator(const LeaSimulator&) = delete;
    LeaSimulator& operator=(const LeaSimulator&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept;
    /// "https://<address>:<port>" (IPv6 in brackets).
    [[nodiscard]] std::string base_url() const;
    void set_fault(const Fault& fault);
    [[nodiscard]] SimStatus status() const;
    /// {"deliveries":..,"delivery_duplicates":..,"items":..,"binaries":..,
    ///  "binary_duplicates":..,"binary_bytes":..,"binaries_incomplete":..,
    ///  "connections":..,"handshake_failures":..,"requests":..,
    ///  "deliveries_rejected":..,"faults_applied":..,"active_connections":..,
    ///  "fetching":true|false,"fetched":..,"fetch_failed":..,"fetch_pending":..}
    [[nodiscard]] std::string status_json() const;
    /// Closes the listener and every connection; idempotent.
    void stop();

    struct State;

private:
    explicit LeaSimulator(std::shared_ptr<State> state);
    std::shared_ptr<State> state_;
};

}  // namespace enclave::simulator
