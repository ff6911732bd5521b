// SPDX-License-Identifier: Apache-2.0
// Header and body limits, the connection cap and the idle timeout of the
// mutual-TLS listeners (small limits in the test config).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "harness/instance.hpp"
#include "harness/metrics_reader.hpp"

namespace enclave::daemon_test {
namespace {

class LimitsTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto& l = inst_.config().lea.limits;
        l.max_header_bytes = 1024;
        l.max_body_bytes = 16;
        l.max_connections = 3;
        l.idle_timeout = std::chrono::milliseconds(300);
        inst_.save_config();
        daemon_ = inst_.start_ready();
        ASSERT_TRUE(daemon_->running()) << inst_.log();
    }
    TestInstance inst_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(LimitsTest, HeaderOverTheLimitGets431AndTheConnectionCloses) {
    TlsConnection c(inst_.lea_port(), inst_.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    const std::string big(2000, 'a');
    ASSERT_TRUE(c.send_all("GET /v1/whoami HTTP/1.1\r\nHost: x\r\nX-Filler: " + big + "\r\n\r\n"));
    const auto r = c.read_reply();
    EXPECT_EQ(r.status, 431) << r.error;
    EXPECT_TRUE(c.wait_closed_by_peer());
    EXPECT_EQ(wait_for_sample(inst_.socket(),
                              R"(enclave_http_requests_total{listener="lea",status="431"})", 1),
              1u);
}

TEST_F(LimitsTest, BodyOverTheLimitGets413) {
    TlsConnection c(inst_.lea_port(), inst_.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    // The declared length alone is over the limit: refused before the body is read.
    ASSERT_TRUE(c.send_all("POST /v1/whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"));
    const auto r = c.read_reply();
    EXPECT_EQ(r.status, 413) << r.error;
    EXPECT_TRUE(c.wait_closed_by_peer());
}

TEST_F(LimitsTest, ChunkedBodyOverTheLimitGets413) {
    TlsConnection c(inst_.lea_port(), inst_.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_TRUE(
        c.send_all("POST /v1/whoami HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n"));
    EXPECT_EQ(c.read_reply().status, 413);
}

TEST_F(LimitsTest, BodyWithinTheLimitIsServed) {
    TlsConnection c(inst_.lea_port(), inst_.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.request("GET", "/v1/whoami", "0123456789abcdef").status, 200);
}

TEST_F(LimitsTest, ConnectionsBeyondTheCapAreRefusedAndCounted) {
    std::vector<std::unique_ptr<TlsConnection>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<TlsConnection>(inst_.lea_port(), inst_.lea_client()));
        ASSERT_TRUE(open.back()->ok()) << open.back()->error();
        // Keep them busy with a request so that the idle timeout does not close them.
        ASSERT_TRUE(open.back()->send_all(
            "GET /v1/whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"));
    }
    ASSERT_EQ(
        wait_for_sample_eq(inst_.socket(), R"(enclave_connections_active{listener="lea"})", 3), 3u);
    TlsConnection fourth(inst_.lea_port(), inst_.lea_client());
    EXPECT_FALSE(fourth.ok() && fourth.request("GET", "/v1/whoami").status == 200);
    EXPECT_EQ(
        wait_for_sample(inst_.socket(),
                        R"(enclave_connections_refused_total{listener="lea",reason="limit"})", 1),
        1u);
    // The connections being served are unaffected.
    ASSERT_TRUE(open.front()->send_all("abcd"));
    EXPECT_EQ(open.front()->read_reply().status, 200);
    EXPECT_NE(inst_.log().find("connection_limit_reached listener=lea"), std::string::npos)
        << inst_.log();
}

TEST_F(LimitsTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
    TlsConnection c(inst_.lea_port(), inst_.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_EQ(c.request("GET", "/v1/whoami").status, 200);
    EXPECT_TRUE(c.wait_closed_by_peer()) << "the idle connection stayed open";
    EXPECT_EQ(
        wait_for_sample_at_most(inst_.socket(), R"(enclave_connections_active{listener="lea"})", 0),
        0u);
}

TEST_F(LimitsTest, ConnectionThatNeverHandshakesIsClosedAfterTheHandshakeTimeout) {
    inst_.config().lea.limits.handshake_timeout = std::chrono::milliseconds(200);
    inst_.save_config();
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(std::chrono::seconds(60)), 0);
    daemon_ = inst_.start_ready();
    const int fd = tcp_connect(inst_.lea_port());
    ASSERT_GE(fd, 0);
    char b = 0;
    EXPECT_LE(::recv(fd, &b, 1, 0), 0) << "the server kept a silent connection open";
    ::close(fd);
    EXPECT_EQ(wait_for_sample(
                  inst_.socket(),
                  R"(enclave_tls_handshake_failures_total{listener="lea",reason="timeout"})", 1),
              1u);
}

}  // namespace
}  // namespace enclave::daemon_test
