// SPDX-License-Identifier: Apache-2.0
// TLS PSK callbacks (tls_psk.hpp). The resolver or source hangs off the
// SSL_CTX (ex_data, freed with it); what one connection negotiated hangs off
// its SSL (ex_data, freed with it). Neither holds a key.
#include "hsm/tls_psk.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <cstring>
#include <mutex>

#include "hsm/tls_context.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::Result;

namespace {

// RFC 5487 (DHE-PSK with AES-GCM) and RFC 7905 (ECDHE-PSK with ChaCha20).
constexpr std::string_view kTls12PskCiphers =
    "ECDHE-PSK-CHACHA20-POLY1305:DHE-PSK-AES256-GCM-SHA384:DHE-PSK-AES128-GCM-SHA256";
// TLS_AES_128_GCM_SHA256: the suite a TLS 1.3 PSK session is bound to (its
// hash, SHA-256, is what matters: CHACHA20_POLY1305_SHA256 works too).
constexpr unsigned char kTls13Aes128Gcm[2] = {0x13, 0x01};
constexpr std::size_t kMaxIdentity = 128;
constexpr std::size_t kMaxKey = 64;

struct ServerHolder {
    std::shared_ptr<ServerPskResolver> resolver;
};
struct ClientHolder {
    std::shared_ptr<ClientPskSource> source;
};
/// Per connection: the identity offered or accepted.
struct PskState {
    std::string identity;
    std::string label;
};

template <class T>
void free_holder(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<T*>(ptr);
}

struct Indexes {
    int server_ctx = -1;
    int client_ctx = -1;
    int ssl_state = -1;
};

const Indexes& indexes() {
    static const Indexes idx = [] {
        Indexes i;
        i.server_ctx =
            SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_holder<ServerHolder>);
        i.client_ctx =
            SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_holder<ClientHolder>);
        i.ssl_state = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_holder<PskState>);
        return i;
    }();
    return idx;
}

PskState* state_of(const SSL* ssl) {
    return static_cast<PskState*>(SSL_get_ex_data(ssl, indexes().ssl_state));
}

/// The connection's state, created on first use. nullptr on failure.
PskState* ensure_state(SSL* ssl) {
    if (PskState* s = state_of(ssl)) return s;
    auto fresh = std::make_unique<PskState>();
    if (SSL_set_ex_data(ssl, indexes().ssl_state, fresh.get()) != 1) return nullptr;
    return fresh.release();
}

/// A TLS 1.3 session carrying an external PSK bound to SHA-256.
SSL_SESSION* psk_session(SSL* ssl, const crypto::Secret& key) {
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kTls13Aes128Gcm);
    if (cipher == nullptr) return nullptr;
    SSL_SESSION* s = SSL_SESSION_new();
    if (s == nullptr) return nullptr;
    if (SSL_SESSION_set1_master_key(s, key.data(), key.size()) != 1 ||
        SSL_SESSION_set_cipher(s, cipher) != 1 ||
        SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1 ||
        SSL_SESSION_set1_id_context(s, reinterpret_cast<const unsigned char*>(session_id_context().data()),
                                    static_cast<unsigned int>(session_id_context().size())) != 1) {
        SSL_SESSION_free(s);
        return nullptr;
    }
    return s;
}

std::optional<ServerPsk> server_lookup(SSL* ssl, std::string_view identity) {
    auto* h = static_cast<ServerHolder*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), indexes().server_ctx));
    if (h == nullptr || identity.empty() || identity.size() > kMaxIdentity) return std::nullopt;
    auto psk = h->resolver->find(identity);
    if (!psk || psk->key.size() == 0 || psk->key.size() > kMaxKey) return std::nullopt;
    return psk;
}

bool remember(SSL* ssl, std::string_view identity, std::string label) {
    PskState* st = ensure_state(ssl);
    if (st == nullptr) return false;
    st->identity.assign(identity);
    st->label = std::move(label);
    return true;
}

// TLS 1.3, server: 1 with *sess = nullptr for an unknown identity (the
// certificate handshake goes on); 0 aborts.
int server_find_session(SSL* ssl, const unsigned char* id, size_t id_len, SSL_SESSION** sess) {
    *sess = nullptr;
    const std::string_view identity(reinterpret_cast<const char*>(id), id_len);
    auto psk = server_lookup(ssl, identity);
    if (!psk) return 1;
    SSL_SESSION* s = psk_session(ssl, psk->key);
    if (s == nullptr || !remember(ssl, identity, std::move(psk->label))) {
        SSL_SESSION_free(s);
        return 0;
    }
    *sess = s;
    return 1;
}

// TLS 1.2, server: the key's length, or 0 for an unknown identity.
unsigned int server_psk12(SSL* ssl, const char* identity, unsigned char* out, unsigned int max) {
    if (identity == nullptr) return 0;
    const std::string_view id(identity, strnlen(identity, kMaxIdentity + 1));
    auto psk = server_lookup(ssl, id);
    if (!psk || psk->key.size() > max) return 0;
    if (!remember(ssl, id, std::move(psk->label))) return 0;
    std::memcpy(out, psk->key.data(), psk->key.size());
    return static_cast<unsigned int>(psk->key.size());
}

