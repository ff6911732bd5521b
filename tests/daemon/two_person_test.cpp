// SPDX-License-Identifier: Apache-2.0
// Two-person control (issue #7; docs/security-officer-guide.md, "Two-person
// control") on a real daemon over its real admin socket, with two officers:
// root (the daemon's own uid: every role) and uid `nobody`, whose group the
// config maps to security-officer. Each proposes or approves from its own
// process (SO_PEERCRED tells them apart).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "audit_test_util.hpp"
#include "harness/http_client.hpp"
#include "harness/instance.hpp"
#include "harness/unix_user.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

json body_of(const HttpReply& r) { return json::parse(r.body, nullptr, false); }

class TwoPersonTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_EQ(::geteuid(), 0u) << "this test calls as uid nobody and must run as root";
        who_ = nobody();
        ASSERT_EQ(::chmod(inst_.scratch().c_str(), 0711), 0);
        ASSERT_EQ(::chmod(inst_.dir().c_str(), 0711), 0);
        auto& admin = inst_.config().admin;
        admin.socket_group = who_.group;
        admin.roles.security_officer = who_.group;
        admin.two_person = appliance::TwoPersonConfig{};  // the default: on
    }

    void start() {
        inst_.save_config();
        daemon_ = inst_.start_ready();
        ASSERT_TRUE(daemon_);
    }

    /// Officer A: root.
    HttpReply as_root(const std::string& method, const std::string& target,
                      const std::string& body = {}) {
        return unix_request(inst_.socket(), method, target, body);
    }
    /// Officer B: nobody.
    HttpReply as_other(const std::string& method, const std::string& target,
                       const std::string& body = {}) {
        return unix_request_as(inst_.socket(), method, target, body, who_.uid, who_.gid);
    }

    std::string endpoint_body(const std::string& name) const {
        return json{{"name", name},
                    {"url", "https://127.0.0.1:9/hi1/delivery"},
                    {"trust_anchors", read_file(inst_.pki("demo-ca.pem"))},
                    {"models", "B"},
                    {"binary_url_scheme", "https://127.0.0.1:9/binaryData/{id}/"},
                    {"auth", "certificate"}}
            .dump();
    }

    /// Proposes with root's request; returns the proposal id ("" on failure).
    std::string propose(const std::string& target, const std::string& body) {
        const HttpReply r = as_root("POST", target, body);
        EXPECT_EQ(r.status, 202) << r.body;
        const json j = body_of(r);
        EXPECT_TRUE(j.contains("expires")) << r.body;
        return j.value("proposal", "");
    }

    static std::string decision(const std::string& id) { return json{{"proposal", id}}.dump(); }

    /// Every audit entry's text.
    std::vector<std::string> audit_entries() {
        const json j = body_of(as_root("GET", "/v1/audit/entries?first=0&count=1000"));
        std::vector<std::string> out;
        for (const json& e : j.value("entries", json::array())) out.push_back(e.get<std::string>());
        return out;
    }
    /// The audit records of event `what`, parsed.
    std::vector<json> audited(const std::string& what) {
        std::vector<json> out;
        for (const auto& text : audit_entries()) {
            const json e = json::parse(text, nullptr, false);
            if (e.is_object() && e.value("event", "") == what) out.push_back(e);
        }
        return out;
    }

    json pending() { return body_of(as_other("GET", "/v1/approvals")).value("proposals", json()); }

    TestInstance inst_;
    Nobody who_{};
    std::unique_ptr<Process> daemon_;
};

