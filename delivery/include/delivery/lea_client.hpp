// SPDX-License-Identifier: Apache-2.0
#pragma once
// LeaClient: the HTTPS/1.1 client of one LEA endpoint (TS 103 707 clause 7,
// Annex C Model B), over a bounded set of persistent mutual-TLS connections.
//
// - TLS: the caller builds the SSL_CTX with hsm::make_client_context (token
//   client key, the endpoint's trust anchors, CRL); the client names the
//   expected host on every connection (hsm::set_expected_host) and, when a
//   pin is configured, compares the SHA-256 of the server certificate's
//   SubjectPublicKeyInfo (constant time) before sending a byte of HTTP.
// - Connections: at most max_connections, reused while the server keeps them
//   open. A pooled connection that the server closed meanwhile is detected
//   (readable or idle too long) and replaced; a request that fails on a
//   reused connection before any response byte arrived and before any body
//   byte was taken from a BodySource is sent once more on a fresh one.
// - Every phase (waiting for a free connection, resolve+connect, handshake,
//   each write, waiting for 100 Continue, each read) has its own deadline.
// - Blocking and thread-safe: delivery workers call it from their threads.
//   One call holds one connection for its duration.
// - Streaming GET (get_stream, lea_client_get.cpp): for Model A/C fetches
//   (TS 103 707 Annex C/E; the simulator's fetcher) a response body of any
//   size up to max_stream_bytes is handed to a BodySink in pieces of at most
//   chunk_size bytes (one buffer, wiped after the call); a HeadHandler sees
//   the status and headers before the first body byte (e.g. to check 206 and
//   Content-Range, or to restart a file on a 200). Content-Length, chunked
//   and close-delimited bodies (the latter only with a TLS close_notify: a
//   truncated stream is an error); HEAD has no body. read_timeout bounds the
//   header and each body read (a stall), not the whole transfer. An error
//   from a handler or the sink aborts: the connection is closed, not reused.
//   So is a connection with bytes left after the declared body (a body
//   longer than its Content-Length). Content-Range parsing for callers:
//   parse_content_range (lea_client_range.hpp).
//
// Errors: unavailable (names the phase: "connect", "TLS handshake", "write
// request", "100 Continue", "read response", "read response body"...),
// integrity_failure for a server certificate that fails verification
// ("server certificate: ...") or a pin mismatch ("pin"), too_large for a
// response over max_response_bytes (get_stream: max_stream_bytes, or a
// header over max_header_bytes), invalid_argument for a URL outside the
// endpoint's origin or a bad extra header. An error never carries a request
// or response body. Any HTTP status is a Reply, not an error: the caller
// decides what 4xx/5xx means.
//
// Holds: no secret of its own. The SSL_CTX references the token client key
// (a provider handle; the key never leaves the token), or in the LEA
// simulator's fetcher a file key that stands for the LEA. Request and response
// bodies carry interception content: they are not logged, and the streaming
// buffer is wiped after each binary.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "delivery/lea_client_url.hpp"
#include "delivery/server_identity.hpp"
#include "hsm/tls_context.hpp"

