// SPDX-License-Identifier: Apache-2.0
// SIGTERM (graceful stop), SIGHUP (certificate reload) and the systemd
// readiness protocol, on a real enclaved.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "harness/instance.hpp"
#include "harness/metrics_reader.hpp"
#include "harness/pki_files.hpp"

namespace enclave::daemon_test {
namespace {

/// A datagram socket standing in for systemd's NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("NotifySocket: bind");
        }
        timeval tv{30, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~NotifySocket() { ::close(fd_); }
    [[nodiscard]] std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }
    /// The next datagram ("" on timeout).
    std::string next() {
        char buf[1024];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

bool wait_refused(std::uint16_t port) {
    for (int i = 0; i < 1000; ++i) {
        const int fd = tcp_connect(port);
        if (fd < 0) return true;
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

TEST(SignalsTest, SigtermLetsInFlightRequestsFinishThenExitsZero) {
    TestInstance inst;
    inst.config().shutdown_grace = std::chrono::seconds(60);
    inst.save_config();
    NotifySocket notify(inst.scratch() / "notify.sock");
    auto daemon = inst.start_ready({notify.env()});
    EXPECT_NE(notify.next().find("READY=1"), std::string::npos);

    // One request in flight (header sent, half of the body), one idle connection.
    TlsConnection busy(inst.lea_port(), inst.lea_client());
    TlsConnection idle(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(busy.ok() && idle.ok()) << busy.error() << idle.error();
    ASSERT_EQ(idle.request("GET", "/v1/whoami").status, 200);
    ASSERT_TRUE(
        busy.send_all("GET /v1/whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"));
    ASSERT_EQ(wait_for_sample_eq(inst.socket(),
                                 R"(enclave_http_requests_in_progress{listener="lea"})", 1),
              1u);

    daemon->signal(SIGTERM);
    EXPECT_NE(notify.next().find("STOPPING=1"), std::string::npos);
    EXPECT_TRUE(wait_refused(inst.lea_port()))
        << "new connections are still accepted after SIGTERM";
    EXPECT_TRUE(idle.wait_closed_by_peer()) << "an idle connection is kept open while stopping";
    ASSERT_TRUE(daemon->running()) << "the daemon exited with a request in flight";

    ASSERT_TRUE(busy.send_all("67890"));
    const auto reply = busy.read_reply();
    EXPECT_EQ(reply.status, 200) << reply.error;
    EXPECT_EQ(reply.headers.count("connection") ? reply.headers.at("connection") : "", "close");
    EXPECT_EQ(daemon->wait_exit(std::chrono::seconds(60)), 0) << inst.log();
    EXPECT_FALSE(std::filesystem::exists(inst.socket())) << "the admin socket file is left behind";
    EXPECT_NE(inst.log().find("daemon_stopping reason=SIGTERM"), std::string::npos) << inst.log();
}

TEST(SignalsTest, SigtermAfterTheGraceClosesWhatIsLeftAndStillExitsZero) {
    TestInstance inst;
    inst.config().shutdown_grace = std::chrono::milliseconds(300);
    inst.config().lea.limits.read_timeout = std::chrono::seconds(600);
    inst.save_config();
    auto daemon = inst.start_ready();
    TlsConnection stuck(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(stuck.ok());
    ASSERT_TRUE(
        stuck.send_all("GET /v1/whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1"));
    ASSERT_EQ(wait_for_sample_eq(inst.socket(),
                                 R"(enclave_http_requests_in_progress{listener="lea"})", 1),
              1u);
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_exit(std::chrono::seconds(60)), 0) << inst.log();
    EXPECT_TRUE(stuck.wait_closed_by_peer());
    EXPECT_NE(inst.log().find("shutdown_grace elapsed"), std::string::npos) << inst.log();
}

TEST(SignalsTest, SighupReloadsCertificatesWithoutDroppingConnections) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    TlsConnection before(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(before.ok()) << before.error();
    ASSERT_EQ(before.request("GET", "/v1/whoami").status, 200);
    const std::string old_serial = serial_of(before.peer_certificate().get());

    // A new certificate for the same token key (new serial), from the demo CA.
    const auto old_cert = read_certificate(inst.pki("lea-server.pem"));
    const auto ca_key = read_private_key(inst.pki("demo-ca.key"));
    const auto renewed = reissue(old_cert.get(), ca_key.get(), 4242);
    write_certificate(inst.pki("lea-server.pem"), renewed.get());
    daemon->signal(SIGHUP);
    EXPECT_GE(wait_for_sample(inst.socket(), R"(enclave_tls_reloads_total{result="ok"})", 2), 2u);

    EXPECT_EQ(before.request("GET", "/v1/whoami").status, 200) << "the open connection was dropped";
    TlsConnection after(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(after.ok()) << after.error() << inst.log();
    EXPECT_EQ(serial_of(after.peer_certificate().get()), "4242");
    EXPECT_NE(old_serial, "4242");
    EXPECT_EQ(after.request("GET", "/v1/whoami").status, 200);

    // A broken file: the reload fails, the listener keeps the last good context.
    { std::ofstream(inst.pki("lea-server.pem"), std::ios::trunc) << "not a certificate\n"; }
    daemon->signal(SIGHUP);
    EXPECT_GE(wait_for_sample(inst.socket(), R"(enclave_tls_reloads_total{result="failed"})", 1),
              1u);
    TlsConnection still(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(still.ok()) << still.error();
    EXPECT_EQ(serial_of(still.peer_certificate().get()), "4242");
    EXPECT_EQ(before.request("GET", "/v1/whoami").status, 200);
    // The metric moves before the log line is written: wait for the line too.
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
        logged = inst.log().find("reload failed, keeping the current certificates") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(logged) << inst.log();
    EXPECT_TRUE(daemon->running());
}

}  // namespace
}  // namespace enclave::daemon_test
