// SPDX-License-Identifier: Apache-2.0
// LeaClient::get_stream against a TLS server that is not ours: `openssl
// s_server -WWW` serves files from its working directory, requires a client
// certificate (-Verify, -CAfile, -verify_return_error) and answers HTTP/1.0
// without a length (the body ends with the connection, after close_notify).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "stream_test_util.hpp"
#include "support/loopback.hpp"

namespace enclave::testing {
namespace {

using crypto::Errc;

bool have_openssl_cli() { return std::system("command -v openssl >/dev/null 2>&1") == 0; }

/// `openssl s_server -WWW` in `dir`, killed on destruction.
class SServer {
public:
    SServer(const std::filesystem::path& dir, const PkiDir& pki, std::uint16_t port) {
        std::vector<std::string> args = {"openssl",
                                         "s_server",
                                         "-accept",
                                         "127.0.0.1:" + std::to_string(port),
                                         "-WWW",
                                         "-cert",
                                         pki.path("server.pem").string(),
                                         "-key",
                                         pki.path("server.key").string(),
                                         "-CAfile",
                                         pki.path("ca.pem").string(),
                                         "-Verify",
                                         "2",
                                         "-verify_return_error",
                                         "-quiet"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(null_fd, 0);
            ::dup2(null_fd, 1);
            ::dup2(null_fd, 2);
            if (::chdir(dir.c_str()) != 0) ::_exit(126);
            ::execvp("openssl", argv.data());
            ::_exit(127);
        }
        ::close(null_fd);
    }
    ~SServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
    }
    SServer(const SServer&) = delete;
    SServer& operator=(const SServer&) = delete;

private:
    pid_t pid_ = -1;
};

/// Waits (bounded) until something accepts TCP connections on the port.
bool wait_listening(std::uint16_t port) {
    for (int i = 0; i < 200; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (ok) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

TEST(LeaClientSServerTest, WholeDownloadFromOpensslSServerMatchesItsSha256) {
    ASSERT_TRUE(have_openssl_cli()) << "the openssl command is missing: install the Debian "
                                       "package openssl";
    StreamPki pki;
    TempDir www;
    const std::string object = pattern_object(2'000'000, 99);
    {
        std::ofstream out(www.path() / "binary.bin", std::ios::binary);
        out.write(object.data(), static_cast<std::streamsize>(object.size()));
        ASSERT_TRUE(out.good());
    }
    const std::uint16_t port = free_loopback_port();
    SServer server(www.path(), pki.pki, port);
    ASSERT_TRUE(wait_listening(port)) << "openssl s_server did not start";
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    auto client = pki.client(base, 32 * 1024);
    Collector got;
    auto r = client->get_stream(base + "/binary.bin", {}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_FALSE(r->header("content-length")) << "s_server -WWW sends no length";
    EXPECT_EQ(got.data.size(), object.size());
    EXPECT_EQ(sha256_hex(got.data), sha256_hex(object));
    EXPECT_LE(got.largest, 32u * 1024u);
    EXPECT_EQ(client->stats().open_connections, 0u) << "an HTTP/1.0 answer is not pooled";

    // Each HTTP/1.0 download takes a connection of its own.
    Collector again;
    ASSERT_TRUE(client->get_stream(base + "/binary.bin", {}, again.sink()));
    EXPECT_EQ(again.data, object);
    EXPECT_EQ(client->stats().connections_opened, 2u);
}

TEST(LeaClientSServerTest, AClientOutsideTheServersTrustIsRefused) {
    ASSERT_TRUE(have_openssl_cli()) << "the openssl command is missing: install the Debian "
                                       "package openssl";
    StreamPki pki;
    StreamPki stranger;  // another CA: s_server does not trust its client certificate
    TempDir www;
    {
        std::ofstream out(www.path() / "x.bin", std::ios::binary);
        out << "content";
    }
    const std::uint16_t port = free_loopback_port();
    SServer server(www.path(), pki.pki, port);
    ASSERT_TRUE(wait_listening(port)) << "openssl s_server did not start";
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    // The stranger trusts the server's CA but presents its own certificate.
    delivery::LeaClientOptions o;
    o.base_url = base + "/";
    o.tls = must_ok(hsm::make_client_context(
        {stranger.pki.path("client.pem"), stranger.pki.path("client.key").string(),
         pki.pki.path("ca.pem"), {}, TLS1_2_VERSION},
        *stranger.resolver));
    auto client = must_ok(delivery::LeaClient::create(std::move(o)));
    Collector got;
    auto r = client->get_stream(base + "/x.bin", {}, got.sink());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::unavailable);
    EXPECT_NE(r.error().context().find("unknown ca"), std::string::npos) << r.error().message();
    EXPECT_TRUE(got.data.empty());
}

}  // namespace
}  // namespace enclave::testing
