// SPDX-License-Identifier: Apache-2.0
// make_key_resolver: "pkcs11:" references go to the token through the
// provider; PEM files only when the caller allows them (tests, demo peers).
#include <string>

#include "hsm/tls_context.hpp"
#include "tls_context_files.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

class KeyResolver final : public PrivateKeyResolver {
public:
    KeyResolver(std::shared_ptr<SessionPool> pool, bool allow_file_keys)
        : pool_(std::move(pool)), allow_file_keys_(allow_file_keys) {}

    Result<EvpPkeyPtr> load(std::string_view reference) override {
        if (reference.empty()) return fail(Errc::invalid_argument, "no private key configured");
        if (reference.substr(0, 7) == "pkcs11:") {
            if (!pool_) {
                return fail(Errc::unavailable,
                            "private key " + std::string(reference) + ": no token session pool");
            }
            auto key = load_token_private_key(pool_, reference);
            if (!key)
                return tl::unexpected(key.error().wrap("private key " + std::string(reference)));
            return key;
        }
        if (!allow_file_keys_) {
            return fail(Errc::invalid_argument,
                        "private key '" + std::string(reference) +
                            "' is not a pkcs11: URI; TLS keys must live on the token");
        }
        auto libctx = tls_libctx();
        if (!libctx) return tl::unexpected(libctx.error());
        return detail::read_private_key_file(std::string(reference), *libctx);
    }

private:
    std::shared_ptr<SessionPool> pool_;
    bool allow_file_keys_;
};

}  // namespace

std::unique_ptr<PrivateKeyResolver> make_key_resolver(std::shared_ptr<SessionPool> pool,
                                                      bool allow_file_keys) {
    return std::make_unique<KeyResolver>(std::move(pool), allow_file_keys);
}

}  // namespace enclave::hsm
