// SPDX-License-Identifier: Apache-2.0
// build_hi1_task_response / build_hi1_message_error: every answer validates
// against the ETSI set + project XSDs (libxml2 and xmllint), shows hashes but
// never values or salts, and bad specs are refused.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "delivery/hi1_task.hpp"
#include "hi1_task_test_util.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;
using testing::expect_valid;
using testing::run_xmllint;
using testing::shared_schemas;

Hi1TaskView li_view() {
    Hi1TaskView v;
    v.object_id = "2b36a78b-b628-416d-bd22-404e68a0cd36";
    v.kind = ReferenceKind::liid;
    v.reference = "LIID-0001";
    v.status = "Active";
    v.start = "2026-01-01T00:00:00Z";
    v.end = "2026-02-01T00:00:00Z";
    v.generation = 2;
    v.last_changed = "2026-01-01T12:00:00Z";
    const auto t = testing::two_value_li_task();
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        v.hashes.push_back(Hi1HashRecord{i, "ETSI", "InternationalE164", t.values[i].algorithm,
                                         crypto::hex_decode(testing::salted_hash_hex(t.values[i])).value()});
    }
    return v;
}

Hi1TaskView ld_view() {
    Hi1TaskView v;
    v.object_id = "7dbbc880-8750-4d3c-abe7-ea4a17646045";
    v.kind = ReferenceKind::ldid;
    v.reference = "XX-ACTOR01-1234";
    v.status = "AwaitingDisclosure";
    v.start = "2026-01-01T00:00:00Z";
    v.hashes.push_back(Hi1HashRecord{0, "ETSI", "IPv4Address", "sha512", crypto::Bytes(64, 0xab)});
    return v;
}

Hi1TaskResponseSpec spec_with(std::vector<Hi1TaskAnswer> answers) {
    Hi1TaskResponseSpec s;
    s.sender = EndpointId{"GB", "CSP-ENCLAVE-1"};
    s.receiver = EndpointId{"XX", "LEA-1"};
    s.transaction_id = "c02358b2-76cf-4ba4-a8eb-f6436ccaea2e";
    s.country_code = "GB";
    s.answers = std::move(answers);
    return s;
}

TEST(Hi1TaskResponseTest, EveryKindOfAnswerValidates) {
    Hi1TaskAnswer create{0, Hi1TaskAction::create, li_view().object_id, std::nullopt, {}, std::nullopt};
    Hi1TaskAnswer create_with_view{1, Hi1TaskAction::create, li_view().object_id, li_view(), {}, std::nullopt};
    Hi1TaskAnswer update{2, Hi1TaskAction::update, ld_view().object_id, ld_view(), {}, std::nullopt};
    Hi1TaskAnswer get_li{3, Hi1TaskAction::get, "", li_view(), {}, std::nullopt};
    Hi1TaskAnswer get_ld{4, Hi1TaskAction::get, "", ld_view(), {}, std::nullopt};
    Hi1TaskAnswer list{5, Hi1TaskAction::list, "", std::nullopt, {li_view(), ld_view()}, std::nullopt};
    Hi1TaskAnswer empty_list{6, Hi1TaskAction::list, "", std::nullopt, {}, std::nullopt};
    Hi1TaskAnswer refused{7, Hi1TaskAction::unsupported, "", std::nullopt, {},
                          Hi1Error{hi1_error::kUnsupported, "ActionRequest[7]/DELIVER: action not supported"}};
    Hi1TaskAnswer not_found{8, Hi1TaskAction::get, "", std::nullopt, {},
                            Hi1Error{hi1_error::kNotFound, "ActionRequest[8]/GET: no such object"}};
    auto xml = build_hi1_task_response(
        spec_with({create, create_with_view, update, get_li, get_ld, list, empty_list, refused, not_found}));
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    for (const char* expected : {
             "<core:CREATEResponse><core:Identifier>2b36a78b-b628-416d-bd22-404e68a0cd36</core:Identifier>",
             "<core:UPDATEResponse>",
             "xsi:type=\"task:LITaskObject\"",
             "xsi:type=\"task:LDTaskObject\"",
             "xsi:type=\"enc:SaltedHashRecords\"",
             "<task:Reference>LIID-0001</task:Reference>",
             "<common:Name>TaskStatus</common:Name><common:Value>Active</common:Value>",
             "<common:Name>LDTaskStatus</common:Name><common:Value>AwaitingDisclosure</common:Value>",
             "<task:Timespan><task:StartTime>2026-01-01T00:00:00Z</task:StartTime>",
             "<task:RequestDetails><task:StartTime>",
             "<core:ListResponseRecord><core:ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType"
             "</common:Name><common:Value>Task</common:Value>",
             "<common:Value>LDTask</common:Value>",
             "<core:LISTResponse/>",
             "<core:ErrorCode>2000</core:ErrorCode><core:ErrorDescription>ActionRequest[7]/DELIVER: action not "
             "supported</core:ErrorDescription>",
             "<core:ErrorCode>4000</core:ErrorCode>",
             "<core:TransactionIdentifier>c02358b2-76cf-4ba4-a8eb-f6436ccaea2e</core:TransactionIdentifier>",
         }) {
        EXPECT_NE(xml->find(expected), std::string::npos) << expected << "\n" << *xml;
    }
    // The hashes are shown, the values and salts never.
    for (const auto& v : testing::two_value_li_task().values) {
        EXPECT_NE(xml->find(testing::salted_hash_hex(v)), std::string::npos);
        EXPECT_EQ(xml->find(v.value), std::string::npos);
        EXPECT_EQ(xml->find(v.salt_hex), std::string::npos);
    }
}

