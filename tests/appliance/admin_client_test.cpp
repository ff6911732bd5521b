// SPDX-License-Identifier: Apache-2.0
#include "appliance/admin_client.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "canned_server.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using enclave::testing::TempDir;
using testing::bound_socket;
using testing::CannedServer;

std::string http(int status, const std::string& body, const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
           extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Fixture {
    TempDir dir;
    std::filesystem::path socket = dir.path() / "admin.sock";
    AdminClient client{socket};
};

TEST(AdminClientTest, GetsJsonAndSendsAMinimalRequest) {
    Fixture f;
    const std::string body = R"({"version":"0.1.0","ready":true,"listeners":[]})";
    CannedServer server(f.socket, http(200, body));
    auto r = f.client.get_json("/v1/status");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ((*r)["version"], "0.1.0");
    EXPECT_EQ((*r)["ready"], true);
    EXPECT_EQ(server.request(),
              "GET /v1/status HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
              "Connection: close\r\n\r\n");
}

TEST(AdminClientTest, StopsReadingWhenContentLengthIsSatisfied) {
    Fixture f;
    // The server keeps the connection open: the client must not wait for EOF.
    CannedServer server(f.socket, http(200, R"({"a":1})"), CannedServer::Mode::answer_and_hold);
    auto r =
        AdminClient(f.socket, {std::chrono::milliseconds(60'000), 4 << 20}).get_json("/v1/status");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ((*r)["a"], 1);
}

TEST(AdminClientTest, ReadsChunkedAndReadToEndBodies) {
    {
        Fixture f;
        CannedServer server(f.socket,
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4;ext=1\r\n{\"a\"\r\n4\r\n:12}\r\n0\r\nX-Trailer: y\r\n\r\n");
        auto r = f.client.get_json("/x");
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ((*r)["a"], 12);
    }
    {
        Fixture f;
        CannedServer server(f.socket, "HTTP/1.0 200 OK\r\n\r\n{\"b\":2}");
        auto r = f.client.get_json("/x");
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ((*r)["b"], 2);
    }
}

TEST(AdminClientTest, ErrorStatusCarriesTheServersCodeAndMessage) {
    Fixture f;
    CannedServer server(
        f.socket,
        http(403,
             R"({"error":{"code":"invalid_argument","message":"no role\u0007 for uid 1000"}})"));
    auto r = f.client.get_json("/v1/status");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_NE(r.error().context().find("HTTP 403"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().context().find("no role? for uid 1000"), std::string::npos)
        << r.error().message();
    EXPECT_FALSE(daemon_not_running(r.error()));
}

TEST(AdminClientTest, A503IsNeverMistakenForADaemonThatIsDown) {
    Fixture f;
    CannedServer server(f.socket,
                        http(503, R"({"error":{"code":"unavailable","message":"token"}})"));
    auto r = f.client.get_json("/readyz");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().code(), Errc::unavailable);
    EXPECT_FALSE(daemon_not_running(r.error()));
}

TEST(AdminClientTest, NoSocketOrAStaleSocketMeansTheDaemonIsNotRunning) {
    Fixture f;
    auto missing = f.client.get("/v1/status");
    ASSERT_FALSE(missing);
    EXPECT_TRUE(daemon_not_running(missing.error())) << missing.error().message();
    EXPECT_NE(missing.error().context().find(f.socket.string()), std::string::npos);

    const int stale = bound_socket(f.socket);  // bound, never listening: ECONNREFUSED
    auto refused = f.client.get("/v1/status");
    ::close(stale);
    ASSERT_FALSE(refused);
    EXPECT_TRUE(daemon_not_running(refused.error())) << refused.error().message();
}

TEST(AdminClientTest, HostileResponsesAreRefused) {
    std::string deep = std::string(1'000'000, '[');
    const struct {
        std::string response;
        Errc code;
    } cases[] = {
        {http(200, std::string(5 * 1024 * 1024, 'x')), Errc::too_large},
        {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":", Errc::malformed_input},
        {"SSH-2.0-OpenSSH_9.2\r\n", Errc::malformed_input},
        {"", Errc::malformed_input},
        {http(200, "{not json"), Errc::malformed_input},
        {http(200, "[1,2]"), Errc::malformed_input},
        {http(200, "\"\xff\xfe\""), Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\n\r\n" + deep, Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\n" + std::string(70'000, 'a'), Errc::too_large},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.response.substr(0, 40));
        Fixture f;
        CannedServer server(f.socket, c.response);
        auto r = f.client.get_json("/v1/status");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), c.code) << r.error().message();
    }
}

TEST(AdminClientTest, ASilentServerTimesOut) {
    Fixture f;
    CannedServer server(f.socket, "", CannedServer::Mode::never_answer);
    auto r = AdminClient(f.socket, {std::chrono::milliseconds(200), 4 << 20}).get("/v1/status");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io_error);
    EXPECT_NE(r.error().context().find("no complete response"), std::string::npos)
        << r.error().message();
}

TEST(AdminClientTest, BadTargetsAndPathsAreRefusedBeforeConnecting) {
    Fixture f;
    for (const char* target : {"", "v1/status", "/a b", "/a\r\nX: y", "/\x7f"}) {
        auto r = f.client.get(target);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument) << target;
    }
    auto r = AdminClient("/" + std::string(200, 's')).get("/v1/status");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
}

TEST(HttpResponseParserTest, AcceptsWellFormedResponses) {
    auto r = parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A:  b \r\n\r\nhi", 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->reason, "OK");
    EXPECT_EQ(r->body, "hi");
    EXPECT_EQ(r->header("x-a"), "b");
    EXPECT_EQ(r->header("CONTENT-LENGTH"), "2");
    auto no_reason = parse_http_response("HTTP/1.1 204\r\n\r\n", 100);
    ASSERT_TRUE(no_reason) << no_reason.error().message();
    EXPECT_EQ(no_reason->status, 204);
}

TEST(HttpResponseParserTest, RefusesMalformedAndOversizedResponses) {
    std::string many_headers = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 101; ++i) many_headers += "X-" + std::to_string(i) + ": v\r\n";
    many_headers += "\r\n";
    const struct {
        std::string raw;
        Errc code;
    } cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", Errc::malformed_input},  // no end of headers
        {"HTTP/2 200 OK\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 2000 OK\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 099 OK\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 100 Continue\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 20x OK\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
         Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx",
         Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nx", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", Errc::too_large},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", Errc::too_large},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra",
         Errc::malformed_input},
        {"HTTP/1.1 204 No Content\r\n\r\nbody", Errc::malformed_input},
        {"HTTP/1.1 200 OK\r\n\r\n" + std::string(101, 'x'), Errc::too_large},
        {many_headers, Errc::too_large},
    };
    for (const auto& c : cases) {
        auto r = parse_http_response(c.raw, 100);
        ASSERT_FALSE(r) << c.raw.substr(0, 60);
        EXPECT_EQ(r.error().code(), c.code) << c.raw.substr(0, 60) << ": " << r.error().message();
    }
}

}  // namespace
}  // namespace enclave::appliance
