// SPDX-License-Identifier: Apache-2.0
#include "hsm/module.hpp"

#include <p11-kit/p11-kit.h>
#include <pthread.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "hsm/errors.hpp"
#include "hsm/log.hpp"
#include "token_list.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::atomic<std::uint64_t> g_fork_generation{0};
std::atomic<bool> g_module_alive{false};

void on_fork_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void setup_process_hooks() {
    static std::once_flag once;
    std::call_once(once, [] {
        ::pthread_atfork(nullptr, nullptr, &on_fork_child);
        // p11-kit prints to stderr by default; we carry its text in errors.
        p11_kit_be_quiet();
    });
}

std::string p11kit_message() {
    const char* m = p11_kit_message();
    return m != nullptr ? std::string(m) : std::string("no detail from p11-kit");
}

std::string take_string(char* s) {
    std::string out = s != nullptr ? std::string(s) : std::string();
    std::free(s);
    return out;
}

// Holds the one-Module-per-process claim until a Module takes it over.
class AliveClaim {
public:
    AliveClaim() {
        bool expected = false;
        ok_ = g_module_alive.compare_exchange_strong(expected, true);
    }
    ~AliveClaim() {
        if (ok_ && !kept_) g_module_alive.store(false);
    }
    AliveClaim(const AliveClaim&) = delete;
    AliveClaim& operator=(const AliveClaim&) = delete;
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    void keep() noexcept { kept_ = true; }

private:
    bool ok_ = false;
    bool kept_ = false;
};

tl::unexpected<crypto::Error> already_loaded() {
    return fail(Errc::already_exists,
                "a PKCS#11 Module already exists in this process: there is one per process, "
                "share it");
}

// Refuses module files that are not what an administrator installed.
Result<void> check_module_file(const std::string& path) {
    if (path.empty() || path.front() != '/') {
        return fail(Errc::invalid_argument,
                    "PKCS#11 module path '" + path + "' must be absolute");
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        return fail(Errc::hsm_module,
                    "PKCS#11 module '" + path + "' cannot be read: " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::hsm_module, "PKCS#11 module '" + path + "' is not a regular file");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        return fail(Errc::hsm_module,
                    "PKCS#11 module '" + path + "' is writable by group or others: refusing to "
                    "load it");
    }
    return {};
}

// Initialises `fn`; on failure releases it and reports.
Result<ModuleInfo> initialise(CK_FUNCTION_LIST* fn, const std::string& what) {
    if (CK_RV rv = p11_kit_module_initialize(fn); rv != CKR_OK) {
        auto err = ckr_error(rv, "C_Initialize of PKCS#11 module " + what);
        return fail(Errc::hsm_module, err.context() + ": " + p11kit_message());
    }
    auto info = detail::module_info(fn);
    if (!info) {
        p11_kit_module_finalize(fn);
        return tl::unexpected(info.error().wrap("PKCS#11 module " + what));
    }
    info->config_name = take_string(p11_kit_module_get_name(fn));
    info->path = take_string(p11_kit_module_get_filename(fn));
    return info;
}

// Owns the array from p11_kit_modules_load; releases every module not taken.
class ConfiguredList {
public:
    ConfiguredList() : list_(p11_kit_modules_load(nullptr, 0)) {}
    ~ConfiguredList() {
        if (list_ == nullptr) return;
        for (CK_FUNCTION_LIST** p = list_; *p != nullptr; ++p) {
            if (*p != taken_) p11_kit_module_release(*p);
        }
        std::free(list_);
    }
    ConfiguredList(const ConfiguredList&) = delete;
    ConfiguredList& operator=(const ConfiguredList&) = delete;
    [[nodiscard]] CK_FUNCTION_LIST** get() const noexcept { return list_; }
    void take(CK_FUNCTION_LIST* fn) noexcept { taken_ = fn; }

private:
    CK_FUNCTION_LIST** list_;
    CK_FUNCTION_LIST* taken_ = nullptr;
};

}  // namespace

std::uint64_t fork_generation() noexcept {
    return g_fork_generation.load(std::memory_order_relaxed);
}

Uri TokenInfo::uri() const {
    Uri u;
    u.token = label;
    u.manufacturer = manufacturer;
    u.serial = serial;
    u.model = model;
    return u;
}

Module::Module(CK_FUNCTION_LIST* fn, ModuleInfo info)
    : fn_(fn), info_(std::move(info)), epoch_(fork_generation()) {}

Module::~Module() {
    // In a child that never re-initialised, p11-kit's managed finalize sees the
    // fork and skips the module's C_Finalize; it only drops its own state.
    if (CK_RV rv = p11_kit_module_finalize(fn_); rv != CKR_OK) {
        log_ckr_failure(false, "C_Finalize", rv);
    }
    p11_kit_module_release(fn_);
    g_module_alive.store(false);
}

Result<std::shared_ptr<Module>> Module::load_path(const std::string& path) {
    setup_process_hooks();
    AliveClaim claim;
    if (!claim.ok()) return already_loaded();
    if (auto ok = check_module_file(path); !ok) return tl::unexpected(ok.error());
    CK_FUNCTION_LIST* fn = p11_kit_module_load(path.c_str(), 0);
    if (fn == nullptr) {
        return fail(Errc::hsm_module,
                    "loading PKCS#11 module '" + path + "' failed: " + p11kit_message());
    }
    auto info = initialise(fn, "'" + path + "'");
    if (!info) {
        p11_kit_module_release(fn);
        return tl::unexpected(info.error());
    }
    claim.keep();
    return std::shared_ptr<Module>(new Module(fn, std::move(*info)));
}

