// SPDX-License-Identifier: Apache-2.0
#pragma once
// EndpointStore: the LEA endpoints security officers configure with
// `enclavectl endpoint add|list|show|remove` (docs/delivery.md, "Endpoints").
//
//   DIR/state/endpoints.db   SQLCipher, key wrapped by the token KEK
//
// An endpoint is where deliveries for the tasks that name it go: the URL the
// DeliveryObjects are POSTed to, the trust anchors (and optional SPKI pin)
// for the LEA's server certificate, the Model B binary URL scheme, the
// header identifiers, limits. The trust anchors are stored as PEM text (read
// from the file the officer named when adding), so a later change of that
// file changes nothing until the officer changes the endpoint.
//
// Endpoints in the config file ([endpoints.NAME], client_subjects only) are
// static; a name may not be in both (add refuses it).
//
// Holds no secret: URLs, certificates and identifiers of the LEA. The client
// key presented to the LEA is a token key (pkcs11: URI), never a file.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "crypto/sealed_db.hpp"

namespace enclave::appliance {

/// Delivery models of TS 103 707 Annex C an endpoint accepts.
enum class DeliveryModel : std::uint8_t { a = 1, b = 2, c = 4 };

/// How enclaved authenticates to the LEA (and the LEA to it) on this
/// endpoint: certificates (the token client key, the LEA's server
/// certificate checked against trust_anchors_pem) or a TLS PSK from the PSK
/// store (`enclavectl psk`), with no certificate exchanged.
enum class EndpointAuth : std::uint8_t { certificate, psk };

struct EndpointSpec {
    std::string name;                 ///< [a-z0-9][a-z0-9-]{0,62} (as tasks name it)
    std::string url;                  ///< https://host[:port]/path: DeliveryObjects are POSTed here
    std::string trust_anchors_pem;    ///< CA certificates for the LEA's server certificate
    std::string crl_pem;              ///< optional PEM CRLs checked on the LEA's chain ("" = none)
    std::string spki_sha256;          ///< optional pin: 64 lowercase hex ("" = none)
    std::string binary_url_scheme;    ///< Model B: https URL with exactly one "{id}" ("" = none)
    std::string sender_country = "XX";            ///< Table 1 senderIdentifier CountryCode
    std::string sender_unique_id;                 ///< "" = the instance name
    std::string receiver_country = "XX";          ///< Table 1 receiverIdentifier CountryCode
    std::string receiver_unique_id = "Not specified";
    std::uint8_t models = static_cast<std::uint8_t>(DeliveryModel::b);  ///< bit set
    EndpointAuth auth = EndpointAuth::certificate;  ///< "certificate" or "psk" in JSON
    std::vector<std::string> client_subjects;  ///< the LEA's client certificates on listeners.lea
    std::string client_certificate;  ///< PEM file presented to the LEA ("" = [lea_client])
    std::string client_key;          ///< pkcs11: URI of that certificate's token key ("" = [lea_client])
    std::uint32_t max_connections = 2;            ///< 1..64
    std::uint32_t connect_timeout_ms = 10'000;    ///< 100..600000
    std::uint32_t response_timeout_ms = 30'000;   ///< 100..3600000
    std::string created;                          ///< set by the store (UTC)

    [[nodiscard]] bool allows(DeliveryModel m) const noexcept {
        return (models & static_cast<std::uint8_t>(m)) != 0;
    }
    bool operator==(const EndpointSpec&) const = default;
};

/// Checks every field (the error names the field, never the value beyond
/// what is safe: names and URLs of endpoints are not secret).
crypto::Result<void> validate_endpoint(const EndpointSpec& spec);

/// JSON form (the admin API and `--json`): every field; the PEM as text.
nlohmann::json to_json(const EndpointSpec& spec);
/// The admin API's add body: strict (unknown keys, wrong types refused).
crypto::Result<EndpointSpec> endpoint_from_json(const nlohmann::json& j);

/// "a,b" from the model bits ("A", "B", "C"); parse_models the reverse.
std::string models_text(std::uint8_t models);
crypto::Result<std::uint8_t> parse_models(std::string_view text);

class EndpointStore {
public:
    static crypto::Result<std::unique_ptr<EndpointStore>> open(const std::filesystem::path& db,
                                                               crypto::KeyWrapper& kek);
    /// Adds a validated endpoint. already_exists when the name is taken.
    crypto::Result<EndpointSpec> add(EndpointSpec spec);
    /// not_found when there is no such endpoint.
    crypto::Result<void> remove(std::string_view name);
    crypto::Result<std::optional<EndpointSpec>> get(std::string_view name);
    crypto::Result<std::vector<EndpointSpec>> list();

private:
    explicit EndpointStore(crypto::SealedDb db) : db_(std::move(db)) {}
    std::mutex mu_;
    crypto::SealedDb db_;
};

}  // namespace enclave::appliance
