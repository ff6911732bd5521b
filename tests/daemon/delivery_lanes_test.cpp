// SPDX-License-Identifier: Apache-2.0
// No head-of-line blocking for Model B (docs/delivery.md, "Lanes"), real
// processes: enclaved -> enclave-lea-sim over loopback mutual TLS. While a
// large binary is held in flight (the simulator's delay fault, before its
// 100 Continue) or keeps failing (refuse fault), small items of the same
// reference and of another one reach the LEA; the closing LastSequence
// delivery waits until every binary is there. The assertions are on what
// the simulator stored and in which order, never on durations.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "delivery_test_util.hpp"
#include "harness/http_client.hpp"
#include "harness/tls_client.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// The deliveries the simulator stored for `reference`, in arrival order.
std::vector<json> deliveries_of(const Simulator& sim, const std::string& reference) {
    std::vector<json> out;
    for (const json& d : sim.deliveries()) {
        if (d["reference"] == reference) out.push_back(d);
    }
    return out;
}

/// Each reference's deliveries arrived in sequence (0, 1, ...), once each.
void expect_in_sequence(const Simulator& sim) {
    std::map<std::string, std::uint64_t> next;
    std::set<std::string> ids;
    for (const json& d : sim.deliveries()) {
        EXPECT_TRUE(ids.insert(d["delivery_id"].get<std::string>()).second) << "stored once";
        EXPECT_EQ(d["sequence_number"].get<std::uint64_t>(), next[d["reference"]]++)
            << "in sequence: " << d.dump();
    }
}

std::string pattern(std::size_t size, unsigned seed) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + seed) & 0xff);
    return data;
}

bool blob_store_empty(const TestInstance& inst) {
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(inst.dir() / "state" / "blobs" / "data")) {
        return false;
    }
    return true;
}

std::size_t recorded_deliveries(const TestInstance& inst, const std::string& reference) {
    const json task = json::parse(unix_get(inst.socket(), "/v1/task?reference=" + reference).body, nullptr, false);
    if (!task.is_object() || !task.contains("deliveries")) return 0;
    return task["deliveries"]["count"].get<std::size_t>();
}

TEST(DeliveryLanesTest, SmallItemsReachTheLeaWhileALargeBinaryIsInFlight) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    // The first binary request is held for 8 s before its 100 Continue
    // (under the client's 10 s wait): the bulk connection is busy with it.
    Simulator sim(inst, 0, {"--fault", R"({"kind":"delay","target":"binary","delay_ms":8000,"count":1})"});
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-HOL-A");
    create_task(inst, "LIID-HOL-B");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();

    const std::string big = pattern(8u << 20, 7);
    const json up = upload(c, big, "application/octet-stream");
    ASSERT_TRUE(up.is_object());
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-HOL-A/items", json::array({item(1, {up["id"]})}).dump()).status, 202);
    // Its DeliveryObject is acknowledged: the binary goes out next.
    ASSERT_TRUE(eventually([&] { return deliveries_of(sim, "LIID-HOL-A").size() == 1; })) << inst.log();
    EXPECT_EQ(deliveries_of(sim, "LIID-HOL-A")[0]["binary_urls"].size(), 1u);

    // Small items of the same reference and of another one.
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-HOL-A/items", json::array({item(2)}).dump()).status, 202);
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-HOL-B/items", json::array({item(3)}).dump()).status, 202);
    ASSERT_TRUE(eventually([&] {
        return deliveries_of(sim, "LIID-HOL-A").size() == 2 && deliveries_of(sim, "LIID-HOL-B").size() == 1;
    })) << inst.log();
    // binaries.jsonl only grows: empty now means the big binary was not yet
    // stored when both small DeliveryObjects had arrived.
    EXPECT_TRUE(sim.binaries_sha256().empty()) << "the small items waited behind the large binary";

    ASSERT_TRUE(eventually([&] { return sim.binaries_sha256().size() == 1; })) << inst.log();
    EXPECT_EQ(sim.binaries_sha256().begin()->second, sha256_hex(big));
    expect_in_sequence(sim);
    // Each delivery recorded once, when complete; the delivered upload erased.
    EXPECT_TRUE(eventually([&] { return recorded_deliveries(inst, "LIID-HOL-A") == 2; })) << inst.log();
    EXPECT_EQ(recorded_deliveries(inst, "LIID-HOL-B"), 1u);
    EXPECT_TRUE(eventually([&] { return blob_store_empty(inst); }));

    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-HOL-A").status, 200);
    ASSERT_TRUE(eventually([&] {
        const auto a = deliveries_of(sim, "LIID-HOL-A");
        return !a.empty() && a.back()["last_sequence"].get<bool>();
    })) << inst.log();
    EXPECT_EQ(deliveries_of(sim, "LIID-HOL-A").back()["sequence_number"].get<std::uint64_t>(), 2u);
    expect_in_sequence(sim);
}

