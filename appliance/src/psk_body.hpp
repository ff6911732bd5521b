// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: the request bodies of the admin PSK routes (psk_routes.cpp),
// parsed as pure functions so that the fuzz harness (tests/fuzz,
// `admin_json`) can reach them without a daemon. Strict: unknown keys,
// wrong types and out-of-range numbers are refused with the answer to send.
//
// Holds: an imported key (key_hex) in a Secret; the JSON string it came in
// is wiped. The caller's body buffer is the caller's to wipe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "appliance/http_types.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance::detail {

inline constexpr std::size_t kMaxPskBody = 4096;
inline constexpr std::int64_t kMaxPskExpiresDays = 3650;
inline constexpr std::int64_t kMaxPskOverlapHours = 30 * 24;
inline constexpr std::int64_t kDefaultPskOverlapHours = 24;

/// A new or rotated PSK request, checked.
struct NewPsk {
    std::string endpoint;
    std::string identity;
    std::int64_t expires_days = 0;                          ///< 0..kMaxPskExpiresDays, 0 = never
    std::int64_t overlap_hours = kDefaultPskOverlapHours;   ///< rotate only
    std::optional<crypto::Secret> key;  ///< imported; nullopt: generate
};

/// The body of POST /v1/psks (`rotate` false) or POST /v1/psk/rotate (true,
/// which also accepts overlap_hours). The error is the answer (413 or 400).
tl::expected<NewPsk, Response> parse_psk_new(std::string_view body, bool rotate);

/// The body of POST /v1/psk/revoke: {"identity": "..."}; the identity.
tl::expected<std::string, Response> parse_psk_revoke(std::string_view body);

}  // namespace enclave::appliance::detail
