// SPDX-License-Identifier: Apache-2.0
#pragma once
// The RFC 5424 syslog sink over mutual TLS (RFC 5425), for a SIEM
// (docs/monitoring.md, "Syslog"). Each event is one RFC 5424 message:
//   <PRI>1 TIMESTAMP HOSTNAME enclave PROCID <event name>
//     [enclave@32473 seq="N" instance="..."] <the event's JSON record>
// framed by octet counting ("LEN SP MSG"). PRI = facility * 8 + the event's
// severity. The client key is a token key (pkcs11: URI); the receiver's
// certificate must chain to trust_anchors and name server_name (or host).
//
// Holds no secret (the key stays on the token).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "appliance/monitoring.hpp"
#include "crypto/result.hpp"

namespace enclave::hsm {
class PrivateKeyResolver;
}

namespace enclave::appliance {

struct SyslogSinkOptions {
    std::string host;
    std::uint16_t port = 6514;
    std::string server_name;  ///< "" = host
    std::filesystem::path trust_anchors;
    std::filesystem::path crl;
    std::filesystem::path certificate;
    std::string private_key;  ///< pkcs11: URI
    std::uint32_t facility = 13;
    std::string app_name = "enclave";
    std::string instance;
};

/// Switches the client identity a syslog sink presents: (chain file,
/// pkcs11: URI). The new context (same anchors and CRL) is built first; a
/// failure changes nothing. The sink's next batch goes on a new connection
/// with it.
using SyslogIdentitySwitch = std::function<crypto::Result<void>(
    const std::filesystem::path& certificate, const std::string& private_key)>;

struct SyslogSinkParts {
    std::unique_ptr<MonitoringSink> sink;
    SyslogIdentitySwitch switch_identity;  ///< valid while `resolver` lives
};

/// Builds the TLS context now (certificate, token key, anchors: errors name
/// monitoring.syslog); connects on first delivery and after each failure.
crypto::Result<SyslogSinkParts> make_syslog_sink(SyslogSinkOptions options,
                                                 std::shared_ptr<hsm::PrivateKeyResolver> resolver);

}  // namespace enclave::appliance
