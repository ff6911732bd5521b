// SPDX-License-Identifier: Apache-2.0
// Damaged storage (issue #10 fault injection): one blob chunk or one page of
// a SQLCipher database of a real instance is damaged on disk; the damage
// is detected, reported naming the object or the database (never any
// plaintext), and the rest of the store keeps working.
// docs/reliability.md "Fault injection: damaged storage".
#include <gtest/gtest.h>

#include <sstream>

#include <fstream>
#include <set>

#include "delivery_test_util.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::size_t kChunk = 64 * 1024;  // the blob store's chunk size
constexpr std::size_t kChunkTag = 16;      // XChaCha20-Poly1305 tag per chunk
constexpr std::size_t kPage = 4096;        // SealedDb's cipher_page_size

/// 200 KiB of recognisable plaintext: 4 chunks, the last one short.
std::string canary_content(int n) {
    const std::string unit = "PLAINTEXT-CANARY-" + std::to_string(n) + "-";
    std::string out;
    while (out.size() < 200 * 1024) out += unit;
    out.resize(200 * 1024);
    return out;
}

/// Flips one bit of a file in place; returns the byte it had.
char flip_bit(const std::filesystem::path& file, std::uint64_t offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x10));
    EXPECT_TRUE(f.good()) << "cannot damage " << file << " at " << offset;
    return c;
}

void put_byte(const std::filesystem::path& file, std::uint64_t offset, char c) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(c);
}

/// Byte offset inside chunk `index` of a blob file (docs/crypto.md: the
/// header is 48 bytes plus the object id, whose length is byte 11).
std::uint64_t chunk_offset(const std::filesystem::path& blob_file, std::size_t index) {
    const std::string head = read_file(blob_file).substr(0, 48);
    const auto id_len = static_cast<unsigned char>(head.at(11));
    return 48 + id_len + index * (kChunk + kChunkTag) + 1000;
}

/// A GET on a TLS connection read to the end: the header block and the
/// body bytes that arrived before the server closed or finished.
std::pair<std::string, std::string> fetch_all(TlsConnection& c, const std::string& target,
                                              const std::string& extra = "") {
    c.send_all("GET " + target + " HTTP/1.1\r\nHost: e\r\nConnection: close\r\n" + extra + "\r\n");
    std::string raw;
    for (std::string more; !(more = c.read_some(64 * 1024)).empty();) raw += more;
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string::npos) return {raw, {}};
    return {raw.substr(0, end + 4), raw.substr(end + 4)};
}

/// How many integrity_failure events for blob `blob` the file sink holds
/// (DIR/log/events.jsonl, docs/monitoring.md).
int integrity_events(const TestInstance& inst, const std::string& blob) {
    std::ifstream in(inst.dir() / "log" / "events.jsonl");
    int n = 0;
    for (std::string line; std::getline(in, line);) {
        const json e = json::parse(line, nullptr, false);
        if (e.is_discarded() || e.value("event", "") != "integrity_failure") continue;
        const json f = e.value("fields", json::object());
        if (f.value("store", "") == "blobs" && f.value("record", "") == blob) ++n;
    }
    return n;
}

/// An instance delivering by URL (Models A and C) to enclave-lea-sim.
class BlobRig {
public:
    BlobRig() {
        daemon = inst.start_ready();
        sim = std::make_unique<Simulator>(inst);
        const std::string base = "https://127.0.0.1:" + std::to_string(sim->port());
        TlsConnection who(inst.lea_port(), inst.lea_client());
        const std::string subject = json::parse(who.request("GET", "/v1/whoami").body)["subject"];
        const RunResult r = ctl(inst, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery",
                                       "--ca", inst.pki("demo-ca.pem").string(), "--models", "A,C",
                                       "--client-subject", subject, "--receiver-country", "GB"});
        EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
        create_task(inst, "LIID-DAMAGE-1");
    }

    /// Uploads `data`, submits an item naming it, waits for its URL at the
    /// LEA; returns {blob id, "/v1/binaries/<token>"}.
    std::pair<std::string, std::string> deliver(const std::string& data, int n) {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        EXPECT_TRUE(c.ok()) << c.error();
        const std::string blob = upload(c, data, "application/octet-stream").value("id", "");
        EXPECT_EQ(post_json(c, "/ingest/v1/tasks/LIID-DAMAGE-1/items", item(n, {blob}).dump()).status,
                  202);
        std::string url;
        EXPECT_TRUE(eventually([&] {
            for (const json& d : sim->deliveries()) {
                for (const auto& u : d.value("binary_urls", json::array())) {
                    if (seen_.insert(u.get<std::string>()).second) url = u;
                }
            }
            return !url.empty();
        })) << inst.log();
        return {blob, url.substr(url.find("/v1/binaries/"))};
    }

    TestInstance inst;
    std::unique_ptr<Process> daemon;
    std::unique_ptr<Simulator> sim;

