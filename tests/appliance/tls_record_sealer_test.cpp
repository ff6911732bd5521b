// SPDX-License-Identifier: Apache-2.0
// RecordSealer against a real OpenSSL peer: a server and a client SSL object
// joined by a BIO pair (no socket), a full mutual handshake over TLS 1.3 or
// 1.2, then sealed pieces that the client must read back byte for byte,
// mixed with ordinary SSL_write calls.
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "appliance/tls_record_sealer.hpp"
#include "support/test_pki.hpp"

namespace enclave::appliance {
namespace {

using testing::generate_test_key;
using testing::TestCa;
using testing::TestKeyType;

using CtxPtr = crypto::CHandle<SSL_CTX, SSL_CTX_free>;
using SslPtr = crypto::CHandle<SSL, SSL_free>;

struct Pair {
    CtxPtr server_ctx;
    CtxPtr client_ctx;
    SslPtr server;
    SslPtr client;
    BIO* server_net = nullptr;  // the server's network side (owned by the pair)
    BIO* client_net = nullptr;
};

CtxPtr make_ctx(bool server, int version, const TestCa& ca, const std::string& cn) {
    CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    EXPECT_TRUE(ctx);
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    auto key = generate_test_key(TestKeyType::ec_p256);
    testing::LeafSpec spec;
    spec.common_name = cn;
    spec.dns = {"localhost"};
    auto cert = ca.issue(key.get(), spec);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.cert());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return ctx;
}

// Moves whatever each side wrote to the other side.
void pump(Pair& p) {
    for (BIO* from : {p.server_net, p.client_net}) {
        BIO* to = from == p.server_net ? p.client_net : p.server_net;
        std::vector<char> buf(64 * 1024);
        for (;;) {
            const int n = BIO_read(from, buf.data(), static_cast<int>(buf.size()));
            if (n <= 0) break;
            ASSERT_EQ(BIO_write(to, buf.data(), n), n);
        }
    }
}

Pair connected(int version) {
    TestCa ca("sealer test CA");
    Pair p;
    p.server_ctx = make_ctx(true, version, ca, "server");
    p.client_ctx = make_ctx(false, version, ca, "client");
    p.server.reset(SSL_new(p.server_ctx.get()));
    p.client.reset(SSL_new(p.client_ctx.get()));
    BIO* server_int = nullptr;
    BIO* client_int = nullptr;
    // Large pair buffers: a whole sealed piece fits in one transfer.
    EXPECT_EQ(BIO_new_bio_pair(&server_int, 1 << 20, &p.server_net, 1 << 20), 1);
    EXPECT_EQ(BIO_new_bio_pair(&client_int, 1 << 20, &p.client_net, 1 << 20), 1);
    SSL_set_bio(p.server.get(), server_int, server_int);
    SSL_set_bio(p.client.get(), client_int, client_int);
    SSL_set_accept_state(p.server.get());
    SSL_set_connect_state(p.client.get());
    for (int i = 0; i < 20; ++i) {
        const int c = SSL_do_handshake(p.client.get());
        const int s = SSL_do_handshake(p.server.get());
        pump(p);
        if (c == 1 && s == 1) break;
    }
    EXPECT_EQ(SSL_is_init_finished(p.server.get()), 1);
    EXPECT_EQ(SSL_is_init_finished(p.client.get()), 1);
    return p;
}

// Sends the sealed records to the client as the listener would (raw bytes
// on the wire) and reads `want` plaintext bytes back.
std::vector<std::uint8_t> deliver_and_read(Pair& p, std::span<const std::uint8_t> records,
                                           std::size_t want) {
    // The server's network side is where the wire bytes go: write them into
    // the client's network side directly, as the socket would carry them.
    EXPECT_EQ(BIO_write(p.client_net, records.data(), static_cast<int>(records.size())),
              static_cast<int>(records.size()));
    std::vector<std::uint8_t> got(want);
    std::size_t have = 0;
    while (have < want) {
        std::size_t n = 0;
        if (SSL_read_ex(p.client.get(), got.data() + have, want - have, &n) != 1) break;
        have += n;
    }
    got.resize(have);
    return got;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    EXPECT_EQ(RAND_bytes(v.data(), static_cast<int>(v.size())), 1);
    return v;
}

class RecordSealerTest : public ::testing::TestWithParam<int> {};

TEST_P(RecordSealerTest, SealedPiecesReadBackExactlyAndTheStreamStaysUsable) {
    Pair p = connected(GetParam());
    RecordSealer sealer;
    for (std::size_t size : {std::size_t{1}, std::size_t{16384}, std::size_t{16385},
                             std::size_t{256 * 1024}, std::size_t{100'003}}) {
        const auto plain = random_bytes(size);
        ASSERT_EQ(sealer.seal(p.server.get(), plain), RecordSealer::Outcome::sealed) << size;
        const auto records = sealer.sealed();
        EXPECT_GT(records.size(), size);  // headers and tags
        // The plaintext is not on the wire.
        if (size >= 64) {
            const std::string wire(records.begin(), records.end());
            EXPECT_EQ(wire.find(std::string(plain.begin(), plain.begin() + 64)), std::string::npos);
        }
        EXPECT_EQ(deliver_and_read(p, records, size), plain) << size;
        // The stream's own write path still works afterwards, in order.
        const std::string after = "after " + std::to_string(size);
        ASSERT_EQ(SSL_write(p.server.get(), after.data(), static_cast<int>(after.size())),
                  static_cast<int>(after.size()));
        pump(p);
        std::string read(after.size(), '\0');
        ASSERT_EQ(SSL_read(p.client.get(), read.data(), static_cast<int>(read.size())),
                  static_cast<int>(read.size()));
        EXPECT_EQ(read, after);
    }
}

TEST_P(RecordSealerTest, DeclinesWhileTheStreamHasUnsentOutput) {
    Pair p = connected(GetParam());
    const std::string pending = "not yet sent";
    ASSERT_EQ(SSL_write(p.server.get(), pending.data(), static_cast<int>(pending.size())),
              static_cast<int>(pending.size()));
    RecordSealer sealer;
    const auto plain = random_bytes(1000);
    EXPECT_EQ(sealer.seal(p.server.get(), plain), RecordSealer::Outcome::declined);
    // Nothing of ours went anywhere: the peer reads exactly the pending bytes.
    pump(p);
    std::string read(pending.size(), '\0');
    ASSERT_EQ(SSL_read(p.client.get(), read.data(), static_cast<int>(read.size())),
              static_cast<int>(read.size()));
    EXPECT_EQ(read, pending);
    EXPECT_EQ(SSL_pending(p.client.get()), 0);
    // Flushed: now it seals.
    EXPECT_EQ(sealer.seal(p.server.get(), plain), RecordSealer::Outcome::sealed);
}

TEST_P(RecordSealerTest, FailsOnAConnectionThatWasShutDown) {
    Pair p = connected(GetParam());
    ASSERT_GE(SSL_shutdown(p.server.get()), 0);
    pump(p);
    RecordSealer sealer;
    const auto plain = random_bytes(4096);
    EXPECT_EQ(sealer.seal(p.server.get(), plain), RecordSealer::Outcome::failed);
    EXPECT_EQ(ERR_peek_error(), 0UL);  // no error left behind for the next caller
}

INSTANTIATE_TEST_SUITE_P(Versions, RecordSealerTest, ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& param_info) {
                             return param_info.param == TLS1_3_VERSION ? std::string("Tls13")
                                                                 : std::string("Tls12");
                         });

TEST(RecordSealer, DeclinesBeforeTheHandshakeAndForNothing) {
    TestCa ca("sealer test CA");
    CtxPtr ctx = make_ctx(true, TLS1_3_VERSION, ca, "server");
    SslPtr ssl(SSL_new(ctx.get()));
    RecordSealer sealer;
    const auto plain = random_bytes(10);
    EXPECT_EQ(sealer.seal(ssl.get(), plain), RecordSealer::Outcome::declined);
    EXPECT_EQ(sealer.seal(nullptr, plain), RecordSealer::Outcome::declined);
    Pair p = connected(TLS1_3_VERSION);
    EXPECT_EQ(sealer.seal(p.server.get(), {}), RecordSealer::Outcome::declined);
    EXPECT_TRUE(sealer.sealed().empty());
}

}  // namespace
}  // namespace enclave::appliance
