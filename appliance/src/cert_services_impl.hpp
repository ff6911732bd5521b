// SPDX-License-Identifier: Apache-2.0
#pragma once
// CertServices internals shared by cert_services.cpp (keys, chains, the
// switch, expiry) and cert_routes.cpp (the admin API). Holds no secret.
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "appliance/cert_services.hpp"
#include "audit/audit_sink.hpp"
#include "cert_pki.hpp"
#include "cert_store.hpp"

namespace enclave::appliance {

/// A certificate some part of the appliance uses now.
struct CertInUse {
    std::string used_by;  ///< listener name or "lea-client"
    std::string label;    ///< token key label ("" when the URI names only an id)
    std::filesystem::path chain;
    std::optional<certs::Summary> summary;  ///< nullopt: unreadable (error says why)
    std::string error;
};

/// What an officer asked for when making a key.
struct NewKeyRequest {
    std::string label;
    std::string subject;            ///< "" (rotate only): the current certificate's
    std::vector<std::string> sans;  ///< empty with no subject (rotate): the current ones
    bool sans_given = false;
    std::string listener;           ///< rotate: the listener it is staged for
};

struct CertServices::Impl {
    Config config;
    std::shared_ptr<hsm::SessionPool> pool;
    TlsContextFactory make_context;
    std::unique_ptr<certs::CertStore> store;
    audit::AuditSink* audit = nullptr;
    EventSink* events = nullptr;
    ContextSwap swap;
    ClientSwitch client_switch;

    std::mutex change_mu;  ///< one key change or switch at a time

    mutable std::mutex cache_mu;
    std::vector<CertInUse> in_use_cache;          ///< for /metrics
    std::map<std::string, int> reported;          ///< sha256 -> lowest threshold reported

    std::mutex mu;
    std::condition_variable wake;
    bool stopping = false;
    bool started = false;
    std::thread expiry;

    /// The configured listener settings by name (enabled ones only).
    [[nodiscard]] const ListenerConfig* listener_config(const std::string& name) const;
    [[nodiscard]] TlsConfig effective(const std::string& listener, const TlsConfig& tls) const;
    /// [lea_client] as TLS settings, binding applied (certificate and key only).
    [[nodiscard]] TlsConfig lea_client_tls() const;
    /// Every certificate in use now, read from its files.
    [[nodiscard]] std::vector<CertInUse> in_use() const;
    /// The TLS settings in force for a switch target ("lea", "ingest",
    /// "admin-tls" when enabled, "lea-client" when configured); nullopt else.
    [[nodiscard]] std::optional<TlsConfig> target_tls(const std::string& target) const;
    /// Who uses the key `label` now (listeners, "lea-client").
    [[nodiscard]] std::vector<std::string> users_of(const std::string& label) const;

    /// The listener an import of `label` switches ("" = none).
    [[nodiscard]] std::string switch_target(const std::string& label,
                                            const certs::CertState& st) const;
    /// The trust anchors a chain for `target` must reach ("" = any listener's).
    [[nodiscard]] std::vector<std::filesystem::path> anchors_for(const std::string& target) const;

    /// rotate: the listener's current subject and SANs; refuses a listener
    /// that is not enabled or already has a staged key.
    struct Defaults {
        std::string subject;
        certs::GeneralNamesPtr sans;
    };
    crypto::Result<Defaults> rotation_defaults(const NewKeyRequest& req) const;

    crypto::Result<nlohmann::json> list() const;
    crypto::Result<nlohmann::json> new_key(const NewKeyRequest& req, const audit::Actor& actor);
    crypto::Result<nlohmann::json> import(const std::string& label, std::string_view chain_pem,
                                          const audit::Actor& actor);
    crypto::Result<nlohmann::json> retire(const std::string& label, const audit::Actor& actor);

    /// Refreshes the cache and emits certificate_expiring events.
    void check_expiry();
    void run_expiry();
};

namespace detail {
void add_cert_routes(CertServices::Impl& s, Router& admin);
/// The object= label of a pkcs11: URI ("" when it has none or does not parse).
std::string label_of_uri(const std::string& uri);
}  // namespace detail

}  // namespace enclave::appliance
