// SPDX-License-Identifier: Apache-2.0
// HI1 tasking on the LEA listener (POST /hi1/v1) through the real daemon:
// CREATE with salted hashes becomes a task owned by the LEA's endpoint, GET
// and LIST show hashes only, UPDATE to Cancelled closes it; a client that is
// no endpoint's is refused; the official examples are answered, never crash.
#include <gtest/gtest.h>

#include "delivery/hi1_task_test_util.hpp"
#include "delivery_test_util.hpp"
#include "support/paths.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
namespace t = delivery::testing;

HttpReply post_xml(TlsConnection& c, const std::string& xml) {
    c.send_all("POST /hi1/v1 HTTP/1.1\r\nHost: e\r\nContent-Type: application/xml\r\n"
               "Content-Length: " +
               std::to_string(xml.size()) + "\r\n\r\n" + xml);
    return c.read_reply();
}

std::string subject_of(const TestInstance& inst, const TlsClientConfig& who) {
    TlsConnection c(inst.lea_port(), who);
    return json::parse(c.request("GET", "/v1/whoami").body)["subject"];
}

TEST(Hi1TaskingTest, CreateGetListAndCancelATaskOverHi1) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string lea_subject = subject_of(inst, inst.lea_client());
    RunResult add = ctl(inst, {"endpoint", "add", "lea-hi1", "--url", "https://127.0.0.1:9/hi1",
                               "--ca", inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                               "https://127.0.0.1:9/b/{id}/", "--client-subject", lea_subject});
    ASSERT_EQ(add.exit_code, 0) << add.err;

    t::TestTask task = t::two_value_li_task();
    task.reference = "LIID-HI1-1";
    task.start = utc_in(-std::chrono::hours(1));
    task.end = utc_in(std::chrono::hours(24));
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(lea.ok()) << lea.error();
    const HttpReply created = post_xml(lea, t::hi1_request(t::action(0, "CREATE", t::task_object(task))));
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_NE(created.body.find("CREATEResponse"), std::string::npos) << created.body;
    EXPECT_EQ(created.body.find("ErrorInformation"), std::string::npos) << created.body;
    for (const auto& v : task.values) {
        EXPECT_EQ(created.body.find(v.value), std::string::npos);
        EXPECT_EQ(created.body.find(v.salt_hex), std::string::npos);
    }
    // The task exists, owned by the LEA's endpoint, with both hashes.
    const json rec = json::parse(unix_get(inst.socket(), "/v1/task?reference=LIID-HI1-1").body);
    EXPECT_EQ(rec["endpoint"], "lea-hi1");
    EXPECT_EQ(rec["fields"].size(), 2u);
    EXPECT_EQ(rec["fields"][0]["hash"], t::salted_hash_hex(task.values[0]));

    const HttpReply got = post_xml(
        lea, t::hi1_request(t::action(1, "GET", "<Identifier>" + task.object_id + "</Identifier>") +
                            t::action(2, "LIST", "")));
    ASSERT_EQ(got.status, 200);
    EXPECT_NE(got.body.find("GETResponse"), std::string::npos) << got.body;
    EXPECT_NE(got.body.find("LIID-HI1-1"), std::string::npos) << got.body;
    EXPECT_NE(got.body.find(t::salted_hash_hex(task.values[1])), std::string::npos) << got.body;
    EXPECT_NE(got.body.find("LISTResponse"), std::string::npos) << got.body;
    EXPECT_EQ(got.body.find(task.values[0].value), std::string::npos);

    // The same CREATE again: refused per action (conflict), the message answered.
    const HttpReply again = post_xml(lea, t::hi1_request(t::action(0, "CREATE", t::task_object(task))));
    EXPECT_EQ(again.status, 200);
    EXPECT_NE(again.body.find("ErrorInformation"), std::string::npos) << again.body;

    // UPDATE to Cancelled closes it.
    std::string cancel = t::task_object(task);
    {
        t::TestTask c = task;
        c.values.clear();
        c.with_hashes = false;
        c.start.clear();
        c.end.clear();
        c.reference.clear();
        cancel = t::task_object(c);
        const auto at = cancel.find("<common:Value>Active</common:Value>");
        ASSERT_NE(at, std::string::npos);
        cancel.replace(at, 35, "<common:Value>Cancelled</common:Value>");
    }
    const HttpReply upd = post_xml(lea, t::hi1_request(t::action(3, "UPDATE", cancel)));
    EXPECT_NE(upd.body.find("UPDATEResponse"), std::string::npos) << upd.body;
    const json after = json::parse(unix_get(inst.socket(), "/v1/task?reference=LIID-HI1-1").body);
    EXPECT_EQ(after["state"], "closed") << after.dump();
}

TEST(Hi1TaskingTest, AClientThatIsNoEndpointsCannotTask) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    t::TestTask task = t::two_value_li_task();
    task.start = utc_in(-std::chrono::hours(1));
    task.end = utc_in(std::chrono::hours(24));
    // The demo collector's certificate is trusted by the LEA listener too
    // (one demo CA), but no endpoint lists it.
    TlsConnection c(inst.lea_port(), inst.collector_client());
    const HttpReply r = post_xml(c, t::hi1_request(t::action(0, "CREATE", t::task_object(task))));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("ErrorInformation"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("not an LEA endpoint"), std::string::npos) << r.body;
    EXPECT_EQ(json::parse(unix_get(inst.socket(), "/v1/tasks").body)["tasks"].size(), 0u);
}

TEST(Hi1TaskingTest, OfficialExamplesAndHostileMessagesAreAnsweredNeverCrash) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string lea_subject = subject_of(inst, inst.lea_client());
    ASSERT_EQ(ctl(inst, {"endpoint", "add", "lea-hi1", "--url", "https://127.0.0.1:9/hi1", "--ca",
                         inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                         "https://127.0.0.1:9/b/{id}/", "--client-subject", lea_subject})
                  .exit_code,
              0);
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    const auto dir = testing::shared_dir() / "etsi-examples" / "103120-v1.12.1";
    int answered = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".xml") continue;
        const HttpReply r = post_xml(lea, read_file(e.path()));
        EXPECT_EQ(r.status, 200) << e.path();
        EXPECT_NE(r.body.find("HI1Message"), std::string::npos) << e.path();
        ++answered;
    }
    EXPECT_GT(answered, 10);
    for (const std::string& hostile :
         {std::string("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
          std::string("not xml at all"), std::string(5000, '<')}) {
        const HttpReply r = post_xml(lea, hostile);
        EXPECT_EQ(r.status, 200);
        EXPECT_NE(r.body.find("ErrorInformation"), std::string::npos);
    }
    EXPECT_EQ(json::parse(unix_get(inst.socket(), "/v1/tasks").body)["tasks"].size(), 0u);
    // Still serving.
    EXPECT_EQ(lea.request("GET", "/v1/whoami").status, 200);
}

}  // namespace
}  // namespace enclave::daemon_test
