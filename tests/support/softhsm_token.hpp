// SPDX-License-Identifier: Apache-2.0
#pragma once
// SoftHsmToken: a fresh SoftHSM2 token for one test (or one benchmark run).
//
// It makes a TempDir holding its own softhsm2.conf (directories.tokendir in
// the TempDir, objectstore.backend = file, library.reset_on_fork = true so the
// module forgets its state in a fork()ed child like a real HSM client library
// would), sets SOFTHSM2_CONF for the process before the module is initialised,
// loads the module through hsm::Module (p11-kit), initialises the token
// through hsm::initialize_token (no softhsm2-util, so no PIN on any argv),
// writes the user PIN to a 0600 file, reads it back through
// hsm::read_pin_file and opens a logged-in SessionPool.
//
// Holds: the SO and user PINs, random per token, in crypto::Secrets (tests
// that need the PIN, e.g. wrong-PIN tests, read them here).
//
// ctest runs each test in its own process, and there is one hsm::Module per
// process, so create at most one SoftHsmToken at a time. A missing SoftHSM2
// throws std::runtime_error("... install the Debian package softhsm2"): the
// test fails, it is never skipped.

#include <filesystem>
#include <memory>
#include <string>

#include "crypto/secret.hpp"
#include "hsm/module.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/uri.hpp"
#include "support/paths.hpp"

namespace enclave::testing {

/// The SoftHSM2 module: $ENCLAVE_SOFTHSM_MODULE, else the Debian locations.
/// Empty when none exists.
std::string softhsm_module_path();

class SoftHsmToken {
public:
    struct Options {
        std::string label = "enclave-test";
        bool reset_on_fork = true;
        std::string backend = "file";  ///< objectstore.backend ("file" or "db")
        bool open_pool = true;       ///< false: module + token only
        hsm::PoolOptions pool{};
    };

    SoftHsmToken();
    explicit SoftHsmToken(Options options);
    ~SoftHsmToken();
    SoftHsmToken(const SoftHsmToken&) = delete;
    SoftHsmToken& operator=(const SoftHsmToken&) = delete;

    [[nodiscard]] const std::string& module_path() const noexcept { return module_path_; }
    [[nodiscard]] const std::string& label() const noexcept { return options_.label; }
    /// "pkcs11:token=<label>?module-path=<module>"
    [[nodiscard]] std::string uri() const;
    [[nodiscard]] const std::filesystem::path& pin_file() const noexcept { return pin_file_; }
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }
    [[nodiscard]] const crypto::Secret& user_pin() const noexcept { return user_pin_; }
    [[nodiscard]] const crypto::Secret& so_pin() const noexcept { return so_pin_; }
    [[nodiscard]] const std::shared_ptr<hsm::Module>& module() const noexcept { return module_; }
    [[nodiscard]] const std::shared_ptr<hsm::SessionPool>& pool() const noexcept { return pool_; }
    [[nodiscard]] const hsm::TokenInfo& token() const noexcept { return token_; }

    /// Drops the pool and the module (e.g. before loading the module another
    /// way in the same process). The token files stay until destruction.
    void release_module();

private:
    Options options_;
    TempDir dir_;
    std::string module_path_;
    std::filesystem::path pin_file_;
    crypto::Secret so_pin_;
    crypto::Secret user_pin_;
    hsm::TokenInfo token_;
    std::shared_ptr<hsm::Module> module_;
    std::shared_ptr<hsm::SessionPool> pool_;
};

}  // namespace enclave::testing
