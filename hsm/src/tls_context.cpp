// SPDX-License-Identifier: Apache-2.0
#include "hsm/tls_context.hpp"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <string>

#include "tls_context_files.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

// RFC 9325 section 4.2: TLS 1.2 only with ECDHE and AEAD ciphers.
constexpr std::string_view kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr std::string_view kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr std::string_view kGroups = "X25519:P-256:P-384";
// No rsa_pkcs1_* (the token provider signs RSA with PSS only; TLS 1.3 forbids
// PKCS#1 v1.5 in CertificateVerify anyway) and no SHA-1.
constexpr std::string_view kSigalgs =
    "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pss_pss_sha256:rsa_pss_pss_sha384:rsa_pss_pss_sha512";

constexpr int kVerifyDepth = 5;

// Must wrap: sk_X509_NAME_pop_free is a macro.
void x509_name_stack_free(STACK_OF(X509_NAME) * s) { sk_X509_NAME_pop_free(s, X509_NAME_free); }
using X509NameStackPtr = crypto::CHandle<STACK_OF(X509_NAME), x509_name_stack_free>;

Result<void> openssl_check(int rc, const std::string& what) {
    if (rc == 1) return {};
    return fail(Errc::crypto_failure, what + " failed: " + drain_openssl_errors());
}

/// The version, suite, group and option policy shared by servers and clients.
Result<void> apply_policy(SSL_CTX* ctx, int min_version) {
    if (min_version != TLS1_2_VERSION && min_version != TLS1_3_VERSION) {
        return fail(Errc::invalid_argument, "min_version must be TLS 1.2 or TLS 1.3");
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_clear_options(ctx, SSL_OP_LEGACY_SERVER_CONNECT);
    SSL_CTX_set_security_level(ctx, 2);
    auto ok = openssl_check(SSL_CTX_set_min_proto_version(ctx, min_version), "setting min version");
    if (ok) ok = openssl_check(SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION), "max version");
    if (ok) {
        ok = openssl_check(SSL_CTX_set_cipher_list(ctx, std::string(kTls12Ciphers).c_str()),
                           "setting the TLS 1.2 cipher list");
    }
    if (ok) {
        ok = openssl_check(SSL_CTX_set_ciphersuites(ctx, std::string(kTls13Suites).c_str()),
                           "setting the TLS 1.3 suites");
    }
    if (ok) {
        ok = openssl_check(
            static_cast<int>(SSL_CTX_set1_groups_list(ctx, std::string(kGroups).c_str())),
            "setting the key exchange groups");
    }
    if (ok) {
        ok = openssl_check(
            static_cast<int>(SSL_CTX_set1_sigalgs_list(ctx, std::string(kSigalgs).c_str())),
            "setting the signature algorithms");
    }
    // No resumption: no TLS 1.3 tickets, no session cache (see the header).
    if (ok) ok = openssl_check(SSL_CTX_set_num_tickets(ctx, 0), "disabling TLS 1.3 tickets");
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (ok) {
        const std::string_view sid = session_id_context();
        ok = openssl_check(
            SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(sid.data()),
                                           static_cast<unsigned int>(sid.size())),
            "setting the session id context");
    }
    // We name the chain explicitly; never build one from the trust store.
    SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
    return ok;
}

/// Certificate chain (leaf first) and private key; they must match.
Result<void> use_identity(SSL_CTX* ctx, const TlsEndpoint& ep, PrivateKeyResolver& resolver,
                          OSSL_LIB_CTX* libctx) {
    auto chain = detail::read_certificates(ep.certificate, libctx);
    if (!chain) return tl::unexpected(chain.error());
    auto key = resolver.load(ep.private_key);
    if (!key) return tl::unexpected(key.error());
    // Built with append: g++ 12 at -O3 warns (-Wrestrict, a known false
    // positive) on "literal" + std::string&&.
    std::string cert_name = "'";
    cert_name.append(ep.certificate.string()).append("'");
    auto ok = openssl_check(SSL_CTX_use_certificate(ctx, chain->front().get()),
                            "using the certificate " + cert_name);
    for (std::size_t i = 1; ok && i < chain->size(); ++i) {
        ok =
            openssl_check(static_cast<int>(SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get())),
                          "adding chain certificate " + std::to_string(i + 1) + " of " + cert_name);
    }
    if (!ok) return ok;
    // SSL_CTX_use_PrivateKey drops a certificate that does not match the key
    // (with no error), so check first to give the clear message.
    ERR_set_mark();
    const bool match = X509_check_private_key(chain->front().get(), key->get()) == 1;
    ERR_pop_to_mark();
    if (!match) {
        return fail(
            Errc::invalid_argument,
            "certificate " + cert_name + " does not match the private key " + ep.private_key);
    }
    ok = openssl_check(SSL_CTX_use_PrivateKey(ctx, key->get()),
                       "using the private key " + ep.private_key);
    if (!ok) return ok;
    if (SSL_CTX_check_private_key(ctx) != 1) {
        drain_openssl_errors();
        return fail(
            Errc::invalid_argument,
            "certificate " + cert_name + " does not match the private key " + ep.private_key);
    }
    return {};
}

