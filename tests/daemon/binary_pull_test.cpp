// SPDX-License-Identifier: Apache-2.0
// Models A and C end to end, real processes over loopback mutual TLS: a
// collector uploads, enclaved delivers the item (its binaryObject names a
// URL on enclaved's LEA listener) to enclave-lea-sim, and the LEA's client
// fetches the URL whole, in ranges, resumed, and from two clients at once.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include "crypto/digest.hpp"
#include "delivery_test_util.hpp"
#include "harness/metrics_reader.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;


/// Deterministic content: byte i of an object of seed s.
std::string make_content(std::size_t size, std::uint32_t seed) {
    std::string out(size, '\0');
    std::uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
    for (std::size_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = static_cast<char>(x >> 24);
    }
    return out;
}

struct PulledBinary {
    std::string url;
    std::string target;  ///< "/v1/binaries/<token>"
};

/// An instance whose endpoint takes Models A and C, a simulator as its LEA,
/// a task, and helpers to get a binary delivered by URL.
class PullRig {
public:
    /// `fetch_range_bytes`: the simulator fetches the URLs it receives with
    /// the demo LEA client certificate (0 = whole, else in ranges of this).
    explicit PullRig(std::chrono::seconds ttl = std::chrono::seconds(3600),
                     std::optional<std::string> fetch_range_bytes = std::nullopt) {
        inst.config().delivery.binary_url_ttl = ttl;
        inst.config().ingest_limits.max_blob_bytes = std::uint64_t{1} << 30;
        inst.save_config();
        daemon = inst.start_ready();
        std::vector<std::string> sim_args;
        if (fetch_range_bytes) {
            sim_args = {"--fetch-cert", inst.pki("demo-lea.pem").string(), "--fetch-key",
                        inst.pki("demo-lea.key").string(), "--fetch-ca",
                        inst.pki("demo-ca.pem").string(), "--fetch-range-bytes", *fetch_range_bytes};
        }
        sim = std::make_unique<Simulator>(inst, 0, sim_args);
        const std::string base = "https://127.0.0.1:" + std::to_string(sim->port());
        // The demo LEA client certificate's subject, as the listener sees it.
        TlsConnection who(inst.lea_port(), inst.lea_client());
        const std::string lea_subject = json::parse(who.request("GET", "/v1/whoami").body)["subject"];
        RunResult r = ctl(inst, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery",
                                 "--ca", inst.pki("demo-ca.pem").string(), "--models", "A,C",
                                 "--client-subject", lea_subject, "--receiver-country", "GB"});
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        create_task(inst, "LIID-PULL-1");
    }

    /// Uploads `data` in one PUT (sent in pieces), returns the upload id.
    std::string upload_big(const std::string& data, const std::string& type) {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        EXPECT_TRUE(c.ok()) << c.error();
        c.send_all("PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\nContent-Type: " + type +
                   "\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n");
        for (std::size_t at = 0; at < data.size(); at += 1 << 20) {
            c.send_all(std::string_view(data).substr(at, 1 << 20));
        }
        const HttpReply r = c.read_reply();
        EXPECT_EQ(r.status, 201) << r.body;
        return json::parse(r.body, nullptr, false).value("id", "");
    }

    /// Submits an item naming `blob` and waits for the LEA to receive it.
    PulledBinary deliver(const std::string& blob, int n) {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        EXPECT_TRUE(c.ok()) << c.error();
        const HttpReply r = post_json(c, "/ingest/v1/tasks/LIID-PULL-1/items", item(n, {blob}).dump());
        EXPECT_EQ(r.status, 202) << r.body;
        PulledBinary out;
        EXPECT_TRUE(eventually([&] {
            for (const json& d : sim->deliveries()) {
                for (const auto& u : d.value("binary_urls", json::array())) {
                    const std::string url = u.get<std::string>();
                    if (seen_.insert(url).second) out.url = url;
                }
            }
            return !out.url.empty();
        })) << inst.log();
        const std::string prefix = "https://127.0.0.1:" + std::to_string(inst.lea_port());
        EXPECT_EQ(out.url.rfind(prefix + "/v1/binaries/", 0), 0u) << out.url;
        out.target = out.url.substr(prefix.size());
        return out;
    }

    TestInstance inst;
    std::unique_ptr<Process> daemon;
    std::unique_ptr<Simulator> sim;

