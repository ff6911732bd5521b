// SPDX-License-Identifier: Apache-2.0
// In-process tests of the daemon's parts that need no network: the router,
// roles, metrics text, events, JSON escaping and the sd_notify datagram.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>

#include "appliance/event_sink.hpp"
#include "appliance/http_types.hpp"
#include "appliance/log.hpp"
#include "appliance/metrics.hpp"
#include "appliance/roles.hpp"
#include "appliance/sd_notify.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

Request get(std::string path, RoleSet roles = {}) {
    Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.peer.roles = roles;
    return r;
}

Router sample_router() {
    Router router;
    router.add("GET", "/open", RoleSet{},
               [](const Request&) { return Response::text(200, "open"); });
    router.add("GET", "/ops", RoleSet{Role::operator_},
               [](const Request&) { return Response::text(200, "ops"); });
    router.add("POST", "/ops", RoleSet{Role::operator_},
               [](const Request&) { return Response::text(201, "made"); });
    router.add("GET", "/boom", RoleSet{},
               [](const Request&) -> Response { throw std::runtime_error("secret-ish"); });
    return router;
}

TEST(RouterTest, ExactPathsOnly) {
    const Router router = sample_router();
    EXPECT_EQ(router.handle(get("/open")).body, "open");
    for (const char* path :
         {"/open/", "/OPEN", "/open/..", "//open", "/ope", "", "*", "http://x/open"}) {
        const Response r = router.handle(get(path));
        EXPECT_EQ(r.status, 404u) << path;
        EXPECT_EQ(r.body, R"({"error":{"code":"not_found","message":"no such resource"}})");
    }
}

TEST(RouterTest, WrongMethodGets405WithAllow) {
    const Router router = sample_router();
    Request r = get("/ops", RoleSet{Role::operator_});
    r.method = "DELETE";
    const Response res = router.handle(r);
    EXPECT_EQ(res.status, 405u);
    ASSERT_EQ(res.headers.size(), 1u);
    EXPECT_EQ(res.headers[0].name, "Allow");
    EXPECT_EQ(res.headers[0].value, "GET, POST");
    r.method = "get";  // methods are case-sensitive
    EXPECT_EQ(router.handle(r).status, 405u);
}

TEST(RouterTest, RolesAreChecked) {
    const Router router = sample_router();
    EXPECT_EQ(router.handle(get("/ops")).status, 403u);
    EXPECT_EQ(router.handle(get("/ops", RoleSet{Role::auditor})).status, 403u);
    EXPECT_EQ(router.handle(get("/ops", RoleSet{Role::operator_})).status, 200u);
    EXPECT_EQ(router.handle(get("/ops", RoleSet::all())).status, 200u);
}

TEST(RouterTest, AThrowingHandlerGives500WithoutItsMessage) {
    const Response r = sample_router().handle(get("/boom"));
    EXPECT_EQ(r.status, 500u);
    EXPECT_EQ(r.body.find("secret-ish"), std::string::npos);
}

TEST(QueryParamTest, DecodesAndRefusesAmbiguity) {
    EXPECT_EQ(query_param("a=1&ref=LIID%2D0001", "ref"), "LIID-0001");
    EXPECT_EQ(query_param("ref=", "ref"), "");
    EXPECT_EQ(query_param("ref", "ref"), "");
    EXPECT_EQ(query_param("a=1+2", "a"), "1+2");
    EXPECT_FALSE(query_param("a=1", "ref").has_value());
    EXPECT_FALSE(query_param("", "ref").has_value());
    EXPECT_FALSE(query_param("ref=a&ref=b", "ref").has_value()) << "a repeated parameter is refused";
    EXPECT_FALSE(query_param("ref=%", "ref").has_value());
    EXPECT_FALSE(query_param("ref=%4", "ref").has_value());
    EXPECT_FALSE(query_param("ref=%zz", "ref").has_value());
    EXPECT_EQ(query_param("ref=%41%62", "ref"), "Ab");
    EXPECT_EQ(query_param("reference=x&ref=y", "ref"), "y") << "names match exactly";
}

TEST(RouterTest, DuplicateRoutesAreAProgrammingError) {
    Router router = sample_router();
    EXPECT_THROW(router.add("GET", "/open", RoleSet{}, [](const Request&) { return Response{}; }),
                 std::logic_error);
}