TEST_F(TwoPersonTest, AnotherOfficerApprovesAndTheRequestRunsOnceAuditingBoth) {
    start();
    const std::string id = propose("/v1/endpoints", endpoint_body("lea-two"));
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(as_root("GET", "/v1/endpoint?name=lea-two").status, 404) << "run before approval";

    const json list = pending();
    ASSERT_EQ(list.size(), 1u) << list.dump();
    EXPECT_EQ(list[0]["proposal"], id);
    EXPECT_EQ(list[0]["route"], "POST /v1/endpoints");
    EXPECT_EQ(list[0]["proposer"]["uid"], 0);
    EXPECT_EQ(list.dump().find("BEGIN CERTIFICATE"), std::string::npos) << "a body in the list";

    const HttpReply ok = as_other("POST", "/v1/approvals/approve", decision(id));
    ASSERT_EQ(ok.status, 201) << ok.body;  // the guarded route's own answer
    EXPECT_EQ(body_of(ok)["name"], "lea-two");
    EXPECT_EQ(as_root("GET", "/v1/endpoint?name=lea-two").status, 200);
    EXPECT_TRUE(pending().empty());

    const HttpReply again = as_other("POST", "/v1/approvals/approve", decision(id));
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_EQ(audited("endpoint.added").size(), 1u) << "ran more than once";

    const auto proposed = audited("approval.proposed");
    ASSERT_EQ(proposed.size(), 1u);
    EXPECT_EQ(proposed[0]["actor"]["uid"], 0);
    EXPECT_EQ(proposed[0]["proposal"], id);
    EXPECT_EQ(proposed[0]["route"], "POST /v1/endpoints");
    const auto approved = audited("approval.approved");
    ASSERT_EQ(approved.size(), 1u);
    EXPECT_EQ(approved[0]["actor"]["uid"], who_.uid);
    EXPECT_EQ(approved[0]["proposer"]["uid"], 0);
    const auto added = audited("endpoint.added");
    EXPECT_EQ(added[0]["actor"]["uid"], 0) << "the stored request runs as the proposer's";
    for (const auto& text : audit_entries()) {
        EXPECT_EQ(text.find("BEGIN CERTIFICATE"), std::string::npos) << text;
    }
}

TEST_F(TwoPersonTest, ConcurrentApprovalsRunTheRequestOnce) {
    start();
    const std::string id = propose("/v1/endpoints", endpoint_body("lea-race"));
    ASSERT_FALSE(id.empty());
    std::vector<int> statuses(6, 0);
    std::vector<std::thread> callers;
    for (std::size_t i = 0; i < statuses.size(); ++i) {
        callers.emplace_back([this, &statuses, &id, i] {
            statuses[i] = as_other("POST", "/v1/approvals/approve", decision(id)).status;
        });
    }
    for (auto& t : callers) t.join();
    int ran = 0;
    for (const int s : statuses) {
        EXPECT_TRUE(s == 201 || s == 409) << s;
        ran += s == 201 ? 1 : 0;
    }
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(audited("endpoint.added").size(), 1u);
    EXPECT_EQ(audited("approval.approved").size(), 1u);
}

TEST_F(TwoPersonTest, ARevealedValueGoesToTheApprover) {
    start();
    const FieldSpec f{"EmailAddress", "carol@example.net", "00112233445566778899aabbccddeeff"};
    ASSERT_EQ(as_root("POST", "/v1/tasks", task_json("LIID-TWO", {f}).dump()).status, 201);
    const HttpReply proposed = as_root("POST", "/v1/task/reveal?reference=LIID-TWO");
    ASSERT_EQ(proposed.status, 202) << proposed.body;
    EXPECT_EQ(proposed.body.find("carol@example.net"), std::string::npos);
    const std::string id = body_of(proposed).value("proposal", "");

    const HttpReply shown = as_other("POST", "/v1/approvals/approve", decision(id));
    ASSERT_EQ(shown.status, 200) << shown.body;
    EXPECT_EQ(body_of(shown)["fields"][0]["value"], "carol@example.net");
    const auto revealed = audited("task.revealed");
    ASSERT_EQ(revealed.size(), 1u);
    for (const auto& text : audit_entries()) {
        EXPECT_EQ(text.find("carol@example.net"), std::string::npos) << text;
    }
}

