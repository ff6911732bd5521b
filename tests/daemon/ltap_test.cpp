// SPDX-License-Identifier: Apache-2.0
// The LTAP archive through the real daemon (issue #8): every operation over
// HTTPS on listeners.lea and the admin API, evidence records that verify
// against the TSA certificate the daemon made on the token, ownership
// between endpoints, hostile requests, and kill -9 losing nothing granted.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <iterator>

#include "archive/evidence.hpp"
#include "archive/ltap.hpp"
#include "archive/object_id.hpp"
#include "audit_test_util.hpp"
#include "delivery_test_util.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace enclave::archive;

crypto::Bytes bytes_of(std::string_view s) { return crypto::Bytes(s.begin(), s.end()); }

std::string subject_of(const TestInstance& inst, const TlsClientConfig& who) {
    TlsConnection c(inst.lea_port(), who);
    return json::parse(c.request("GET", "/v1/whoami").body)["subject"];
}

void add_endpoint(TestInstance& inst, const std::string& name, const std::string& subject) {
    RunResult add = ctl(inst, {"endpoint", "add", name, "--url", "https://127.0.0.1:9/hi1", "--ca",
                               inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                               "https://127.0.0.1:9/b/{id}/", "--client-subject", subject});
    ASSERT_EQ(add.exit_code, 0) << add.err;
}

HttpReply post_ltap(TlsConnection& c, const std::string& xml,
                    std::string_view type = "application/ltap+xml") {
    c.send_all("POST /ltap HTTP/1.1\r\nHost: e\r\nContent-Type: " + std::string(type) +
               "\r\nContent-Length: " + std::to_string(xml.size()) + "\r\n\r\n" + xml);
    return c.read_reply();
}

OperationResponse operation(const HttpReply& reply) {
    EXPECT_EQ(reply.status, 200) << reply.body;
    auto parsed = parse_response(reply.body);
    EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().message()) << reply.body;
    if (!parsed || !std::holds_alternative<OperationResponse>(*parsed)) return {};
    return std::get<OperationResponse>(*parsed);
}

std::string request_xml(ServiceType op, std::vector<DataItem> items, std::optional<std::int64_t> serial = {}) {
    Request r;
    r.info.service = op;
    r.info.serial_number = serial;
    r.info.nonce = crypto::Bytes{0xC0, 0xFF, 0xEE};
    r.data = std::move(items);
    auto xml = render_request(r);
    EXPECT_TRUE(xml) << xml.error().message();
    return xml ? *xml : std::string();
}

DataItem raw(std::string_view s) {
    DataItem d;
    d.raw_data = bytes_of(s);
    return d;
}

DataItem by_ref(const std::string& r) {
    DataItem d;
    d.data_reference = r;
    return d;
}

std::string meta(const DataItem& d, std::string_view name) {
    for (const auto& m : d.metadata) {
        if (m.name == name) return m.value;
    }
    return {};
}

crypto::Bytes file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return crypto::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
}

bool any_file_contains(const std::filesystem::path& dir, std::string_view needle) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const auto b = file_bytes(e.path());
        if (std::search(b.begin(), b.end(), needle.begin(), needle.end()) != b.end()) return true;
    }
    return false;
}

