// SPDX-License-Identifier: Apache-2.0
// LeaClient without a server: URL parsing, option checks, and a refused
// connection. (The client against a real server: tests/simulator.)
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "delivery/lea_client.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;

TEST(LeaClientUrlTest, ParsesTheAcceptedForms) {
    auto a = parse_https_url("https://lea.example/binaryData/x/");
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ(a->host, "lea.example");
    EXPECT_EQ(a->port, 443);
    EXPECT_EQ(a->target, "/binaryData/x/");
    auto b = parse_https_url("HTTPS://127.0.0.1:8443");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->target, "/");
    EXPECT_EQ(b->authority(), "127.0.0.1:8443");
    auto c = parse_https_url("https://[::1]:9/p?q=1");
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->ipv6);
    EXPECT_EQ(c->host, "::1");
    EXPECT_EQ(c->authority(), "[::1]:9");
    EXPECT_EQ(c->target, "/p?q=1");
    auto d = parse_https_url("https://LEA.example:443/");
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->same_origin(*a));
    EXPECT_FALSE(d->same_origin(*b));
    EXPECT_EQ(parse_https_url("https://h?x")->target, "/?x");
}

TEST(LeaClientUrlTest, RefusesEverythingElse) {
    for (const char* bad :
         {"", "http://lea.example/", "https://", "https:///path", "https://user@lea.example/",
          "https://lea.example:0/", "https://lea.example:65536/", "https://lea.example:/",
          "https://lea.example:80a/", "https://[::1/", "https://[nothex]:1/", "https://le a/",
          "https://lea.example/a b", "https://lea.example/#frag", "https://lea.example/\x01",
          "https://-lea.example/", "https://lea_example/", "https://lea.example/\xc3\xa9",
          "ftp://x/"}) {
        auto r = parse_https_url(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::malformed_input) << bad;
        EXPECT_EQ(r.error().context().find("lea.example"), std::string::npos);
    }
    auto huge = parse_https_url("https://h/" + std::string(kMaxUrlLength, 'a'));
    ASSERT_FALSE(huge);
    EXPECT_EQ(huge.error().code(), Errc::too_large);
}

hsm::SslCtxPtr plain_client_ctx() { return hsm::SslCtxPtr(SSL_CTX_new(TLS_client_method())); }

TEST(LeaClientUrlTest, CreateChecksTheOptions) {
    LeaClientOptions o;
    o.base_url = "https://127.0.0.1:1/x";
    auto no_ctx = LeaClient::create(std::move(o));
    ASSERT_FALSE(no_ctx);
    EXPECT_EQ(no_ctx.error().code(), Errc::invalid_argument);

    LeaClientOptions pin;
    pin.base_url = "https://127.0.0.1:1/x";
    pin.tls = plain_client_ctx();
    pin.spki_sha256_pin = crypto::Bytes(31, 0);
    EXPECT_FALSE(LeaClient::create(std::move(pin)));

    LeaClientOptions zero;
    zero.base_url = "https://127.0.0.1:1/x";
    zero.tls = plain_client_ctx();
    zero.max_connections = 0;
    EXPECT_FALSE(LeaClient::create(std::move(zero)));

    LeaClientOptions timeout;
    timeout.base_url = "https://127.0.0.1:1/x";
    timeout.tls = plain_client_ctx();
    timeout.read_timeout = std::chrono::milliseconds(0);
    EXPECT_FALSE(LeaClient::create(std::move(timeout)));

    LeaClientOptions url;
    url.base_url = "http://127.0.0.1:1/x";
    url.tls = plain_client_ctx();
    auto bad_url = LeaClient::create(std::move(url));
    ASSERT_FALSE(bad_url);
    EXPECT_EQ(bad_url.error().code(), Errc::malformed_input);
}

/// A loopback port with nothing listening (bound, then closed).
std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TEST(LeaClientUrlTest, RefusedConnectionIsUnavailableNamingThePhase) {
    LeaClientOptions o;
    o.base_url = "https://127.0.0.1:" + std::to_string(free_port()) + "/hi1";
    o.tls = plain_client_ctx();
    auto client = LeaClient::create(std::move(o));
    ASSERT_TRUE(client) << client.error().message();
    const std::string secret_body = "<HI1Message>target-identity-canary</HI1Message>";
    auto r = (*client)->post_xml(secret_body);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable);
    EXPECT_NE(r.error().context().find("connect"), std::string::npos) << r.error().context();
    EXPECT_EQ(r.error().context().find("canary"), std::string::npos);
    EXPECT_EQ((*client)->stats().open_connections, 0u);
    // A URL on another origin never leaves the process.
    auto other = (*client)->get("https://127.0.0.2:1/status");
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace enclave::delivery
