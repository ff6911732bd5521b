// SPDX-License-Identifier: Apache-2.0
#pragma once
// Opening the instance's token and logging in with its configured PIN
// source: enclaved at start-up (steps 3-7 of daemon.hpp) and enclavectl's
// offline commands (archive export). Call it once per process, before any
// fork is out of the question (PKCS#11 handles do not survive fork).
#include <memory>
#include <string>

#include "appliance/config.hpp"
#include "appliance/daemon.hpp"
#include "appliance/event_sink.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::appliance {

/// Why the token could not be opened: enclaved's exit code, the log
/// component and a message (never the PIN).
struct TokenLoginFailure {
    ExitCode code;
    std::string component;
    std::string message;
};

/// SOFTHSM2_CONF=DATA_DIR/softhsm2.conf when the module is SoftHSM and the
/// instance has one; loads the module, finds the token of token.uri, reads
/// the PIN from token.pin_source and opens a read-only session pool of
/// token.max_sessions. `events` (may be null) hears a failed login.
tl::expected<std::shared_ptr<hsm::SessionPool>, TokenLoginFailure> open_token_session(
    const Config& cfg, EventSink* events);

}  // namespace enclave::appliance