Result<SslCtxPtr> make_context(const TlsEndpoint& ep, PrivateKeyResolver& resolver, bool server) {
    // Errors other code left on this thread's queue (SoftHSM leaves some)
    // must not end up in our messages.
    ERR_clear_error();
    auto libctx = tls_libctx();
    if (!libctx) return tl::unexpected(libctx.error());
    SslCtxPtr ctx(
        SSL_CTX_new_ex(*libctx, nullptr, server ? TLS_server_method() : TLS_client_method()));
    if (!ctx) return fail(Errc::crypto_failure, "SSL_CTX_new_ex failed: " + drain_openssl_errors());
    if (auto ok = apply_policy(ctx.get(), ep.min_version); !ok) return tl::unexpected(ok.error());
    if (auto ok = use_identity(ctx.get(), ep, resolver, *libctx); !ok) {
        return tl::unexpected(ok.error());
    }
    X509NameStackPtr names(sk_X509_NAME_new_null());
    if (!names) return fail(Errc::crypto_failure, "sk_X509_NAME_new_null failed");
    auto store =
        detail::make_trust_store(ep.trust_anchors, ep.crl, *libctx, server ? names.get() : nullptr);
    if (!store) return tl::unexpected(store.error());
    SSL_CTX_set_cert_store(ctx.get(), store->release());  // takes ownership
    SSL_CTX_set_verify_depth(ctx.get(), kVerifyDepth);
    if (server) {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        SSL_CTX_set_client_CA_list(ctx.get(), names.release());  // takes ownership
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    }
    return ctx;
}

}  // namespace

std::string_view tls12_cipher_list() noexcept { return kTls12Ciphers; }
std::string_view session_id_context() noexcept { return "enclave"; }
std::string_view tls13_ciphersuites() noexcept { return kTls13Suites; }
std::string_view tls_groups() noexcept { return kGroups; }
std::string_view tls_sigalgs() noexcept { return kSigalgs; }

Result<SslCtxPtr> make_server_context(const TlsEndpoint& endpoint, PrivateKeyResolver& resolver) {
    auto ctx = make_context(endpoint, resolver, true);
    if (!ctx) return tl::unexpected(ctx.error().wrap("TLS server context"));
    return ctx;
}

Result<SslCtxPtr> make_client_context(const TlsEndpoint& endpoint, PrivateKeyResolver& resolver) {
    auto ctx = make_context(endpoint, resolver, false);
    if (!ctx) return tl::unexpected(ctx.error().wrap("TLS client context"));
    return ctx;
}

Result<void> set_expected_host(SSL* ssl, std::string_view host) {
    if (ssl == nullptr) return fail(Errc::invalid_argument, "set_expected_host without an SSL");
    if (host.empty() || host.find('\0') != std::string_view::npos || host.size() > 253) {
        return fail(Errc::invalid_argument, "the expected host must be 1..253 characters, no NUL");
    }
    const std::string h(host);
    unsigned char addr[16];
    const bool is_ip =
        inet_pton(AF_INET, h.c_str(), addr) == 1 || inet_pton(AF_INET6, h.c_str(), addr) == 1;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, h.c_str()) != 1) {
            return fail(Errc::invalid_argument, "cannot expect IP address '" + h + "'");
        }
        return {};
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, h.c_str()) != 1 || SSL_set_tlsext_host_name(ssl, h.c_str()) != 1) {
        drain_openssl_errors();
        return fail(Errc::invalid_argument, "cannot expect host name '" + h + "'");
    }
    return {};
}

}  // namespace enclave::hsm
