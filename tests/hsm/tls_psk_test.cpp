// SPDX-License-Identifier: Apache-2.0
// TLS PSKs (hsm/tls_psk.hpp) between our contexts, and against OpenSSL's own
// s_client and s_server as independent peers (real processes over
// loopback TCP), on TLS 1.3 (external PSK) and TLS 1.2 (RFC 5487/7905).
// The test PSKs are random per test; s_client/s_server only take them on
// their command line, which is acceptable for throw-away test keys only.
#include "hsm/tls_psk.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <mutex>

#include "crypto/encoding.hpp"
#include "support/loopback.hpp"
#include "tls_context_test_util.hpp"

namespace enclave::hsm {
namespace {

using testing::client_spec;
using testing::handshake;
using testing::PkiDir;
using testing::server_spec;
using testing::TestKeyType;

class MapResolver final : public ServerPskResolver {
public:
    void put(const std::string& identity, const std::string& label, const crypto::Secret& key) {
        std::lock_guard lock(mu_);
        keys_[identity] = {label, crypto::Secret::copy_of(crypto::ByteView(key.data(), key.size()))};
    }
    void erase(const std::string& identity) {
        std::lock_guard lock(mu_);
        keys_.erase(identity);
    }
    std::optional<ServerPsk> find(std::string_view identity) override {
        std::lock_guard lock(mu_);
        ++lookups;
        auto it = keys_.find(std::string(identity));
        if (it == keys_.end()) return std::nullopt;
        return ServerPsk{it->second.first, crypto::Secret::copy_of(crypto::ByteView(
                                               it->second.second.data(), it->second.second.size()))};
    }
    int lookups = 0;

private:
    std::mutex mu_;
    std::map<std::string, std::pair<std::string, crypto::Secret>> keys_;
};

class FixedSource final : public ClientPskSource {
public:
    FixedSource(std::string identity, const crypto::Secret& key)
        : identity_(std::move(identity)),
          key_(crypto::Secret::copy_of(crypto::ByteView(key.data(), key.size()))) {}
    std::optional<Current> current() override {
        if (identity_.empty()) return std::nullopt;
        return Current{identity_, crypto::Secret::copy_of(crypto::ByteView(key_.data(), key_.size()))};
    }

private:
    std::string identity_;
    crypto::Secret key_;
};

std::string hex(const crypto::Secret& s) { return crypto::hex_encode(crypto::ByteView(s.data(), s.size())); }

SslCtxPtr must(crypto::Result<SslCtxPtr> r) {
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(*r);
}

struct Parties {
    PkiDir pki;
    std::unique_ptr<PrivateKeyResolver> resolver = make_key_resolver(nullptr, true);
    std::shared_ptr<MapResolver> psks = std::make_shared<MapResolver>();
    crypto::Secret key = crypto::Secret::random(32);