private:
    std::set<std::string> seen_;
};

TEST(DamagedStoreTest, ADamagedBlobChunkFailsThatObjectOnlyAndTheLogNamesIt) {
    BlobRig rig;
    const std::string one = canary_content(1);
    const std::string two = canary_content(2);
    const auto [blob1, target1] = rig.deliver(one, 1);
    const auto [blob2, target2] = rig.deliver(two, 2);
    ASSERT_FALSE(blob1.empty());
    ASSERT_FALSE(blob2.empty());

    const auto file = rig.inst.dir() / "state" / "blobs" / "data" / (blob1 + ".blob");
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    flip_bit(file, chunk_offset(file, 1));

    // The whole object: the header went out before chunk 1 was read, so the
    // server can only cut the body short; the client never gets chunk 1.
    {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        ASSERT_TRUE(lea.ok()) << lea.error();
        const auto [head, body] = fetch_all(lea, target1);
        EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
        EXPECT_LT(body.size(), one.size()) << "the damaged object must not arrive whole";
        EXPECT_LE(body.size(), kChunk) << "nothing past the damaged chunk";
        EXPECT_EQ(body, one.substr(0, body.size())) << "what arrived is the authentic prefix";
    }
    // A range in the damaged chunk: cut short the same way; a range in an
    // intact chunk of the same object still reads (Model C decrypts only
    // the chunks a range touches).
    {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        const auto [head, body] = fetch_all(lea, target1, "Range: bytes=70000-70999\r\n");
        EXPECT_TRUE(body.empty()) << head;
    }
    {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        const auto [head, body] = fetch_all(lea, target1, "Range: bytes=100-1099\r\n");
        EXPECT_EQ(head.rfind("HTTP/1.1 206 ", 0), 0u) << head;
        EXPECT_EQ(body, one.substr(100, 1000));
    }
    // The other object reads whole and correct, the daemon serves on.
    {
        TlsConnection lea(rig.inst.lea_port(), rig.inst.lea_client());
        const auto [head, body] = fetch_all(lea, target2);
        EXPECT_EQ(head.rfind("HTTP/1.1 200 ", 0), 0u) << head;
        EXPECT_EQ(sha256_hex(body), sha256_hex(two));
    }
    EXPECT_TRUE(rig.daemon->running());
    EXPECT_EQ(unix_get(rig.inst.socket(), "/readyz").status, 200);

    // The log names the object and the chunk, and never carries plaintext.
    EXPECT_TRUE(eventually([&] {
        const std::string log = rig.inst.log();
        return log.find("blob '" + blob1 + "'") != std::string::npos &&
               log.find("failed authentication") != std::string::npos;
    }, 20s)) << rig.inst.log();
    EXPECT_EQ(rig.inst.log().find("PLAINTEXT-CANARY"), std::string::npos);
    // A monitoring event per damaged response (two: the whole object and
    // the range in the damaged chunk), none for the intact object.
    EXPECT_TRUE(eventually([&] { return integrity_events(rig.inst, blob1) == 2; }, 20s))
        << integrity_events(rig.inst, blob1) << "\n" << rig.inst.log();
    EXPECT_EQ(integrity_events(rig.inst, blob2), 0);
    // The intact object is not blamed: it may be named only by the
    // monitoring event of the LEA's access to it (sensitive_access).
    std::istringstream lines(rig.inst.log());
    for (std::string line; std::getline(lines, line);) {
        if (line.find(blob2) == std::string::npos) continue;
        EXPECT_NE(line.find("event: sensitive_access"), std::string::npos)
            << "the intact object is blamed: " << line;
    }
}