// Two-person control wraps registered routes: the wrapper sees the request
// after the role check and can call (or not) the original handler.
TEST(RouterTest, WrapReplacesAHandlerAndKeepsItsRoles) {
    Router router = sample_router();
    int inner_calls = 0;
    ASSERT_TRUE(router.wrap("POST", "/ops", [&inner_calls](Handler inner) -> Handler {
        return [&inner_calls, inner = std::move(inner)](const Request& r) {
            ++inner_calls;
            Response res = inner(r);
            res.body += "+wrapped";
            return res;
        };
    }));
    Request r = get("/ops", RoleSet{Role::operator_});
    r.method = "POST";
    EXPECT_EQ(router.handle(r).body, "made+wrapped");
    EXPECT_EQ(inner_calls, 1);
    r.peer.roles = RoleSet{Role::auditor};
    EXPECT_EQ(router.handle(r).status, 403u) << "the route's roles stay";
    EXPECT_EQ(inner_calls, 1);
    EXPECT_EQ(router.handle(get("/ops", RoleSet{Role::operator_})).body, "ops") << "GET untouched";
    const auto keep = [](Handler h) { return h; };
    EXPECT_FALSE(router.wrap("POST", "/nope", keep));
    EXPECT_FALSE(router.wrap("PUT", "/ops", keep));
    router.add_stream("POST", "/upload", RoleSet{}, 10,
                      [](const Request&) -> StreamStart { return Response::text(200, "x"); });
    EXPECT_FALSE(router.wrap("POST", "/upload", keep)) << "a streaming route cannot be wrapped";
}

TEST(RequestTest, HeaderLookupIsCaseInsensitive) {
    Request r;
    r.headers = {{"Content-Type", "a"}, {"X-Y", "b"}};
    ASSERT_NE(r.header("content-type"), nullptr);
    EXPECT_EQ(*r.header("CONTENT-TYPE"), "a");
    EXPECT_EQ(r.header("content"), nullptr);
}

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
    EXPECT_EQ(json_escape("a\"b\\c\n\x01\x7f"), "a\\\"b\\\\c\\n\\u0001\\u007f");
    const Response r = Response::error(400, "bad", "line\r\nInjected: yes");
    EXPECT_EQ(r.body, R"({"error":{"code":"bad","message":"line\r\nInjected: yes"}})");
}

TEST(RolesTest, GroupsMapToRoles) {
    RoleGroups groups;  // enclave-so, enclave-audit, enclave-ops
    EXPECT_EQ(roles_from_groups({"users", "enclave-ops"}, groups), RoleSet{Role::operator_});
    EXPECT_EQ(roles_from_groups({"enclave-so", "enclave-audit"}, groups),
              (RoleSet{Role::security_officer, Role::auditor}));
    EXPECT_TRUE(roles_from_groups({"users", "wheel"}, groups).empty());
    EXPECT_TRUE(roles_from_groups({}, groups).empty());
    groups.auditor = "";  // an empty group name grants nothing, even to a group named ""
    EXPECT_TRUE(roles_from_groups({""}, groups).empty());
}