    Parties() {
        pki.issue_file_key("server", TestKeyType::ec_p256, server_spec());
        pki.issue_file_key("client", TestKeyType::ec_p256, client_spec());
        psks->put("lea-1", "endpoint-a", key);
    }
    TlsEndpoint server_ep() const {
        return {pki.path("server.pem"), pki.path("server.key").string(), pki.path("ca.pem"), {}, TLS1_2_VERSION};
    }
    TlsEndpoint client_ep() const {
        return {pki.path("client.pem"), pki.path("client.key").string(), pki.path("ca.pem"), {}, TLS1_2_VERSION};
    }
    SslCtxPtr server() {
        auto ctx = must(make_server_context(server_ep(), *resolver));
        auto ok = enable_server_psk(ctx.get(), psks);
        if (!ok) throw std::runtime_error(ok.error().message());
        return ctx;
    }
    SslCtxPtr psk_client(const std::string& identity, const crypto::Secret& k, int max_version) {
        auto ctx = must(make_client_context(client_ep(), *resolver));
        SSL_CTX_set_max_proto_version(ctx.get(), max_version);
        auto ok = enable_client_psk(ctx.get(), std::make_shared<FixedSource>(identity, k));
        if (!ok) throw std::runtime_error(ok.error().message());
        return ctx;
    }
};

struct Seen {
    std::optional<PskPeer> server_peer;
    bool client_psk = false;
};

testing::HandshakeResult run(SSL_CTX* server, SSL_CTX* client, Seen& seen) {
    return handshake(
        server, client, "localhost", [&](SSL* s) { seen.server_peer = psk_peer(s); },
        [&](SSL* c) { seen.client_psk = psk_authenticated(c); });
}

TEST(TlsPskTest, OurClientAndServerAgreeOnAPskOverTls13AndTls12) {
    Parties p;
    auto server = p.server();
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        SCOPED_TRACE(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
        auto client = p.psk_client("lea-1", p.key, version);
        Seen seen;
        const auto r = run(server.get(), client.get(), seen);
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_FALSE(r.server_saw_client_cert) << "a PSK handshake asks for no certificate";
        EXPECT_TRUE(seen.client_psk);
        ASSERT_TRUE(seen.server_peer.has_value());
        EXPECT_EQ(seen.server_peer->identity, "lea-1");
        EXPECT_EQ(seen.server_peer->label, "endpoint-a");
        if (version == TLS1_2_VERSION) {
            EXPECT_EQ(r.version, "TLSv1.2");
            // Forward-secret PSK suites only.
            EXPECT_TRUE(r.cipher.find("DHE-PSK") != std::string::npos) << r.cipher;
        } else {
            EXPECT_EQ(r.version, "TLSv1.3");
        }
    }
}

TEST(TlsPskTest, AWrongKeyFailsBothVersions) {
    Parties p;
    auto server = p.server();
    const auto wrong = crypto::Secret::random(32);
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        auto client = p.psk_client("lea-1", wrong, version);
        Seen seen;
        const auto r = run(server.get(), client.get(), seen);
        EXPECT_FALSE(r.ok() && seen.client_psk) << "version " << version << ": " << r.describe();
        EXPECT_FALSE(seen.server_peer.has_value());
    }
}

TEST(TlsPskTest, AnUnknownIdentityIsNeverAPskConnection) {
    Parties p;
    auto server = p.server();
    // TLS 1.2: the client offers PSK suites only, the server knows no such
    // identity: the handshake fails.
    {
        auto client = p.psk_client("nobody", p.key, TLS1_2_VERSION);
        Seen seen;
        EXPECT_FALSE(run(server.get(), client.get(), seen).ok());
    }
    // TLS 1.3: the server goes on with certificates; the client (which has
    // one) may complete, but it is told the PSK was not used: a PSK
    // endpoint's client refuses such a connection (LeaClient does).
    {
        auto client = p.psk_client("nobody", p.key, TLS1_3_VERSION);
        Seen seen;
        const auto r = run(server.get(), client.get(), seen);
        EXPECT_FALSE(seen.client_psk) << r.describe();
        EXPECT_FALSE(seen.server_peer.has_value());
    }
    // A revoked (removed) identity is unknown from the next handshake on.
    p.psks->erase("lea-1");
    auto client = p.psk_client("lea-1", p.key, TLS1_2_VERSION);
    Seen seen;
    EXPECT_FALSE(run(server.get(), client.get(), seen).ok());
}

TEST(TlsPskTest, CertificateClientsAreUnchangedOnAPskServer) {
    Parties p;
    auto server = p.server();
    auto client = must(make_client_context(p.client_ep(), *p.resolver));
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        SSL_CTX_set_max_proto_version(client.get(), version);
        Seen seen;
        const auto r = run(server.get(), client.get(), seen);
        ASSERT_TRUE(r.ok()) << r.describe();
        EXPECT_TRUE(r.server_saw_client_cert);
        EXPECT_FALSE(seen.server_peer.has_value());
        EXPECT_FALSE(seen.client_psk);
    }
    // And without any certificate, still refused.
    testing::RawClientSpec raw;
    raw.ca = p.pki.path("ca.pem");
    auto anonymous = testing::make_raw_client(raw);
    Seen seen;
    EXPECT_FALSE(run(server.get(), anonymous.get(), seen).ok());
}

TEST(TlsPskTest, AClientWithoutAUsablePskFailsInsteadOfFallingBack) {
    Parties p;
    auto server = p.server();
    auto client = p.psk_client("", p.key, TLS1_3_VERSION);  // the source has nothing
    Seen seen;
    const auto r = run(server.get(), client.get(), seen);
    EXPECT_FALSE(r.client_ok) << r.describe();
}

TEST(TlsPskTest, HostileIdentitiesAreJustUnknown) {
    Parties p;
    auto server = p.server();
    for (const std::string& id : {std::string(129, 'a'), std::string("lea-1\n"), std::string("lea-1' OR 1=1")}) {
        auto client = p.psk_client(id, p.key, TLS1_2_VERSION);
        Seen seen;
        EXPECT_FALSE(run(server.get(), client.get(), seen).ok());
    }
}

// ---- OpenSSL's own s_client / s_server as the other party ----