Result<std::shared_ptr<Module>> Module::load_configured(const std::string& name) {
    Uri uri;
    uri.module_name = name;
    return load_for_uri(uri);
}

Result<std::shared_ptr<Module>> Module::load_for_uri(const Uri& uri) {
    if (uri.module_path) return load_path(*uri.module_path);
    setup_process_hooks();
    AliveClaim claim;
    if (!claim.ok()) return already_loaded();
    ConfiguredList list;
    if (list.get() == nullptr) {
        return fail(Errc::hsm_module, "loading the p11-kit configured modules failed: " +
                                          p11kit_message());
    }
    std::vector<std::string> tried;
    for (CK_FUNCTION_LIST** p = list.get(); *p != nullptr; ++p) {
        const std::string name = take_string(p11_kit_module_get_name(*p));
        if (uri.module_name ? name != *uri.module_name
                            : (p11_kit_module_get_flags(*p) & P11_KIT_MODULE_TRUSTED) != 0) {
            continue;
        }
        tried.push_back(name);
        auto info = initialise(*p, "'" + name + "'");
        if (!info) {
            if (uri.module_name) return tl::unexpected(info.error());
            log(LogLevel::info, "skipping PKCS#11 module: " + info.error().context());
            continue;
        }
        // With module-name the token is looked up later (find_token) so that a
        // missing token is reported as such, not as a missing module.
        if (uri.module_name || detail::find_token(*p, *info, uri)) {
            list.take(*p);
            claim.keep();
            return std::shared_ptr<Module>(new Module(*p, std::move(*info)));
        }
        p11_kit_module_finalize(*p);
    }
    if (uri.module_name) {
        return fail(Errc::hsm_module,
                    "no p11-kit configured module is called '" + *uri.module_name + "'");
    }
    std::string names;
    for (const auto& n : tried) names += (names.empty() ? "" : ", ") + n;
    return fail(Errc::hsm_token_not_found,
                "no configured PKCS#11 module has a token matching " + uri.to_string() +
                    " (modules tried: " + (names.empty() ? "none" : names) + ")");
}

Result<void> Module::check_usable() const {
    if (epoch_.load(std::memory_order_relaxed) != fork_generation()) {
        return fail(Errc::unavailable,
                    "the PKCS#11 module was initialised before fork(): in the child call "
                    "Module::reinitialize_after_fork() and SessionPool::reset_after_fork() "
                    "before using it");
    }
    return {};
}

std::uint64_t Module::epoch() const noexcept { return epoch_.load(std::memory_order_relaxed); }

Result<void> Module::reinitialize_after_fork() {
    if (epoch_.load() == fork_generation()) return {};
    // p11-kit's managed C_Initialize notices the new process and calls the
    // module's C_Initialize again (CKR_CRYPTOKI_ALREADY_INITIALIZED from a
    // module that kept its state over fork counts as success).
    if (CK_RV rv = p11_kit_module_initialize(fn_); rv != CKR_OK) {
        auto err = ckr_error(rv, "C_Initialize after fork");
        return fail(Errc::hsm_module, err.context() + ": " + p11kit_message());
    }
    epoch_.store(fork_generation());
    return {};
}

Result<void> Module::reinitialize() {
    if (auto ok = check_usable(); !ok) return ok;
    std::unique_lock lk(init_mu_);
    // p11-kit's managed module closes the sessions it still tracks and calls
    // the module's C_Finalize; a module that already lost its device may
    // answer with an error, which does not stop the new C_Initialize.
    if (CK_RV rv = p11_kit_module_finalize(fn_); rv != CKR_OK) {
        log_ckr_failure(false, "C_Finalize before re-initialising", rv);
    }
    if (CK_RV rv = p11_kit_module_initialize(fn_); rv != CKR_OK) {
        auto err = ckr_error(rv, "C_Initialize (re-initialising the module)");
        return fail(ckr_errc(rv) == Errc::unavailable ? Errc::unavailable : Errc::hsm_module,
                    err.context() + ": " + p11kit_message());
    }
    return {};
}

Result<std::vector<TokenInfo>> Module::tokens() const {
    if (auto ok = check_usable(); !ok) return tl::unexpected(ok.error());
    std::shared_lock lk(init_mu_);
    return detail::list_tokens(fn_);
}

Result<TokenInfo> Module::find_token(const Uri& uri) const {
    if (auto ok = check_usable(); !ok) return tl::unexpected(ok.error());
    std::shared_lock lk(init_mu_);
    return detail::find_token(fn_, info_, uri);
}

Result<CK_SLOT_ID> Module::free_slot() const {
    auto all = tokens();
    if (!all) return tl::unexpected(all.error());
    for (const auto& t : *all) {
        if (!t.initialized()) return t.slot_id;
    }
    return fail(Errc::hsm_token_not_found,
                "module '" + info_.description + "' has no slot with an uninitialised token");
}

}  // namespace enclave::hsm
