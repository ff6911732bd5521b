// SPDX-License-Identifier: Apache-2.0
#include "delivery/lea_client_url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace enclave::delivery {
namespace {

using crypto::Errc;
using crypto::fail;

bool is_dns_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.';
}

// RFC 3986 pchar / "/" / "?" minus what we never send: no '#', no spaces,
// no controls, no non-ASCII (callers percent-encode).
bool is_target_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    return c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' && c != '^' && c != '`' &&
           c != '{' && c != '|' && c != '}';
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

crypto::Result<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return fail(Errc::malformed_input, "URL: bad port");
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return fail(Errc::malformed_input, "URL: bad port");
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return fail(Errc::malformed_input, "URL: port out of range");
    return static_cast<std::uint16_t>(value);
}

crypto::Result<void> parse_authority(std::string_view auth, HttpsUrl& out) {
    if (auth.find('@') != std::string_view::npos) {
        return fail(Errc::malformed_input, "URL: user info is not allowed");
    }
    std::string_view host = auth;
    std::string_view port;
    if (!auth.empty() && auth.front() == '[') {
        const auto close = auth.find(']');
        if (close == std::string_view::npos)
            return fail(Errc::malformed_input, "URL: bad IPv6 host");
        host = auth.substr(1, close - 1);
        const auto rest = auth.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail(Errc::malformed_input, "URL: bad authority");
            port = rest.substr(1);
            if (port.empty()) return fail(Errc::malformed_input, "URL: bad port");
        }
        in6_addr addr{};
        if (::inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1) {
            return fail(Errc::malformed_input, "URL: bad IPv6 host");
        }
        out.ipv6 = true;
    } else {
        const auto colon = auth.rfind(':');
        if (colon != std::string_view::npos) {
            host = auth.substr(0, colon);
            port = auth.substr(colon + 1);
            if (port.empty()) return fail(Errc::malformed_input, "URL: bad port");
        }
        if (host.empty() || host.size() > 253 ||
            !std::all_of(host.begin(), host.end(), is_dns_char) || host.front() == '.' ||
            host.front() == '-') {
            return fail(Errc::malformed_input, "URL: bad host");
        }
    }
    out.host = std::string(host);
    if (!port.empty()) {
        auto p = parse_port(port);
        if (!p) return tl::unexpected(p.error());
        out.port = *p;
    }
    return {};
}

}  // namespace

std::string HttpsUrl::authority() const {
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool HttpsUrl::same_origin(const HttpsUrl& other) const {
    return port == other.port && iequal(host, other.host);
}

std::string HttpsUrl::to_string() const { return "https://" + authority() + target; }

crypto::Result<HttpsUrl> parse_https_url(std::string_view url) {
    if (url.size() > kMaxUrlLength)
        return fail(Errc::too_large, "URL: longer than 8192 characters");
    constexpr std::string_view kScheme = "https://";
    if (url.size() < kScheme.size() || !iequal(url.substr(0, kScheme.size()), kScheme)) {
        return fail(Errc::malformed_input, "URL: the scheme must be https");
    }
    const std::string_view rest = url.substr(kScheme.size());
    const auto slash = rest.find_first_of("/?#");
    const std::string_view auth = rest.substr(0, slash);
    if (auth.empty()) return fail(Errc::malformed_input, "URL: no host");
    HttpsUrl out;
    if (auto ok = parse_authority(auth, out); !ok) return tl::unexpected(ok.error());
    std::string_view target = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (!std::all_of(target.begin(), target.end(), is_target_char)) {
        return fail(Errc::malformed_input, "URL: forbidden character in the path or query");
    }
    if (!target.empty() && target.front() == '?') {
        out.target = "/" + std::string(target);
    } else {
        out.target = target.empty() ? "/" : std::string(target);
    }
    return out;
}

}  // namespace enclave::delivery
