// SPDX-License-Identifier: Apache-2.0
#pragma once
// RFC 9562 UUIDs in the lowercase text form TS 103 280 requires
// ([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}).

#include <string>
#include <string_view>

namespace enclave::delivery {

/// A random (version 4, variant 10) UUID from the OpenSSL CSPRNG. Throws
/// std::runtime_error only if the CSPRNG fails (a broken invariant).
std::string uuid_v4();

/// True when `text` is a UUID in TS 103 280's form (lowercase hex, 8-4-4-4-12).
bool is_uuid(std::string_view text) noexcept;

}  // namespace enclave::delivery
