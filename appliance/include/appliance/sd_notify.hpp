// SPDX-License-Identifier: Apache-2.0
#pragma once
// The systemd readiness protocol (sd_notify(3)) without libsystemd: when
// NOTIFY_SOCKET is set, one datagram per state change goes to that AF_UNIX
// socket ("READY=1", "STOPPING=1", "RELOADING=1", "STATUS=..."). A path that
// starts with '@' names an abstract socket. Nothing happens when the variable
// is unset. Holds no secret.

#include <string_view>

#include "crypto/result.hpp"

namespace enclave::appliance {

/// Sends `state` (newline-separated assignments) to $NOTIFY_SOCKET. Success
/// when the variable is unset. Errors: invalid_argument (a bad socket path),
/// io_error (send failed).
crypto::Result<void> sd_notify(std::string_view state);

}  // namespace enclave::appliance
