// SPDX-License-Identifier: Apache-2.0
#include "appliance/monitoring_fields.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace enclave::appliance::monitoring {
namespace {

bool name_char(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '.': case '_': case '-': case ':': case '/': case '{': case '}': case '@': case '+':
            return true;
        default: return false;
    }
}

bool is_ip(const std::string& text) {
    unsigned char buf[16];
    return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool is_port(std::string_view text) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && end == text.data() + text.size() && port <= 65535 && !text.empty();
}

/// "ip", "ip/prefix" (an IPv6 /64 a lockout counts against), "ipv4:port"
/// or "[ipv6]:port".
bool is_address(std::string_view text) {
    if (text.size() > 64) return false;
    if (is_ip(std::string(text))) return true;
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        const std::string_view prefix = text.substr(slash + 1);
        unsigned bits = 0;
        const auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
        return ec == std::errc() && end == prefix.data() + prefix.size() && !prefix.empty() &&
               bits <= 128 && is_ip(std::string(text.substr(0, slash)));
    }
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return false;
        }
        return is_ip(std::string(text.substr(1, close - 1))) && is_port(text.substr(close + 2));
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    return is_ip(std::string(text.substr(0, colon))) && is_port(text.substr(colon + 1)) &&
           text.substr(0, colon).find(':') == std::string_view::npos;
}

}  // namespace

Name::Name(std::string_view text) {
    const std::size_t n = std::min(text.size(), kMaxLength);
    text_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) text_ += name_char(text[i]) ? text[i] : '?';
}

Fingerprint::Fingerprint(std::string_view hex) {
    if (hex.size() > kMaxLength) return;
    for (const char c : hex) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return;
    }
    hex_ = std::string(hex);
}

Address::Address(std::string_view text) {
    if (is_address(text)) text_ = std::string(text);
}

std::string Account::str() const {
    switch (kind) {
        case Kind::daemon: return "daemon";
        case Kind::uid: return "uid:" + std::to_string(uid.value);
        case Kind::certificate: return "cert:" + certificate.str();
        case Kind::psk: return "psk:" + psk.str();
        case Kind::address: return "address:" + address.str();
    }
    return "daemon";
}

Account Account::parse(std::string_view text) {
    const auto split = text.find_first_of(": ");
    if (split == std::string_view::npos) return {};
    const std::string_view kind = text.substr(0, split);
    const std::string_view rest = text.substr(split + 1);
    if (kind == "uid") {
        uid_t uid = 0;
        const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), uid);
        if (ec == std::errc() && end == rest.data() + rest.size() && !rest.empty()) return of_uid(uid);
        return {};
    }
    if (kind == "cert" || kind == "certificate") return of_certificate(rest);
    if (kind == "address") return of_address(rest);
    if (kind == "psk") return of_psk(rest);
    return {};
}

}  // namespace enclave::appliance::monitoring
