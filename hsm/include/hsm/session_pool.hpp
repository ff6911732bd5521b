// SPDX-License-Identifier: Apache-2.0
#pragma once
// hsm::SessionPool: PKCS#11 sessions for concurrent callers on one token.
//
// A PKCS#11 session runs one operation at a time, so concurrent signers need
// separate sessions. acquire() hands out a Lease on an idle session, opening a
// new one on demand up to PoolOptions::max_sessions, and waits (bounded) when
// all are busy. The pool mutex guards only checkout and return; the crypto
// call itself runs with no lock of ours held.
//
// Login: the pool keeps one extra session that logs in at open() and stays
// open for the pool's lifetime; login state is per token in PKCS#11, so every
// session the pool opens is logged in too. The destructor closes the worker
// sessions and then logs out and closes the login session.
//
// Holds: the user PIN, in a crypto::Secret (sodium_malloc'd, mlock'd, wiped on
// destruction), because a pool rebuilt after fork() or a token that dropped
// its login state must log in again without asking a human. It is passed only
// to C_Login. After CKR_PIN_INCORRECT the pool never uses it again: every
// later acquire() fails with hsm_pin_incorrect (token lock-out protection).
//
// fork(): in a child, the pool's sessions are the parent's and are never used
// (acquire() fails with unavailable and says what to do). The documented
// recovery in the child is:
//     module->reinitialize_after_fork();   // C_Initialize again
//     pool->reset_after_fork();            // forget stale handles, log in
// Signers and key wrappers that share the pool keep working afterwards (they
// re-find their object handles because generation() changed).
// Leases must not be held across fork() by the forking thread; if one is, it
// is dropped silently in the child.
//
// A token that goes away while in use (removed, its files moved, a device
// error): probe() tells (C_GetTokenInfo on the pool's slot, and whether the
// login session still holds its login); recover() suspends the pool (every
// acquire() fails at once with unavailable, nothing waits on a dead token),
// waits (bounded) until every lease is back, closes every session,
// re-initialises the module (Module::reinitialize), finds the same token
// again (label, manufacturer, serial, model) and logs in again with the PIN
// the pool was opened with. Until a recover() succeeds the pool stays
// suspended; call it again later (the daemon's TokenSupervisor retries with
// backoff). A PIN rejected there (changed on the token since) is never tried
// again. generation() changes with every recovery, so Signers and key
// wrappers find their object handles again.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/module.hpp"
#include "hsm/session.hpp"

namespace enclave::hsm {

struct PoolOptions {
    std::size_t max_sessions = 16;                           ///< worker sessions (>= 1)
    std::chrono::milliseconds acquire_timeout{std::chrono::seconds(30)};
    bool read_write = true;  ///< R/W sessions: needed to create objects
};

struct PoolStats {
    std::size_t open_sessions = 0;    ///< worker sessions currently open
    std::size_t idle_sessions = 0;
    std::size_t in_use = 0;
    std::size_t peak_in_use = 0;      ///< most sessions leased at the same time
    std::uint64_t sessions_opened = 0;
    std::uint64_t leases = 0;
};

class SessionPool {
    struct State;

public:
    /// A session checked out of the pool; returns it on destruction.
    class Lease {
    public:
        Lease(Lease&&) noexcept = default;
        Lease& operator=(Lease&&) noexcept;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();

        [[nodiscard]] Session& session() noexcept { return *session_; }
        Session* operator->() noexcept { return &*session_; }
        Session& operator*() noexcept { return *session_; }
        /// The session is in an unknown state (e.g. an operation failed half
        /// way): close it instead of returning it to the pool.
        void discard() noexcept { discard_ = true; }

    private:
        friend class SessionPool;
        Lease(std::shared_ptr<State> state, Session session);
        void give_back() noexcept;

        std::shared_ptr<State> state_;
        std::optional<Session> session_;
        bool discard_ = false;
    };

    /// Opens the login session on `token` and logs in with `user_pin`.
    /// Errors: hsm_pin_incorrect (do not retry), hsm_pin_locked, hsm_error...
    static crypto::Result<std::shared_ptr<SessionPool>> open(std::shared_ptr<Module> module,
                                                             const TokenInfo& token,
                                                             crypto::Secret user_pin,
                                                             PoolOptions options = {});
    ~SessionPool();
    SessionPool(const SessionPool&) = delete;
    SessionPool& operator=(const SessionPool&) = delete;

    /// A logged-in session for one operation. Errors: unavailable (fork, or
    /// every session busy past acquire_timeout), hsm_pin_incorrect (the PIN was
    /// rejected earlier), PKCS#11 errors from C_OpenSession.
    [[nodiscard]] crypto::Result<Lease> acquire();

    /// A logged-in read-write session of its own, outside the pool and its
    /// max_sessions, for the rare write (an officer's key generation or
    /// destruction) by a pool opened read-only: the pool's sessions stay
    /// read-only. The caller closes it by destroying it, soon. Same errors
    /// as acquire() (never waits).
    [[nodiscard]] crypto::Result<Session> open_read_write_session();

    /// In a fork()ed child, after Module::reinitialize_after_fork(): drops the
    /// parent's sessions without touching them, finds the token again (slot ids
    /// may change across C_Initialize), opens a new login session and logs in.
    /// A no-op when the pool is current. Call it before the child starts
    /// threads that use the pool.
    [[nodiscard]] crypto::Result<void> reset_after_fork();

    /// Whether the token still answers and our login still holds: unavailable
    /// (naming the CKR code) when C_GetTokenInfo on the pool's slot fails or
    /// reports another token, when the login session is gone or logged out,
    /// and while the pool is suspended (a recover() has not succeeded yet).
    [[nodiscard]] crypto::Result<void> probe();
    /// In-process recovery after the token went away (see the header comment).
    /// unavailable when leases are still out after `drain_timeout` or the
    /// token is not back yet; hsm_pin_incorrect / hsm_pin_locked when the
    /// token refuses the PIN (never retried); other errors from the module.
    /// The pool stays suspended until a call succeeds.
    [[nodiscard]] crypto::Result<void> recover(std::chrono::milliseconds drain_timeout);

    /// Changes whenever the pool's sessions are replaced (reset_after_fork,
    /// recover): object handles found before are then invalid.
    [[nodiscard]] std::uint64_t generation() const noexcept;
    [[nodiscard]] crypto::Result<void> check_usable() const;

    [[nodiscard]] Module& module() const noexcept { return *module_; }
    [[nodiscard]] const std::shared_ptr<Module>& module_ptr() const noexcept { return module_; }
    [[nodiscard]] const TokenInfo& token() const noexcept { return token_; }
    [[nodiscard]] PoolStats stats() const;

private:
    SessionPool(std::shared_ptr<Module> module, TokenInfo token, crypto::Secret pin,
                PoolOptions options);
    crypto::Result<std::shared_ptr<State>> make_state(CK_SLOT_ID slot);
    tl::unexpected<crypto::Error> suspended() const;
    crypto::Result<Session> open_worker(State& state, bool read_write);

    std::shared_ptr<Module> module_;
    TokenInfo token_;
    crypto::Secret pin_;
    PoolOptions options_;
    std::mutex login_mu_;  ///< serialises C_Login so a wrong PIN is tried once
    std::atomic<bool> pin_rejected_{false};  ///< set once, never cleared
    std::mutex recover_mu_;  ///< one probe() or recover() at a time
    std::atomic<std::uint64_t> generations_{0};
    std::atomic<std::shared_ptr<State>> state_;
};

}  // namespace enclave::hsm
