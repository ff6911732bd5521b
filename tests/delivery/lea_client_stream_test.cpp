// SPDX-License-Identifier: Apache-2.0
// LeaClient::get_stream against a real TLS server of our own (RangeServer:
// OpenSSL over loopback, the project's server policy, client certificates
// required): whole bodies, ranges (206, Content-Range), resume after a drop,
// 416, chunked framing, HEAD, sink and head-handler errors, and hostile
// answers (a body longer than declared, an oversized header, a declared body
// over the limit, a truncated body, malformed Content-Range).
#include <gtest/gtest.h>

#include "delivery/lea_client_range.hpp"
#include "stream_test_util.hpp"
#include "support/range_server.hpp"

namespace enclave::testing {
namespace {

using crypto::Errc;
using delivery::HttpHeader;

constexpr const char* kPath = "/v1/binaries/tok-1";

struct StreamTest : ::testing::Test {
    StreamPki pki;
    RangeServer server{pki.server_ctx()};
    std::string object = pattern_object(300'000);
    std::string url = server.base_url() + kPath;

    void SetUp() override { server.put(kPath, object); }
};

TEST_F(StreamTest, WholeBodyArrivesInBoundedPiecesWithHeadersAndNoBody) {
    auto client = pki.client(server.base_url(), 16 * 1024);
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_TRUE(r->body.empty());
    EXPECT_EQ(r->header("etag").value_or(""), "\"v1\"");
    EXPECT_EQ(r->header("content-length").value_or(""), "300000");
    EXPECT_EQ(sha256_hex(got.data), sha256_hex(object));
    EXPECT_LE(got.largest, 16u * 1024u);
    EXPECT_GE(got.pieces, 300'000u / (16u * 1024u));
    // The connection went back to the pool and serves the next request.
    Collector again;
    ASSERT_TRUE(client->get_stream(url, {}, again.sink()));
    EXPECT_EQ(again.data, object);
    EXPECT_EQ(client->stats().connections_opened, 1u);
    EXPECT_EQ(client->stats().reused, 1u);
    EXPECT_EQ(server.requests().at(0).header("range"), "");
}

TEST_F(StreamTest, RangeGets206WithItsContentRange) {
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {{"Range", "bytes=1000-1999"}, {"If-Range", "\"v1\""}},
                                got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 206u);
    auto cr = delivery::parse_content_range(r->header("content-range").value_or(""));
    ASSERT_TRUE(cr) << cr.error().message();
    EXPECT_EQ(cr->first, 1000u);
    EXPECT_EQ(cr->last, 1999u);
    EXPECT_EQ(cr->complete_length.value_or(0), object.size());
    EXPECT_EQ(got.data, object.substr(1000, 1000));
    const auto req = server.requests().at(0);
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.target, kPath);
    EXPECT_EQ(req.header("range"), "bytes=1000-1999");
    EXPECT_EQ(req.header("if-range"), "\"v1\"");
    EXPECT_EQ(req.header("host"), "127.0.0.1:" + std::to_string(server.port()));
}

TEST_F(StreamTest, ADroppedTransferResumesFromTheLastByteReceived) {
    RangeServerBehaviour b;
    b.drops = 1;
    b.drop_after = 100'000;
    b.send_size = 4096;
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector got;
    auto cut = client->get_stream(url, {}, got.sink());
    ASSERT_FALSE(cut);
    EXPECT_EQ(cut.error().code(), Errc::unavailable);
    EXPECT_NE(cut.error().context().find("read response body"), std::string::npos);
    // What arrived before the drop went to the sink, and only that.
    ASSERT_GT(got.data.size(), 0u);
    ASSERT_LE(got.data.size(), 100'000u);
    EXPECT_EQ(got.data, object.substr(0, got.data.size()));
    const std::string from = std::to_string(got.data.size());
    auto rest = client->get_stream(url, {{"Range", "bytes=" + from + "-"}}, got.sink());
    ASSERT_TRUE(rest) << rest.error().message();
    EXPECT_EQ(rest->status, 206u);
    EXPECT_EQ(rest->header("content-range").value_or(""),
              "bytes " + from + "-299999/300000");
    EXPECT_EQ(sha256_hex(got.data), sha256_hex(object));
    EXPECT_EQ(client->stats().connections_opened, 2u) << "the cut connection is not reused";
}

TEST_F(StreamTest, UnsatisfiableRangeIs416WithTheLength) {
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {{"Range", "bytes=300000-"}}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 416u);
    EXPECT_TRUE(got.data.empty());
    auto n = delivery::parse_unsatisfied_range(r->header("content-range").value_or(""));
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, 300'000u);
}

TEST_F(StreamTest, ChunkedBodiesAreDecoded) {
    RangeServerBehaviour b;
    b.chunked = true;
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector whole;
    auto r = client->get_stream(url, {}, whole.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->header("transfer-encoding").value_or(""), "chunked");
    EXPECT_EQ(whole.data, object);
    Collector part;
    auto p = client->get_stream(url, {{"Range", "bytes=5-2504"}}, part.sink());
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->status, 206u);
    EXPECT_EQ(part.data, object.substr(5, 2500));
    EXPECT_EQ(client->stats().connections_opened, 1u) << "chunked answers keep the connection";
}

TEST_F(StreamTest, HeadHasNoBodyAndKeepsTheConnection) {
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {}, got.sink(), "HEAD");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->header("content-length").value_or(""), "300000");
    EXPECT_EQ(got.pieces, 0u);
    EXPECT_EQ(server.requests().at(0).method, "HEAD");
    Collector body;
    ASSERT_TRUE(client->get_stream(url, {}, body.sink()));
    EXPECT_EQ(body.data, object);
    EXPECT_EQ(client->stats().connections_opened, 1u);
    // No sink is needed for HEAD; other methods are refused.
    EXPECT_TRUE(client->get_stream(url, {}, {}, "HEAD"));
    auto post = client->get_stream(url, {}, got.sink(), "POST");
    ASSERT_FALSE(post);
    EXPECT_EQ(post.error().code(), Errc::invalid_argument);
    auto no_sink = client->get_stream(url, {}, {});
    ASSERT_FALSE(no_sink);
    EXPECT_EQ(no_sink.error().code(), Errc::invalid_argument);
}