std::optional<ClientPskSource::Current> client_current(SSL* ssl) {
    auto* h = static_cast<ClientHolder*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), indexes().client_ctx));
    if (h == nullptr) return std::nullopt;
    auto cur = h->source->current();
    if (!cur || cur->identity.empty() || cur->identity.size() > kMaxIdentity ||
        cur->key.size() == 0 || cur->key.size() > kMaxKey) {
        return std::nullopt;
    }
    return cur;
}

// TLS 1.3, client. `md` is set on a second call (after a HelloRetryRequest):
// the PSK must then match the suite's hash.
int client_use_session(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* id_len,
                       SSL_SESSION** sess) {
    *sess = nullptr;
    auto cur = client_current(ssl);
    if (!cur) return 0;  // no usable PSK: fail, never fall back to certificates
    if (md != nullptr && EVP_MD_get_type(md) != NID_sha256) return 1;
    if (!remember(ssl, cur->identity, {})) return 0;
    SSL_SESSION* s = psk_session(ssl, cur->key);
    if (s == nullptr) return 0;
    const PskState* st = state_of(ssl);
    *id = reinterpret_cast<const unsigned char*>(st->identity.data());
    *id_len = st->identity.size();
    *sess = s;
    return 1;
}

// TLS 1.2, client: writes the identity (NUL-terminated) and the key.
unsigned int client_psk12(SSL* ssl, const char*, char* identity, unsigned int max_identity,
                          unsigned char* out, unsigned int max) {
    auto cur = client_current(ssl);
    if (!cur || cur->identity.size() + 1 > max_identity || cur->key.size() > max) return 0;
    if (!remember(ssl, cur->identity, {})) return 0;
    std::memcpy(identity, cur->identity.c_str(), cur->identity.size() + 1);
    std::memcpy(out, cur->key.data(), cur->key.size());
    return static_cast<unsigned int>(cur->key.size());
}

bool used_psk(const SSL* ssl) {
    if (SSL_version(ssl) == TLS1_3_VERSION) {
        // No resumption is ever enabled (tls_context.hpp): a reused session
        // in TLS 1.3 is the external PSK.
        return SSL_session_reused(const_cast<SSL*>(ssl)) == 1;
    }
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
    return c != nullptr && SSL_CIPHER_get_auth_nid(c) == NID_auth_psk;
}

}  // namespace

std::string_view tls12_psk_cipher_list() noexcept { return kTls12PskCiphers; }

Result<void> enable_server_psk(SSL_CTX* ctx, std::shared_ptr<ServerPskResolver> resolver) {
    if (ctx == nullptr || !resolver) return crypto::fail(Errc::invalid_argument, "server PSK: no context or resolver");
    const std::string list = std::string(tls12_cipher_list()) + ":" + std::string(kTls12PskCiphers);
    if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1) {
        return crypto::fail(Errc::crypto_failure, "server PSK: setting the TLS 1.2 cipher list failed: " +
                                                      drain_openssl_errors());
    }
    SSL_CTX_set_dh_auto(ctx, 1);
    auto holder = std::make_unique<ServerHolder>(ServerHolder{std::move(resolver)});
    if (SSL_CTX_set_ex_data(ctx, indexes().server_ctx, holder.get()) != 1) {
        return crypto::fail(Errc::crypto_failure, "server PSK: SSL_CTX_set_ex_data failed");
    }
    holder.release();  // freed with the SSL_CTX
    SSL_CTX_set_psk_find_session_callback(ctx, server_find_session);
    SSL_CTX_set_psk_server_callback(ctx, server_psk12);
    return {};
}

Result<void> enable_client_psk(SSL_CTX* ctx, std::shared_ptr<ClientPskSource> source) {
    if (ctx == nullptr || !source) return crypto::fail(Errc::invalid_argument, "client PSK: no context or source");
    if (SSL_CTX_set_cipher_list(ctx, std::string(kTls12PskCiphers).c_str()) != 1) {
        return crypto::fail(Errc::crypto_failure, "client PSK: setting the TLS 1.2 cipher list failed: " +
                                                      drain_openssl_errors());
    }
    auto holder = std::make_unique<ClientHolder>(ClientHolder{std::move(source)});
    if (SSL_CTX_set_ex_data(ctx, indexes().client_ctx, holder.get()) != 1) {
        return crypto::fail(Errc::crypto_failure, "client PSK: SSL_CTX_set_ex_data failed");
    }
    holder.release();  // freed with the SSL_CTX
    SSL_CTX_set_psk_use_session_callback(ctx, client_use_session);
    SSL_CTX_set_psk_client_callback(ctx, client_psk12);
    return {};
}

std::optional<PskPeer> psk_peer(const SSL* ssl) {
    if (ssl == nullptr) return std::nullopt;
    const PskState* st = state_of(ssl);
    if (st == nullptr || st->identity.empty() || !used_psk(ssl)) return std::nullopt;
    return PskPeer{st->identity, st->label};
}

bool psk_authenticated(const SSL* ssl) {
    if (ssl == nullptr) return false;
    const PskState* st = state_of(ssl);
    return st != nullptr && !st->identity.empty() && used_psk(ssl);
}

}  // namespace enclave::hsm
