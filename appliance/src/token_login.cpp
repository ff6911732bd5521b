// SPDX-License-Identifier: Apache-2.0
// Opening the instance's token and logging in (token_login.hpp).
#include "token_login.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "appliance/log.hpp"
#include "crypto/secret.hpp"
#include "hsm/module.hpp"
#include "hsm/pin.hpp"
#include "hsm/uri.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;

template <class T>
using Outcome = tl::expected<T, TokenLoginFailure>;

tl::unexpected<TokenLoginFailure> failure(ExitCode code, std::string component,
                                          std::string message) {
    return tl::unexpected<TokenLoginFailure>(
        TokenLoginFailure{code, std::move(component), std::move(message)});
}

struct Token {
    std::shared_ptr<hsm::Module> module;
    hsm::TokenInfo info;
};

bool is_softhsm(const std::string& module_path) {
    return std::filesystem::path(module_path).filename().string().find("softhsm") !=
           std::string::npos;
}

Outcome<Token> open_token(const Config& cfg) {
    auto uri = hsm::Uri::parse(cfg.token.uri);
    if (!uri) return failure(ExitCode::config, "config", "token.uri: " + uri.error().message());
    std::string module_path = cfg.token.module_path;
    if (module_path.empty() && uri->module_path) module_path = *uri->module_path;
    const auto conf = cfg.data_dir / "softhsm2.conf";
    std::error_code ec;
    if (!module_path.empty() && is_softhsm(module_path) && std::filesystem::exists(conf, ec)) {
        // Before C_Initialize: SoftHSM reads its configuration there.
        ::setenv("SOFTHSM2_CONF", conf.c_str(), 1);
        log(LogLevel::info, "hsm", "using the instance's SoftHSM configuration " + conf.string());
    }
    auto module =
        module_path.empty() ? hsm::Module::load_for_uri(*uri) : hsm::Module::load_path(module_path);
    if (!module) {
        const bool no_token = module.error().code() == Errc::hsm_token_not_found;
        return failure(no_token ? ExitCode::token_not_found : ExitCode::module, "hsm",
                       "loading the PKCS#11 module: " + module.error().message());
    }
    auto info = (*module)->find_token(*uri);
    if (!info) {
        return failure(ExitCode::token_not_found, "hsm",
                       "token.uri: no usable token: " + info.error().message());
    }
    return Token{std::move(*module), std::move(*info)};
}

crypto::Result<crypto::Secret> read_pin(const Config& cfg) {
    const PinSource& src = cfg.token.pin_source;
    switch (src.kind) {
        case PinSource::Kind::file:
            return hsm::read_pin_file(cfg.resolve(src.value));
        case PinSource::Kind::env:
            return hsm::read_pin_env(src.value);
        case PinSource::Kind::stdin_:
            return hsm::read_pin_fd(0);
        case PinSource::Kind::credential: {
            const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
            if (dir == nullptr || *dir == '\0') {
                return crypto::fail(Errc::not_found,
                                    "credential '" + src.value +
                                        "': CREDENTIALS_DIRECTORY is not set (run under systemd "
                                        "with LoadCredential= or SetCredentialEncrypted=)");
            }
            if (src.value.empty() || src.value == "." || src.value == ".." ||
                src.value.find('/') != std::string::npos) {
                return crypto::fail(Errc::invalid_argument,
                                    "credential name must be a plain file name");
            }
            return hsm::read_pin_file(std::filesystem::path(dir) / src.value);
        }
    }
    return crypto::fail(Errc::invalid_argument, "unknown PIN source");
}

Outcome<std::shared_ptr<hsm::SessionPool>> login(const Config& cfg, Token token, EventSink* events) {
    auto pin = read_pin(cfg);
    if (!pin) {
        return failure(ExitCode::pin_unavailable, "hsm",
                       "token.pin_source: " + pin.error().message());
    }
    hsm::PoolOptions options;
    options.max_sessions = cfg.token.max_sessions;
    options.read_write = false;  // the daemon creates no token objects
    auto pool = hsm::SessionPool::open(token.module, token.info, std::move(*pin), options);
    if (!pool) {
        const Errc code = pool.error().code();
        if (events != nullptr) events->emit(events::TokenLoginFailed{token.info.label, code});
        const bool rejected = code == Errc::hsm_pin_incorrect || code == Errc::hsm_pin_locked;
        // The hsm layer's message says that a rejected PIN is not retried.
        return failure(
            rejected ? ExitCode::pin_rejected : ExitCode::module, "hsm",
            "login to token '" + token.info.label + "' failed: " + pool.error().message());
    }
    log(LogLevel::info, "hsm",
        "logged in to token '" + token.info.label + "' (" + token.info.manufacturer + " " +
            token.info.model + ", serial " + token.info.serial + ")");
    return std::move(*pool);
}

}  // namespace

tl::expected<std::shared_ptr<hsm::SessionPool>, TokenLoginFailure> open_token_session(
    const Config& cfg, EventSink* events) {
    auto token = open_token(cfg);
    if (!token) return tl::unexpected(token.error());
    return login(cfg, std::move(*token), events);
}

}  // namespace enclave::appliance
