// SPDX-License-Identifier: Apache-2.0
#pragma once
// Token provisioning: C_InitToken with the security officer PIN, then
// C_InitPIN for the user PIN (as the SO). For the appliance's `init` step and
// for test fixtures; PINs come in as Secrets (never argv) and are only passed
// to the module.

#include <memory>
#include <string_view>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/module.hpp"

namespace enclave::hsm {

/// Initialises the token in `slot` with `label` (1..32 bytes, no control
/// characters). Refuses (already_exists) when that slot's token is already
/// initialised (re-initialising destroys every key on it) or when another
/// initialised token already has `label`. Returns the token as found again
/// afterwards (some modules, SoftHSM among them, may move it to a new slot id).
crypto::Result<TokenInfo> initialize_token(const std::shared_ptr<Module>& module, CK_SLOT_ID slot,
                                           std::string_view label, const crypto::Secret& so_pin,
                                           const crypto::Secret& user_pin);

}  // namespace enclave::hsm
