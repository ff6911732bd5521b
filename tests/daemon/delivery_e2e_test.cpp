// SPDX-License-Identifier: Apache-2.0
// Model B delivery end to end, real processes over loopback mutual TLS:
// enclaved (token client key) -> enclave-lea-sim (the demo LEA server
// identity), items and binaries from a collector on the ingest listener.
#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <fstream>
#include <map>
#include <thread>

#include "audit_test_util.hpp"
#include "crypto/encoding.hpp"
#include "harness/http_client.hpp"
#include "harness/tls_client.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string sha256_hex(std::string_view data) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
    return crypto::hex_encode(crypto::ByteView(md, sizeof md));
}

/// enclave-lea-sim as a process, with the instance's demo LEA server identity.
class Simulator {
public:
    Simulator(const TestInstance& inst, std::uint16_t port = 0) : inst_(inst) {
        store_ = inst.scratch() / "lea-store";
        start(port);
    }
    void start(std::uint16_t port) {
        const auto port_file = inst_.scratch() / "sim.port";
        std::filesystem::remove(port_file);
        SpawnOptions o;
        o.argv = {LEA_SIM_PATH, "--listen", "127.0.0.1:" + std::to_string(port),
                  "--cert", inst_.pki("demo-lea-server.pem").string(),
                  "--key", inst_.pki("demo-lea-server.key").string(),
                  "--ca", inst_.pki("demo-ca.pem").string(),
                  "--store", store_.string(), "--port-file", port_file.string()};
        o.stderr_file = inst_.scratch() / "sim.stderr";
        proc_ = std::make_unique<Process>(o);
        for (int i = 0; i < 300 && !std::filesystem::exists(port_file); ++i) {
            std::this_thread::sleep_for(20ms);
        }
        port_ = static_cast<std::uint16_t>(std::stoi(read_file(port_file)));
    }
    void stop() {
        proc_->signal(SIGTERM);
        proc_->wait_exit(10s);
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    /// deliveries.jsonl, one object per stored delivery, in arrival order.
    [[nodiscard]] std::vector<json> deliveries() const {
        std::vector<json> out;
        std::ifstream in(store_ / "deliveries.jsonl");
        for (std::string line; std::getline(in, line);) {
            if (!line.empty()) out.push_back(json::parse(line));
        }
        return out;
    }
    [[nodiscard]] std::map<std::string, std::string> binaries_sha256() const {
        std::map<std::string, std::string> out;
        std::ifstream in(store_ / "binaries.jsonl");
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            const json j = json::parse(line);
            out[j["uuid"]] = j["sha256"];
        }
        return out;
    }

private:
    const TestInstance& inst_;
    std::filesystem::path store_;
    std::unique_ptr<Process> proc_;
    std::uint16_t port_ = 0;
};

void add_endpoint(const TestInstance& inst, std::uint16_t port) {
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    RunResult r = ctl(inst, {"endpoint", "add", "lea-sim", "--url", base + "/hi1/delivery", "--ca",
                             inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                             base + "/binaryData/{id}/", "--receiver-country", "GB"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

void create_task(const TestInstance& inst, const std::string& reference) {
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    const auto r = unix_request(inst.socket(), "POST", "/v1/tasks",
                                task_json(reference, {f}, std::chrono::hours(24), "lea-sim").dump());
    ASSERT_EQ(r.status, 201) << r.body;
}

HttpReply post_json(TlsConnection& c, const std::string& target, const std::string& body) {
    c.send_all("POST " + target + " HTTP/1.1\r\nHost: e\r\nContent-Type: application/json\r\n" +
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.read_reply();
}

json upload(TlsConnection& c, const std::string& data, const std::string& type) {
    c.send_all("PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n" + data);
    const HttpReply r = c.read_reply();
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false);
}

json item(int n, const std::vector<std::string>& blobs = {}) {
    json j{{"idempotencyKey", "k-" + std::to_string(n)},
           {"timestamp", "2026-01-01T00:00:00.000000Z"},
           {"sender", {{"identifiers", {"user-" + std::to_string(n)}}, {"isTargetedParty", true}}},
           {"receivers", json::array({{{"identifiers", {"peer"}}}})}};
    if (!blobs.empty()) j["binaries"] = blobs;
    return j;
}

/// Waits until `pred` holds (polling), up to `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 60s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

std::size_t items_delivered(const Simulator& sim) {
    std::size_t n = 0;
    for (const json& d : sim.deliveries()) n += d["items"].get<std::size_t>();
    return n;
}

TEST(DeliveryE2eTest, ItemsAndBinariesReachTheLeaInSequenceOnceEach) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-DELIVER-1");

    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    // Binaries of different sizes, each in its own item.
    std::map<std::string, std::string> expected_sha;  // blob id -> sha
    std::vector<json> with_binaries;
    for (std::size_t size : {std::size_t{1024}, std::size_t{300'000}, std::size_t{3 << 20}}) {
        std::string data(size, '\0');
        for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + size) & 0xff);
        const json up = upload(c, data, "application/octet-stream");
        ASSERT_TRUE(up.is_object());
        expected_sha[up["id"]] = sha256_hex(data);
        with_binaries.push_back(item(1000 + static_cast<int>(with_binaries.size()), {up["id"]}));
    }
    const HttpReply b = post_json(c, "/ingest/v1/tasks/LIID-DELIVER-1/items",
                                  json(with_binaries).dump());
    ASSERT_EQ(b.status, 202) << b.body;
    // 500 small items in arrays of 50.
    for (int batch = 0; batch < 10; ++batch) {
        json arr = json::array();
        for (int i = 0; i < 50; ++i) arr.push_back(item(batch * 50 + i));
        const HttpReply r = post_json(c, "/ingest/v1/tasks/LIID-DELIVER-1/items", arr.dump());
        ASSERT_EQ(r.status, 202) << r.body;
    }
    // A retried submission is a duplicate, not a second item.
    const HttpReply dup = post_json(c, "/ingest/v1/tasks/LIID-DELIVER-1/items", item(7).dump());
    ASSERT_EQ(dup.status, 202) << dup.body;
    EXPECT_EQ(json::parse(dup.body)["accepted"], 0);

    ASSERT_TRUE(eventually([&] { return items_delivered(sim) >= 503; })) << inst.log();
    ASSERT_TRUE(eventually([&] { return sim.binaries_sha256().size() >= 3; })) << inst.log();
    const auto deliveries = sim.deliveries();
    EXPECT_EQ(items_delivered(sim), 503u);
    std::set<std::string> ids;
    std::uint64_t next = 0;
    for (const json& d : deliveries) {
        EXPECT_TRUE(ids.insert(d["delivery_id"].get<std::string>()).second) << "stored once";
        EXPECT_EQ(d["reference"], "LIID-DELIVER-1");
        EXPECT_EQ(d["reference_kind"], "LIID");
        EXPECT_EQ(d["sequence_number"].get<std::uint64_t>(), next++) << "in sequence";
    }
    // Every binary arrived whole (its SHA-256 is the upload's).
    std::multiset<std::string> got, want;
    for (const auto& [uuid, sha] : sim.binaries_sha256()) got.insert(sha);
    for (const auto& [id, sha] : expected_sha) want.insert(sha);
    EXPECT_EQ(got, want);
    // Each delivery is in the task's record and the audit log.
    const json task = json::parse(unix_get(inst.socket(), "/v1/task?reference=LIID-DELIVER-1").body);
    EXPECT_EQ(task["deliveries"]["count"].get<std::size_t>(), deliveries.size());
    // Delivered uploads are erased.
    EXPECT_TRUE(eventually([&] {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e :
             std::filesystem::directory_iterator(inst.dir() / "state" / "blobs" / "data")) {
            ++n;
        }
        return n == 0;
    }));

    // Closing the task sends the final delivery with LastSequence=true.
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-DELIVER-1").status,
              200);
    ASSERT_TRUE(eventually([&] {
        const auto all = sim.deliveries();
        return !all.empty() && all.back()["last_sequence"].get<bool>();
    })) << inst.log();
    EXPECT_EQ(sim.deliveries().back()["sequence_number"].get<std::uint64_t>(), next);
    // Items for a closed task are refused.
    EXPECT_EQ(post_json(c, "/ingest/v1/tasks/LIID-DELIVER-1/items", item(9999).dump()).status, 409);
}

