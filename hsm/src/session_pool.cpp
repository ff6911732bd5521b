// SPDX-License-Identifier: Apache-2.0
#include "hsm/session_pool.hpp"

#include "hsm/errors.hpp"
#include "hsm/log.hpp"
#include "token_list.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

struct SessionPool::State {
    explicit State(std::uint64_t e) : epoch(e) {}
    const std::uint64_t epoch;  ///< fork_generation() when the sessions were opened
    CK_SLOT_ID slot = 0;        ///< where the token was found for this state
    std::uint64_t generation = 0;  ///< SessionPool::generation() while this state is current
    std::mutex mu;
    bool suspended = false;  ///< recover() under way: no new leases
    std::condition_variable cv;
    // Declared before `idle` so that it is destroyed after it: the workers
    // close first, then the login session logs out and closes.
    std::optional<Session> login;
    std::vector<Session> idle;
    std::size_t open = 0;
    std::size_t in_use = 0;
    std::size_t peak = 0;
    std::uint64_t opened = 0;
    std::uint64_t leases = 0;
};

namespace {

tl::unexpected<crypto::Error> stale_pool() {
    return fail(Errc::unavailable,
                "PKCS#11 session pool was created before fork(): in the child call "
                "Module::reinitialize_after_fork() and then SessionPool::reset_after_fork()");
}

tl::unexpected<crypto::Error> pin_was_rejected() {
    return fail(Errc::hsm_pin_incorrect,
                "the token rejected this pool's PIN earlier; not trying it again (lock-out "
                "protection): fix the PIN source and restart");
}

// States replaced after fork() are parked here, never destroyed: their mutex
// may have been held by a thread that does not exist in the child.
void bury(std::shared_ptr<void> state) {
    static auto* graveyard = new std::vector<std::shared_ptr<void>>();
    graveyard->push_back(std::move(state));
}

}  // namespace

SessionPool::Lease::Lease(std::shared_ptr<State> state, Session session)
    : state_(std::move(state)), session_(std::move(session)) {}

SessionPool::Lease& SessionPool::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        give_back();
        state_ = std::move(other.state_);
        session_ = std::move(other.session_);
        other.session_.reset();
        discard_ = other.discard_;
    }
    return *this;
}

SessionPool::Lease::~Lease() { give_back(); }

void SessionPool::Lease::give_back() noexcept {
    if (!session_ || !state_) {
        session_.reset();
        return;
    }
    if (state_->epoch != fork_generation()) {
        // Inherited over fork(): never touch the parent's pool state.
        session_.reset();
        return;
    }
    std::optional<Session> to_close;
    {
        std::lock_guard lk(state_->mu);
        --state_->in_use;
        if (discard_) {
            --state_->open;
            to_close = std::move(session_);
        } else {
            state_->idle.push_back(std::move(*session_));
        }
    }
    session_.reset();
    state_->cv.notify_one();
    to_close.reset();  // C_CloseSession outside the pool lock
}

SessionPool::SessionPool(std::shared_ptr<Module> module, TokenInfo token, Secret pin,
                         PoolOptions options)
    : module_(std::move(module)),
      token_(std::move(token)),
      pin_(std::move(pin)),
      options_(options) {}

SessionPool::~SessionPool() {
    auto st = state_.load();
    state_.store(nullptr);
    if (st && st->epoch != fork_generation()) bury(std::move(st));
}

Result<std::shared_ptr<SessionPool>> SessionPool::open(std::shared_ptr<Module> module,
                                                       const TokenInfo& token, Secret user_pin,
                                                       PoolOptions options) {
    if (!module) return fail(Errc::invalid_argument, "SessionPool::open without a module");
    if (options.max_sessions == 0) {
        return fail(Errc::invalid_argument, "SessionPool needs max_sessions >= 1");
    }
    std::shared_ptr<SessionPool> pool(
        new SessionPool(std::move(module), token, std::move(user_pin), options));
    auto st = pool->make_state(token.slot_id);
    if (!st) return tl::unexpected(st.error());
    pool->state_.store(std::move(*st));
    return pool;
}

