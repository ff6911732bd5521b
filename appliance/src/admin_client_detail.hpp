// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to the admin client: when a response is complete before EOF.

#include <cstddef>
#include <optional>
#include <string_view>

namespace enclave::appliance::detail {

/// The total length (headers + body) of the response at the start of `raw`
/// when its header block is complete and carries a Content-Length (and no
/// Transfer-Encoding); nullopt otherwise (then read to end of stream).
std::optional<std::size_t> http_expected_length(std::string_view raw);

/// Largest header block accepted (status line and headers).
inline constexpr std::size_t kMaxHttpHeaderBytes = 64 * 1024;
inline constexpr std::size_t kMaxHttpHeaders = 100;

}  // namespace enclave::appliance::detail
