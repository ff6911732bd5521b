// SPDX-License-Identifier: Apache-2.0
#pragma once
// hsm::Module: one PKCS#11 module loaded and initialised through p11-kit.
//
// There is one Module per process (the appliance creates it at start-up and
// shares it); a second load while one is alive fails with already_exists.
//
// Which module is loaded (load_for_uri):
//   1. `module-path` in the URI: exactly that file (p11_kit_module_load). It
//      must be an absolute path to a regular file that group/others cannot
//      write (a writable library is code injection).
//   2. `module-name` in the URI: only that p11-kit configured module is
//      initialised; the others are released without C_Initialize.
//   3. neither: the configured modules are tried one at a time in p11-kit
//      priority order, skipping trust-policy modules (p11-kit-trust holds
//      certificates, never keys); each is initialised, asked for a token
//      matching the URI, and finalised again if it has none. The first module
//      with a match is kept. This is the only path that initialises modules we
//      may not need (e.g. opensc, which talks to pcscd: without pcscd it
//      answers "no slots" at once, but a wedged reader could delay it).
//      Deployments should therefore name the module (module-name or
//      module-path); the appliance config documents that.
// p11-kit's own stderr messages are silenced (p11_kit_be_quiet); their text is
// put into our error contexts instead.
//
// fork(): PKCS#11 handles do not survive fork (PKCS#11 v2.40 s6.7.7). A
// process-wide counter bumped by a pthread_atfork child handler tells every
// Module, Session and SessionPool that it was set up before a fork. In the
// child: call reinitialize_after_fork() (C_Initialize again, through p11-kit's
// fork-aware managed module), then SessionPool::reset_after_fork() on each
// pool. Until then every operation fails with Errc::unavailable and no stale
// handle is passed to the module.

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "crypto/result.hpp"
#include "hsm/uri.hpp"

namespace enclave::hsm {

/// Number of fork() calls this process descends from (bumped in the child).
std::uint64_t fork_generation() noexcept;

/// What the module says about itself (CK_INFO) and where it came from.
struct ModuleInfo {
    std::string manufacturer;
    std::string description;
    CK_VERSION library_version{};
    CK_VERSION cryptoki_version{};
    std::string config_name;  ///< p11-kit module name, empty when loaded by path
    std::string path;         ///< file name as p11-kit reports it
};

/// One slot with a token present. Strings have the PKCS#11 space padding removed.
struct TokenInfo {
    CK_SLOT_ID slot_id = 0;
    std::string label;
    std::string manufacturer;
    std::string model;
    std::string serial;
    std::string slot_description;
    std::string slot_manufacturer;
    CK_FLAGS flags = 0;

    [[nodiscard]] bool initialized() const noexcept { return (flags & CKF_TOKEN_INITIALIZED) != 0; }
    /// "pkcs11:token=..;manufacturer=..;serial=..;model=.." (no object, no module).
    [[nodiscard]] Uri uri() const;
};

class Module {
public:
    /// Loads and initialises the module at `path` (p11_kit_module_load).
    static crypto::Result<std::shared_ptr<Module>> load_path(const std::string& path);
    /// Loads and initialises the p11-kit configured module called `name`.
    static crypto::Result<std::shared_ptr<Module>> load_configured(const std::string& name);
    /// Chooses the module as described in the header comment.
    static crypto::Result<std::shared_ptr<Module>> load_for_uri(const Uri& uri);

    /// C_Finalize (p11_kit_module_finalize) and p11_kit_module_release.
    ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    /// The module's entry points (p11-kit managed wrapper). For callers that
    /// need a call this class does not wrap (the OpenSSL provider): call
    /// check_usable() first and never keep handles across fork.
    [[nodiscard]] CK_FUNCTION_LIST* functions() const noexcept { return fn_; }

    /// Fails with unavailable (and a message saying what to do) when the
    /// process forked since the module was (re)initialised.
    [[nodiscard]] crypto::Result<void> check_usable() const;
    /// The fork_generation() at the last (re)initialisation.
    [[nodiscard]] std::uint64_t epoch() const noexcept;
    /// In a fork()ed child: C_Initialize again. A no-op (success) when the
    /// module is already usable in this process.
    [[nodiscard]] crypto::Result<void> reinitialize_after_fork();
    /// In this process: C_Finalize and C_Initialize again, so that a module
    /// that gave a token up (SoftHSM 2.6 keeps a token whose files vanished
    /// invalid until then) looks at its tokens afresh. Every session and
    /// object handle of this module becomes void. Requires: no session of
    /// this module is open or in use (SessionPool::recover() drains and
    /// closes its own first). tokens()/find_token()/free_slot() wait for it.
    [[nodiscard]] crypto::Result<void> reinitialize();

    [[nodiscard]] const ModuleInfo& info() const noexcept { return info_; }
    /// Every slot with a token present, initialised or not.
    [[nodiscard]] crypto::Result<std::vector<TokenInfo>> tokens() const;
    /// The one initialised token matching the URI's token, slot and library
    /// attributes. hsm_token_not_found when none matches (the message lists the
    /// labels present), invalid_argument when several do.
    [[nodiscard]] crypto::Result<TokenInfo> find_token(const Uri& uri) const;
    /// A slot whose token is present but not initialised (SoftHSM keeps one).
    [[nodiscard]] crypto::Result<CK_SLOT_ID> free_slot() const;

private:
    Module(CK_FUNCTION_LIST* fn, ModuleInfo info);

    CK_FUNCTION_LIST* fn_;
    ModuleInfo info_;
    std::atomic<std::uint64_t> epoch_;
    mutable std::shared_mutex init_mu_;  ///< unique in reinitialize(), shared in listings
};

}  // namespace enclave::hsm