Result<std::shared_ptr<SessionPool::State>> SessionPool::make_state(CK_SLOT_ID slot) {
    if (auto ok = module_->check_usable(); !ok) return tl::unexpected(ok.error());
    auto st = std::make_shared<State>(module_->epoch());
    st->slot = slot;
    st->generation = generations_.fetch_add(1) + 1;
    auto login = Session::open(module_, st->slot, options_.read_write);
    if (!login) {
        return tl::unexpected(login.error().wrap("opening a session on token '" + token_.label + "'"));
    }
    std::lock_guard lk(login_mu_);
    if (pin_rejected_) return pin_was_rejected();
    if (auto ok = login->login(pin_); !ok) {
        if (ok.error().code() == Errc::hsm_pin_incorrect ||
            ok.error().code() == Errc::hsm_pin_locked) {
            pin_rejected_ = true;
        }
        return tl::unexpected(ok.error().wrap("logging in to token '" + token_.label + "'"));
    }
    st->login.emplace(std::move(*login));
    return st;
}

Result<Session> SessionPool::open_worker(State& st, bool read_write) {
    auto s = Session::open(module_, st.slot, read_write);
    if (!s) return tl::unexpected(s.error().wrap("opening a session on token '" + token_.label + "'"));
    auto in = s->user_logged_in();
    if (!in) return tl::unexpected(in.error());
    if (!*in) {
        // The token dropped its login state (e.g. it was reset): log in again,
        // once, under the login lock.
        std::lock_guard lk(login_mu_);
        if (pin_rejected_) return pin_was_rejected();
        if (auto ok = st.login->login(pin_); !ok) {
            if (ok.error().code() == Errc::hsm_pin_incorrect) pin_rejected_ = true;
            return tl::unexpected(ok.error());
        }
    }
    return s;
}

Result<SessionPool::Lease> SessionPool::acquire() {
    auto st = state_.load();
    if (!st || st->epoch != fork_generation()) return stale_pool();
    if (pin_rejected_) return pin_was_rejected();
    std::unique_lock lk(st->mu);
    std::optional<std::chrono::steady_clock::time_point> deadline;  // set when we first wait
    while (true) {
        if (st->suspended) return suspended();
        if (!st->idle.empty()) {
            Session s = std::move(st->idle.back());
            st->idle.pop_back();
            st->peak = std::max(st->peak, ++st->in_use);
            ++st->leases;
            return Lease(st, std::move(s));
        }
        if (st->open < options_.max_sessions) {
            ++st->open;
            st->peak = std::max(st->peak, ++st->in_use);
            lk.unlock();
            auto s = open_worker(*st, options_.read_write);  // no pool lock held during C_OpenSession
            lk.lock();
            if (!s) {
                --st->open;
                --st->in_use;
                lk.unlock();
                st->cv.notify_one();
                return tl::unexpected(s.error());
            }
            ++st->opened;
            ++st->leases;
            return Lease(st, std::move(*s));
        }
        if (!deadline) deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
        if (st->cv.wait_until(lk, *deadline) == std::cv_status::timeout && st->idle.empty() &&
            st->open >= options_.max_sessions) {
            return fail(Errc::unavailable,
                        "all " + std::to_string(options_.max_sessions) +
                            " PKCS#11 sessions stayed busy for " +
                            std::to_string(options_.acquire_timeout.count()) + " ms");
        }
    }
}

Result<void> SessionPool::reset_after_fork() {
    auto old = state_.load();
    if (old && old->epoch == fork_generation()) return {};
    if (auto ok = module_->check_usable(); !ok) {
        return fail(Errc::unavailable,
                    "SessionPool::reset_after_fork() needs Module::reinitialize_after_fork() "
                    "first");
    }
    // Slot ids may change when a module is initialised again (SoftHSM derives
    // them afresh): find the same token again by label, manufacturer, serial
    // and model.
    auto token = module_->find_token(token_.uri());
    if (!token) return tl::unexpected(token.error().wrap("finding the token again after fork()"));
    token_ = std::move(*token);
    auto st = make_state(token_.slot_id);
    if (!st) return tl::unexpected(st.error());
    state_.store(std::move(*st));
    if (old) bury(std::move(old));
    return {};
}