/// A TCP listener on 127.0.0.1 (ephemeral port) that runs one TLS accept.
class OneShotServer {
public:
    explicit OneShotServer(SSL_CTX* ctx) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(fd_, 4) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            throw std::runtime_error("listen failed");
        }
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this, ctx] {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            testing::set_timeouts(c);
            SSL* s = SSL_new(ctx);
            SSL_set_fd(s, c);
            if (SSL_accept(s) == 1) {
                peer = psk_peer(s);
                version = SSL_get_version(s);
                ok = SSL_write(s, "ok\n", 3) == 3;
                SSL_shutdown(s);
            } else {
                error = testing::take_errors();
            }
            SSL_free(s);
            ::close(c);
        });
    }
    ~OneShotServer() {
        ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    void join() { thread_.join(); }
    std::uint16_t port() const { return port_; }

    bool ok = false;
    std::optional<PskPeer> peer;
    std::string version;
    std::string error;

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

std::string run_shell(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
    if (f == nullptr) return "popen failed";
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    ::pclose(f);
    return out;
}

bool have_openssl_cli() { return run_shell("command -v openssl").find("openssl") != std::string::npos; }

TEST(TlsPskTest, OpensslSClientWithAPskIsAcceptedOverTls12AndTls13) {
    ASSERT_TRUE(have_openssl_cli()) << "the openssl command is missing: install the Debian package openssl";
    Parties p;
    auto server = p.server();
    for (const std::string& mode : {std::string("-tls1_3"), std::string("-tls1_2 -cipher DHE-PSK-AES256-GCM-SHA384")}) {
        SCOPED_TRACE(mode);
        OneShotServer srv(server.get());
        const std::string out = run_shell("echo | timeout 20 openssl s_client -connect 127.0.0.1:" +
                                          std::to_string(srv.port()) + " " + mode + " -psk " + hex(p.key) +
                                          " -psk_identity lea-1 -ign_eof");
        srv.join();
        EXPECT_TRUE(srv.ok) << srv.error << "\n" << out;
        ASSERT_TRUE(srv.peer.has_value()) << out;
        EXPECT_EQ(srv.peer->identity, "lea-1");
        EXPECT_EQ(srv.peer->label, "endpoint-a");
        EXPECT_NE(out.find("ok"), std::string::npos) << out;
    }
    // A wrong key from s_client: refused.
    OneShotServer srv(server.get());
    const std::string out = run_shell("echo | timeout 20 openssl s_client -connect 127.0.0.1:" +
                                      std::to_string(srv.port()) + " -tls1_2 -psk " +
                                      hex(crypto::Secret::random(32)) + " -psk_identity lea-1 -ign_eof");
    srv.join();
    EXPECT_FALSE(srv.ok) << out;
    EXPECT_FALSE(srv.peer.has_value());
}

/// openssl s_server -psk in the background, killed on scope exit.
class SServer {
public:
    SServer(std::uint16_t port, const std::string& args) {
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string cmd = "exec openssl s_server -accept 127.0.0.1:" + std::to_string(port) +
                                    " -nocert -naccept 1 -quiet " + args + " >/dev/null 2>&1";
            ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    ~SServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

private:
    pid_t pid_ = -1;
};


/// Connects our client context to 127.0.0.1:port (retrying while the
/// server starts); true when the handshake completed with the PSK.
bool psk_connect(SSL_CTX* ctx, std::uint16_t port, std::string& error) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        testing::set_timeouts(fd);
        SSL* s = SSL_new(ctx);
        SSL_set_fd(s, fd);
        const bool ok = SSL_connect(s) == 1 && psk_authenticated(s);
        if (!ok) error = testing::take_errors();
        SSL_free(s);
        ::close(fd);
        return ok;
    }
    error = "s_server never listened";
    return false;
}

TEST(TlsPskTest, OurClientCompletesAPskHandshakeWithOpensslSServer) {
    ASSERT_TRUE(have_openssl_cli()) << "the openssl command is missing: install the Debian package openssl";
    Parties p;
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        SCOPED_TRACE(version == TLS1_3_VERSION ? "TLS 1.3" : "TLS 1.2");
        const std::uint16_t port = testing::free_loopback_port();
        SServer s(port, std::string(version == TLS1_3_VERSION ? "-tls1_3" : "-tls1_2") + " -psk " + hex(p.key) +
                            " -psk_identity lea-1");
        auto client = p.psk_client("lea-1", p.key, version);
        std::string error;
        EXPECT_TRUE(psk_connect(client.get(), port, error)) << error;
    }
    // s_server with another key: no PSK connection.
    const std::uint16_t port = testing::free_loopback_port();
    SServer s(port, "-tls1_2 -psk " + hex(crypto::Secret::random(32)) + " -psk_identity lea-1");
    auto client = p.psk_client("lea-1", p.key, TLS1_2_VERSION);
    std::string error;
    EXPECT_FALSE(psk_connect(client.get(), port, error));
}

}  // namespace
}  // namespace enclave::hsm