TEST_F(StreamTest, ASinkErrorAbortsAndTheConnectionIsNotReused) {
    auto client = pki.client(server.base_url(), 4096);
    std::size_t calls = 0;
    auto r = client->get_stream(url, {}, [&](crypto::ByteView) -> crypto::Result<void> {
        if (++calls == 3) return crypto::fail(Errc::io_error, "disk full");
        return {};
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io_error);
    EXPECT_NE(r.error().context().find("body sink"), std::string::npos);
    EXPECT_NE(r.error().context().find("disk full"), std::string::npos);
    EXPECT_EQ(calls, 3u) << "no piece after the error";
    EXPECT_EQ(client->stats().open_connections, 0u);
    Collector got;
    ASSERT_TRUE(client->get_stream(url, {}, got.sink()));
    EXPECT_EQ(got.data, object);
    EXPECT_EQ(client->stats().connections_opened, 2u);
}

TEST_F(StreamTest, AHeadHandlerSeesStatusFirstAndItsErrorAborts) {
    auto client = pki.client(server.base_url());
    Collector got;
    unsigned seen = 0;
    auto refuse = [&](const delivery::Reply& head) -> crypto::Result<void> {
        seen = head.status;
        EXPECT_TRUE(got.data.empty()) << "the head comes before any body byte";
        return crypto::fail(Errc::integrity_failure, "expected 206");
    };
    auto r = client->get_stream(url, {}, got.sink(), "GET", refuse);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_EQ(seen, 200u);
    EXPECT_TRUE(got.data.empty());
    EXPECT_EQ(client->stats().open_connections, 0u);
}

TEST_F(StreamTest, ABodyLongerThanDeclaredIsCutAndTheConnectionDropped) {
    RangeServerBehaviour b;
    b.extra_body = 5000;
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(got.data, object) << "exactly the declared bytes";
    // The junk is never read as the next answer: a fresh connection serves it.
    server.set({});
    Collector next;
    auto again = client->get_stream(url, {{"Range", "bytes=0-9"}}, next.sink());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->status, 206u);
    EXPECT_EQ(next.data, object.substr(0, 10));
    EXPECT_EQ(client->stats().connections_opened, 2u);
}

