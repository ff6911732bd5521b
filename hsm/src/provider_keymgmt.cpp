// SPDX-License-Identifier: Apache-2.0
#include <openssl/core_dispatch.h>

#include "hsm/provider.hpp"
#include "provider_keys.hpp"

namespace enclave::hsm {

namespace detail {
const OSSL_ALGORITHM* provider_keymgmt_algorithms() noexcept { return nullptr; }
const OSSL_ALGORITHM* provider_signature_algorithms() noexcept { return nullptr; }
}  // namespace detail

// TODO(#3): the keymgmt and signature tables (next commit).
crypto::Result<EvpPkeyPtr> load_token_private_key(std::shared_ptr<SessionPool>, std::string_view) {
    return crypto::fail(crypto::Errc::unavailable, "token keys in TLS: not implemented yet");
}

bool is_token_key(const EVP_PKEY*) noexcept { return false; }

}  // namespace enclave::hsm
