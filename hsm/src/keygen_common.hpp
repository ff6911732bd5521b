// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: what every key creation shares (spec checks, the attribute sets
// of private, public and secret keys).

#include "attributes.hpp"
#include "hsm/keygen.hpp"

namespace enclave::hsm::detail {

/// Validates the label; fills a random 16-byte id when spec.id is empty.
crypto::Result<KeySpec> checked_spec(const KeySpec& spec);

/// already_exists when a key object on the token uses the label or the id.
crypto::Result<void> ensure_unused(const Session& s, const KeySpec& spec, const TokenInfo& token);

/// CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=true, CKA_EXTRACTABLE=false, label, id,
/// and every usage off except those the caller adds.
void add_private_key_attrs(Template& t, CK_KEY_TYPE type, const KeySpec& spec);
void add_public_key_attrs(Template& t, CK_KEY_TYPE type, const KeySpec& spec);

}  // namespace enclave::hsm::detail
