// SPDX-License-Identifier: Apache-2.0
#pragma once
// BinaryFetcher: the simulated LEA's side of Models A and C (TS 103 707
// Annex C/E). The appliance names each binary by a URL on its own LEA
// listener (binaryObject/url, with contentLength, checksum = SHA-256 hex and
// expiry); the LEA fetches it over mutual TLS with its client certificate.
//
//   Model A (range_bytes 0): one GET for the whole object.
//   Model C (range_bytes N): successive "Range: bytes=a-b" GETs of N bytes,
//     each answer checked: 206, a Content-Range that parses and starts where
//     asked, ends no later than asked, with the same complete length, and a
//     body of exactly that length. If-Range carries the (strong) ETag of the
//     first answer, so a changed object comes back whole (200).
//   A 200 to a ranged request (the server ignored Range, or If-Range did not
//     match) is taken as the whole object: the file restarts from byte 0.
//   An interrupted transfer (connection drop, timeout, 5xx, 408, 429)
//     resumes from the last byte received with a Range request, in both
//     models, up to max_attempts attempts in all, with exponential backoff.
//   At the end the size must equal contentLength and the SHA-256 the
//     checksum (when the binaryObject gives them); ok=false otherwise, and
//     the file is removed.
//
// Files (in the simulator's store directory, mode 0600, directory 0700):
//   <store>/fetched/<name>.bin   each binary fetched whole and intact; <name>
//                                is the first 32 hex digits of SHA-256(url)
//                                (URLs carry tokens: no path from the URL)
//   <store>/fetched.jsonl        one line per finished fetch: url, file, size,
//                                sha256, ok, error ("" when ok; never content),
//                                attempts, ranges
// A transfer is written to "<name>.bin.part" and renamed when it checks out.
//
// Which URLs (is_fetchable_url): https URLs whose path is not under
// /binaryData/ (the simulator's own Model B upload path: a Model B URL names
// where the appliance POSTs, there is nothing to fetch). A URL already
// submitted in this process, or whose file is already in the store (an
// earlier run), is not fetched again.
//
// Threads: `threads` workers of its own; submit() only queues (at most
// max_pending), so fetching never runs on the simulator's I/O threads. One
// LeaClient per origin (scheme, host, port; at most max_origins), each with
// `threads` pooled connections.
//
// Holds: the simulated LEA's client key (a PEM file: it stands for another
// party, as the simulator's server key does) inside the SSL_CTX of each
// LeaClient; fetched content in the clear in the store (test and demo
// material). Content never goes into an error, a log or fetched.jsonl.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "simulator/delivery_inspector.hpp"

namespace enclave::simulator {

struct BinaryFetcherOptions {
    std::filesystem::path certificate;    ///< client certificate chain (PEM)
    std::filesystem::path private_key;    ///< client key (PEM file)
    std::filesystem::path trust_anchors;  ///< CA bundle for the appliance's server certificate
    std::filesystem::path crl;            ///< optional ("" = none)
    /// Where fetched/ and fetched.jsonl go; LeaSimulator::start fills in its
    /// own store directory when this is empty.
    std::filesystem::path store;
    std::uint64_t range_bytes = 0;  ///< 0 = Model A (whole GET); else Model C range size
    unsigned threads = 2;           ///< workers, 1..32
    unsigned max_attempts = 5;      ///< requests per binary after failures, 1..100
    std::chrono::milliseconds backoff{200};       ///< before the 2nd attempt; doubles
    std::chrono::milliseconds max_backoff{5'000};
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds read_timeout{30'000};  ///< the header, and each body read
    std::uint64_t max_object_bytes = 64ull * 1024u * 1024u * 1024u;
    std::size_t max_pending = 10'000;  ///< queued binaries; more are recorded as failed
    std::size_t max_origins = 16;
};

/// The outcome of one binary, as written to fetched.jsonl.
struct FetchResult {
    std::string url;
    std::string file;  ///< relative to the store: "fetched/<name>.bin" ("" unless ok)
    std::uint64_t size = 0;  ///< bytes received (when not ok: so far)
    std::string sha256;      ///< of the bytes received, when the transfer completed
    bool ok = false;
    std::string error;       ///< "" when ok
    unsigned attempts = 0;   ///< requests sent after a failure count as attempts: 1 + retries
    unsigned ranges = 0;     ///< requests that carried a Range header
};

struct FetchCounts {
    std::uint64_t fetched = 0;  ///< ok
    std::uint64_t failed = 0;   ///< not ok
    std::uint64_t pending = 0;  ///< queued or in progress
};

/// https, parseable (delivery::parse_https_url), and not under /binaryData/.
bool is_fetchable_url(std::string_view url);

class BinaryFetcher {
public:
    /// Checks the options, loads the TLS material once (so a bad file fails
    /// here, not per fetch), creates <store>/fetched and starts the workers.
    static crypto::Result<std::unique_ptr<BinaryFetcher>> create(BinaryFetcherOptions options);
    ~BinaryFetcher();  ///< stop()
    BinaryFetcher(const BinaryFetcher&) = delete;
    BinaryFetcher& operator=(const BinaryFetcher&) = delete;

    /// Queues every fetchable binaryObject of a delivery. Never blocks on the
    /// network.
    void submit(const DeliveryFacts& facts);
    /// Queues one binary. false when it was not queued: not fetchable, seen
    /// before, already in the store, or the queue is full (then recorded as
    /// a failure).
    bool submit(const BinaryObjectFacts& object);

    /// Fetches now on the calling thread (the workers' path), records the
    /// result (fetched.jsonl, counts) and returns it. Not deduplicated.
    FetchResult fetch(const BinaryObjectFacts& object);

    [[nodiscard]] FetchCounts counts() const;
    /// Waits until nothing is pending, at most `timeout`; true when idle.
    bool wait_idle(std::chrono::milliseconds timeout);
    /// Stops the workers: queued binaries are dropped, a transfer in progress
    /// is abandoned at its next chunk (not recorded, its .part removed).
    /// Idempotent.
    void stop();

    struct Impl;

private:
    explicit BinaryFetcher(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::simulator