TEST(Hi1TaskResponseTest, ParsedRequestRefusalsBecomeErrorInformation) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    auto t = testing::two_value_li_task();
    t.with_hashes = false;
    auto req = parse_hi1_task_request(testing::hi1_request(testing::action(3, "CREATE", testing::task_object(t))), *set);
    ASSERT_TRUE(req) << req.error().message();
    ASSERT_EQ(req->actions.size(), 1u);
    auto spec = spec_with({refused_answer(req->actions[0])});
    spec.transaction_id = req->transaction_id;
    auto xml = build_hi1_task_response(spec);
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    EXPECT_NE(xml->find("<core:ActionIdentifier>3</core:ActionIdentifier><core:ErrorInformation><core:ErrorCode>3000"),
              std::string::npos)
        << *xml;
    EXPECT_NE(xml->find("no salted hash in NationalHandlingParameters"), std::string::npos);
}

TEST(Hi1TaskResponseTest, MessageLevelErrorValidates) {
    auto xml = build_hi1_message_error(EndpointId{"GB", "CSP-ENCLAVE-1"}, EndpointId{"XX", "LEA-1"}, std::nullopt,
                                       Hi1Error{hi1_error::kMessageRefused, "XML does not match the schema"});
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    EXPECT_NE(xml->find("<core:ResponsePayload><core:ErrorInformation><core:ErrorCode>1000</core:ErrorCode>"),
              std::string::npos)
        << *xml;
}

TEST(Hi1TaskResponseTest, BadSpecsAreRefused) {
    struct Case {
        const char* what;
        std::function<void(Hi1TaskResponseSpec&)> edit;
        std::string field;
    };
    const std::vector<Case> cases = {
        {"no answers", [](Hi1TaskResponseSpec& s) { s.answers.clear(); }, "answers"},
        {"bad object id", [](Hi1TaskResponseSpec& s) { s.answers[0].view->object_id = "nope"; },
         "answers[0].view.object_id"},
        {"bad LIID", [](Hi1TaskResponseSpec& s) { s.answers[0].view->reference = "has space"; },
         "answers[0].view.reference"},
        {"bad LDID", [](Hi1TaskResponseSpec& s) {
             s.answers[0].view->kind = ReferenceKind::ldid;
             s.answers[0].view->reference = "LIID-0001";
         },
         "answers[0].view.reference"},
        {"empty status", [](Hi1TaskResponseSpec& s) { s.answers[0].view->status.clear(); }, "answers[0].view.status"},
        {"time with fraction", [](Hi1TaskResponseSpec& s) { s.answers[0].view->start = "2026-01-01T00:00:00.5Z"; },
         "answers[0].view"},
        {"hash length", [](Hi1TaskResponseSpec& s) { s.answers[0].view->hashes[0].hash.resize(5); },
         "answers[0].view.hashes[0]"},
        {"unknown algorithm", [](Hi1TaskResponseSpec& s) { s.answers[0].view->hashes[1].algorithm = "md5"; },
         "answers[0].view.hashes[1]"},
        {"GET without view", [](Hi1TaskResponseSpec& s) { s.answers[0].view.reset(); }, "answers[0].view"},
        {"empty error", [](Hi1TaskResponseSpec& s) { s.answers[0].error = Hi1Error{1, ""}; },
         "answers[0].error.description"},
        {"bad country", [](Hi1TaskResponseSpec& s) { s.country_code = "gb"; }, "country_code"},
        {"bad receiver", [](Hi1TaskResponseSpec& s) { s.receiver.country_code = "X"; }, "receiver.country_code"},
    };
    for (const auto& c : cases) {
        auto spec = spec_with({Hi1TaskAnswer{0, Hi1TaskAction::get, "", li_view(), {}, std::nullopt}});
        ASSERT_TRUE(build_hi1_task_response(spec));
        c.edit(spec);
        auto xml = build_hi1_task_response(spec);
        ASSERT_FALSE(xml) << c.what;
        EXPECT_EQ(xml.error().code(), Errc::invalid_argument) << c.what;
        EXPECT_EQ(xml.error().context().rfind(c.field, 0), 0u) << c.what << ": " << xml.error().context();
    }
}

}  // namespace
}  // namespace enclave::delivery