TEST_F(StreamTest, AHeaderOverTheLimitIsTooLarge) {
    RangeServerBehaviour b;
    b.header_padding = 20'000;  // over the 16 KiB default
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
    EXPECT_NE(r.error().context().find("header"), std::string::npos);
    EXPECT_EQ(got.pieces, 0u);
}

TEST_F(StreamTest, ADeclaredBodyOverMaxStreamBytesIsRefusedBeforeAnyByte) {
    delivery::LeaClientOptions o;
    o.base_url = server.base_url() + "/";
    o.tls = pki.client_ctx();
    o.max_stream_bytes = 100'000;
    auto client = must_ok(delivery::LeaClient::create(std::move(o)));
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
    EXPECT_EQ(got.pieces, 0u);
    // Chunked (no length up front): stopped once the bytes pass the limit.
    RangeServerBehaviour b;
    b.chunked = true;
    server.set(b);
    Collector chunked;
    auto c = client->get_stream(url, {}, chunked.sink());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Errc::too_large);
    EXPECT_LE(chunked.data.size(), 100'000u);
}

TEST_F(StreamTest, MalformedOrWrongContentRangeIsVisibleToTheCaller) {
    RangeServerBehaviour b;
    b.content_range = "bytes 10-5/300000";
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {{"Range", "bytes=0-99"}}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 206u);
    auto bad = delivery::parse_content_range(r->header("content-range").value_or(""));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::malformed_input);
    // A 206 for another range than asked: well formed, but not what was asked.
    b = {};
    b.wrong_ranges = 1;
    b.shift = 7;
    server.set(b);
    Collector shifted;
    auto s = client->get_stream(url, {{"Range", "bytes=0-99"}}, shifted.sink());
    ASSERT_TRUE(s) << s.error().message();
    auto cr = delivery::parse_content_range(s->header("content-range").value_or(""));
    ASSERT_TRUE(cr);
    EXPECT_EQ(cr->first, 7u);
    EXPECT_EQ(shifted.data, object.substr(7, 100));
}

TEST_F(StreamTest, ExtraHeadersThatCouldSplitOrReframeTheRequestAreRefused) {
    auto client = pki.client(server.base_url());
    Collector got;
    const std::vector<std::vector<HttpHeader>> bad = {
        {{"Range", "bytes=0-1\r\nX-Injected: 1"}},
        {{"Range", std::string("bytes=0-1\0x", 11)}},
        {{"Range", "bytes=0-1\nX: 1"}},
        {{"Host", "evil.example"}},
        {{"content-length", "5"}},
        {{"Transfer-Encoding", "chunked"}},
        {{"Connection", "close"}},
        {{"Bad Name", "x"}},
        {{"", "x"}},
        {{"X-Long", std::string(9000, 'a')}},
        std::vector<HttpHeader>(33, HttpHeader{"X-Many", "1"}),
    };
    for (const auto& headers : bad) {
        auto r = client->get_stream(url, headers, got.sink());
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_EQ(r.error().context().find("X-Injected"), std::string::npos);
    }
    EXPECT_TRUE(server.requests().empty()) << "nothing was sent";
    EXPECT_EQ(client->stats().connections_opened, 0u);
    // A URL on another origin is refused too.
    auto other = client->get_stream("https://127.0.0.1:1/v1/binaries/x", {}, got.sink());
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code(), Errc::invalid_argument);
}

TEST_F(StreamTest, A5xxIsAReplyNotAnError) {
    RangeServerBehaviour b;
    b.fail_5xx = 1;
    server.set(b);
    auto client = pki.client(server.base_url());
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 503u);
    EXPECT_TRUE(got.data.empty());
    auto missing = client->get_stream(server.base_url() + "/nothing", {}, got.sink());
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404u);
}

TEST_F(StreamTest, ThePinIsCheckedBeforeTheRequest) {
    delivery::LeaClientOptions o;
    o.base_url = server.base_url() + "/";
    o.tls = pki.client_ctx();
    o.spki_sha256_pin = crypto::Bytes(32, 0x5a);
    auto client = must_ok(delivery::LeaClient::create(std::move(o)));
    Collector got;
    auto r = client->get_stream(url, {}, got.sink());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
    EXPECT_TRUE(server.requests().empty());
}

}  // namespace
}  // namespace enclave::testing
