// SPDX-License-Identifier: Apache-2.0
// Binary uploads on the ingest listener (PUT /ingest/v1/blobs) through the
// real daemon over mutual TLS, and LEA endpoints through enclavectl.
#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <thread>

#include "audit_test_util.hpp"
#include "crypto/encoding.hpp"
#include "harness/http_client.hpp"
#include "harness/tls_client.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

std::string pattern_bytes(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 0x9e3779b9;
    for (std::size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s[i] = static_cast<char>(x);
    }
    // A marker that must never appear in plain on disk.
    const std::string marker = "ENCLAVE-UPLOAD-CANARY-7f3a";
    for (std::size_t at = 0; at + marker.size() < n; at += 1 << 20) s.replace(at, marker.size(), marker);
    return s;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    return crypto::hex_encode(crypto::ByteView(md, sizeof md));
}

std::string put_head(std::size_t length, const std::string& extra = "Content-Type: video/mp4\r\n") {
    return "PUT /ingest/v1/blobs HTTP/1.1\r\nHost: enclave\r\n" + extra +
           "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

std::size_t stored_blobs(const TestInstance& inst) {
    const auto data = inst.dir() / "state" / "blobs" / "data";
    if (!std::filesystem::exists(data)) return 0;
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(data)) ++n;
    return n;
}

TEST(IngestBlobsTest, UploadIsStreamedEncryptedAndAnsweredWithItsDigest) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string data = pattern_bytes(5 * 1024 * 1024 + 17);
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_TRUE(c.send_all(put_head(data.size()) + data));
    const HttpReply r = c.read_reply();
    ASSERT_EQ(r.status, 201) << r.body;
    const json j = json::parse(r.body);
    EXPECT_EQ(j["sha256"], sha256_hex(data));
    EXPECT_EQ(j["size"], data.size());
    ASSERT_TRUE(j["id"].is_string());
    EXPECT_EQ(j["id"].get<std::string>().size(), 32u);
    EXPECT_EQ(stored_blobs(inst), 1u);
    // The same connection serves the next request (keep-alive after a stream).
    const HttpReply who = c.request("GET", "/v1/whoami");
    EXPECT_EQ(who.status, 200);
    for (const auto& [path, content] : all_files(inst.dir() / "state")) {
        EXPECT_EQ(content.find("ENCLAVE-UPLOAD-CANARY-7f3a"), std::string::npos) << path;
    }
}

TEST(IngestBlobsTest, ExpectContinueGetsAnInterimAnswerBeforeTheBody) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string data = pattern_bytes(300 * 1024);
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_TRUE(c.send_all(put_head(data.size(), "Content-Type: image/png\r\nExpect: 100-continue\r\n")));
    const HttpReply interim = c.read_reply();
    EXPECT_EQ(interim.status, 100);
    ASSERT_TRUE(c.send_all(data));
    HttpReply r = c.read_reply();
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(json::parse(r.body)["sha256"], sha256_hex(data));
}

TEST(IngestBlobsTest, RefusedUploadsStoreNothing) {
    TestInstance inst;
    inst.config().ingest_limits.max_blob_bytes = 1024 * 1024;
    inst.save_config();
    auto daemon = inst.start_ready();
    {
        // No Content-Type: refused before the body is read.
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_TRUE(c.send_all(put_head(10, "") + "0123456789"));
        EXPECT_EQ(c.read_reply().status, 415);
    }
    {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_TRUE(c.send_all(put_head(10, "Content-Type: not a type\r\n") + "0123456789"));
        EXPECT_EQ(c.read_reply().status, 415);
    }
    {
        // Over ingest.max_blob_bytes: 413.
        const std::string big = pattern_bytes(2 * 1024 * 1024);
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_TRUE(c.send_all(put_head(big.size())));
        c.send_all(big);  // the server may close before all of it is sent
        EXPECT_EQ(c.read_reply().status, 413);
    }
    {
        // Cut off half way: the connection goes, nothing is kept.
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        ASSERT_TRUE(c.send_all(put_head(100'000) + std::string(50'000, 'x')));
    }
    {
        // The wrong method on the upload path, and the LEA listener does not
        // take uploads at all.
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        EXPECT_EQ(c.request("POST", "/ingest/v1/blobs", "x").status, 405);
        TlsConnection lea(inst.lea_port(), inst.lea_client());
        ASSERT_TRUE(lea.send_all(put_head(3) + "abc"));
        EXPECT_EQ(lea.read_reply().status, 404);
    }
    // Let the server notice the cut-off connection, then check.
    TlsConnection probe(inst.ingest_port(), inst.collector_client());
    EXPECT_EQ(probe.request("GET", "/v1/whoami").status, 200);
    EXPECT_EQ(stored_blobs(inst), 0u);
}

