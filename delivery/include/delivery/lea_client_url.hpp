// SPDX-License-Identifier: Apache-2.0
#pragma once
// HttpsUrl: the strict subset of RFC 3986 URLs the LEA client accepts:
// "https://" host [":" port] [path ["?" query]]. No user info, no fragment,
// no percent-decoding (the path is sent as written), no whitespace or control
// characters, no empty host. Host: a DNS name (letters, digits, '-', '.'),
// an IPv4 literal, or an IPv6 literal in brackets. Errors name the part that
// is wrong, never echo the URL (it may carry an object identifier).

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace enclave::delivery {

struct HttpsUrl {
    std::string host;  ///< without brackets for IPv6
    std::uint16_t port = 443;
    std::string target;  ///< path and query, "/" when the URL has none
    bool ipv6 = false;

    /// "host:port" (IPv6 in brackets), the Host header value and log name.
    [[nodiscard]] std::string authority() const;
    /// Same scheme, host and port (host compared case-insensitively).
    [[nodiscard]] bool same_origin(const HttpsUrl& other) const;
    /// The URL again, in canonical form.
    [[nodiscard]] std::string to_string() const;
};

/// Longest URL accepted.
inline constexpr std::size_t kMaxUrlLength = 8192;

crypto::Result<HttpsUrl> parse_https_url(std::string_view url);

}  // namespace enclave::delivery
