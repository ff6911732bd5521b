// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private to the audit sources: the members of a canonical object one by one,
// so the audit log can splice its own members ("index", "prev", "time") into
// an event canonicalised earlier, on the caller's thread.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::audit::detail {

struct CanonicalMember {
    std::string key;   ///< the member name (UTF-8, unescaped)
    std::string text;  ///< its canonical text: "name":value
};

/// The members of `object` in RFC 8785 order, each canonicalised, with the
/// same checks and errors as canonicalize(). invalid_argument when `object`
/// is not an object. Nesting is counted from the object (depth 1).
[[nodiscard]] crypto::Result<std::vector<CanonicalMember>> canonical_members(
    const nlohmann::json& object);

/// Appends the canonical form of a string (quotes included). Requires valid
/// UTF-8 (checked by the callers).
void append_canonical_string(std::string& out, std::string_view text);

}  // namespace enclave::audit::detail