private:
    std::set<std::string> seen_;
};

std::string get_request(const std::string& target, const std::string& extra = "",
                        const std::string& method = "GET") {
    return method + " " + target + " HTTP/1.1\r\nHost: e\r\n" + extra + "\r\n";
}

/// The header block of a raw reply, and its body.
std::pair<std::string, std::string> split_reply(const std::string& raw) {
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string::npos) return {raw, {}};
    return {raw.substr(0, end + 4), raw.substr(end + 4)};
}

std::string header_value(const std::string& head, const std::string& name) {
    std::smatch m;
    if (std::regex_search(head, m, std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) {
        return m[1];
    }
    return {};
}

TEST(BinaryPullTest, ModelAServesTheWholeObjectAndHeadTheSameFields) {
    PullRig rig;
    const std::string data = make_content(3 * 1024 * 1024 + 17, 1);
    const std::string blob = rig.upload_big(data, "video/mp4");
    const PulledBinary b = rig.deliver(blob, 1);

    TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    lea.send_all(get_request(b.target));
    const auto [head, body] = split_reply(lea.read_raw_reply());
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
    EXPECT_EQ(body.size(), data.size());
    EXPECT_EQ(sha256_hex(body), sha256_hex(data));
    EXPECT_EQ(header_value(head, "Content-Type"), "video/mp4");
    EXPECT_EQ(header_value(head, "Content-Length"), std::to_string(data.size()));
    EXPECT_EQ(header_value(head, "ETag"), "\"sha256-" + sha256_hex(data) + "\"");
    EXPECT_EQ(header_value(head, "Accept-Ranges"), "bytes");

    // HEAD: the very same header block, no body; the connection stays usable.
    lea.send_all(get_request(b.target, "", "HEAD"));
    const std::string head_only = lea.read_raw_reply(true);
    EXPECT_EQ(head_only, head);
    lea.send_all(get_request(b.target, "Range: bytes=0-3\r\n"));
    const auto [h2, b2] = split_reply(lea.read_raw_reply());
    EXPECT_EQ(b2, data.substr(0, 4)) << h2;

    // The first access is in the audit log, once, naming the upload and the
    // caller; the later requests are not.
    const json entries = json::parse(unix_get(rig.inst.socket(), "/v1/audit/entries?first=0").body);
    int accessed = 0;
    for (const json& e : entries["entries"]) {
        const json entry = json::parse(e.get<std::string>());
        if (entry["event"] != "binary.accessed") continue;
        ++accessed;
        EXPECT_EQ(entry["endpoint"], "lea-sim");
        EXPECT_EQ(entry["blob"], blob);
        EXPECT_EQ(entry["sha256"], sha256_hex(data));
        EXPECT_EQ(entry.dump().find(b.target.substr(13)), std::string::npos) << "no token";
    }
    EXPECT_EQ(accessed, 1);

    // The item told the LEA the URL's expiry, size and checksum.
    bool found_expiry = false;
    for (const auto& e : std::filesystem::recursive_directory_iterator(rig.inst.scratch() / "lea-store")) {
        if (e.path().extension() != ".xml") continue;
        std::ifstream in(e.path());
        const std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (xml.find(b.url) == std::string::npos) continue;
        found_expiry = std::regex_search(xml, std::regex("expiry>\\d{4}-\\d\\d-\\d\\dT"));
        EXPECT_NE(xml.find(sha256_hex(data)), std::string::npos);
    }
    EXPECT_TRUE(found_expiry) << "the delivered binaryObject carries the URL's expiry";
}

TEST(BinaryPullTest, ModelCAnswersSingleMultipleAndUnsatisfiableRanges) {
    PullRig rig;
    const std::string data = make_content(1'000'000, 2);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 2);
    TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    const std::string etag = "\"sha256-" + sha256_hex(data) + "\"";
    const auto fetch = [&](const std::string& extra) {
        lea.send_all(get_request(b.target, extra));
        return split_reply(lea.read_raw_reply());
    };
    struct Case {
        std::string range;
        std::size_t first, length;
    };
    for (const Case& c : {Case{"bytes=0-99", 0, 100}, Case{"bytes=-500", 999'500, 500},
                          Case{"bytes=999990-", 999'990, 10}, Case{"bytes=65530-131080", 65'530, 65'551},
                          Case{"bytes=10-5000000", 10, 999'990}}) {
        const auto [head, body] = fetch("Range: " + c.range + "\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 206 ", 0), 0u) << c.range << "\n" << head;
        EXPECT_EQ(header_value(head, "Content-Range"),
                  "bytes " + std::to_string(c.first) + "-" + std::to_string(c.first + c.length - 1) +
                      "/1000000")
            << c.range;
        EXPECT_EQ(body, data.substr(c.first, c.length)) << c.range;
    }
    // Several ranges: multipart/byteranges, each part with its Content-Range.
    const auto [mhead, mbody] = fetch("Range: bytes=0-9,500000-500099,-7\r\n");
    EXPECT_EQ(mhead.rfind("HTTP/1.1 206 ", 0), 0u) << mhead;
    const std::string type = header_value(mhead, "Content-Type");
    ASSERT_EQ(type.rfind("multipart/byteranges; boundary=", 0), 0u) << type;
    const std::string boundary = type.substr(type.find('=') + 1);
    std::vector<std::pair<std::string, std::string>> parts;  // content-range, bytes
    for (std::size_t at = mbody.find("--" + boundary + "\r\n"); at != std::string::npos;) {
        const auto hdr_end = mbody.find("\r\n\r\n", at);
        ASSERT_NE(hdr_end, std::string::npos);
        const std::string part_head = mbody.substr(at, hdr_end + 4 - at);
        const auto next = mbody.find("\r\n--" + boundary, hdr_end + 4);
        ASSERT_NE(next, std::string::npos);
        parts.emplace_back(header_value("\r\n" + part_head, "Content-Range"),
                           mbody.substr(hdr_end + 4, next - hdr_end - 4));
        at = mbody.find("--" + boundary + "\r\n", next + 2);
    }
    ASSERT_EQ(parts.size(), 3u) << mbody.substr(0, 400);
    EXPECT_EQ(parts[0], std::make_pair(std::string("bytes 0-9/1000000"), data.substr(0, 10)));
    EXPECT_EQ(parts[1], std::make_pair(std::string("bytes 500000-500099/1000000"),
                                       data.substr(500'000, 100)));
    EXPECT_EQ(parts[2], std::make_pair(std::string("bytes 999993-999999/1000000"),
                                       data.substr(999'993, 7)));
    EXPECT_NE(mbody.find("\r\n--" + boundary + "--"), std::string::npos) << "closing delimiter";

    // Unsatisfiable: 416 with the size.
    const auto [h416, b416] = fetch("Range: bytes=1000000-\r\n");
    EXPECT_EQ(h416.rfind("HTTP/1.1 416 ", 0), 0u) << h416;
    EXPECT_EQ(header_value(h416, "Content-Range"), "bytes */1000000");
    // If-Range: our ETag honours the Range; another one gets the whole object.
    const auto [hm, bm] = fetch("Range: bytes=5-9\r\nIf-Range: " + etag + "\r\n");
    EXPECT_EQ(bm, data.substr(5, 5)) << hm;
    const auto [hx, bx] = fetch("Range: bytes=5-9\r\nIf-Range: \"sha256-0000\"\r\n");
    EXPECT_EQ(hx.rfind("HTTP/1.1 200 ", 0), 0u) << hx;
    EXPECT_EQ(bx.size(), data.size());
    // Hostile or abusive Range fields get the whole object, never an error
    // or a body larger than the object: sent twice, overlapping, too many,
    // malformed, another unit.
    std::string many = "Range: bytes=0-0";
    for (int i = 1; i < 40; ++i) many += "," + std::to_string(i * 10) + "-" + std::to_string(i * 10);
    for (const std::string& hostile :
         {std::string("Range: bytes=0-1\r\nRange: bytes=2-3\r\n"),
          std::string("Range: bytes=0-100,50-150\r\n"), many + "\r\n",
          std::string("Range: bytes=5-3\r\n"), std::string("Range: items=0-1\r\n"),
          std::string("Range: bytes=99999999999999999999999999-\r\n")}) {
        const auto [hh, bh] = fetch(hostile);
        if (hostile.find("999999") != std::string::npos) {
            EXPECT_EQ(hh.rfind("HTTP/1.1 416 ", 0), 0u) << hostile << hh;
            continue;
        }
        EXPECT_EQ(hh.rfind("HTTP/1.1 200 ", 0), 0u) << hostile << hh;
        EXPECT_EQ(bh.size(), data.size()) << hostile;
    }
}

TEST(BinaryPullTest, UnknownExpiredAndAnotherClientsUrlsGetTheSameAnswer) {
    PullRig rig(std::chrono::seconds(6));
    const std::string data = make_content(100'000, 3);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 3);
    const auto minted = std::chrono::steady_clock::now();
    const auto raw_get = [&](const TlsClientConfig& who, const std::string& target) {
        TlsConnection c(rig.inst.lea_port(), who);
        EXPECT_TRUE(c.ok()) << c.error();
        c.send_all(get_request(target));
        return c.read_raw_reply();
    };
    const std::string unknown_path = raw_get(rig.inst.lea_client(), "/v1/nothing-here");
    ASSERT_FALSE(unknown_path.empty());
    EXPECT_EQ(unknown_path.rfind("HTTP/1.1 404 ", 0), 0u) << unknown_path;
    std::string other_token = b.target;
    other_token.back() = other_token.back() == '0' ? '1' : '0';
    // The right client gets it while it is valid...
    EXPECT_EQ(raw_get(rig.inst.lea_client(), b.target).rfind("HTTP/1.1 200 ", 0), 0u);
    // ...another client (a certificate the listener accepts), an unknown
    // token and a malformed one get exactly the unknown path's bytes.
    EXPECT_EQ(raw_get(rig.inst.collector_client(), b.target), unknown_path);
    EXPECT_EQ(raw_get(rig.inst.lea_client(), other_token), unknown_path);
    EXPECT_EQ(raw_get(rig.inst.lea_client(), "/v1/binaries/not-a-token"), unknown_path);
    EXPECT_EQ(raw_get(rig.inst.lea_client(), "/v1/binaries/" + std::string(64, 'A')), unknown_path);
    // Expired: the same again, for the right client too; then the bytes go.
    std::this_thread::sleep_until(minted + 7s);
    EXPECT_EQ(raw_get(rig.inst.lea_client(), b.target), unknown_path);
    EXPECT_TRUE(eventually([&] {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e :
             std::filesystem::directory_iterator(rig.inst.dir() / "state" / "blobs" / "data")) {
            ++n;
        }
        return n == 0;
    })) << "an upload whose URL expired is erased\n" << rig.inst.log();
    EXPECT_EQ(raw_get(rig.inst.lea_client(), b.target), unknown_path);
    // The token never reaches the log.
    const std::string token = b.target.substr(b.target.rfind('/') + 1);
    EXPECT_EQ(rig.inst.log().find(token), std::string::npos);
}

TEST(BinaryPullTest, RangesOfAUrlComeFromTheReaderCacheUntilItsEndpointGoes) {
    PullRig rig;
    const std::string data = make_content(300'000, 5);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 5);
    TlsConnection c(rig.inst.lea_port(), rig.inst.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    // Consecutive ranges of one URL on one connection (the second and third
    // are answered from the cache): each has exactly its bytes.
    for (std::size_t at = 0; at < data.size(); at += 100'000) {
        c.send_all(get_request(b.target, "Range: bytes=" + std::to_string(at) + "-" +
                                             std::to_string(at + 99'999) + "\r\n"));
        const auto [head, body] = split_reply(c.read_raw_reply());
        EXPECT_EQ(head.rfind("HTTP/1.1 206 ", 0), 0u) << head;
        EXPECT_EQ(body, data.substr(at, 100'000)) << "range at " << at;
    }
    // Another client right after: the cached entry is not its; refused and logged.
    {
        TlsConnection other(rig.inst.lea_port(), rig.inst.collector_client());
        other.send_all(get_request(b.target));
        EXPECT_EQ(other.read_raw_reply().rfind("HTTP/1.1 404 ", 0), 0u);
    }
    EXPECT_NE(rig.inst.log().find("presented by another client"), std::string::npos);
    // The endpoint removed: its client's cached authorisation goes at once.
    RunResult r = ctl(rig.inst, {"endpoint", "remove", "lea-sim"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    c.send_all(get_request(b.target, "Range: bytes=0-9\r\n"));
    EXPECT_EQ(c.read_raw_reply().rfind("HTTP/1.1 404 ", 0), 0u);
}

TEST(BinaryPullTest, AnInterruptedTransferResumesWithARange) {
    PullRig rig;
    const std::string data = make_content(16 * 1024 * 1024 + 5, 4);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 4);
    std::string got;
    {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        ASSERT_TRUE(lea.ok()) << lea.error();
        lea.send_all(get_request(b.target));
        std::string raw;
        while (raw.size() < 3 * 1024 * 1024) {
            const std::string more = lea.read_some(256 * 1024);
            ASSERT_FALSE(more.empty());
            raw += more;
        }
        got = split_reply(raw).second;  // the connection drops here, mid-body
    }
    ASSERT_GT(got.size(), 0u);
    TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
    lea.send_all(get_request(b.target, "Range: bytes=" + std::to_string(got.size()) +
                                           "-\r\nIf-Range: \"sha256-" + sha256_hex(data) + "\"\r\n"));
    const auto [head, rest] = split_reply(lea.read_raw_reply());
    EXPECT_EQ(head.rfind("HTTP/1.1 206 ", 0), 0u) << head;
    EXPECT_EQ(sha256_hex(got + rest), sha256_hex(data));
}

// The LEA side end to end: enclave-lea-sim's fetcher takes the URLs from
// the deliveries it receives and fetches them from enclaved with the LEA's
// client certificate, in 1 MiB ranges (Model C) and whole (Model A).
TEST(BinaryPullTest, TheSimulatorFetchesDeliveredUrlsInRangesAndWhole) {
    for (const std::string range_bytes : {"1048576", "0"}) {
        SCOPED_TRACE("--fetch-range-bytes " + range_bytes);
        PullRig r(std::chrono::seconds(3600), range_bytes);
        std::map<std::string, std::string> want;  // sha256 -> size
        for (int i = 0; i < 3; ++i) {
            const std::string data = make_content(2 * 1024 * 1024 + 1000 * static_cast<std::size_t>(i),
                                                  100 + static_cast<std::uint32_t>(i));
            want[sha256_hex(data)] = std::to_string(data.size());
            r.deliver(r.upload_big(data, "application/octet-stream"), 10 + i);
        }
        const auto store = r.inst.scratch() / "lea-store";
        std::vector<json> fetched;
        ASSERT_TRUE(eventually([&] {
            fetched.clear();
            std::ifstream in(store / "fetched.jsonl");
            for (std::string line; std::getline(in, line);) {
                if (!line.empty()) fetched.push_back(json::parse(line));
            }
            return fetched.size() >= 3;
        })) << r.inst.log();
        std::map<std::string, std::string> got;
        for (const json& f : fetched) {
            EXPECT_TRUE(f["ok"].get<bool>()) << f.dump();
            got[f["sha256"].get<std::string>()] = std::to_string(f["size"].get<std::uint64_t>());
            if (range_bytes != "0") {
                const std::uint64_t size = f["size"].get<std::uint64_t>();
                EXPECT_EQ(f["ranges"].get<std::uint64_t>(), (size + (1u << 20) - 1) >> 20) << f.dump();
            }
        }
        EXPECT_EQ(got, want);
    }
}

// The issue's check: a 256 MiB object in random-sized ranges from two
// clients at once, reassembled in a file, with a matching SHA-256.
// An object of no bytes: 200 with Content-Length 0 at once (the bulk
// pipeline has nothing to fill and must still end the response).
TEST(BinaryPullTest, AnEmptyObjectIsAnsweredAtOnceWithAnEmptyBody) {
    PullRig rig;
    const PulledBinary b = rig.deliver(rig.upload_big("", "application/octet-stream"), 7);
    TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    lea.send_all(get_request(b.target));
    const auto [head, body] = split_reply(lea.read_raw_reply());
    EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
    EXPECT_EQ(header_value(head, "Content-Length"), "0");
    EXPECT_TRUE(body.empty());
    // The connection is still usable afterwards (keep-alive).
    EXPECT_EQ(lea.request("GET", "/v1/whoami").status, 200);
}

// The bulk pipeline (http_session.hpp): pieces are read, decrypted and
// sealed on the bulk threads (2 here) while the I/O threads send. A client
// that stops reading mid-body holds neither; six clients at once, more than
// there are bulk threads, each get the whole object intact, whole and in
// ranges; a small request is answered meanwhile; and once everyone has gone
// no connection is left behind.
TEST(BinaryPullTest, AStalledDownloadHoldsNoOneUpAndConcurrentDownloadsStayIntact) {
    PullRig rig;
    const std::string data = make_content(24 * 1024 * 1024 + 17, 6);
    const std::string want = sha256_hex(data);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 6);

    auto stalled = std::make_unique<TlsConnection>(rig.inst.lea_port(), rig.inst.lea_client());
    ASSERT_TRUE(stalled->ok()) << stalled->error();
    ASSERT_TRUE(stalled->send_all(get_request(b.target)));
    ASSERT_FALSE(stalled->read_some(64 * 1024).empty());  // then it reads no more

    std::atomic<int> failures{0};
    std::vector<std::string> wrong;
    std::mutex wrong_mu;
    const auto fail = [&](std::string why) {
        ++failures;
        std::lock_guard lock(wrong_mu);
        wrong.push_back(std::move(why));
    };
    const auto whole = [&](int n) {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        if (!lea.ok()) return fail("client " + std::to_string(n) + ": " + lea.error());
        lea.send_all(get_request(b.target));
        const auto [head, body] = split_reply(lea.read_raw_reply());
        if (head.rfind("HTTP/1.1 200 ", 0) != 0 || sha256_hex(body) != want) {
            fail("client " + std::to_string(n) + ": " + head.substr(0, 40) + ", " +
                 std::to_string(body.size()) + " bytes");
        }
    };
    const auto ranged = [&](int n) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(n));
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        if (!lea.ok()) return fail("client " + std::to_string(n) + ": " + lea.error());
        std::string got;
        while (got.size() < data.size()) {
            const std::uint64_t first = got.size();
            const std::uint64_t last =
                std::min<std::uint64_t>(first + 1 + rng() % (3u * 1024 * 1024), data.size()) - 1;
            lea.send_all(get_request(b.target, "Range: bytes=" + std::to_string(first) + "-" +
                                                   std::to_string(last) + "\r\n"));
            const auto [head, body] = split_reply(lea.read_raw_reply());
            if (head.rfind("HTTP/1.1 206 ", 0) != 0 || body.size() != last - first + 1) {
                return fail("client " + std::to_string(n) + ": " + head.substr(0, 40));
            }
            got += body;
        }
        if (sha256_hex(got) != want) fail("client " + std::to_string(n) + ": reassembled wrong");
    };
    std::vector<std::thread> clients;
    for (int n = 0; n < 3; ++n) clients.emplace_back(whole, n);
    for (int n = 3; n < 6; ++n) clients.emplace_back(ranged, n);
    {
        TlsConnection small(rig.inst.lea_port(), rig.inst.lea_client());
        ASSERT_TRUE(small.ok()) << small.error();
        EXPECT_EQ(small.request("GET", "/v1/whoami").status, 200);
    }
    for (auto& t : clients) t.join();
    EXPECT_EQ(failures.load(), 0) << (wrong.empty() ? std::string() : wrong.front());

    // The stalled client was never served further, and is still connected.
    EXPECT_EQ(wait_for_sample_eq(rig.inst.socket(),
                                 R"(enclave_connections_active{listener="lea"})", 1),
              1u);
    stalled.reset();
    EXPECT_EQ(wait_for_sample_eq(rig.inst.socket(),
                                 R"(enclave_connections_active{listener="lea"})", 0),
              0u);
    whole(99);  // and the next download after all that is whole
    EXPECT_EQ(failures.load(), 0) << (wrong.empty() ? std::string() : wrong.back());
}

TEST(BinaryPullTest, A256MiBObjectInRandomRangesFromTwoClientsReassembles) {
    PullRig rig;
    const std::size_t size = 256u * 1024 * 1024;
    std::string data = make_content(size, 5);
    const std::string want = sha256_hex(data);
    const PulledBinary b = rig.deliver(rig.upload_big(data, "application/octet-stream"), 5);
    data.clear();
    data.shrink_to_fit();

    const auto out_path = rig.inst.scratch() / "reassembled.bin";
    const int fd = ::open(out_path.c_str(), O_CREAT | O_TRUNC | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    std::atomic<std::uint64_t> next{0};
    std::atomic<int> failures{0};
    const auto client = [&](std::uint32_t seed) {
        std::mt19937_64 rng(seed);
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        if (!lea.ok()) return void(++failures);
        for (;;) {
            const std::uint64_t len = 1 + rng() % (8u * 1024 * 1024);
            const std::uint64_t first = next.fetch_add(len);
            if (first >= size) return;
            const std::uint64_t last = std::min<std::uint64_t>(first + len, size) - 1;
            lea.send_all(get_request(b.target, "Range: bytes=" + std::to_string(first) + "-" +
                                                   std::to_string(last) + "\r\n"));
            const auto [head, body] = split_reply(lea.read_raw_reply());
            if (head.rfind("HTTP/1.1 206 ", 0) != 0 || body.size() != last - first + 1 ||
                ::pwrite(fd, body.data(), body.size(), static_cast<off_t>(first)) !=
                    static_cast<ssize_t>(body.size())) {
                ++failures;
                return;
            }
        }
    };
    std::thread t1(client, 11), t2(client, 22);
    t1.join();
    t2.join();
    ::close(fd);
    EXPECT_EQ(failures.load(), 0);
    std::ifstream in(out_path, std::ios::binary);
    crypto::Hasher hasher(crypto::HashAlg::sha256);
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
        const auto n = static_cast<std::size_t>(in.gcount());
        hasher.update(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(buf.data()), n));
        total += n;
    }
    EXPECT_EQ(total, size);
    EXPECT_EQ(crypto::hex_encode(hasher.finish()), want);
}

}  // namespace
}  // namespace enclave::daemon_test