TEST_F(TwoPersonTest, TheProposerCannotApproveButMayWithdraw) {
    start();
    const std::string id = propose("/v1/endpoint/remove?name=lea-none", "");
    const HttpReply self = as_root("POST", "/v1/approvals/approve", decision(id));
    EXPECT_EQ(self.status, 403) << self.body;
    EXPECT_EQ(body_of(self)["error"]["code"], "same_officer");
    ASSERT_EQ(pending().size(), 1u) << "a refused approval keeps the proposal";
    EXPECT_EQ(pending()[0]["query"], "name=lea-none");

    const HttpReply withdrawn = as_root("POST", "/v1/approvals/reject", decision(id));
    EXPECT_EQ(withdrawn.status, 200) << withdrawn.body;
    EXPECT_TRUE(pending().empty());
    EXPECT_EQ(as_other("POST", "/v1/approvals/approve", decision(id)).status, 409);
    EXPECT_EQ(as_other("POST", "/v1/approvals/reject", decision(id)).status, 409);
    const auto rejected = audited("approval.rejected");
    ASSERT_EQ(rejected.size(), 1u);
    EXPECT_EQ(rejected[0]["actor"]["uid"], 0);
    EXPECT_TRUE(audited("approval.approved").empty());
}

TEST_F(TwoPersonTest, AnExpiredProposalIsGone) {
    inst_.config().admin.two_person.approval_window = std::chrono::seconds(1);
    start();
    const std::string id = propose("/v1/endpoints", endpoint_body("lea-late"));
    ASSERT_FALSE(id.empty());
    // No timed assertion: wait (polling) until the list no longer holds it.
    json list = pending();
    for (int i = 0; i < 600 && !list.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        list = pending();
    }
    ASSERT_TRUE(list.empty()) << list.dump();
    const HttpReply late = as_other("POST", "/v1/approvals/approve", decision(id));
    EXPECT_EQ(late.status, 410) << late.body;
    EXPECT_EQ(as_root("GET", "/v1/endpoint?name=lea-late").status, 404);
    const auto expired = audited("approval.expired");
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0]["proposal"], id);
    EXPECT_EQ(expired[0]["actor"]["kind"], "system");
}

TEST_F(TwoPersonTest, MalformedUnknownAndOversizedDecisionsAreRefusedClearly) {
    start();
    const std::string unknown(32, 'a');
    const std::vector<std::pair<std::string, int>> cases = {
        {"not json", 400},
        {"[]", 400},
        {"{}", 400},
        {json{{"proposal", 7}}.dump(), 400},
        {json{{"proposal", "XYZ"}}.dump(), 400},
        {json{{"proposal", std::string(32, 'A')}}.dump(), 400},
        {json{{"proposal", std::string(33, 'a')}}.dump(), 400},
        {json{{"proposal", unknown}, {"also", 1}}.dump(), 400},
        {json{{"proposal", std::string(4096, 'a')}}.dump(), 413},
        {json{{"proposal", unknown}}.dump(), 404},
    };
    for (const auto& [body, status] : cases) {
        for (const char* route : {"/v1/approvals/approve", "/v1/approvals/reject"}) {
            const HttpReply r = as_other("POST", route, body);
            EXPECT_EQ(r.status, status) << route << " " << body.substr(0, 60) << ": " << r.body;
            EXPECT_TRUE(body_of(r).contains("error")) << r.body;
        }
    }
}

TEST_F(TwoPersonTest, PendingProposalsAreBounded) {
    inst_.config().admin.two_person.max_pending = 3;
    // Above the proposal's own bound, so that the request reaches it.
    inst_.config().admin.limits.max_body_bytes = 2 * 1024 * 1024;
    start();
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(propose("/v1/endpoint/remove?name=x" + std::to_string(i), ""));
    const HttpReply full = as_root("POST", "/v1/endpoint/remove?name=x3");
    EXPECT_EQ(full.status, 429) << full.body;
    ASSERT_EQ(as_other("POST", "/v1/approvals/reject", decision(ids[0])).status, 200);
    EXPECT_EQ(as_root("POST", "/v1/endpoint/remove?name=x3").status, 202);
    // A body over the bound is not kept (room was made for it first).
    ASSERT_EQ(as_other("POST", "/v1/approvals/reject", decision(ids[1])).status, 200);
    const HttpReply big = as_root("POST", "/v1/endpoints", std::string(1024 * 1024 + 1, ' '));
    EXPECT_EQ(big.status, 413) << big.body;
    EXPECT_EQ(pending().size(), 2u);
}

