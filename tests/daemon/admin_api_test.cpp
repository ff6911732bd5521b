// SPDX-License-Identifier: Apache-2.0
// The admin API on the Unix socket of a real enclaved: endpoints, JSON
// shapes, Prometheus text, and roles from SO_PEERCRED (a caller running as
// an unprivileged uid).
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "harness/instance.hpp"
#include "harness/metrics_reader.hpp"
#include "harness/unix_user.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

class AdminApiTest : public ::testing::Test {
protected:
    void SetUp() override {
        daemon_ = inst_.start_ready();
        ASSERT_TRUE(daemon_->running()) << inst_.log();
    }
    TestInstance inst_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(AdminApiTest, HealthAndReadiness) {
    const auto health = unix_get(inst_.socket(), "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, "ok\n");
    const auto ready = unix_get(inst_.socket(), "/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(AdminApiTest, StatusDocument) {
    const auto r = unix_get(inst_.socket(), "/v1/status");
    ASSERT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    const auto doc = json::parse(r.body);
    EXPECT_EQ(doc.at("version"), "0.1.0");
    EXPECT_EQ(doc.at("instance"), inst_.config().instance_name);
    EXPECT_EQ(doc.at("ready"), true);
    EXPECT_TRUE(doc.at("uptime_seconds").is_number_integer());
    EXPECT_EQ(doc.at("token").at("label"), "enclave");
    EXPECT_EQ(doc.at("token").at("logged_in"), true);
    std::map<std::string, std::string> listeners;
    for (const auto& l : doc.at("listeners")) {
        EXPECT_TRUE(l.at("active_connections").is_number_unsigned());
        listeners[l.at("name")] = l.at("address");
    }
    EXPECT_EQ(listeners["lea"], "127.0.0.1:" + std::to_string(inst_.lea_port()));
    EXPECT_EQ(listeners["ingest"], "127.0.0.1:" + std::to_string(inst_.ingest_port()));
    EXPECT_EQ(listeners["admin"], inst_.socket().string());
}

TEST_F(AdminApiTest, HsmStatusListsTheKeysNonExtractable) {
    const auto r = unix_get(inst_.socket(), "/v1/hsm/status");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    const auto doc = json::parse(r.body);
    EXPECT_EQ(doc.at("module").at("path"), inst_.config().token.module_path);
    EXPECT_FALSE(doc.at("module").at("manufacturer").get<std::string>().empty());
    EXPECT_EQ(doc.at("token").at("label"), "enclave");
    EXPECT_FALSE(doc.at("token").at("serial").get<std::string>().empty());
    EXPECT_TRUE(doc.at("token").at("slot_id").is_number_unsigned());
    std::set<std::string> labels;
    for (const auto& k : doc.at("keys")) {
        labels.insert(k.at("label"));
        EXPECT_EQ(k.at("extractable"), false) << k.dump();
        EXPECT_EQ(k.at("sensitive"), true) << k.dump();
        EXPECT_EQ(k.at("id").get<std::string>().size() % 2, 0u);
        EXPECT_FALSE(k.contains("value"));
        const std::string type = k.at("type");
        if (k.at("label") == "kek") {
            EXPECT_EQ(k.at("class"), "secret");
            EXPECT_EQ(type, "aes");
        } else {
            EXPECT_EQ(k.at("class"), "private");
        }
    }
    EXPECT_EQ(labels, (std::set<std::string>{"kek", "audit-signing", "lea-tls", "ingest-tls",
                                             "admin-tls", "lea-client-tls", "enclave-tsa"}));
}

TEST_F(AdminApiTest, MetricsInPrometheusTextFormat) {
    // One successful handshake and one failure to count.
    {
        TlsConnection ok(inst_.lea_port(), inst_.lea_client());
        ASSERT_EQ(ok.request("GET", "/v1/whoami").status, 200);
        auto anonymous = inst_.lea_client();
        anonymous.certificate.clear();
        anonymous.key.clear();
        anonymous.max_version = TLS1_2_VERSION;
        TlsConnection refused(inst_.lea_port(), anonymous);
        EXPECT_FALSE(refused.ok());
    }
    wait_for_sample(
        inst_.socket(),
        R"(enclave_tls_handshake_failures_total{listener="lea",reason="no_client_certificate"})",
        1);
    const auto r = unix_get(inst_.socket(), "/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    for (const char* family :
         {"enclave_connections_active", "enclave_connections_total",
          "enclave_connections_refused_total", "enclave_tls_handshakes_total",
          "enclave_tls_handshake_failures_total", "enclave_http_requests_total", "enclave_ready"}) {
        EXPECT_NE(r.body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
    }
    EXPECT_EQ(sample_value(r.body, "enclave_ready"), 1u);
    EXPECT_EQ(sample_value(r.body, R"(enclave_tls_handshakes_total{listener="lea"})"), 1u);
    EXPECT_EQ(sample_value(r.body, R"(enclave_http_requests_total{listener="lea",status="200"})"),
              1u);
    EXPECT_EQ(
        sample_value(
            r.body,
            R"(enclave_tls_handshake_failures_total{listener="lea",reason="no_client_certificate"})"),
        1u);
    EXPECT_EQ(sample_value(r.body, R"(enclave_connections_total{listener="lea"})"), 2u);
    for (const char* reason : {"certificate_verify_failed", "protocol_version", "no_shared_cipher",
                               "timeout", "other"}) {
        EXPECT_EQ(
            sample_value(
                r.body,
                std::string(R"(enclave_tls_handshake_failures_total{listener="ingest",reason=")") +
                    reason + "\"}"),
            0u)
            << reason;
    }
    // Every non-comment line is "name{labels} value" or "name value".
    std::size_t pos = 0;
    while (pos < r.body.size()) {
        const auto end = r.body.find('\n', pos);
        ASSERT_NE(end, std::string::npos) << "the last line has no newline";
        const std::string line = r.body.substr(pos, end - pos);
        pos = end + 1;
        if (line.rfind("# ", 0) == 0) continue;
        EXPECT_EQ(line.rfind("enclave_", 0), 0u) << line;
        EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    }
}

TEST_F(AdminApiTest, UnknownPathsAndMethods) {
    const auto missing = unix_get(inst_.socket(), "/v1/nothing");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body).at("error").at("code"), "not_found");
    const auto post = unix_request(inst_.socket(), "POST", "/v1/status", "{}");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.headers.at("allow"), "GET");
    const auto traversal = unix_get(inst_.socket(), "/v1/../healthz");
    EXPECT_EQ(traversal.status, 404);
}

TEST_F(AdminApiTest, MalformedRequestGets400) {
    HttpReply reply;
    {
        // A request line that is not HTTP.
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, inst_.socket().c_str(), sizeof addr.sun_path - 1);
        const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        ASSERT_EQ(::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
        reply = exchange_on_fd(s, "G\x01T / HTTP/1.1\r\n\r\n");
        ::close(s);
    }
    EXPECT_EQ(reply.status, 400) << reply.error;
}

TEST(AdminTlsTest, VerifiedCertificateGetsTheOperatorRoleOnTheAdminPort) {
    TestInstance inst;
    auto& tls = inst.config().admin.tls_listener;
    tls.enabled = true;
    tls.port = free_port();
    inst.save_config();
    auto daemon = inst.start_ready();
    // The demo admin trust bundle holds the demo CA, so a demo client
    // certificate is a verified peer here (issue #7 maps officer
    // certificates to roles; for now every verified peer is an operator).
    TlsConnection c(tls.port, inst.lea_client());
    ASSERT_TRUE(c.ok()) << c.error() << inst.log();
    const auto status = c.request("GET", "/v1/status");
    ASSERT_EQ(status.status, 200) << status.error;
    const auto doc = json::parse(status.body);
    bool listed = false;
    for (const auto& l : doc.at("listeners")) listed = listed || l.at("name") == "admin-tls";
    EXPECT_TRUE(listed) << status.body;
    EXPECT_EQ(c.request("GET", "/metrics").status, 200);
    EXPECT_EQ(c.request("GET", "/v1/whoami").status, 404)
        << "data routes are not served on the admin port";
    auto anonymous = inst.lea_client();
    anonymous.certificate.clear();
    anonymous.key.clear();
    anonymous.max_version = TLS1_2_VERSION;
    EXPECT_FALSE(TlsConnection(tls.port, anonymous).ok());
    EXPECT_EQ(
        wait_for_sample(
            inst.socket(),
            R"(enclave_tls_handshake_failures_total{listener="admin-tls",reason="no_client_certificate"})",
            1),
        1u);
}

TEST(AdminTlsTest, CertificateSubjectsGiveRolesAndUnlistedClientsNone) {
    TestInstance inst;
    auto& tls = inst.config().admin.tls_listener;
    tls.enabled = true;
    tls.port = free_port();
    // The demo LEA client's certificate stands for an officer's here.
    inst.config().admin.tls_roles.security_officer = {
        "CN=Enclave DEMO LEA (test client),O=Enclave DEMO - not for production"};
    inst.save_config();
    auto daemon = inst.start_ready();
    TlsConnection officer(tls.port, inst.lea_client());
    ASSERT_TRUE(officer.ok()) << officer.error() << inst.log();
    const auto roles = officer.request("GET", "/v1/roles");
    ASSERT_EQ(roles.status, 200) << roles.body;
    EXPECT_NE(roles.body.find("security-officer"), std::string::npos) << roles.body;
    // An officer's route that an operator may not call.
    EXPECT_NE(officer.request("GET", "/v1/audit/entries?start=0&count=1").status, 403);
    // A verified client whose subject no list names holds no role at all.
    TlsConnection other(tls.port, inst.collector_client());
    ASSERT_TRUE(other.ok()) << other.error();
    EXPECT_EQ(other.request("GET", "/v1/status").status, 403);
    EXPECT_EQ(other.request("GET", "/healthz").status, 200) << "probes need no role";
    EXPECT_NE(inst.log().find("admin_access_denied account=cert:"), std::string::npos) << inst.log();
}

// ---- roles: a caller running as nobody -------------------------------------


// Lets `who` reach DIR/run/admin.sock: search permission on the folders, the
// run folder and the socket in its group.
void open_path_for(TestInstance& inst, const Nobody& who) {
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    const auto run = inst.socket().parent_path();
    ASSERT_EQ(::chown(run.c_str(), 0, who.gid), 0);
    ASSERT_EQ(::chmod(run.c_str(), 0750), 0);
    inst.config().admin.socket_group = who.group;
}

// The run folder follows the socket: `enclavectl init` leaves it 0700, and
// the daemon gives it the socket's group and 0750 when the socket grants its
// group access, so group roles need nothing done by hand inside DIR.
TEST(AdminRolesTest, DaemonOpensItsRunFolderToTheSocketGroup) {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to uid nobody and must run as root";
    const Nobody who = nobody();
    TestInstance inst;
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    const auto run = inst.socket().parent_path();
    struct stat st {};
    ASSERT_EQ(::stat(run.c_str(), &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0700u) << "enclavectl init makes run/ 0700";
    inst.config().admin.socket_group = who.group;
    inst.save_config();
    auto daemon = inst.start_ready();
    ASSERT_EQ(::stat(run.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    EXPECT_EQ(st.st_gid, who.gid);
    EXPECT_EQ(unix_get_as(inst.socket(), "/healthz", who.uid, who.gid).status, 200);
    EXPECT_EQ(inst.log().find("group roles cannot reach"), std::string::npos) << inst.log();
}

TEST(AdminRolesTest, OwnerOnlySocketKeepsItsFolderClosed) {
    TestInstance inst;
    inst.config().admin.socket_mode = 0600;
    inst.save_config();
    auto daemon = inst.start_ready();
    struct stat st {};
    ASSERT_EQ(::stat(inst.socket().parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat(inst.socket().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AdminRolesTest, UnreachableSocketForTheGroupIsWarnedAbout) {
    TestInstance inst;  // DIR stays 0700: the group cannot traverse it
    auto daemon = inst.start_ready();
    EXPECT_NE(inst.log().find("group roles cannot reach the admin socket: " + inst.dir().string()),
              std::string::npos)
        << inst.log();
}

TEST(AdminRolesTest, CallerWithoutARoleGets403AndIsLogged) {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to uid nobody and must run as root";
    const Nobody who = nobody();
    TestInstance inst;
    open_path_for(inst, who);
    inst.save_config();
    auto daemon = inst.start_ready();

    struct stat st {};
    ASSERT_EQ(::stat(inst.socket().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
    EXPECT_EQ(st.st_gid, who.gid);

    const auto denied = unix_get_as(inst.socket(), "/v1/status", who.uid, who.gid);
    ASSERT_EQ(denied.status, 403) << denied.error;
    EXPECT_EQ(json::parse(denied.body).at("error").at("code"), "forbidden");
    EXPECT_EQ(unix_get_as(inst.socket(), "/metrics", who.uid, who.gid).status, 403);
    EXPECT_EQ(unix_get_as(inst.socket(), "/v1/hsm/status", who.uid, who.gid).status, 403);
    // Probes need no role.
    EXPECT_EQ(unix_get_as(inst.socket(), "/healthz", who.uid, who.gid).status, 200);
    EXPECT_EQ(unix_get_as(inst.socket(), "/readyz", who.uid, who.gid).status, 200);
    // root holds every role.
    EXPECT_EQ(unix_get(inst.socket(), "/v1/status").status, 200);
    EXPECT_NE(inst.log().find("admin_access_denied account=uid:" + std::to_string(who.uid) +
                              " method=GET route=/v1/status"),
              std::string::npos)
        << inst.log();
}

TEST(AdminRolesTest, GroupMappedToOperatorGrantsAccess) {
    const Nobody who = nobody();
    TestInstance inst;
    open_path_for(inst, who);
    inst.config().admin.roles.operator_ = who.group;
    inst.save_config();
    auto daemon = inst.start_ready();
    const auto r = unix_get_as(inst.socket(), "/v1/status", who.uid, who.gid);
    EXPECT_EQ(r.status, 200) << r.error << r.body;
}

TEST(AdminRolesTest, SocketIsClosedToUsersOutsideItsGroup) {
    const Nobody who = nobody();
    TestInstance inst;
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.socket().parent_path().c_str(), 0711), 0);
    auto daemon = inst.start_ready();  // socket 0660 root:root
    const auto r = unix_get_as(inst.socket(), "/healthz", who.uid, who.gid);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.error, "connect: permission denied");
}

}  // namespace
}  // namespace enclave::daemon_test