std::uint64_t SessionPool::generation() const noexcept {
    auto st = state_.load();
    return st ? st->generation : ~std::uint64_t{0};
}

tl::unexpected<crypto::Error> SessionPool::suspended() const {
    return fail(Errc::unavailable, "token '" + token_.label +
                                       "' is unavailable: waiting for it to return (the session "
                                       "pool is suspended until it is recovered)");
}

Result<void> SessionPool::probe() {
    std::lock_guard rlk(recover_mu_);
    auto st = state_.load();
    if (!st || st->epoch != fork_generation()) return stale_pool();
    {
        std::lock_guard lk(st->mu);
        if (st->suspended || !st->login) return suspended();
    }
    CK_TOKEN_INFO ti{};
    if (CK_RV rv = module_->functions()->C_GetTokenInfo(st->slot, &ti); rv != CKR_OK) {
        return fail(Errc::unavailable, "token '" + token_.label + "' does not answer: " +
                                           ckr_error(rv, "C_GetTokenInfo").context());
    }
    if (detail::trim_field(ti.serialNumber, sizeof ti.serialNumber) != token_.serial ||
        detail::trim_field(ti.label, sizeof ti.label) != token_.label) {
        return fail(Errc::unavailable, "slot " + std::to_string(st->slot) +
                                           " no longer holds token '" + token_.label + "'");
    }
    std::lock_guard lk(login_mu_);
    auto in = st->login->user_logged_in();
    if (!in) {
        return fail(Errc::unavailable,
                    "token '" + token_.label + "': the login session is gone: " + in.error().context());
    }
    if (!*in) return fail(Errc::unavailable, "token '" + token_.label + "' logged us out");
    return {};
}

Result<void> SessionPool::recover(std::chrono::milliseconds drain_timeout) {
    std::lock_guard rlk(recover_mu_);
    if (pin_rejected_) return pin_was_rejected();
    auto st = state_.load();
    if (!st || st->epoch != fork_generation()) return stale_pool();
    std::vector<Session> idle;
    std::optional<Session> login;
    {
        std::unique_lock lk(st->mu);
        st->suspended = true;
        st->cv.notify_all();  // waiters in acquire() give up at once
        const auto deadline = std::chrono::steady_clock::now() + drain_timeout;
        while (st->in_use > 0) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return fail(Errc::unavailable,
                            std::to_string(st->in_use) + " PKCS#11 session(s) of token '" +
                                token_.label + "' still in use after " +
                                std::to_string(drain_timeout.count()) + " ms");
            }
            st->cv.wait_for(lk, std::chrono::milliseconds(20));
        }
        idle = std::move(st->idle);
        st->idle.clear();
        st->open = 0;
        login = std::move(st->login);
        st->login.reset();
    }
    // Closed (login last) before C_Finalize: afterwards their handle numbers
    // may name new sessions.
    idle.clear();
    login.reset();
    if (auto ok = module_->reinitialize(); !ok) return ok;
    auto token = module_->find_token(token_.uri());
    if (!token) return tl::unexpected(token.error().wrap("token '" + token_.label + "' is not back"));
    auto fresh = make_state(token->slot_id);
    if (!fresh) return tl::unexpected(fresh.error());
    state_.store(std::move(*fresh));
    return {};
}

Result<Session> SessionPool::open_read_write_session() {
    auto st = state_.load();
    if (!st || st->epoch != fork_generation()) return stale_pool();
    if (pin_rejected_) return pin_was_rejected();
    {
        std::lock_guard lk(st->mu);
        if (st->suspended || !st->login) return suspended();
    }
    return open_worker(*st, true);
}

Result<void> SessionPool::check_usable() const {
    auto st = state_.load();
    if (!st || st->epoch != fork_generation()) return stale_pool();
    return {};
}

PoolStats SessionPool::stats() const {
    auto st = state_.load();
    PoolStats out;
    if (!st || st->epoch != fork_generation()) return out;
    std::lock_guard lk(st->mu);
    out.open_sessions = st->open;
    out.idle_sessions = st->idle.size();
    out.in_use = st->in_use;
    out.peak_in_use = st->peak;
    out.sessions_opened = st->opened;
    out.leases = st->leases;
    return out;
}

}  // namespace enclave::hsm
