// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals of the enclave-pkcs11 provider shared by its source files.

#include <openssl/core.h>

namespace enclave::hsm::detail {

/// The KEYMGMT algorithm table (EC, ED25519, RSA).
const OSSL_ALGORITHM* provider_keymgmt_algorithms() noexcept;
/// The SIGNATURE algorithm table (ENCLAVE-ECDSA, ENCLAVE-ED25519, ENCLAVE-RSA).
const OSSL_ALGORITHM* provider_signature_algorithms() noexcept;

}  // namespace enclave::hsm::detail
