// SPDX-License-Identifier: Apache-2.0
#pragma once
// TLS contexts with the project's policy (issue #3), for the daemon's
// listeners and the outbound LEA client.
//
// Policy (every SSL_CTX built here):
// - TLS 1.2 and 1.3 only (min from TlsEndpoint::min_version, max 1.3).
// - RFC 9325 suites: TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305 only
//   (tls12_cipher_list()); TLS 1.3 AES-GCM and ChaCha20 (tls13_ciphersuites()).
// - Key exchange groups X25519, P-256, P-384.
// - Signature algorithms ECDSA (SHA-256/384/512), Ed25519 and RSA-PSS only:
//   no PKCS#1 v1.5 and no SHA-1 signatures in handshakes (the token provider
//   signs RSA with PSS only).
// - No compression, no renegotiation, server cipher preference, security
//   level 2 (>= 112-bit keys).
// - No session resumption at all: no TLS 1.2 tickets (SSL_OP_NO_TICKET: we
//   would need ticket-key rotation), no TLS 1.3 tickets (num_tickets = 0), no
//   server-side session cache. Every connection is a full handshake in which
//   the client certificate (and the CRL) is checked again.
// - Mutual authentication: a server requires a client certificate
//   (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) that chains to the
//   endpoint's trust anchors, and sends their names as the client CA list; a
//   client verifies the server against its own trust anchors and must name
//   the expected host per connection (set_expected_host).
// - Trust anchors come from the configured PEM bundle only, never from the
//   system's default CA paths. With a CRL file, X509_V_FLAG_CRL_CHECK |
//   X509_V_FLAG_CRL_CHECK_ALL apply to every certificate of the chain (so the
//   CRL file must hold a current CRL from every CA in the bundle).
//
// Every SSL_CTX, certificate, trust store and file key here is built in
// hsm::tls_libctx() (provider.hpp), not in OpenSSL's default context.
// Peers write to sockets that the other side may close: callers ignore
// SIGPIPE (or send with MSG_NOSIGNAL, as Asio does).
//
// Errors name the file or the key URI and the reason (OpenSSL's error queue
// text is appended; it names functions and reasons, never key bytes), never
// a PIN.

#include <openssl/ssl.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"
#include "hsm/provider.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

using SslCtxPtr = crypto::CHandle<SSL_CTX, SSL_CTX_free>;
using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;

/// Largest PEM file (certificate chain, trust bundle, CRL) we read.
inline constexpr std::uintmax_t kMaxPemFileSize = 1024 * 1024;

struct TlsEndpoint {
    std::filesystem::path certificate;    ///< PEM chain, leaf first
    std::string private_key;              ///< "pkcs11:..." URI (token key) or, only when the
                                          ///< resolver allows it, a PEM file path
    std::filesystem::path trust_anchors;  ///< PEM CA bundle for peer verification
    std::filesystem::path crl;            ///< optional ("" = none)
    int min_version = TLS1_2_VERSION;     ///< TLS1_2_VERSION or TLS1_3_VERSION
};

/// Turns a private_key reference into an EVP_PKEY.
class PrivateKeyResolver {
public:
    virtual ~PrivateKeyResolver() = default;
    virtual crypto::Result<EvpPkeyPtr> load(std::string_view reference) = 0;
};

/// Token keys ("pkcs11:" URIs) through the provider (load_token_private_key
/// on `pool`'s token). Any other reference is refused (invalid_argument)
/// unless `allow_file_keys`: then it is a PEM private-key file (for tests and
/// the demo peers, whose keys stand for other parties). `pool` may be null
/// when only file keys are used; a "pkcs11:" reference then fails with
/// unavailable.
std::unique_ptr<PrivateKeyResolver> make_key_resolver(std::shared_ptr<SessionPool> pool,
                                                      bool allow_file_keys = false);

/// A server context: certificate chain + key, required client certificates
/// from `trust_anchors`, optional CRL. Fails when the key does not match the
/// certificate.
crypto::Result<SslCtxPtr> make_server_context(const TlsEndpoint& endpoint,
                                              PrivateKeyResolver& resolver);

/// A client context: certificate chain + key presented to the server, server
/// verified against `trust_anchors` (and the CRL). The expected host name is
/// set per connection with set_expected_host().
crypto::Result<SslCtxPtr> make_client_context(const TlsEndpoint& endpoint,
                                              PrivateKeyResolver& resolver);

/// For a client SSL: the server certificate must name `host` (a DNS name, or
/// an IPv4/IPv6 literal matched against IP SANs); also sets SNI for DNS names.
/// invalid_argument for an empty host or one with a NUL.
crypto::Result<void> set_expected_host(SSL* ssl, std::string_view host);

/// The RFC 9325 policy, for docs and tests.
/// The session id context every context here sets (TLS 1.3 PSK sessions
/// built for a connection must carry it too).
std::string_view session_id_context() noexcept;
std::string_view tls12_cipher_list() noexcept;   ///< OpenSSL cipher string for TLS 1.2
std::string_view tls13_ciphersuites() noexcept;  ///< TLS 1.3 suites
std::string_view tls_groups() noexcept;          ///< key exchange groups
std::string_view tls_sigalgs() noexcept;         ///< signature algorithms

}  // namespace enclave::hsm