namespace enclave::delivery {

struct LeaClientOptions {
    /// The DeliveryObject URL: "https://host[:port]/path". Binaries go to
    /// URLs with the same scheme, host and port.
    std::string base_url;
    /// From hsm::make_client_context; the client takes ownership.
    hsm::SslCtxPtr tls;
    /// SHA-256 of the server certificate's DER SubjectPublicKeyInfo (32
    /// bytes), checked on every connection in addition to the chain.
    std::optional<crypto::Bytes> spki_sha256_pin;
    /// The SSL_CTX offers a PSK (hsm::enable_client_psk): every connection
    /// must have authenticated with it, or it is closed (integrity_failure,
    /// "psk"), never used with a certificate fallback. No pin then (a PSK
    /// server presents no certificate).
    bool require_psk = false;
    /// The name the server certificate must carry; "" = the URL's host.
    std::string expected_host;
    std::size_t max_connections = 4;
    std::chrono::milliseconds pool_wait_timeout{30'000};  ///< for a free connection
    std::chrono::milliseconds connect_timeout{5'000};     ///< resolve + TCP connect
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds write_timeout{30'000};     ///< each write (header, one body chunk)
    std::chrono::milliseconds read_timeout{30'000};      ///< the whole response after the request
    std::chrono::milliseconds continue_timeout{10'000};  ///< waiting for 100 Continue
    /// A pooled connection idle longer than this is closed instead of reused
    /// (servers close idle connections; this avoids racing them).
    std::chrono::milliseconds idle_timeout{30'000};
    std::size_t max_response_bytes = 1024 * 1024;  ///< response body limit (buffered calls)
    /// Response body limit of get_stream (a Model A/C binary), checked against
    /// Content-Length before the body and against the bytes as they arrive.
    std::uint64_t max_stream_bytes = 64ull * 1024u * 1024u * 1024u;
    std::size_t max_header_bytes = 16 * 1024;      ///< response header limit
    std::size_t chunk_size = 64 * 1024;            ///< BodySource chunk (the memory a binary uses)
    std::string user_agent = "enclave";
    /// Told the outcome of the server identity check of every NEW connection
    /// (chain and host name, pin, PSK): nullopt = accepted, else why it was
    /// refused. Not called when the connection fails before that check or
    /// for another reason (refused, reset, a handshake timeout). Called on
    /// the caller's thread, possibly from several at once; must not throw.
    std::function<void(std::optional<ServerIdentityFailure>)> on_identity_check;
};

struct HttpHeader {
    std::string name;
    std::string value;
};

struct Reply {
    unsigned status = 0;
    std::vector<HttpHeader> headers;
    std::string body;

    /// The first header of that name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// Supplies a streamed body: writes up to out.size() bytes into `out` and
/// returns how many it wrote. It is called until the declared size has been
/// supplied; returning 0 before that is an error (the source ran dry), as is
/// an error value (e.g. the blob store failed to decrypt a chunk). Called on
/// the caller's thread, inside post_binary.
using BodySource = std::function<crypto::Result<std::size_t>(crypto::MutableByteView out)>;

/// Receives a streamed response body (get_stream) in order, in pieces of at
/// most chunk_size bytes; the view is valid only during the call. An error
/// aborts the transfer (the connection is closed) and is returned, wrapped,
/// by get_stream.
using BodySink = std::function<crypto::Result<void>(crypto::ByteView piece)>;

/// Sees a streamed response's status and headers (Reply::body empty) before
/// the first body byte goes to the sink. An error aborts as a sink error does.
using HeadHandler = std::function<crypto::Result<void>(const Reply& head)>;

/// Longest extra request header line get_stream accepts (name + value), and
/// how many.
inline constexpr std::size_t kMaxExtraHeaderBytes = 8192;
inline constexpr std::size_t kMaxExtraHeaders = 32;

/// Whether get_stream would send this extra header: the name an RFC 9110
/// token, not one the client owns (Host, Content-Length, Transfer-Encoding,
/// Connection, Keep-Alive, Upgrade, TE, Trailer, Expect, Proxy-Connection);
/// the value without CR, LF, NUL or other controls but HTAB. invalid_argument
/// names the header (never echoes the value).
crypto::Result<void> check_extra_header(const HttpHeader& header);

/// Counters for tests and metrics.
struct LeaClientStats {
    std::uint64_t connections_opened = 0;
    std::uint64_t requests = 0;       ///< requests that got a final response
    std::uint64_t reused = 0;         ///< requests sent on a pooled connection
    std::uint64_t retried_stale = 0;  ///< requests resent after a stale pooled connection
    std::uint64_t open_connections = 0;
};

class LeaClient {
public:
    /// Checks the options (URL, pin length, limits) and adopts the SSL_CTX.
    /// Connects lazily, on the first request.
    static crypto::Result<std::unique_ptr<LeaClient>> create(LeaClientOptions options);
    ~LeaClient();
    LeaClient(const LeaClient&) = delete;
    LeaClient& operator=(const LeaClient&) = delete;

    /// POST `body` (Content-Type application/xml) to the base URL.
    crypto::Result<Reply> post_xml(std::string_view body);

    /// POST `body` with `content_type` to `url` (same origin as the base URL).
    crypto::Result<Reply> post(std::string_view url, std::string_view content_type,
                               std::string_view body);

    /// Model B: POST `size` bytes from `source` to `url` (same origin) with
    /// Content-Length and Expect: 100-continue. The header goes first; the
    /// body only after 100 Continue. A final status instead of 100 is
    /// returned as the Reply and no body byte is sent (the connection is then
    /// closed, not reused). Memory: one chunk_size buffer.
    crypto::Result<Reply> post_binary(std::string_view url, std::string_view content_type,
                                      std::uint64_t size, const BodySource& source);

    /// GET `url` (same origin); for status pages and tests.
    crypto::Result<Reply> get(std::string_view url);

    /// Model A/C: `method` ("GET" or "HEAD") `url` (same origin) with
    /// `extra_headers` (e.g. Range, If-Range; checked by check_extra_header)
    /// and stream the response body to `sink`, bounded by max_stream_bytes.
    /// `on_head` (optional) sees status and headers first. Returns the status
    /// and headers (body empty) once the whole body went to the sink. A
    /// request that fails on a reused connection before any response byte is
    /// sent once more on a fresh one (GET and HEAD are idempotent; neither
    /// handler has been called then). Memory: one chunk_size buffer.
    crypto::Result<Reply> get_stream(std::string_view url,
                                     const std::vector<HttpHeader>& extra_headers,
                                     const BodySink& sink, std::string_view method = "GET",
                                     const HeadHandler& on_head = {});

    /// Presents another client identity from now on (cert import of the
    /// [lea_client] key): `tls` (from make_client_context, like the one
    /// create() took) serves every connection made from here on. Idle
    /// connections are closed; connections in use finish their exchange on
    /// the old context and are then closed, not pooled. Nothing fails.
    crypto::Result<void> replace_tls(hsm::SslCtxPtr tls);

    /// Closes every pooled idle connection (e.g. after the endpoint's
    /// configuration changed). Connections in use close when their call ends.
    void close_idle();

    [[nodiscard]] LeaClientStats stats() const;
    [[nodiscard]] const HttpsUrl& base_url() const noexcept;

    struct Impl;

private:
    explicit LeaClient(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::delivery