TEST_F(TwoPersonTest, TheProposalsBodyNeverReachesTheLogOrTheAuditLog) {
    start();
    const std::string canary = "c0ffee11" + std::string(56, '7');  // 32 bytes as hex
    const std::string id = propose(
        "/v1/psk/rotate",
        json{{"endpoint", "lea-none"}, {"identity", "two-1"}, {"key_hex", canary}}.dump());
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(pending().dump().find(canary), std::string::npos);
    // Approved: the route itself refuses (no such endpoint), the key goes nowhere.
    const HttpReply r = as_other("POST", "/v1/approvals/approve", decision(id));
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.body.find(canary), std::string::npos);
    for (const auto& text : audit_entries()) EXPECT_EQ(text.find(canary), std::string::npos) << text;
    EXPECT_EQ(inst_.log().find(canary), std::string::npos);
    EXPECT_EQ(audited("approval.approved").size(), 1u);
}

TEST_F(TwoPersonTest, DestroyingOrSwitchingATokenKeyNeedsASecondOfficer) {
    start();
    const HttpReply made = as_root("POST", "/v1/certs",
                                   json{{"label", "spare-1"}, {"subject", "CN=spare"}}.dump());
    ASSERT_EQ(made.status, 201) << "making a key is not guarded: " << made.body;
    // Retiring it (destroying a token key) waits for the other officer.
    const std::string id = propose("/v1/cert/retire", json{{"label", "spare-1"}}.dump());
    ASSERT_EQ(id.size(), 32u);
    const json keys_before = body_of(as_root("GET", "/v1/hsm/status"));
    EXPECT_NE(keys_before.dump().find("spare-1"), std::string::npos) << "destroyed before approval";
    const HttpReply ok = as_other("POST", "/v1/approvals/approve", decision(id));
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(body_of(as_root("GET", "/v1/hsm/status")).dump().find("spare-1"), std::string::npos);
    ASSERT_EQ(audited("certificate.key_retired").size(), 1u);
    // An import (which switches a listener or the LEA client) is proposed, not run.
    const HttpReply imp = as_root("POST", "/v1/cert/import",
                                  json{{"label", "lea-tls"},
                                       {"chain_pem", read_file(inst_.pki("lea-server.pem"))}}
                                      .dump());
    EXPECT_EQ(imp.status, 202) << imp.body;
    EXPECT_TRUE(audited("certificate.imported").empty());
}

TEST_F(TwoPersonTest, WhenDisabledAGuardedRouteRunsAtOnce) {
    inst_.config().admin.two_person.enabled = false;
    start();
    const HttpReply r = as_root("POST", "/v1/endpoints", endpoint_body("lea-direct"));
    EXPECT_EQ(r.status, 201) << r.body;
    const json list = body_of(as_other("GET", "/v1/approvals"));
    EXPECT_EQ(list["enabled"], false);
    EXPECT_TRUE(list["proposals"].empty());
    EXPECT_TRUE(audited("approval.proposed").empty());
}

TEST_F(TwoPersonTest, EnclavectlReportsTheProposalAndTheApprovalCommands) {
    start();
    RunResult r = ctl(inst_, {"endpoint", "remove", "lea-gone"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("proposed "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("approvals approve"), std::string::npos) << r.err;
    const json list = pending();
    ASSERT_EQ(list.size(), 1u);
    const std::string id = list[0]["proposal"];
    r = ctl(inst_, {"approvals", "list"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(id), std::string::npos) << r.out;
    r = ctl(inst_, {"approvals", "approve", id});
    EXPECT_EQ(r.exit_code, 2) << "the proposer approving: " << r.out;
    EXPECT_NE(r.err.find("different officer"), std::string::npos) << r.err;
    r = ctl(inst_, {"approvals", "reject", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(pending().empty());
}

TEST_F(TwoPersonTest, AListedRouteTheDaemonDoesNotHaveRefusesTheStart) {
    inst_.config().admin.two_person.routes.push_back("POST /v1/no/such/route");
    inst_.save_config();
    auto p = inst_.start();
    EXPECT_EQ(p->wait_exit(std::chrono::seconds(60)).value_or(-1), 3) << inst_.log();
    EXPECT_NE(inst_.log().find("POST /v1/no/such/route"), std::string::npos) << inst_.log();
}

}  // namespace
}  // namespace enclave::daemon_test