TEST(DeliveryE2eTest, ItemsWaitWhileTheLeaIsDownAndGoWhenItIsBack) {
    TestInstance inst;
    inst.config().delivery.retry_initial = std::chrono::milliseconds(100);
    inst.config().delivery.retry_max = std::chrono::milliseconds(500);
    inst.save_config();
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    const std::uint16_t port = sim.port();
    add_endpoint(inst, port);
    create_task(inst, "LIID-DOWN-1");
    sim.stop();

    TlsConnection c(inst.ingest_port(), inst.collector_client());
    json arr = json::array();
    for (int i = 0; i < 20; ++i) arr.push_back(item(i));
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-DOWN-1/items", arr.dump()).status, 202);
    std::this_thread::sleep_for(1500ms);  // several failed attempts
    EXPECT_NE(inst.log().find("retrying later"), std::string::npos) << inst.log();

    sim.start(port);
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) >= 20; })) << inst.log();
    EXPECT_EQ(items_delivered(sim), 20u);
}

TEST(DeliveryE2eTest, HostileItemsAreRefusedAndStoreNothing) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-HOSTILE-1");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    const std::string target = "/ingest/v1/tasks/LIID-HOSTILE-1/items";
    for (const std::string& body :
         {std::string("{"), std::string("[]"), std::string(R"({"timestamp":"yesterday"})"),
          std::string(R"({"timestamp":"2026-01-01T00:00:00Z","unknown":1})"),
          std::string(R"({"timestamp":"2026-01-01T00:00:00Z","binaries":["nosuchblob"]})"),
          std::string(R"({"timestamp":"2026-01-01T00:00:00Z","cspDefined":{"schemaIdentifier":"x","xml":"<!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>"}})")}) {
        const HttpReply r = post_json(c, target, body);
        EXPECT_GE(r.status, 400u) << body;
        EXPECT_LT(r.status, 500u) << body << " " << r.body;
    }
    // XML: a DOCTYPE, and a schema-invalid item.
    for (const std::string& xml :
         {std::string("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>"),
          std::string("<handoverItem xmlns=\"http://uri.etsi.org/03707/2020/02\"/>")}) {
        c.send_all("POST " + target + " HTTP/1.1\r\nHost: e\r\nContent-Type: application/xml\r\n" +
                   "Content-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml);
        const HttpReply r = c.read_reply();
        EXPECT_EQ(r.status, 400u) << r.body;
    }
    // Unknown reference, wrong media type.
    EXPECT_EQ(post_json(c, "/ingest/v1/tasks/LIID-NOPE/items", item(1).dump()).status, 404u);
    EXPECT_EQ(c.request("POST", target, item(1).dump()).status, 415u);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(items_delivered(sim), 0u);
}

}  // namespace
}  // namespace enclave::daemon_test
