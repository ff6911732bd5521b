// SPDX-License-Identifier: Apache-2.0
// Tasks through the real daemon: the shared D.4 vectors and every refusal
// through the admin API and enclavectl, the canary lifecycle, expiry-driven
// close, re-verification by an auditor and by the LEA over mutual TLS.
#include <gtest/gtest.h>

#include <thread>

#include "audit_test_util.hpp"
#include "crypto/bytes.hpp"
#include "harness/http_client.hpp"
#include "support/paths.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

json body_of(const HttpReply& r) { return json::parse(r.body, nullptr, false); }

std::size_t task_count(const TestInstance& inst) {
    const json j = body_of(unix_get(inst.socket(), "/v1/tasks"));
    return j.is_object() && j.contains("tasks") ? j["tasks"].size() : 9999;
}

TEST(TasksDaemonTest, SharedD4VectorsAreAcceptedThroughTheAdminApi) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const json vectors = testing::load_shared_json("test-vectors/d4-salted-hash.json");
    int n = 0;
    for (const json& v : vectors.at("vectors")) {
        for (const char* alg : {"sha256", "sha384", "sha512", "sha3-256", "hmac-sha256"}) {
            json task{{"reference", "LIID-V" + std::to_string(n++)},
                      {"kind", "LI"},
                      {"start", utc_in(-std::chrono::hours(1))},
                      {"end", utc_in(std::chrono::hours(1))},
                      {"fields", json::array({{{"formatName", v.at("formatName")},
                                               {"value", v.at("value")},
                                               {"salt", v.at("salt_hex")},
                                               {"hash", v.at(alg)},
                                               {"algorithm", alg}}})}};
            const auto r = unix_request(inst.socket(), "POST", "/v1/tasks", task.dump());
            EXPECT_EQ(r.status, 201) << alg << " " << v.at("formatName") << ": " << r.body;
            const json rec = body_of(r);
            ASSERT_TRUE(rec.is_object());
            EXPECT_EQ(rec["fields"][0]["hash"], v.at(alg));
            EXPECT_EQ(rec.dump().find(v.at("value").get<std::string>()), std::string::npos)
                << "a record never shows the value";
        }
    }
    EXPECT_EQ(task_count(inst), static_cast<std::size_t>(n));
}

TEST(TasksDaemonTest, RefusedTasksNameTheFieldAndStoreNothing) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const json vectors = testing::load_shared_json("test-vectors/d4-salted-hash.json");
    const std::string dummy_hash(64, 'a');
    for (const json& bad : vectors.at("must_reject")) {
        json good{{"formatName", "InternationalE164"},
                  {"value", "442079460223"},
                  {"salt", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"},
                  {"hash", "aa317b32398ca1604ab7aedc29c1564f86fa23156e12aa8b17b6be8395a78bb3"},
                  {"algorithm", "sha256"}};
        json refused{{"formatName", "InternationalE164"},
                     {"value", bad.at("value")},
                     {"salt", bad.at("salt_hex")},
                     {"hash", bad.value("hash", dummy_hash)},
                     {"algorithm", bad.at("algorithm")}};
        json task{{"reference", "LIID-BAD"},
                  {"kind", "LI"},
                  {"start", utc_in(-std::chrono::hours(1))},
                  {"end", utc_in(std::chrono::hours(1))},
                  {"fields", json::array({good, refused})}};
        const auto r = unix_request(inst.socket(), "POST", "/v1/tasks", task.dump());
        EXPECT_EQ(r.status, 400) << bad.at("why") << ": " << r.body;
        const std::string message = body_of(r)["error"]["message"].get<std::string>();
        EXPECT_NE(message.find("fields[1]"), std::string::npos) << bad.at("why") << ": " << message;
        EXPECT_EQ(r.body.find(bad.at("value").get<std::string>()), std::string::npos);
        EXPECT_EQ(r.body.find(bad.at("salt_hex").get<std::string>()), std::string::npos);
    }
    // Malformed and hostile bodies.
    for (const std::string& body :
         {std::string("not json"), std::string("{}"), std::string("[]"),
          std::string(70 * 1024, '{'),
          std::string(R"({"reference":"LIID-1","reference":"LIID-2"})")}) {
        const auto r = unix_request(inst.socket(), "POST", "/v1/tasks", body);
        EXPECT_TRUE(r.status == 400 || r.status == 413) << r.status << " " << r.body;
    }
    EXPECT_EQ(task_count(inst), 0u) << "a refused task leaves nothing behind";
    // A duplicate reference is refused too.
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    EXPECT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks", task_json("LIID-D", {f}).dump()).status,
              201);
    const auto dup = unix_request(inst.socket(), "POST", "/v1/tasks", task_json("LIID-D", {f}).dump());
    EXPECT_EQ(dup.status, 409) << dup.body;
    EXPECT_EQ(task_count(inst), 1u);
}

