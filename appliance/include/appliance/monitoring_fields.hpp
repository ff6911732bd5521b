// SPDX-License-Identifier: Apache-2.0
#pragma once
// The only types a protective-monitoring event field may have
// (docs/monitoring.md, "Field types").
//
// An event is a struct whose fields are visited by name; the serialisers
// (event_sink.cpp) are overloaded for exactly the types below, so a field of
// any other type (std::string, a byte buffer, crypto::Secret, a task value)
// does not compile. None of these types can hold free text: a Name is at most
// 64 characters of [A-Za-z0-9._:/{}@-] (anything else becomes '?'), a
// Fingerprint only lower-case hex, an Address only what inet_pton accepts.
// The sensitive values of the appliance (PINs, keys, PSKs, selectors, salts,
// message content) live in crypto::Secret or in store rows and are never
// converted to these types: the canary test (tests/daemon/canary_test.cpp)
// checks every output for them.
//
// Holds no secret.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace enclave::crypto {
class Secret;
}

namespace enclave::appliance::monitoring {

/// The daemon's own name for something: a listener, an endpoint, a token
/// label, a store, a route template, a sink, a role. Not free text.
class Name {
public:
    static constexpr std::size_t kMaxLength = 64;
    Name() = default;
    Name(std::string_view text);  // NOLINT: implicit, every emitter passes a name
    Name(const char* text) : Name(std::string_view(text)) {}  // NOLINT
    Name(const std::string& text) : Name(std::string_view(text)) {}  // NOLINT
    Name(const crypto::Secret&) = delete;  ///< never a secret

    [[nodiscard]] const std::string& str() const noexcept { return text_; }
    bool operator==(const Name&) const = default;

private:
    std::string text_;
};

/// Lower-case hex of a digest or a random identifier (a certificate's
/// SHA-256, a record id); at most 64 digits. Anything else is refused and
/// kept as "" (the field then shows as invalid).
class Fingerprint {
public:
    static constexpr std::size_t kMaxLength = 64;
    Fingerprint() = default;
    explicit Fingerprint(std::string_view hex);
    Fingerprint(const crypto::Secret&) = delete;

    [[nodiscard]] const std::string& str() const noexcept { return hex_; }
    bool operator==(const Fingerprint&) const = default;

private:
    std::string hex_;
};

/// A peer's network address, "ip:port" or "[ipv6]:port" as the listener
/// saw it; anything that is not an address is kept as "".
class Address {
public:
    Address() = default;
    Address(std::string_view text);  // NOLINT: implicit, as Name
    Address(const std::string& text) : Address(std::string_view(text)) {}  // NOLINT
    Address(const char* text) : Address(std::string_view(text)) {}  // NOLINT

    [[nodiscard]] const std::string& str() const noexcept { return text_; }
    bool operator==(const Address&) const = default;

private:
    std::string text_;
};

/// A Unix account (the admin socket's SO_PEERCRED uid).
struct Uid {
    constexpr Uid(uid_t v = static_cast<uid_t>(-1)) noexcept : value(v) {}  // NOLINT: implicit
    uid_t value;
    bool operator==(const Uid&) const = default;
};

/// A count or an amount (connections refused, seconds, bytes, events lost).
struct Count {
    constexpr Count(std::uint64_t v = 0) noexcept : value(v) {}  // NOLINT: implicit
    std::uint64_t value;
    bool operator==(const Count&) const = default;
};

/// A signed amount (days left before a certificate expires: negative once
/// it has).
struct Number {
    constexpr Number(std::int64_t v = 0) noexcept : value(v) {}  // NOLINT: implicit
    std::int64_t value;
    bool operator==(const Number&) const = default;
};

/// Who acted or failed: the daemon itself, a Unix account (admin socket),
/// a client certificate (its SHA-256), a TLS PSK identity (not secret: it
/// is sent in clear) or, before any identity was proven, a network address.
struct Account {
    enum class Kind { daemon, uid, certificate, psk, address };
    Kind kind = Kind::daemon;
    Uid uid;
    Fingerprint certificate;  ///< SHA-256 of the client certificate's DER
    Name psk;                 ///< the PSK identity
    Address address;
    bool operator==(const Account&) const = default;

    [[nodiscard]] static Account of_uid(uid_t uid) {
        Account a;
        a.kind = Kind::uid;
        a.uid = uid;
        return a;
    }
    [[nodiscard]] static Account of_certificate(std::string_view sha256_hex) {
        Account a;
        a.kind = Kind::certificate;
        a.certificate = Fingerprint(sha256_hex);
        return a;
    }
    [[nodiscard]] static Account of_psk(std::string_view identity) {
        Account a;
        a.kind = Kind::psk;
        a.psk = Name(identity);
        return a;
    }
    [[nodiscard]] static Account of_address(std::string_view ip) {
        Account a;
        a.kind = Kind::address;
        a.address = Address(ip);
        return a;
    }
    /// "uid:1001", "cert:<sha256>", "psk:<identity>", "address:192.0.2.7", "daemon".
    [[nodiscard]] std::string str() const;
    /// The inverse of str() and of the admin lockout keys ("uid 1001",
    /// "certificate <hex>", "address <ip>"); anything else is the daemon.
    [[nodiscard]] static Account parse(std::string_view text);
};

}  // namespace enclave::appliance::monitoring
