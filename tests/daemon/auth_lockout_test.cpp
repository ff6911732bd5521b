// SPDX-License-Identifier: Apache-2.0
// Failed authentication is rate-limited and repeated failures lock the one
// who failed for a while, with one auth_lockout event (issue #7): an
// address after handshakes without a valid client certificate, a uid on
// the admin socket after refused requests. Real enclaved, real TLS.
#include <gtest/gtest.h>
#include <pwd.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "harness/http_client.hpp"
#include "harness/unix_user.hpp"
#include "harness/instance.hpp"

namespace enclave::daemon_test {
namespace {

using namespace std::chrono_literals;

template <class Pred>
bool within(std::chrono::seconds limit, Pred pred) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

/// A request over a fresh connection as `who`; its status, 0 when the
/// handshake or the exchange failed.
unsigned status_as(const TestInstance& inst, const TlsClientConfig& who) {
    TlsConnection c(inst.ingest_port(), who);
    if (!c.ok()) return 0;
    return c.request("GET", "/v1/whoami").status;
}

TEST(AuthLockoutTest, HandshakesWithoutAValidCertificateLockTheAddress) {
    TestInstance inst;
    inst.config().ingest.limits.auth_max_failures = 3;
    inst.config().ingest.limits.auth_lockout = 3s;
    inst.save_config();
    auto daemon = inst.start_ready();
    const TlsClientConfig good = inst.collector_client();
    ASSERT_EQ(status_as(inst, good), 200u);
    TlsClientConfig no_cert = good;
    no_cert.certificate.clear();
    no_cert.key.clear();
    // Other failures (a scanner's protocol probes) do not count.
    TlsClientConfig old = good;
    old.max_version = TLS1_1_VERSION;
    old.min_version = TLS1_VERSION;
    old.security_level = 0;
    for (int i = 0; i < 5; ++i) EXPECT_EQ(status_as(inst, old), 0u);
    ASSERT_EQ(status_as(inst, good), 200u) << "protocol failures locked the address";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(status_as(inst, no_cert), 0u);
    ASSERT_TRUE(within(10s, [&] { return inst.log().find("auth_lockout") != std::string::npos; }))
        << inst.log();
    // Locked: even a valid client from that address is closed before any
    // handshake, and further failures raise no second event.
    EXPECT_EQ(status_as(inst, good), 0u);
    EXPECT_EQ(status_as(inst, no_cert), 0u);
    const std::string log = inst.log();
    EXPECT_EQ(count_of(log, "auth_lockout"), 1u) << log;
    EXPECT_NE(log.find("auth_lockout listener=ingest account=address:127.0.0.1 seconds=3"),
              std::string::npos)
        << log;
    // The lock ends by itself.
    EXPECT_TRUE(within(10s, [&] { return status_as(inst, good) == 200u; })) << inst.log();
    // The LEA listener has its own count: it was never locked.
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    EXPECT_TRUE(lea.ok()) << lea.error();
}

TEST(AuthLockoutTest, RefusedAdminRequestsLockTheUidWith429) {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to uid nobody and must run as root";
    const Nobody who = nobody();
    TestInstance inst;
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    inst.config().admin.socket_group = who.group;
    inst.config().admin.roles.operator_ = who.group;
    inst.config().admin.limits.auth_max_failures = 3;
    inst.config().admin.limits.auth_lockout = 60s;
    inst.save_config();
    auto daemon = inst.start_ready();
    const auto as_nobody = [&](const char* method, const char* target) {
        return unix_request_as(inst.socket(), method, target, method == std::string("POST") ? "{}" : "",
                               who.uid, who.gid);
    };
    EXPECT_EQ(as_nobody("GET", "/v1/status").status, 200u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(as_nobody("POST", "/v1/psks").status, 403u);
    // Locked: what the operator role allows is refused too, with Retry-After.
    const auto locked = as_nobody("GET", "/v1/status");
    EXPECT_EQ(locked.status, 429u) << locked.body;
    EXPECT_NE(locked.body.find("\"locked\""), std::string::npos) << locked.body;
    EXPECT_EQ(as_nobody("POST", "/v1/psks").status, 429u);
    const std::string log = inst.log();
    EXPECT_EQ(count_of(log, "auth_lockout"), 1u) << log;
    EXPECT_NE(log.find("auth_lockout listener=admin account=uid:" + std::to_string(who.uid)),
              std::string::npos)
        << log;
    // Another account (root) is not affected.
    EXPECT_EQ(unix_get(inst.socket(), "/v1/status").status, 200u);
}

}  // namespace
}  // namespace enclave::daemon_test
