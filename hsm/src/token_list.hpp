// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: enumerating and matching tokens on a raw function list (used
// before a Module object exists, when probing configured modules).

#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "crypto/result.hpp"
#include "hsm/module.hpp"
#include "hsm/uri.hpp"

namespace enclave::hsm::detail {

/// A fixed-width, space-padded PKCS#11 text field without its padding.
std::string trim_field(const unsigned char* field, std::size_t width);

crypto::Result<ModuleInfo> module_info(CK_FUNCTION_LIST* fn);
crypto::Result<std::vector<TokenInfo>> list_tokens(CK_FUNCTION_LIST* fn);
bool library_matches(const Uri& uri, const ModuleInfo& info) noexcept;
bool token_matches(const Uri& uri, const TokenInfo& token) noexcept;

/// The single initialised token matching `uri` (see Module::find_token).
crypto::Result<TokenInfo> find_token(CK_FUNCTION_LIST* fn, const ModuleInfo& info,
                                     const Uri& uri);

}  // namespace enclave::hsm::detail
