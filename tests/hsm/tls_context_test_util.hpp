// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers for real TLS between two real OpenSSL endpoints: a handshake
// over a socketpair with the server and the client on their own threads, a
// small PKI written to a temp dir, and "raw" peers (plain SSL_CTX in the
// default library context, configured by the test) for policy tests.

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "hsm/tls_context.hpp"
#include "support/paths.hpp"
#include "support/test_pki.hpp"

namespace enclave::testing {

inline std::string take_errors() {
    std::string out;
    char buf[256];
    for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        out += (out.empty() ? "" : "; ") + std::string(buf);
    }
    return out;
}

struct HandshakeResult {
    bool server_ok = false;  ///< SSL_accept succeeded and the reply was written
    bool client_ok = false;  ///< SSL_connect succeeded and the server's reply arrived
    std::string server_error;
    std::string client_error;
    std::string version;  ///< negotiated protocol (client side)
    std::string cipher;
    bool server_saw_client_cert = false;
    int server_signature_nid =
        NID_undef;  ///< the server's handshake signature, as the client saw it
    int client_signature_nid = NID_undef;  ///< the client's, as the server saw it

    [[nodiscard]] bool ok() const { return server_ok && client_ok; }
    [[nodiscard]] std::string describe() const {
        return "server: " + (server_ok ? std::string("ok") : server_error) +
               " | client: " + (client_ok ? std::string("ok") : client_error);
    }
};

inline void set_timeouts(int fd) {
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/// One full handshake over a socketpair. After the handshake the server
/// writes "ok" and the client reads it, so a client certificate the server
/// rejects after the client's handshake completed (TLS 1.3) still fails the
/// client side.
/// `on_server` / `on_client` see each side's SSL after a successful
/// handshake (e.g. to ask which PSK was used).
inline HandshakeResult handshake(SSL_CTX* server, SSL_CTX* client,
                                 const std::string& host = "localhost",
                                 const std::function<void(SSL*)>& on_server = {},
                                 const std::function<void(SSL*)>& on_client = {}) {
    // A peer that gives up closes its end; writing then must fail, not kill us.
    ::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw std::runtime_error("socketpair failed");
    }
    set_timeouts(fds[0]);
    set_timeouts(fds[1]);
    HandshakeResult r;
    std::thread server_thread([&] {
        SSL* s = SSL_new(server);
        SSL_set_fd(s, fds[0]);
        if (SSL_accept(s) == 1) {
            X509* peer = SSL_get1_peer_certificate(s);
            r.server_saw_client_cert = peer != nullptr;
            SSL_get_peer_signature_type_nid(s, &r.client_signature_nid);
            X509_free(peer);
            if (on_server) on_server(s);
            r.server_ok = SSL_write(s, "ok", 2) == 2;
            if (!r.server_ok) r.server_error = "write failed: " + take_errors();
            SSL_shutdown(s);
        } else {
            r.server_error = take_errors();
            if (r.server_error.empty()) r.server_error = "SSL_accept failed";
        }
        SSL_free(s);
        ::shutdown(fds[0], SHUT_RDWR);
    });
    SSL* c = SSL_new(client);
    SSL_set_fd(c, fds[1]);
    if (auto ok = hsm::set_expected_host(c, host); !ok) {
        r.client_error = ok.error().message();
    } else if (SSL_connect(c) == 1) {
        r.version = SSL_get_version(c);
        r.cipher = SSL_get_cipher_name(c);
        SSL_get_peer_signature_type_nid(c, &r.server_signature_nid);
        if (on_client) on_client(c);
        char buf[2];
        r.client_ok = SSL_read(c, buf, 2) == 2 && buf[0] == 'o' && buf[1] == 'k';
        if (!r.client_ok) r.client_error = "no reply: " + take_errors();
    } else {
        r.client_error = take_errors();
        if (r.client_error.empty()) r.client_error = "SSL_connect failed";
    }
    SSL_free(c);
    ::shutdown(fds[1], SHUT_RDWR);
    server_thread.join();
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
}

/// A raw client (default library context, no project policy) for policy
/// tests: version range, TLS 1.2 cipher list, optional certificate and key.
struct RawClientSpec {
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    std::string tls12_ciphers = "DEFAULT";
    int security_level = 1;
    std::filesystem::path ca;    ///< trust anchors for the server
    std::filesystem::path cert;  ///< "" = present no certificate
    std::filesystem::path key;
};

inline hsm::SslCtxPtr make_raw_client(const RawClientSpec& spec) {
    hsm::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new");
    SSL_CTX_set_security_level(ctx.get(), spec.security_level);
    if (SSL_CTX_set_min_proto_version(ctx.get(), spec.min_version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx.get(), spec.max_version) != 1 ||
        SSL_CTX_set_cipher_list(ctx.get(), spec.tls12_ciphers.c_str()) != 1 ||
        SSL_CTX_load_verify_locations(ctx.get(), spec.ca.c_str(), nullptr) != 1) {
        throw std::runtime_error("raw client set-up: " + take_errors());
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (!spec.cert.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx.get(), spec.cert.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx.get(), spec.key.c_str(), SSL_FILETYPE_PEM) != 1)) {
        throw std::runtime_error("raw client identity: " + take_errors());
    }
    return ctx;
}

/// A CA and certificates in a temp dir: ca.pem, and for each issued party
/// <name>.pem (+ <name>.key for file keys).
class PkiDir {
public:
    explicit PkiDir(const std::string& ca_name = "Enclave Test CA",
                    TestKeyType ca_key = TestKeyType::ec_p256)
        : ca_(ca_name, ca_key) {
        write_pem_certs(path("ca.pem"), {ca_.cert()});
    }
    [[nodiscard]] std::filesystem::path path(const std::string& file) const {
        return dir_.path() / file;
    }
    [[nodiscard]] const TestCa& ca() const noexcept { return ca_; }

    /// Issues <name>.pem for a fresh file key of `type` and writes <name>.key.
    CertPtr issue_file_key(const std::string& name, TestKeyType type, const LeafSpec& spec) {
        PkeyPtr key = generate_test_key(type);
        CertPtr cert = ca_.issue(key.get(), spec);
        write_pem_certs(path(name + ".pem"), {cert.get()});
        write_pem_key(path(name + ".key"), key.get());
        return cert;
    }
    /// Issues <name>.pem for a public key (e.g. a token key's SPKI).
    CertPtr issue_spki(const std::string& name, crypto::ByteView spki, const LeafSpec& spec) {
        CertPtr cert = ca_.issue(spki, spec);
        write_pem_certs(path(name + ".pem"), {cert.get()});
        return cert;
    }

private:
    TempDir dir_;
    TestCa ca_;
};

inline LeafSpec server_spec() {
    LeafSpec s;
    s.common_name = "server";
    s.dns = {"localhost"};
    s.ips = {"127.0.0.1"};
    s.client_auth = false;
    return s;
}

inline LeafSpec client_spec(const std::string& cn = "client") {
    LeafSpec s;
    s.common_name = cn;
    s.server_auth = false;
    return s;
}

}  // namespace enclave::testing