TEST(RolesTest, RootAndTheDaemonsOwnUidHoldEveryRole) {
    const RoleGroups groups;
    EXPECT_EQ(roles_for_uid(0, 1234, groups), RoleSet::all());
    EXPECT_EQ(roles_for_uid(1234, 1234, groups), RoleSet::all());
    // A uid with no passwd entry has no group, hence no role.
    EXPECT_TRUE(roles_for_uid(4'000'000'000u, 1234, groups).empty());
    EXPECT_TRUE(groups_of_uid(4'000'000'000u).empty());
    EXPECT_FALSE(groups_of_uid(0).empty());  // root is in group root
}

TEST(MetricsTest, RendersEveryFamilyAndCounts) {
    Metrics m;
    auto& lea = m.add_listener("lea", true);
    auto& admin = m.add_listener("admin", false);
    lea.connection_opened();
    lea.connection_opened();
    lea.connection_closed();
    lea.connection_refused();
    lea.handshake_succeeded();
    lea.handshake_failed(HandshakeFailure::no_shared_cipher);
    lea.request_served(200);
    lea.request_served(200);
    lea.request_served(9999);  // out of range counts as 500
    admin.request_served(403);
    m.set_ready(true);
    const std::string t = m.render();
    EXPECT_NE(t.find("enclave_connections_active{listener=\"lea\"} 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("enclave_connections_total{listener=\"lea\"} 2\n"), std::string::npos);
    EXPECT_NE(t.find("enclave_connections_refused_total{listener=\"lea\",reason=\"limit\"} 1\n"),
              std::string::npos);
    EXPECT_NE(t.find("enclave_tls_handshakes_total{listener=\"lea\"} 1\n"), std::string::npos);
    EXPECT_NE(t.find("enclave_tls_handshake_failures_total{listener=\"lea\",reason=\"no_shared_"
                     "cipher\"} 1\n"),
              std::string::npos);
    EXPECT_NE(
        t.find("enclave_tls_handshake_failures_total{listener=\"lea\",reason=\"timeout\"} 0\n"),
        std::string::npos);
    EXPECT_EQ(t.find("enclave_tls_handshakes_total{listener=\"admin\"}"), std::string::npos)
        << "the Unix socket has no TLS";
    EXPECT_NE(t.find("enclave_http_requests_total{listener=\"lea\",status=\"200\"} 2\n"),
              std::string::npos);
    EXPECT_NE(t.find("enclave_http_requests_total{listener=\"lea\",status=\"500\"} 1\n"),
              std::string::npos);
    EXPECT_NE(t.find("enclave_http_requests_total{listener=\"admin\",status=\"403\"} 1\n"),
              std::string::npos);
    EXPECT_NE(t.find("enclave_ready 1\n"), std::string::npos);
    EXPECT_EQ(t.find("enclave_hsm_"), std::string::npos) << "no pool attached";
    m.set_pool_stats_source([] {
        hsm::PoolStats s;
        s.open_sessions = 3;
        s.leases = 7;
        return s;
    });
    EXPECT_NE(m.render().find("enclave_hsm_session_leases_total 7\n"), std::string::npos);
    EXPECT_THROW(m.add_listener("lea", true), std::logic_error);
}

TEST(MetricsTest, FailureReasonNamesAreDistinct) {
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < kHandshakeFailureKinds; ++i) {
        names.insert(handshake_failure_name(static_cast<HandshakeFailure>(i)));
    }
    EXPECT_EQ(names.size(), kHandshakeFailureKinds);
    EXPECT_TRUE(names.count("no_client_certificate") && names.count("certificate_verify_failed") &&
                names.count("protocol_version") && names.count("no_shared_cipher") &&
                names.count("timeout") && names.count("other"));
}

TEST(EventTest, EventsHaveFixedNamesAndFields) {
    const Event e = events::TlsHandshakeFailed{"lea", HandshakeFailure::timeout, "127.0.0.1:4000", {}};
    EXPECT_EQ(event_name(e), "tls_handshake_failed");
    EXPECT_EQ(describe_event(e), "listener=lea reason=timeout peer=127.0.0.1:4000");  // no certificate: left out
    EXPECT_EQ(describe_event(Event{events::AdminAccessDenied{monitoring::Account::of_uid(65534),
                                                             "GET", "/v1/status"}}),
              "account=uid:65534 method=GET route=/v1/status");
    EXPECT_EQ(
        describe_event(Event{events::TokenLoginFailed{"enclave", crypto::Errc::hsm_pin_incorrect}}),
        "token=enclave error=hsm_pin_incorrect");
    EXPECT_EQ(event_name(Event{events::DaemonStarted{"x", "0.1.0"}}), "daemon_started");
    EXPECT_EQ(event_name(Event{events::DaemonStopping{"SIGTERM"}}), "daemon_stopping");
}

TEST(LogTest, LevelNamesRoundTrip) {
    for (const LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error}) {
        LogLevel parsed = LogLevel::error;
        ASSERT_TRUE(parse_log_level(log_level_name(l), parsed));
        EXPECT_EQ(parsed, l);
    }
    LogLevel out = LogLevel::info;
    EXPECT_FALSE(parse_log_level("verbose", out));
    EXPECT_FALSE(parse_log_level("", out));
}

TEST(SdNotifyTest, SendsOneDatagramToTheNotifySocket) {
    testing::TempDir dir;
    const auto path = dir.path() / "notify";
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_TRUE(sd_notify("READY=1"));  // no socket: nothing to do
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    ASSERT_TRUE(sd_notify("READY=1\nSTATUS=serving"));
    char buf[128] = {};
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "READY=1\nSTATUS=serving");
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);
    EXPECT_FALSE(sd_notify("READY=1"));
    ::setenv("NOTIFY_SOCKET", (dir.path() / "absent").c_str(), 1);
    const auto missing = sd_notify("READY=1");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), crypto::Errc::io_error);
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);
}

}  // namespace
}  // namespace enclave::appliance
