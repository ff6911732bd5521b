// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: facts about a TLS peer and a failed handshake, from OpenSSL
// (no Asio here).

#include <openssl/ssl.h>

#include "appliance/http_types.hpp"
#include "appliance/metrics.hpp"

namespace enclave::appliance::detail {

/// Fills peer.cert_subject (RFC 2253) and peer.cert_sha256 from the verified
/// client certificate of a completed handshake. Leaves them empty when there is
/// none (cannot happen with verify_fail_if_no_peer_cert).
void read_peer_certificate(SSL* ssl, Peer& peer);

/// Maps an OpenSSL packed error (ERR_get_error) from a failed server
/// handshake to a HandshakeFailure.
HandshakeFailure classify_openssl_error(unsigned long packed) noexcept;

}  // namespace enclave::appliance::detail