TEST(TasksDaemonTest, TaskEndedIsClosedWithoutAnOperator) {
    TestInstance inst;
    inst.config().tasks.expiry_check_interval = std::chrono::seconds(1);
    inst.save_config();
    auto daemon = inst.start_ready();
    const FieldSpec f{"IMSI", "001010123456789", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"};
    const auto created = unix_request(inst.socket(), "POST", "/v1/tasks",
                                      task_json("LIID-EXP", {f}, std::chrono::seconds(3)).dump());
    ASSERT_EQ(created.status, 201) << created.body;
    json rec;
    for (int i = 0; i < 200; ++i) {
        rec = body_of(unix_get(inst.socket(), "/v1/task?reference=LIID-EXP"));
        if (rec.value("state", "") == "closed" && rec.contains("purged")) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(rec.value("state", ""), "closed") << rec.dump();
    EXPECT_EQ(rec.value("close_reason", ""), "expired") << rec.dump();
    EXPECT_TRUE(rec.contains("purged")) << rec.dump();
    EXPECT_EQ(rec["closed_by"]["kind"], "system") << rec.dump();
}

TEST(TasksDaemonTest, EnclavectlTaskCommandsAndReveal) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const FieldSpec f{"EmailAddress", "alice@example.com", "00112233445566778899aabbccddeeff"};
    auto r = ctl(inst, {"task", "create", "--file", "-", "--json"}, task_json("LIID-CTL", {f}).dump());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("alice@example.com"), std::string::npos);
    r = ctl(inst, {"task", "list"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("LIID-CTL"), std::string::npos);
    r = ctl(inst, {"task", "show", "LIID-CTL", "--reveal", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["fields"][0]["value"], "alice@example.com");
    r = ctl(inst, {"task", "close", "LIID-CTL"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = ctl(inst, {"task", "show", "LIID-CTL", "--reveal"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("invalid_state"), std::string::npos) << r.err;
    r = ctl(inst, {"task", "close", "LIID-CTL"});
    EXPECT_EQ(r.exit_code, 2) << "closing a closed task is refused";
    r = ctl(inst, {"task", "create", "--file", (inst.scratch() / "missing.json").string()});
    EXPECT_EQ(r.exit_code, 2);
    // The reveal itself is in the audit log, without the value.
    const json entries = body_of(unix_get(inst.socket(), "/v1/audit/entries?first=0&count=1000"));
    bool revealed = false;
    for (const json& e : entries["entries"]) {
        const std::string text = e.get<std::string>();
        EXPECT_EQ(text.find("alice@example.com"), std::string::npos) << text;
        if (text.find("\"task.revealed\"") != std::string::npos) revealed = true;
    }
    EXPECT_TRUE(revealed);
}

TEST(TasksDaemonTest, LeaReverifiesOnlyTheTasksOfItsEndpoint) {
    TestInstance inst;
    auto daemon0 = inst.start_ready();
    // Learn the demo LEA's subject as the listener sees it.
    TlsConnection who(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(who.ok()) << who.error();
    const json whoami = body_of(who.request("GET", "/v1/whoami", {}, true));
    const std::string subject = whoami.value("subject", "");
    ASSERT_FALSE(subject.empty()) << whoami.dump();
    daemon0->signal(SIGTERM);
    ASSERT_EQ(daemon0->wait_exit(std::chrono::seconds(30)), 0);

    inst.config().endpoints["lea1"].client_subjects = {subject};
    inst.config().endpoints["lea2"].client_subjects = {"CN=someone else"};
    inst.save_config();
    auto daemon = inst.start_ready();
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks",
                           task_json("LIID-L1", {f}, std::chrono::hours(1), "lea1").dump())
                  .status,
              201);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks",
                           task_json("LIID-L2", {f}, std::chrono::hours(1), "lea2").dump())
                  .status,
              201);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-L1").status, 200);
    const std::string input = json{{"value", f.value}, {"salt", f.salt_hex}}.dump();
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    auto r = lea.request("POST", "/v1/reverify?reference=LIID-L1&field=0", input);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r)["result"], "match");
    const std::string review = body_of(r)["review_id"];
    r = lea.request("GET", "/v1/review?id=" + review);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r)["value"], f.value);
    const std::string wrong = json{{"value", "442079460224"}, {"salt", f.salt_hex}}.dump();
    r = lea.request("POST", "/v1/reverify?reference=LIID-L1&field=0", wrong);
    EXPECT_EQ(body_of(r)["result"], "mismatch") << r.body;
    EXPECT_FALSE(body_of(r).contains("review_id"));
    // Another endpoint's task answers as an unknown one.
    const auto other = lea.request("POST", "/v1/reverify?reference=LIID-L2&field=0", input);
    const auto unknown = lea.request("POST", "/v1/reverify?reference=LIID-NONE&field=0", input, true);
    EXPECT_EQ(other.status, 404) << other.body;
    EXPECT_EQ(unknown.status, 404) << unknown.body;
    // The auditor's review of the LEA's re-verification is refused (another requester).
    EXPECT_EQ(unix_get(inst.socket(), "/v1/audit/review?id=" + review).status, 403);
}

