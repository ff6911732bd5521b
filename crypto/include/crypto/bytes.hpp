// SPDX-License-Identifier: Apache-2.0
#pragma once
// Byte-buffer vocabulary shared by every layer.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace enclave::crypto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

/// The bytes of a string, without a copy.
inline ByteView as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Constant-time equality of two byte strings (sodium_memcmp). Different
/// lengths compare unequal; the length itself is not secret.
bool constant_time_equal(ByteView a, ByteView b) noexcept;

}  // namespace enclave::crypto