TEST(LtapTest, EveryOperationOverHttpsWithRecordsThatVerifyAgainstTheTsaCertificate) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-arch", subject_of(inst, inst.lea_client()));
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    const std::string canary = "CANARY-LTAP-" + new_artifact();

    const auto archived = operation(post_ltap(lea, request_xml(ServiceType::archive, {raw(canary)}, 11)));
    ASSERT_EQ(archived.status, StatusInfo::waiting);
    ASSERT_EQ(archived.data.size(), 1u);
    EXPECT_EQ(archived.info.nonce, (crypto::Bytes{0xC0, 0xFF, 0xEE}));
    const std::string reference = archived.data[0].data_reference.value_or("");
    ASSERT_TRUE(object_reference_ok(reference)) << reference;

    // Sealing happens within batch_max_wait (5 s), or now when an officer asks.
    const HttpReply seal = unix_request(inst.socket(), "POST", "/v1/archive/seal");
    ASSERT_EQ(seal.status, 200) << seal.body;
    EXPECT_EQ(json::parse(seal.body)["objects"], 1);

    // A retry with the artifact gets the final answer.
    DataItem by_artifact;
    by_artifact.artifact = archived.data[0].artifact;
    const auto final_answer = operation(post_ltap(lea, request_xml(ServiceType::archive, {by_artifact})));
    EXPECT_EQ(final_answer.status, StatusInfo::granted);
    EXPECT_EQ(final_answer.data.at(0).data_reference, reference);

    const auto exported = operation(post_ltap(lea, request_xml(ServiceType::export_, {by_ref(reference)})));
    ASSERT_EQ(exported.status, StatusInfo::granted);
    ASSERT_EQ(exported.data.size(), 1u);
    EXPECT_EQ(exported.data[0].raw_data, bytes_of(canary));
    ASSERT_TRUE(exported.data[0].evidence_record);
    const crypto::Bytes tsa_cert = file_bytes(inst.dir() / "tsa.crt");
    ASSERT_FALSE(tsa_cert.empty());
    const crypto::Bytes data = bytes_of(canary);
    auto check = verify_evidence_record(
        *exported.data[0].evidence_record, [&](crypto::HashAlg a) { return crypto::digest(a, data); },
        {tsa_cert});
    ASSERT_TRUE(check) << check.error().message();

    const auto verified = operation(post_ltap(lea, request_xml(ServiceType::verify, {by_ref(reference)})));
    EXPECT_EQ(verified.status, StatusInfo::granted);
    EXPECT_FALSE(meta(verified.data.at(0), "enclave:verified").empty());

    // An auditor on the admin API sees the object (STATUS), may not delete it.
    const HttpReply status = unix_request(inst.socket(), "GET", "/v1/archive/status");
    ASSERT_EQ(status.status, 200);
    EXPECT_EQ(json::parse(status.body)["granted"], 1);

    // The data is nowhere in the state directory in clear.
    EXPECT_FALSE(any_file_contains(inst.dir() / "state", canary));
    EXPECT_EQ(inst.log().find(canary), std::string::npos);

    const auto deleted = operation(post_ltap(lea, request_xml(ServiceType::delete_, {by_ref(reference)})));
    EXPECT_EQ(deleted.status, StatusInfo::granted);
    EXPECT_EQ(meta(deleted.data.at(0), "enclave:state"), "deleted");
    const auto after = operation(post_ltap(lea, request_xml(ServiceType::export_, {by_ref(reference)})));
    EXPECT_EQ(after.status, StatusInfo::rejection);
    ASSERT_TRUE(after.error);
    EXPECT_EQ(after.error->id, 5);
}

TEST(LtapTest, EveryStatusOverHttpsWaitingGrantedGrantedWithModsAndRejection) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-arch", subject_of(inst, inst.lea_client()));
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    Request r;
    r.info.service = ServiceType::archive;
    r.info.serial_number = 1;
    r.info.configuration = {{"lifetime-days", "99999"}};
    r.data = {raw("a long life asked for")};
    const auto waiting = operation(post_ltap(lea, render_request(r).value()));
    ASSERT_EQ(waiting.status, StatusInfo::waiting);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 200);
    // The same request again: its final answer, modified (the lifetime is the policy's).
    const auto mods = operation(post_ltap(lea, render_request(r).value()));
    EXPECT_EQ(mods.status, StatusInfo::granted_with_mods);
    ASSERT_TRUE(mods.error);
    EXPECT_EQ(mods.error->id, 12);
    const auto granted = operation(post_ltap(lea, request_xml(ServiceType::archive, {raw("plain")}, 2)));
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 200);
    EXPECT_EQ(operation(post_ltap(lea, request_xml(ServiceType::status,
                                                   {by_ref(granted.data.at(0).data_reference.value())})))
                  .status,
              StatusInfo::granted);
    // A replay of serial 2 with other data is refused.
    const auto replay = operation(post_ltap(lea, request_xml(ServiceType::archive, {raw("other")}, 2)));
    EXPECT_EQ(replay.status, StatusInfo::rejection);
    ASSERT_TRUE(replay.error);
    EXPECT_EQ(replay.error->id, 4);
}

TEST(LtapTest, EndpointsSeeOnlyTheirOwnObjectsAndStrangersAreRefused) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-one", subject_of(inst, inst.lea_client()));
    TlsConnection one(inst.lea_port(), inst.lea_client());
    const auto mine = operation(post_ltap(one, request_xml(ServiceType::archive, {raw("one's data")}, 1)));
    const std::string reference = mine.data.at(0).data_reference.value_or("");

    // The collector's certificate is no endpoint's yet: refused outright.
    {
        TlsConnection stranger(inst.lea_port(), inst.collector_client());
        const HttpReply r = post_ltap(stranger, request_xml(ServiceType::status, {by_ref(reference)}));
        EXPECT_EQ(r.status, 403);
        auto parsed = parse_response(r.body);
        ASSERT_TRUE(parsed) << r.body;
        EXPECT_TRUE(std::holds_alternative<ErrorNotice>(*parsed));
    }
    // As another endpoint's client it gets what an unknown reference gets.
    add_endpoint(inst, "lea-two", subject_of(inst, inst.collector_client()));
    TlsConnection two(inst.lea_port(), inst.collector_client());
    const HttpReply theirs = post_ltap(two, request_xml(ServiceType::export_, {by_ref(reference)}));
    const HttpReply unknown = post_ltap(two, request_xml(ServiceType::export_, {by_ref(new_object_reference())}));
    const auto a = operation(theirs);
    const auto b = operation(unknown);
    EXPECT_EQ(a.status, StatusInfo::rejection);
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(theirs.body.size(), unknown.body.size());
}