TEST(DeliveryLanesTest, AFailingBinaryHoldsBackOnlyTheClosingDelivery) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    // Every binary is refused (503) until the fault is cleared.
    Simulator sim(inst, 0, {"--fault", R"({"kind":"refuse","target":"binary"})"});
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-FAIL-A");
    create_task(inst, "LIID-FAIL-B");
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();

    const std::string data = pattern(300'000, 3);
    const json up = upload(c, data, "application/octet-stream");
    ASSERT_TRUE(up.is_object());
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-FAIL-A/items", json::array({item(1, {up["id"]})}).dump()).status, 202);
    ASSERT_TRUE(eventually([&] { return deliveries_of(sim, "LIID-FAIL-A").size() == 1; })) << inst.log();
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-FAIL-A/items", json::array({item(2)}).dump()).status, 202);
    ASSERT_EQ(post_json(c, "/ingest/v1/tasks/LIID-FAIL-B/items", json::array({item(3)}).dump()).status, 202);
    ASSERT_TRUE(eventually([&] {
        return deliveries_of(sim, "LIID-FAIL-A").size() == 2 && deliveries_of(sim, "LIID-FAIL-B").size() == 1;
    })) << inst.log();
    EXPECT_TRUE(sim.binaries_sha256().empty());

    // Closed while the binary keeps failing: no LastSequence yet (a
    // negative check: a while to make it likely the close was processed).
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-FAIL-A").status, 200);
    std::this_thread::sleep_for(3s);
    for (const json& d : sim.deliveries()) EXPECT_FALSE(d["last_sequence"].get<bool>()) << d.dump();
    EXPECT_EQ(recorded_deliveries(inst, "LIID-FAIL-A"), 1u) << "the small one only";

    {
        TlsConnection control(sim.port(), inst.lea_client());
        ASSERT_TRUE(control.ok()) << control.error();
        ASSERT_EQ(post_json(control, "/control/fault", R"({"kind":"none"})").status, 200);
    }
    ASSERT_TRUE(eventually([&] {
        const auto a = deliveries_of(sim, "LIID-FAIL-A");
        return !a.empty() && a.back()["last_sequence"].get<bool>();
    })) << inst.log();
    // The binary was stored before its 200 and the closing delivery formed
    // only after that, so it is in binaries.jsonl by now.
    ASSERT_EQ(sim.binaries_sha256().size(), 1u);
    EXPECT_EQ(sim.binaries_sha256().begin()->second, sha256_hex(data));
    const auto a = deliveries_of(sim, "LIID-FAIL-A");
    ASSERT_EQ(a.size(), 3u);
    EXPECT_EQ(a.back()["items"].get<std::size_t>(), 0u) << "a bare closing marker";
    EXPECT_EQ(a.back()["sequence_number"].get<std::uint64_t>(), 2u);
    expect_in_sequence(sim);
    EXPECT_TRUE(eventually([&] { return recorded_deliveries(inst, "LIID-FAIL-A") == 3; })) << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test