// Model B: the daemon pushes binaries itself. A damaged one never reaches
// the LEA (the simulator keeps only whole uploads), the failure is logged
// naming the object, and the other binary of the same task still arrives.
TEST(DamagedStoreTest, ADamagedBlobPushedInModelBIsReportedAndTheOtherArrives) {
    TestInstance inst;
    inst.config().delivery.retry_max = 2s;
    inst.save_config();
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-DAMAGE-3");
    const std::string one = canary_content(3);
    const std::string two = canary_content(4);
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    const std::string blob1 = upload(c, one, "application/octet-stream").value("id", "");
    const std::string blob2 = upload(c, two, "application/octet-stream").value("id", "");
    const auto file = inst.dir() / "state" / "blobs" / "data" / (blob1 + ".blob");
    flip_bit(file, chunk_offset(file, 2));
    const json items = json::array({item(1, {blob1}), item(2, {blob2})});
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-DAMAGE-3/items", items.dump()).status, 202);

    EXPECT_TRUE(eventually([&] { return items_delivered(sim) >= 2; })) << inst.log();
    EXPECT_TRUE(eventually([&] {
        for (const auto& [uuid, sha] : sim.binaries_sha256()) {
            if (sha == sha256_hex(two)) return true;
        }
        return false;
    })) << inst.log();
    // Reported once as an error naming the blob, and given up: a damaged
    // blob never authenticates, retrying would hold the delivery open.
    const std::string reported = "blob '" + blob1 + "' is damaged in the blob store";
    EXPECT_TRUE(eventually([&] { return inst.log().find(reported) != std::string::npos; }, 30s))
        << inst.log();
    const std::string log = inst.log();
    EXPECT_EQ(log.find(reported), log.rfind(reported)) << "reported once, not retried:\n" << log;
    EXPECT_NE(log.find("failed authentication"), std::string::npos) << log;
    for (const auto& [uuid, sha] : sim.binaries_sha256()) {
        EXPECT_NE(sha, sha256_hex(one)) << "the damaged binary reached the LEA";
    }
    EXPECT_EQ(sim.binaries_sha256().size(), 1u);
    EXPECT_TRUE(eventually([&] { return integrity_events(inst, blob1) == 1; }, 20s)) << inst.log();
    EXPECT_TRUE(daemon->running());
    EXPECT_EQ(unix_get(inst.socket(), "/readyz").status, 200);
    EXPECT_EQ(inst.log().find("PLAINTEXT-CANARY"), std::string::npos);
}

/// Runs enclaved on a damaged instance: it must refuse to start (exit 10,
/// docs/operations.md) naming the database and the failed check.
void expect_refused_start(TestInstance& inst, const std::string& db) {
    auto p = inst.start();
    const auto code = p->wait_exit(60s);
    ASSERT_TRUE(code.has_value()) << "enclaved started on a damaged " << db << ":\n" << inst.log();
    EXPECT_EQ(*code, 10) << inst.log();
    const std::string log = inst.log();
    EXPECT_NE(log.find(db), std::string::npos) << log;
    // SealedDb's quick_check: "failed its integrity check" / "does not
    // authenticate"; the audit log reads its entries itself at open:
    // "SQLITE_CORRUPT (database disk image is malformed)".
    EXPECT_TRUE(log.find("integrity") != std::string::npos ||
                log.find("does not authenticate") != std::string::npos ||
                log.find("SQLITE_CORRUPT") != std::string::npos)
        << log;
}

TEST(DamagedStoreTest, ADamagedDatabasePageStopsStartupNamingTheDatabaseAndLosesNothing) {
    TestInstance inst;
    inst.config().delivery.retry_max = 2s;
    inst.save_config();
    const std::uint16_t sim_port = free_port();
    {
        auto daemon = inst.start_ready();
        add_endpoint(inst, sim_port);  // nobody listens there yet: items wait in the outbox
        create_task(inst, "LIID-DAMAGE-2");
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        for (int i = 0; i < 40; ++i) {
            ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-DAMAGE-2/items", item(i).dump()).status, 202);
        }
        daemon->signal(SIGTERM);
        ASSERT_EQ(daemon->wait_exit(30s), 0) << inst.log();
    }
    std::vector<std::filesystem::path> dbs;
    for (const auto& e : std::filesystem::directory_iterator(inst.dir() / "state")) {
        if (e.path().extension() == ".db") dbs.push_back(e.path());
    }
    ASSERT_GE(dbs.size(), 5u) << "audit, tasks, endpoints, psks, ingest, outbox";
    for (const auto& db : dbs) {
        SCOPED_TRACE(db.filename().string());
        ASSERT_FALSE(std::filesystem::exists(db.string() + "-wal") &&
                     std::filesystem::file_size(db.string() + "-wal") > 0)
            << "a clean stop leaves no WAL";
        const std::uint64_t pages = std::filesystem::file_size(db) / kPage;
        ASSERT_GE(pages, 2u);
        // A page past the first (page 1 is the header page: that case is
        // the "does not authenticate" one, also refused).
        const std::uint64_t offset = (pages / 2) * kPage + 1500;
        const char was = flip_bit(db, offset);
        const auto size = std::filesystem::file_size(db);
        expect_refused_start(inst, db.filename().string());
        // Nothing was rewritten, truncated or "repaired": the evidence stays.
        EXPECT_EQ(std::filesystem::file_size(db), size);
        put_byte(db, offset, was);
    }
    // Repaired (the original bytes back), it starts and nothing was lost:
    // the LEA comes up and receives all 40 items.
    auto daemon = inst.start_ready();
    Simulator sim(inst, sim_port);
    EXPECT_TRUE(eventually([&] { return items_delivered(sim) >= 40; })) << inst.log();
    EXPECT_EQ(items_delivered(sim), 40u);
}

}  // namespace
}  // namespace enclave::daemon_test