TEST(LtapTest, MalformedOversizedAndWrongTypeRequestsGetTheRightNotice) {
    TestInstance inst;
    inst.config().archive.max_request_bytes = 64 * 1024;
    inst.save_config();
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-arch", subject_of(inst, inst.lea_client()));
    auto notice_of = [](const HttpReply& r) -> std::int32_t {
        auto parsed = parse_response(r.body);
        if (!parsed || !std::holds_alternative<ErrorNotice>(*parsed)) return -1;
        return std::get<ErrorNotice>(*parsed).id;
    };
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        const HttpReply r = post_ltap(c, "<not-ltap/>");
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(notice_of(r), 400) << r.body;
    }
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        const HttpReply r = post_ltap(c, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>");
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(notice_of(r), 400) << r.body;
    }
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        const HttpReply r = post_ltap(c, request_xml(ServiceType::status, {raw("x")}), "application/json");
        EXPECT_EQ(r.status, 415);
    }
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        const HttpReply r = post_ltap(c, request_xml(ServiceType::archive, {raw(std::string(100 * 1024, 'z'))}));
        EXPECT_EQ(r.status, 413) << r.body;
    }
    // The daemon still answers.
    TlsConnection c(inst.lea_port(), inst.lea_client());
    EXPECT_EQ(operation(post_ltap(c, request_xml(ServiceType::archive, {raw("fine")}, 2))).status,
              StatusInfo::waiting);
}

TEST(LtapTest, KillNineDuringArchiveLosesNoAcknowledgedObjectAndNothingGranted) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-arch", subject_of(inst, inst.lea_client()));
    // Some objects are granted before the kill...
    std::vector<std::pair<std::string, std::string>> acknowledged;  // reference, data
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        for (int i = 0; i < 5; ++i) {
            const std::string data = "granted before " + std::to_string(i);
            const auto r = operation(post_ltap(c, request_xml(ServiceType::archive, {raw(data)}, i)));
            acknowledged.emplace_back(r.data.at(0).data_reference.value_or(""), data);
        }
        ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 200);
    }
    // ...then a client archives as fast as it can while enclaved is killed.
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::thread client([&] {
        for (int i = 100; !stop; ++i) {
            TlsConnection c(inst.lea_port(), inst.lea_client());
            if (!c.ok()) return;
            const std::string data = "in flight " + std::to_string(i);
            const HttpReply reply = post_ltap(c, request_xml(ServiceType::archive, {raw(data)}, i));
            if (reply.status != 200) return;  // the kill
            auto parsed = parse_response(reply.body);
            if (!parsed || !std::holds_alternative<OperationResponse>(*parsed)) return;
            const auto& op = std::get<OperationResponse>(*parsed);
            if (op.status != StatusInfo::waiting || op.data.empty()) return;
            std::lock_guard lock(mu);
            acknowledged.emplace_back(op.data[0].data_reference.value_or(""), data);
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    daemon->signal(SIGKILL);
    ASSERT_TRUE(daemon->wait_exit(std::chrono::seconds(10)));
    stop = true;
    client.join();
    daemon.reset();
    ASSERT_GT(acknowledged.size(), 6u) << "the client archived too little before the kill";
    daemon = inst.start_ready();
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 200);
    TlsConnection c(inst.lea_port(), inst.lea_client());
    for (const auto& [reference, data] : acknowledged) {
        const auto r = operation(post_ltap(c, request_xml(ServiceType::export_, {by_ref(reference)})));
        ASSERT_EQ(r.status, StatusInfo::granted) << reference;
        EXPECT_EQ(r.data.at(0).raw_data, bytes_of(data));
    }
}

TEST(LtapTest, ClosedTaskRecordsEnterTheArchiveAndAnAuditorVerifiesThem) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const FieldSpec f{"InternationalE164", "442079460299", "7e1c2a9b3d4e5f60718293a4b5c6d7e8"};
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks", task_json("LIID-ARCH", {f}).dump()).status, 201);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-ARCH").status, 200);
    std::string closed;
    const std::string all = unix_get(inst.socket(), "/v1/audit/entries?first=0").body;
    const json page = json::parse(all);
    for (const json& e : page["entries"]) {
        if (json::parse(e.get<std::string>())["event"] == "task.closed") closed = e.get<std::string>();
    }
    ASSERT_FALSE(closed.empty()) << all;
    // The auditor names the record by its imprint (any owner's, on the admin API).
    DataItem item;
    item.imprint = MessageImprint{"http://www.w3.org/2001/04/xmlenc#sha256",
                                  crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(closed))};
    const std::string verify = request_xml(ServiceType::verify, {item});
    OperationResponse answer;
    for (int i = 0; i < 40 && answer.status != StatusInfo::granted; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 200);
        const HttpReply r = unix_request(inst.socket(), "POST", "/v1/archive/ltap", verify);
        ASSERT_EQ(r.status, 200) << r.body;
        auto parsed = parse_response(r.body);
        ASSERT_TRUE(parsed && std::holds_alternative<OperationResponse>(*parsed)) << r.body;
        answer = std::get<OperationResponse>(*parsed);
    }
    ASSERT_EQ(answer.status, StatusInfo::granted);
    ASSERT_EQ(answer.data.size(), 1u);
    EXPECT_EQ(meta(answer.data[0], "enclave:audit-event"), "task.closed");
    EXPECT_FALSE(meta(answer.data[0], "enclave:verified").empty());
    // The record holds hashes only: the closed value and salt are not in it.
    EXPECT_EQ(closed.find(f.value), std::string::npos);
    EXPECT_EQ(closed.find(f.salt_hex), std::string::npos);
}

