// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API handlers (no transport here: the Unix-socket server and the
// optional mutual-TLS admin port both serve this Router).
//
//   GET /healthz        any caller    200 "ok" while the process serves
//   GET /readyz         any caller    200 "ready" after the token login
//                                     succeeded and every listener is bound,
//                                     503 "not ready" otherwise (and while
//                                     stopping)
//   GET /metrics        any role      Prometheus text (appliance/metrics.hpp)
//   GET /v1/status      any role      instance, readiness, listeners, token
//   GET /v1/hsm/status  any role      module, token and the key objects on it
//   GET /v1/roles       any role      every admin route and the roles it admits
// "any role" = security-officer, auditor or operator; a caller with none
// gets 403 {"error":{"code":"forbidden",...}}.
//
// /v1/hsm/status lists the token's private and secret key objects with their
// label, CKA_ID (hex), class, type and the CKA_SENSITIVE / CKA_EXTRACTABLE
// flags. It never reads CKA_VALUE or any other secret attribute.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/http_types.hpp"
#include "appliance/metrics.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::appliance {

inline constexpr std::string_view kEnclaveVersion = "0.1.0";

struct ListenerStatus {
    std::string name;
    std::string address;  ///< "127.0.0.1:8443", "[::1]:8443" or the socket path
    std::uint64_t active_connections = 0;
};

struct AdminApiContext {
    std::string instance_name;
    std::shared_ptr<hsm::SessionPool> pool;  ///< required
    const Metrics* metrics = nullptr;        ///< required
    std::function<std::vector<ListenerStatus>()> listeners;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

/// Registers the endpoints above on `router`.
void add_admin_routes(Router& router, AdminApiContext context);

/// GET /v1/roles (any role): every route of `router` with the roles it
/// admits, and the caller's own roles; the live form of the role table in
/// docs/security-officer-guide.md. Register it last.
void add_role_table_route(Router& router);

/// One key object on the token, as /v1/hsm/status shows it.
struct TokenKeyInfo {
    std::string label;
    std::string id_hex;
    std::string object_class;  ///< "private", "secret"
    std::string type;          ///< "ec-p256", "ed25519", "aes", "rsa", or "other"
    bool sensitive = true;
    bool extractable = false;
};

/// The token's private and secret keys, sorted by label then class.
crypto::Result<std::vector<TokenKeyInfo>> list_token_keys(hsm::SessionPool& pool);

/// The /v1/hsm/status JSON document.
crypto::Result<std::string> hsm_status_json(hsm::SessionPool& pool);

}  // namespace enclave::appliance
