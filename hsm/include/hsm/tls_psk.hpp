// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS pre-shared keys on the project's SSL_CTXs (tls_context.hpp), for LEA
// endpoints that authenticate with a PSK instead of certificates (issue #5
// "optional PSK per endpoint", issue #7 "PSKs").
//
// - TLS 1.3: external PSKs (RFC 8446 section 4.2.11) in psk_dhe_ke mode only
//   (OpenSSL's default: SSL_OP_ALLOW_NO_DHE_KEX stays off), so every PSK
//   connection still has an (EC)DHE exchange and forward secrecy. A PSK is
//   bound to SHA-256 (TLS_AES_128_GCM_SHA256 / TLS_CHACHA20_POLY1305_SHA256).
// - TLS 1.2: RFC 5487 DHE-PSK AES-GCM suites and RFC 7905
//   ECDHE-PSK-CHACHA20-POLY1305; never plain PSK (no forward secrecy) or
//   RSA-PSK. DHE groups are 2048-bit or larger (security level 2, dh auto).
//
// Server (enable_server_psk): a client offering a PSK identity that the
// resolver knows authenticates with it (no certificate is asked for); any
// other client goes on with the certificate handshake exactly as before.
// Client (enable_client_psk): the connection offers only the source's
// current PSK (TLS 1.2: only the PSK suites) and psk_authenticated() tells
// the caller whether the handshake used it: a PSK endpoint must refuse a
// connection that fell back to certificates.
//
// Holds: the callbacks fetch each key from the resolver or source at
// handshake time into a crypto::Secret and copy it straight into OpenSSL's
// buffers; nothing here keeps a key beyond one callback. Identities are not
// secret (RFC 4279 section 7: they travel in clear in TLS 1.2).
#include <openssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::hsm {

/// The TLS 1.2 suites a PSK connection may use, in preference order.
std::string_view tls12_psk_cipher_list() noexcept;

/// A key the server accepts, and what the identity authenticates as.
struct ServerPsk {
    std::string label;  ///< e.g. the endpoint name (never secret)
    crypto::Secret key;
};

class ServerPskResolver {
public:
    virtual ~ServerPskResolver() = default;
    /// The usable key for `identity`, or nullopt (unknown, revoked, expired).
    /// Called on I/O threads during handshakes: thread-safe, quick.
    virtual std::optional<ServerPsk> find(std::string_view identity) = 0;
};

class ClientPskSource {
public:
    virtual ~ClientPskSource() = default;
    struct Current {
        std::string identity;
        crypto::Secret key;
    };
    /// The PSK to offer now, or nullopt (then the handshake fails: no
    /// certificate fallback). Thread-safe.
    virtual std::optional<Current> current() = 0;
};

/// Adds PSK authentication to a server context from make_server_context:
/// the PSK suites join the TLS 1.2 list (after the certificate ones), the
/// TLS 1.3 and 1.2 server callbacks look identities up in `resolver`.
crypto::Result<void> enable_server_psk(SSL_CTX* ctx, std::shared_ptr<ServerPskResolver> resolver);

/// Makes a client context from make_client_context offer `source`'s PSK
/// and nothing else on TLS 1.2 (PSK suites only).
crypto::Result<void> enable_client_psk(SSL_CTX* ctx, std::shared_ptr<ClientPskSource> source);

/// After a completed handshake: the PSK identity used and its label, or
/// nullopt when the peer was authenticated by certificate.
struct PskPeer {
    std::string identity;
    std::string label;
};
std::optional<PskPeer> psk_peer(const SSL* ssl);

/// After a completed client handshake: true when the offered PSK was used.
bool psk_authenticated(const SSL* ssl);

}  // namespace enclave::hsm
