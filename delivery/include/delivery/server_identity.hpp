// SPDX-License-Identifier: Apache-2.0
#pragma once
// Why a LEA endpoint's server identity was refused on a new connection
// (LeaClient: the certificate chain and host name, the SPKI pin, the PSK).
// A closed set with fixed names: what monitoring and logs may say about a
// failed check, never text the peer supplied (subject names, extensions).
//
// Holds no secret.

#include <string_view>

namespace enclave::delivery {

enum class ServerIdentityFailure {
    untrusted,      ///< the chain does not lead to the endpoint's trust anchors
    expired,        ///< a certificate of the chain has expired
    not_yet_valid,  ///< a certificate of the chain is not valid yet
    revoked,        ///< revoked by a configured CRL
    host_mismatch,  ///< the certificate does not name the endpoint's host
    invalid,        ///< any other verification failure (signature, usage, ...)
    pin_mismatch,   ///< the server key is not the configured SPKI pin (or no certificate)
    psk_not_used,   ///< the server completed the handshake without the endpoint's PSK
};

/// "untrusted", "expired", "not_yet_valid", "revoked", "host_mismatch",
/// "invalid", "pin_mismatch", "psk_not_used".
constexpr std::string_view server_identity_failure_name(ServerIdentityFailure f) noexcept {
    switch (f) {
        case ServerIdentityFailure::untrusted: return "untrusted";
        case ServerIdentityFailure::expired: return "expired";
        case ServerIdentityFailure::not_yet_valid: return "not_yet_valid";
        case ServerIdentityFailure::revoked: return "revoked";
        case ServerIdentityFailure::host_mismatch: return "host_mismatch";
        case ServerIdentityFailure::invalid: return "invalid";
        case ServerIdentityFailure::pin_mismatch: return "pin_mismatch";
        case ServerIdentityFailure::psk_not_used: return "psk_not_used";
    }
    return "invalid";
}

/// The class of an OpenSSL X509_V_ERR_* verification result (X509_V_OK is
/// not a failure: the caller does not ask). In lea_client.cpp.
ServerIdentityFailure classify_verify_result(long verify_result) noexcept;

}  // namespace enclave::delivery
