// SPDX-License-Identifier: Apache-2.0
#pragma once
// hsm::Session: one PKCS#11 session (move-only RAII).
//
// The destructor logs out when this Session performed the login, then closes
// the session; failures are logged, never thrown. A Session opened before a
// fork() is stale in the child: its destructor makes no PKCS#11 call (the
// handle means nothing there) and every use reports Errc::unavailable.
//
// Login state in PKCS#11 belongs to the application and token, not the
// session: logging in on one session logs in all of them, and C_Logout on one
// logs out all. A Session therefore only logs out if it logged in itself
// (CKR_USER_ALREADY_LOGGED_IN leaves it a non-owner).
//
// Holds no secret: login() reads the PIN from the caller's Secret and keeps no
// copy.

#include <cstdint>
#include <memory>

#include <p11-kit/pkcs11.h>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/module.hpp"

namespace enclave::hsm {

class Session {
public:
    /// C_OpenSession on `slot` (CKF_SERIAL_SESSION, plus CKF_RW_SESSION when
    /// `read_write`).
    static crypto::Result<Session> open(std::shared_ptr<Module> module, CK_SLOT_ID slot,
                                        bool read_write = true);

    Session(Session&& other) noexcept;
    Session& operator=(Session&& other) noexcept;
    Session(const Session&) = delete;  // the destructor closes; a copy would close twice
    Session& operator=(const Session&) = delete;
    ~Session();

    /// C_Login as the normal user. CKR_PIN_INCORRECT -> hsm_pin_incorrect and
    /// CKR_PIN_LOCKED -> hsm_pin_locked: the caller must not retry (each wrong
    /// attempt counts towards the token's lock-out). Already logged in (by any
    /// session of this process) is success.
    [[nodiscard]] crypto::Result<void> login(const crypto::Secret& pin);
    /// C_Login as the security officer (token provisioning).
    [[nodiscard]] crypto::Result<void> login_so(const crypto::Secret& so_pin);
    /// C_Logout when this Session logged in.
    [[nodiscard]] crypto::Result<void> logout();

    /// Fails with unavailable when the session was opened before a fork (or
    /// was moved from).
    [[nodiscard]] crypto::Result<void> check_usable() const;
    /// True when the session was opened before a fork() (its handle is void here).
    [[nodiscard]] bool stale() const noexcept { return epoch_ != fork_generation(); }
    /// True when C_GetSessionInfo reports a user (not public) state.
    [[nodiscard]] crypto::Result<bool> user_logged_in() const;

    [[nodiscard]] CK_SESSION_HANDLE handle() const noexcept { return handle_; }
    [[nodiscard]] CK_SLOT_ID slot() const noexcept { return slot_; }
    [[nodiscard]] CK_FUNCTION_LIST* fn() const noexcept { return module_->functions(); }
    [[nodiscard]] Module& module() const noexcept { return *module_; }
    [[nodiscard]] bool owns_login() const noexcept { return owns_login_; }

private:
    Session(std::shared_ptr<Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle);
    crypto::Result<void> login_as(CK_USER_TYPE user, const crypto::Secret& pin);
    void close() noexcept;

    std::shared_ptr<Module> module_;
    CK_SLOT_ID slot_ = 0;
    CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
    std::uint64_t epoch_ = 0;
    bool owns_login_ = false;
};

}  // namespace enclave::hsm
