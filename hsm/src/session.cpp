// SPDX-License-Identifier: Apache-2.0
#include "hsm/session.hpp"

#include "hsm/errors.hpp"
#include "hsm/log.hpp"
#include "hsm/pin.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

Result<Session> Session::open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write) {
    if (!module) return fail(Errc::invalid_argument, "Session::open without a module");
    if (auto ok = module->check_usable(); !ok) return tl::unexpected(ok.error());
    CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    if (CK_RV rv = module->functions()->C_OpenSession(slot, flags, nullptr, nullptr, &h);
        rv != CKR_OK) {
        return fail_ckr(rv, "C_OpenSession on slot " + std::to_string(slot));
    }
    return Session(std::move(module), slot, h);
}

Session::Session(std::shared_ptr<Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle)
    : module_(std::move(module)), slot_(slot), handle_(handle), epoch_(module_->epoch()) {}

Session::Session(Session&& other) noexcept
    : module_(std::move(other.module_)),
      slot_(other.slot_),
      handle_(other.handle_),
      epoch_(other.epoch_),
      owns_login_(other.owns_login_) {
    other.handle_ = CK_INVALID_HANDLE;
    other.owns_login_ = false;
}

Session& Session::operator=(Session&& other) noexcept {
    if (this != &other) {
        close();
        module_ = std::move(other.module_);
        slot_ = other.slot_;
        handle_ = other.handle_;
        epoch_ = other.epoch_;
        owns_login_ = other.owns_login_;
        other.handle_ = CK_INVALID_HANDLE;
        other.owns_login_ = false;
    }
    return *this;
}

Session::~Session() { close(); }

void Session::close() noexcept {
    if (handle_ == CK_INVALID_HANDLE || !module_) return;
    if (epoch_ != fork_generation()) {
        // Opened in the parent: the number means nothing to the child's module.
        log(LogLevel::debug, "dropping a PKCS#11 session handle inherited over fork()");
    } else {
        if (owns_login_) {
            if (CK_RV rv = fn()->C_Logout(handle_); rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) {
                log_ckr_failure(false, "C_Logout", rv);
            }
        }
        if (CK_RV rv = fn()->C_CloseSession(handle_); rv != CKR_OK) {
            log_ckr_failure(false, "C_CloseSession", rv);
        }
    }
    handle_ = CK_INVALID_HANDLE;
    owns_login_ = false;
}

Result<void> Session::check_usable() const {
    if (handle_ == CK_INVALID_HANDLE || !module_) {
        return fail(Errc::internal, "use of a closed or moved-from PKCS#11 session");
    }
    if (epoch_ != fork_generation()) {
        return fail(Errc::unavailable,
                    "PKCS#11 session was opened before fork(): in the child call "
                    "Module::reinitialize_after_fork() and open new sessions");
    }
    return {};
}

Result<void> Session::login_as(CK_USER_TYPE user, const Secret& pin) {
    if (auto ok = check_usable(); !ok) return ok;
    if (auto ok = validate_pin(pin); !ok) return ok;
    // The PIN is passed straight from secure memory; no copy is made.
    CK_RV rv = fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin.data()), pin.size());
    const char* who = user == CKU_SO ? "C_Login (security officer)" : "C_Login (user)";
    if (rv == CKR_USER_ALREADY_LOGGED_IN) return {};
    if (rv != CKR_OK) {
        auto err = ckr_error(rv, who);
        if (rv == CKR_PIN_INCORRECT) {
            // One attempt only: each wrong PIN counts towards the token lock-out.
            return fail(err.code(), err.context() + ": the PIN was rejected; not retrying, "
                                                    "check the PIN source");
        }
        return tl::unexpected(err);
    }
    owns_login_ = true;
    return {};
}

Result<void> Session::login(const Secret& pin) { return login_as(CKU_USER, pin); }

Result<void> Session::login_so(const Secret& so_pin) { return login_as(CKU_SO, so_pin); }

Result<void> Session::logout() {
    if (auto ok = check_usable(); !ok) return ok;
    if (!owns_login_) return {};
    CK_RV rv = fn()->C_Logout(handle_);
    owns_login_ = false;
    if (rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN) return fail_ckr(rv, "C_Logout");
    return {};
}

Result<bool> Session::user_logged_in() const {
    if (auto ok = check_usable(); !ok) return tl::unexpected(ok.error());
    CK_SESSION_INFO info{};
    if (CK_RV rv = fn()->C_GetSessionInfo(handle_, &info); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetSessionInfo");
    }
    return info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS;
}

}  // namespace enclave::hsm
