// SPDX-License-Identifier: Apache-2.0
#pragma once
// CertStore: the appliance's own certificates managed at run time
// (docs/security-officer-guide.md, "Certificates"), in DIR/certs (0700):
//
//   state.json         which token key each listener uses (bindings), which
//                      key a rotation staged for a listener, and the keys
//                      made by `cert new` / `cert rotate`
//   <label>.csr.pem    the request made for a key (public)
//   <label>.chain.pem  the imported chain for a key, leaf first (public)
//
// A binding overrides the listener's `certificate` and `private_key` from
// enclave.toml (the chain file and pkcs11:object=<label>); the trust anchors
// and the CRL stay the configured ones. Every file is written to a temporary
// name, synced and renamed, so a crash leaves the old or the new version.
// Holds no secret: certificates and requests are public, keys stay on the
// token. Thread-safe.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "crypto/result.hpp"

namespace enclave::appliance::certs {

struct ManagedKey {
    std::int64_t created = 0;     ///< Unix time of `cert new` / `cert rotate`
    std::string staged_for;       ///< listener a rotation made it for ("" = none)
};

struct CertState {
    std::map<std::string, std::string> bindings;  ///< listener -> key label in use
    std::map<std::string, ManagedKey> keys;       ///< label -> key made here
};

class CertStore {
public:
    /// Opens (creating, 0700) `dir` and reads state.json when present.
    /// malformed_input for a state file that does not parse or names an
    /// unknown listener or an invalid label.
    static crypto::Result<std::unique_ptr<CertStore>> open(const std::filesystem::path& dir);

    [[nodiscard]] CertState state() const;
    /// Replaces state.json atomically (and the in-memory copy once written).
    crypto::Result<void> save(const CertState& state);
    /// The label a listener is bound to, if any.
    [[nodiscard]] std::optional<std::string> binding(const std::string& listener) const;

    [[nodiscard]] std::filesystem::path chain_path(const std::string& label) const;
    [[nodiscard]] std::filesystem::path csr_path(const std::string& label) const;
    /// Writes `text` to `path` (in this store) via a temporary file: mode 0644.
    crypto::Result<void> write_public(const std::filesystem::path& path, std::string_view text);
    /// A temporary file name next to `path` for a staged write.
    [[nodiscard]] std::filesystem::path temp_for(const std::filesystem::path& path) const;
    /// rename(2) + directory sync.
    crypto::Result<void> publish(const std::filesystem::path& from, const std::filesystem::path& to);
    /// Removes a key's files (missing files are fine).
    void remove_files(const std::string& label);

    /// Known listener names: lea, ingest, admin-tls.
    static bool known_listener(std::string_view name) noexcept;

private:
    explicit CertStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
    crypto::Result<void> load();

    std::filesystem::path dir_;
    mutable std::mutex mu_;
    CertState state_;
};

}  // namespace enclave::appliance::certs
