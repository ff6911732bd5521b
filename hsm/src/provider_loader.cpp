// SPDX-License-Identifier: Apache-2.0
// load_token_private_key: a token key as an EVP_PKEY of our provider.
//
// How the key reaches the keymgmt: the TokenKey (Signer + URI) and its public
// key (an EVP_PKEY of the default provider in tls_libctx()) are put in a
// process-wide registry under a random 64-bit ticket; then
// EVP_PKEY_fromdata in token_key_libctx() passes only the ticket
// (OSSL_PARAM "enclave-token-ticket") and our import takes the entry out.
// Tickets are single-use and random, so nothing else that can call
// EVP_PKEY_fromdata can name a key it was not given, and no pointer ever
// travels through an OSSL_PARAM.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <mutex>
#include <unordered_map>

#include "hsm/provider.hpp"
#include "provider_keys.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace detail {
namespace {

struct Registry {
    std::mutex mu;
    struct Entry {
        std::shared_ptr<TokenKey> token;
        EvpPkeyPtr pub;
    };
    std::unordered_map<std::uint64_t, Entry> entries;
};

Registry& registry() {
    static Registry r;  // never destroyed before its users: function-local static
    return r;
}

}  // namespace

std::uint64_t register_ticket(std::shared_ptr<TokenKey> token, EvpPkeyPtr pub) {
    Registry& r = registry();
    for (;;) {
        std::uint64_t ticket = 0;
        if (RAND_bytes(reinterpret_cast<unsigned char*>(&ticket), sizeof ticket) != 1) {
            throw std::runtime_error("RAND_bytes failed");  // broken invariant
        }
        std::lock_guard lock(r.mu);
        if (ticket == 0 || r.entries.contains(ticket)) continue;
        r.entries.emplace(ticket, Registry::Entry{std::move(token), std::move(pub)});
        return ticket;
    }
}

bool redeem_ticket(std::uint64_t ticket, std::shared_ptr<TokenKey>& token, EvpPkeyPtr& pub) {
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    auto it = r.entries.find(ticket);
    if (it == r.entries.end()) return false;
    token = std::move(it->second.token);
    pub = std::move(it->second.pub);
    r.entries.erase(it);
    return true;
}

}  // namespace detail

namespace {

Result<detail::KeyKind> kind_of(KeyType t) {
    switch (t) {
        case KeyType::ec_p256:
        case KeyType::ec_p384: return detail::KeyKind::ec;
        case KeyType::ed25519: return detail::KeyKind::ed25519;
        case KeyType::rsa: return detail::KeyKind::rsa;
        case KeyType::aes: break;
    }
    return fail(Errc::unsupported_algorithm,
                "not a signing key (" + std::string(key_type_name(t)) + ")");
}

Result<EvpPkeyPtr> parse_public(OSSL_LIB_CTX* libctx, const crypto::Bytes& spki) {
    const unsigned char* p = spki.data();
    EvpPkeyPtr pub(d2i_PUBKEY_ex(nullptr, &p, static_cast<long>(spki.size()), libctx, nullptr));
    if (!pub || p != spki.data() + spki.size()) {
        drain_openssl_errors();
        return fail(Errc::malformed_input, "the token's public key does not parse as an SPKI");
    }
    return pub;
}

/// A URI that names a token must name the pool's token: the key is looked up
/// on the pool's token only, so a different token in the URI is a mistake in
/// the configuration, not something to ignore.
Result<void> check_token(const Uri& uri, const TokenInfo& token) {
    auto differs = [](const std::optional<std::string>& want, const std::string& have) {
        return want && *want != have;
    };
    if (differs(uri.token, token.label) || differs(uri.serial, token.serial) ||
        differs(uri.manufacturer, token.manufacturer) || differs(uri.model, token.model)) {
        return fail(Errc::hsm_token_not_found,
                    "the URI names another token than the session "
                    "pool's ('" +
                        token.label + "')");
    }
    return {};
}

/// The EVP_PKEY of our keymgmt for a TokenKey (see the file comment).
Result<EvpPkeyPtr> make_provider_key(OSSL_LIB_CTX* libctx, detail::KeyKind kind,
                                     std::shared_ptr<detail::TokenKey> token, EvpPkeyPtr pub) {
    const std::uint64_t ticket = detail::register_ticket(std::move(token), std::move(pub));
    crypto::CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free> ctx(
        EVP_PKEY_CTX_new_from_name(libctx, detail::keymgmt_name(kind), "provider=enclave-pkcs11"));
    std::uint64_t value = ticket;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_uint64(detail::kTicketParam, &value),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY* out = nullptr;
    const bool ok = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                    EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_KEYPAIR, params) == 1;
    // Whatever happened, the ticket must not stay redeemable.
    std::shared_ptr<detail::TokenKey> unused_token;
    EvpPkeyPtr unused_pub;
    (void)detail::redeem_ticket(ticket, unused_token, unused_pub);
    if (!ok) {
        EVP_PKEY_free(out);
        return fail(Errc::crypto_failure,
                    "building the OpenSSL key through the enclave-pkcs11 provider failed: " +
                        drain_openssl_errors());
    }
    return EvpPkeyPtr(out);
}

}  // namespace

Result<EvpPkeyPtr> load_token_private_key(std::shared_ptr<SessionPool> pool,
                                          std::string_view pkcs11_uri) {
    if (!pool) return fail(Errc::invalid_argument, "load_token_private_key without a pool");
    ERR_clear_error();  // stale errors of other code must not reach our messages
    auto libctx = tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    auto keys = token_key_libctx();
    if (!keys) return tl::unexpected(keys.error());
    auto uri = Uri::parse(pkcs11_uri);
    if (!uri) return tl::unexpected(uri.error());
    if (auto ok = check_token(*uri, pool->token()); !ok) return tl::unexpected(ok.error());
    auto signer = Signer::open_uri(pool, *uri);
    if (!signer) return tl::unexpected(signer.error());
    auto kind = kind_of(signer->key_type());
    if (!kind) return tl::unexpected(kind.error());
    auto spki = signer->public_key_spki();
    if (!spki) return tl::unexpected(spki.error());
    auto pub = parse_public(*libctx, *spki);
    if (!pub) return tl::unexpected(pub.error());
    const std::string name = signer->key().uri(pool->token()).to_string();
    auto token = std::make_shared<detail::TokenKey>(detail::TokenKey{std::move(*signer), name});
    return make_provider_key(*keys, *kind, std::move(token), std::move(*pub));
}

bool is_token_key(const EVP_PKEY* key) noexcept {
    if (key == nullptr) return false;
    const OSSL_PROVIDER* prov = EVP_PKEY_get0_provider(key);
    if (prov == nullptr) return false;
    const char* name = OSSL_PROVIDER_get0_name(prov);
    int has_token = 0;
    return name != nullptr && std::string_view(name) == kProviderName &&
           EVP_PKEY_get_int_param(key, detail::kHasTokenParam, &has_token) == 1 && has_token == 1;
}

}  // namespace enclave::hsm