TEST(LtapTest, DeliveryReceiptsEnterTheArchiveToo) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    create_task(inst, "LIID-RECEIPT");
    TlsConnection collector(inst.ingest_port(), inst.collector_client());
    const HttpReply submitted =
        post_json(collector, "/ingest/v1/tasks/LIID-RECEIPT/items", json::array({item(1)}).dump());
    ASSERT_EQ(submitted.status / 100, 2) << submitted.body;
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 1; }));
    std::string receipt;
    ASSERT_TRUE(eventually([&] {
        const json page = json::parse(unix_get(inst.socket(), "/v1/audit/entries?first=0").body);
        for (const json& e : page["entries"]) {
            if (json::parse(e.get<std::string>())["event"] == "delivery.recorded") receipt = e.get<std::string>();
        }
        return !receipt.empty();
    }));
    DataItem item_ref;
    item_ref.imprint = MessageImprint{"http://www.w3.org/2001/04/xmlenc#sha256",
                                      crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(receipt))};
    const std::string status = request_xml(ServiceType::status, {item_ref});
    OperationResponse answer;
    ASSERT_TRUE(eventually([&] {
        const HttpReply r = unix_request(inst.socket(), "POST", "/v1/archive/ltap", status);
        auto parsed = parse_response(r.body);
        if (!parsed || !std::holds_alternative<OperationResponse>(*parsed)) return false;
        answer = std::get<OperationResponse>(*parsed);
        return answer.status != StatusInfo::rejection;
    }, std::chrono::seconds(20)));
    ASSERT_EQ(answer.data.size(), 1u);
    EXPECT_EQ(meta(answer.data[0], "enclave:audit-event"), "delivery.recorded");
    EXPECT_EQ(meta(answer.data[0], "enclave:source"), "audit-log");
}

TEST(LtapTest, AnInstanceWithoutATsaServesButItsArchiveAnswers503) {
    TestInstance inst;
    // An instance provisioned before the archive existed has no tsa.crt.
    std::filesystem::remove(inst.dir() / "tsa.crt");
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-arch", subject_of(inst, inst.lea_client()));
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    const HttpReply r = post_ltap(lea, request_xml(ServiceType::archive, {raw("x")}, 1));
    EXPECT_EQ(r.status, 503) << r.body;
    auto parsed = parse_response(r.body);
    ASSERT_TRUE(parsed && std::holds_alternative<ErrorNotice>(*parsed)) << r.body;
    EXPECT_NE(std::get<ErrorNotice>(*parsed).information.find("not provisioned"), std::string::npos);
    EXPECT_EQ(unix_request(inst.socket(), "GET", "/v1/archive/status").status, 503);
    EXPECT_EQ(unix_request(inst.socket(), "POST", "/v1/archive/seal").status, 503);
    EXPECT_NE(inst.log().find("the archive is unavailable: no TSA certificate"), std::string::npos)
        << inst.log();
    // Everything else works.
    EXPECT_EQ(unix_get(inst.socket(), "/readyz").status, 200);
}

}  // namespace
}  // namespace enclave::daemon_test
