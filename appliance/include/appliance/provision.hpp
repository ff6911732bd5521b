// SPDX-License-Identifier: Apache-2.0
#pragma once
// `enclavectl init`: provisions a new instance in a data directory.
//
// Two ways to get a token:
//   - default: a new SoftHSM2 token under DIR (DIR/softhsm2.conf,
//     DIR/tokens/), with a random user PIN (DIR/token.pin, 0600) and a random
//     security-officer PIN (DIR/token.so-pin, 0600, to be moved offline);
//   - `pkcs11_uri` + `pin_file`: an existing, initialised token; its PIN file
//     is referenced by the config, not copied.
// On the token: the KEK (AES-256), the audit signing key (Ed25519) and the
// TLS key pairs of the listeners and the outbound LEA client (EC P-256), all
// sensitive and non-extractable. Under DIR/pki: the demo CA (file key), the
// listener and LEA-client certificates for the token keys, and the demo LEA
// and collector client identities (file keys: they stand for other parties).
// Last, DIR/enclave.toml (render_config, every key commented).
// docs/provisioning.md lists every file with its mode.
//
// Re-run policy: init refuses (already_exists) a DIR that exists and is not
// empty, and an existing token that already holds any of the key labels,
// before it changes anything. A run that fails half way removes what it
// created (files, directories, keys on an existing token); if that clean-up
// itself fails, the error lists what to remove by hand.
//
// Holds: the generated PINs, in crypto::Secrets, only until they are written
// to their 0600 files; the demo CA key and the demo client keys only until
// their PEM (a Secret) is written to their 0600 files.

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "hsm/module.hpp"
#include "hsm/object.hpp"

namespace enclave::appliance {

/// The keys init creates on the token, in creation order.
struct TokenKeySpec {
    std::string_view label;
    hsm::KeyType type;
};
inline constexpr std::array<TokenKeySpec, 6> kTokenKeys{{
    {"kek", hsm::KeyType::aes},
    {"audit-signing", hsm::KeyType::ed25519},
    {"lea-tls", hsm::KeyType::ec_p256},
    {"ingest-tls", hsm::KeyType::ec_p256},
    {"admin-tls", hsm::KeyType::ec_p256},
    {"lea-client-tls", hsm::KeyType::ec_p256},
}};

/// Default label of the SoftHSM2 token init creates.
inline constexpr std::string_view kDefaultTokenLabel = "enclave";

/// Steps of provisioning, for ProvisionOptions::fail_after.
enum class ProvisionStep { files, token, keys, pki, config };

struct ProvisionOptions {
    std::filesystem::path data_dir;
    /// An existing token ("pkcs11:token=...", optionally ?module-path= or
    /// ?module-name=). "" = create a SoftHSM2 token under data_dir.
    std::string pkcs11_uri;
    /// The user PIN of the existing token (required with pkcs11_uri; see
    /// hsm::read_pin_file for the file rules). Never a PIN on argv.
    std::filesystem::path pin_file;
    /// Label of the new SoftHSM2 token (1..32 bytes). Not allowed with pkcs11_uri.
    std::optional<std::string> token_label;
    /// The SoftHSM2 module; "" = $ENCLAVE_SOFTHSM_MODULE, else the Debian paths.
    std::string softhsm_module;
    /// TESTING ONLY: fail right after this step, to exercise the clean-up of a
    /// half-finished run. enclavectl never sets it.
    std::optional<ProvisionStep> fail_after;
};

struct ProvisionedKey {
    std::string label;
    std::string type;  ///< hsm::key_type_name ("aes", "ed25519", "ec-p256")
    std::string uri;   ///< full pkcs11: URI (token and object, no PIN)
};

struct ProvisionResult {
    std::filesystem::path data_dir;     ///< absolute
    std::filesystem::path config_file;  ///< data_dir/enclave.toml
    bool own_softhsm = true;            ///< false with an existing token
    std::string module_path;            ///< "" when p11-kit chose the module
    hsm::TokenInfo token;
    std::vector<ProvisionedKey> keys;
    std::vector<std::filesystem::path> created;  ///< relative to data_dir, creation order
    std::vector<std::string> warnings;           ///< things the operator must act on
};

/// The SoftHSM2 module: $ENCLAVE_SOFTHSM_MODULE, else the Debian locations;
/// "" when there is none.
std::string find_softhsm_module();

/// Provisions an instance (see the header comment). Errors: already_exists
/// (non-empty DIR, labels taken on the token), invalid_argument (options),
/// not_found / io_error (files), hsm_* (module, token, wrong PIN: never
/// retried), crypto_failure. Loads a PKCS#11 module in this process (one per
/// process: none may be loaded already) and releases it before returning; in
/// SoftHSM mode SOFTHSM2_CONF is set while the module is loaded and restored
/// afterwards.
crypto::Result<ProvisionResult> provision_instance(const ProvisionOptions& options);

}  // namespace enclave::appliance
