// SPDX-License-Identifier: Apache-2.0
#pragma once
// Checks on the Actor (audit_sink.hpp) that task operations record, and the
// identity used to decide whether two actors are the same person or system
// (re-verification reviews are visible only to the requester).
//
//   {"kind":"local","uid":1000,"roles":[...]}              identity "local:1000"
//   {"kind":"certificate","listener":"lea","subject":"CN=...",
//    "sha256":"<64 lowercase hex>"}                         identity "certificate:<sha256>"
//   {"kind":"psk","listener":"lea","psk_identity":"ID",
//    "endpoint":"NAME"}                                     identity "psk:<ID>"
//   {"kind":"system"}                                      identity "system"
//
// Other members are carried into audit events as they are (they are facts
// about the caller that the appliance established, not request content), but
// only these decide identity.

#include <string>

#include "audit/audit_sink.hpp"
#include "crypto/result.hpp"

namespace enclave::audit {

/// invalid_argument unless `actor` is one of the shapes above (an object; a
/// "kind" of local, certificate, psk or system; a non-negative integer uid for
/// local; a 64-character lowercase hex sha256 for certificate; a psk_identity
/// of 1..128 printable ASCII characters without spaces for psk).
crypto::Result<void> check_actor(const Actor& actor);

/// The identity string above; check_actor's errors.
crypto::Result<std::string> actor_identity(const Actor& actor);

/// {"kind":"system"}: the daemon itself (expiry-driven close).
Actor system_actor();

}  // namespace enclave::audit