TEST(IngestBlobsTest, UploadsNoItemNamesAreErasedAfterTheirTimeToLive) {
    TestInstance inst;
    inst.config().ingest_limits.unattached_blob_ttl = std::chrono::seconds(2);
    inst.save_config();
    auto daemon = inst.start_ready();
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.send_all(put_head(4) + "abcd"));
    ASSERT_EQ(c.read_reply().status, 201);
    EXPECT_EQ(stored_blobs(inst), 1u);
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        gone = stored_blobs(inst) == 0;
    }
    EXPECT_TRUE(gone) << inst.log();
    // The file goes first, the log line after it (the sweep's order).
    bool logged = false;
    for (int i = 0; i < 200 && !logged; ++i) {
        logged = inst.log().find("no item named in time") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(logged) << inst.log();
}

TEST(EndpointCtlTest, OfficersAddListShowAndRemoveEndpointsAndEachChangeIsAudited) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string ca = inst.pki("demo-ca.pem").string();
    RunResult add = ctl(inst, {"endpoint", "add", "lea-north", "--url", "https://127.0.0.1:7443/hi1",
                               "--ca", ca, "--binary-url-scheme",
                               "https://127.0.0.1:7443/binaryData/{id}/", "--receiver-country",
                               "GB", "--client-subject", "CN=demo-lea,O=Enclave demo", "--json"});
    ASSERT_EQ(add.exit_code, 0) << add.out << add.err;
    EXPECT_EQ(json::parse(add.out)["receiver_country"], "GB");

    RunResult dup = ctl(inst, {"endpoint", "add", "lea-north", "--url", "https://x.example/",
                               "--ca", ca, "--binary-url-scheme", "https://x.example/{id}"});
    EXPECT_EQ(dup.exit_code, 2) << dup.out << dup.err;

    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"--url", "http://plain.example/"},
          std::vector<std::string>{"--url", "https://x.example/", "--binary-url-scheme",
                                   "https://x.example/no-placeholder/"},
          std::vector<std::string>{"--url", "https://x.example/", "--binary-url-scheme",
                                   "https://x.example/{id}", "--pin-spki", "xyz"}}) {
        std::vector<std::string> args{"endpoint", "add", "lea-bad", "--ca", ca};
        args.insert(args.end(), bad.begin(), bad.end());
        RunResult r = ctl(inst, args);
        EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    }
    // Trust anchors that are not certificates.
    write_text(inst.scratch() / "junk.pem", "not a certificate");
    RunResult junk = ctl(inst, {"endpoint", "add", "lea-junk", "--url", "https://x.example/",
                                "--ca", (inst.scratch() / "junk.pem").string(),
                                "--binary-url-scheme", "https://x.example/{id}"});
    EXPECT_EQ(junk.exit_code, 2);
    EXPECT_NE(junk.err.find("trust_anchors"), std::string::npos) << junk.err;

    RunResult list = ctl(inst, {"endpoint", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_EQ(json::parse(list.out)["endpoints"].size(), 1u);
    RunResult show = ctl(inst, {"endpoint", "show", "lea-north"});
    EXPECT_EQ(show.exit_code, 0);
    EXPECT_NE(show.out.find("https://127.0.0.1:7443/hi1"), std::string::npos) << show.out;

    RunResult removed = ctl(inst, {"endpoint", "remove", "lea-north"});
    EXPECT_EQ(removed.exit_code, 0) << removed.err;
    EXPECT_EQ(ctl(inst, {"endpoint", "remove", "lea-north"}).exit_code, 2);
    EXPECT_EQ(ctl(inst, {"endpoint", "show", "lea-north"}).exit_code, 2);

    // Both changes are in the audit log.
    const json entries =
        json::parse(unix_get(inst.socket(), "/v1/audit/entries?first=0").body);
    int added = 0, gone = 0;
    for (const json& e : entries["entries"]) {
        const json entry = json::parse(e.get<std::string>());
        const std::string ev = entry["event"];
        if (ev == "endpoint.added") {
            ++added;
            EXPECT_EQ(entry["endpoint"], "lea-north");
            EXPECT_EQ(entry["trust_anchors_sha256"].get<std::string>().size(), 64u);
        }
        if (ev == "endpoint.removed") ++gone;
    }
    EXPECT_EQ(added, 1);
    EXPECT_EQ(gone, 1);
}

}  // namespace
}  // namespace enclave::daemon_test