TEST(TasksDaemonTest, AuditorReverifiesWithEnclavectlExitCodes) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const FieldSpec f{"Username", "Zo\xc3\xab_\xc3\xbcn\xc3\xaf" "code", "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5",
                      "hmac-sha256"};
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks", task_json("LIID-RV", {f}).dump()).status,
              201);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-RV").status, 200);
    auto r = ctl(inst, {"audit", "reverify", "LIID-RV", "--field", "0", "--json"},
                 json{{"value", f.value}, {"salt", f.salt_hex}}.dump());
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    const json out = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(out.is_object()) << r.out;
    EXPECT_EQ(out["result"], "match");
    r = ctl(inst, {"audit", "review", out["review_id"].get<std::string>(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["value"], f.value);
    r = ctl(inst, {"audit", "review", out["review_id"].get<std::string>(), "--discard"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = ctl(inst, {"audit", "review", out["review_id"].get<std::string>()});
    EXPECT_EQ(r.exit_code, 2) << "a discarded review is gone";
    r = ctl(inst, {"audit", "reverify", "LIID-RV", "--field", "0"},
            json{{"value", "Zoe"}, {"salt", f.salt_hex}}.dump());
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    EXPECT_NE(r.out.find("mismatch"), std::string::npos);
    r = ctl(inst, {"audit", "reverify", "LIID-RV", "--field", "7"},
            json{{"value", f.value}, {"salt", f.salt_hex}}.dump());
    EXPECT_EQ(r.exit_code, 2) << "a bad field index is an error, not a mismatch";
}

}  // namespace
}  // namespace enclave::daemon_test
