// SPDX-License-Identifier: Apache-2.0
// parse_hi1_task_request: CREATE / UPDATE / GET / LIST are read, values and
// salts only in Secrets, every refusal names its element path and never
// carries a value, a salt or a hash; hostile messages are refused.

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/hi1_task.hpp"
#include "hi1_task_test_util.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;
using testing::action;
using testing::hi1_request;
using testing::shared_schemas;
using testing::task_object;
using testing::TestTask;
using testing::TestValue;
using testing::two_value_li_task;

std::string secret_str(const crypto::Secret& s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

Hi1TaskRequest parse_ok(const std::string& xml) {
    auto set = shared_schemas();
    if (!set) {
        return {};
    }
    auto r = parse_hi1_task_request(xml, *set);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? std::move(*r) : Hi1TaskRequest{};
}

// The single action of `t` under CREATE: its refusal text (or "" if accepted).
std::string refusal_of(const TestTask& t, const char* op = "CREATE") {
    const auto req = parse_ok(hi1_request(action(0, op, task_object(t))));
    if (req.actions.size() != 1) {
        ADD_FAILURE() << "expected one action";
        return "?";
    }
    const auto& a = req.actions[0];
    if (!a.refusal) {
        return "";
    }
    EXPECT_FALSE(a.task.has_value());
    for (const auto& v : t.values) {  // never a value, salt or hash in an error
        EXPECT_EQ(a.refusal->description.find(v.value), std::string::npos) << a.refusal->description;
        EXPECT_EQ(a.refusal->description.find(v.salt_hex), std::string::npos) << a.refusal->description;
    }
    return a.refusal->description;
}

TEST(Hi1TaskRequestTest, CreateLiTaskWithTwoValuesKeepsValuesInSecrets) {
    auto t = two_value_li_task();
    t.extra =
        "<task:DeliveryDetails><task:DeliveryDestination><task:DeliveryAddress><task:DeliveryInformationID>lea1"
        "</task:DeliveryInformationID></task:DeliveryAddress></task:DeliveryDestination></task:DeliveryDetails>";
    const auto req = parse_ok(hi1_request(action(7, "CREATE", task_object(t))));
    EXPECT_EQ(req.sender, (EndpointId{"XX", "LEA-1"}));
    EXPECT_EQ(req.receiver, (EndpointId{"GB", "CSP-ENCLAVE-1"}));
    EXPECT_EQ(req.transaction_id, "c02358b2-76cf-4ba4-a8eb-f6436ccaea2e");
    EXPECT_EQ(req.timestamp, "2026-01-01T12:00:00.000000Z");
    ASSERT_EQ(req.actions.size(), 1u);
    const auto& a = req.actions[0];
    ASSERT_FALSE(a.refusal) << a.refusal->description;
    EXPECT_EQ(a.action, Hi1TaskAction::create);
    EXPECT_EQ(a.action_identifier, 7u);
    EXPECT_EQ(a.path, "ActionRequest[0]/CREATE");
    ASSERT_TRUE(a.task);
    const auto& task = *a.task;
    EXPECT_EQ(task.object_id, "2b36a78b-b628-416d-bd22-404e68a0cd36");
    EXPECT_EQ(task.kind, ReferenceKind::liid);
    EXPECT_EQ(task.reference, "LIID-0001");
    EXPECT_EQ(task.start, "2026-01-01T00:00:00Z");
    EXPECT_EQ(task.end, "2026-02-01T00:00:00Z");
    EXPECT_EQ(task.desired_status, "Active");
    ASSERT_TRUE(task.delivery_hint);
    EXPECT_EQ(task.delivery_hint->address_type, "DeliveryInformationID");
    EXPECT_EQ(task.delivery_hint->value, "lea1");
    ASSERT_EQ(task.fields.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& f = task.fields[i];
        EXPECT_EQ(f.index, i);
        EXPECT_EQ(f.format_owner, "ETSI");
        EXPECT_EQ(f.format_name, "InternationalE164");
        EXPECT_EQ(f.algorithm, t.values[i].algorithm);
        EXPECT_EQ(secret_str(f.value), t.values[i].value);
        EXPECT_EQ(crypto::hex_encode(f.salt.view()), t.values[i].salt_hex);
        EXPECT_EQ(crypto::hex_encode(f.hash), testing::salted_hash_hex(t.values[i]));
    }
}

TEST(Hi1TaskRequestTest, CreateLdTaskWithEndpointAddress) {
    TestTask t;
    t.li = false;
    t.reference = "XX-ACTOR01-1234";
    t.values.push_back(TestValue{"IPv4Address", "192.0.2.23", "sha3-256", "0f0e0d0c0b0a09080706050403020100ff", ""});
    t.extra =
        "<task:DeliveryDetails><task:LDDeliveryDestination><task:DeliveryAddress><task:EndpointID>"
        "<CountryCode>XX</CountryCode><UniqueIdentifier>LEA-DROPBOX</UniqueIdentifier></task:EndpointID>"
        "</task:DeliveryAddress></task:LDDeliveryDestination></task:DeliveryDetails>";
    const auto req = parse_ok(hi1_request(action(1, "CREATE", task_object(t))));
    ASSERT_EQ(req.actions.size(), 1u);
    const auto& a = req.actions[0];
    ASSERT_FALSE(a.refusal) << a.refusal->description;
    ASSERT_TRUE(a.task);
    EXPECT_EQ(a.task->kind, ReferenceKind::ldid);
    EXPECT_EQ(a.task->reference, "XX-ACTOR01-1234");
    EXPECT_EQ(a.task->desired_status, "AwaitingDisclosure");
    ASSERT_TRUE(a.task->delivery_hint);
    EXPECT_EQ(a.task->delivery_hint->address_type, "EndpointID");
    EXPECT_EQ(a.task->delivery_hint->value, "LEA-DROPBOX");
    ASSERT_EQ(a.task->fields.size(), 1u);
    EXPECT_EQ(secret_str(a.task->fields[0].value), "192.0.2.23");
    EXPECT_EQ(a.task->fields[0].algorithm, "sha3-256");
}

TEST(Hi1TaskRequestTest, UpdateGetAndListInOneMessage) {
    TestTask update;  // an UPDATE may carry only a new end time and status
    update.reference.clear();
    update.start.clear();
    update.end = "2026-03-01T00:00:00Z";
    update.with_hashes = false;
    const std::string actions =
        action(0, "UPDATE", task_object(update)) +
        action(1, "GET", "<Identifier>2b36a78b-b628-416d-bd22-404e68a0cd36</Identifier>") +
        action(2, "LIST",
               "<ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType</common:Name>"
               "<common:Value>LDTask</common:Value></ObjectType><MaximumObjectCount>10</MaximumObjectCount>") +
        action(3, "LIST", "");
    const auto req = parse_ok(hi1_request(actions));
    ASSERT_EQ(req.actions.size(), 4u);
    for (const auto& a : req.actions) {
        EXPECT_FALSE(a.refusal) << a.refusal->description;
    }
    EXPECT_EQ(req.actions[0].action, Hi1TaskAction::update);
    ASSERT_TRUE(req.actions[0].task);
    EXPECT_FALSE(req.actions[0].task->reference);
    EXPECT_FALSE(req.actions[0].task->start);
    EXPECT_EQ(req.actions[0].task->end, "2026-03-01T00:00:00Z");
    EXPECT_TRUE(req.actions[0].task->fields.empty());
    EXPECT_EQ(req.actions[1].action, Hi1TaskAction::get);
    EXPECT_EQ(req.actions[1].identifier, "2b36a78b-b628-416d-bd22-404e68a0cd36");
    EXPECT_EQ(req.actions[2].action, Hi1TaskAction::list);
    EXPECT_EQ(req.actions[2].list_kind, ReferenceKind::ldid);
    EXPECT_EQ(req.actions[2].list_max, 10u);
    EXPECT_EQ(req.actions[3].action, Hi1TaskAction::list);
    EXPECT_FALSE(req.actions[3].list_kind);
}

TEST(Hi1TaskRequestTest, UpdateWithNewValuesNeedsTheirHashes) {
    auto t = two_value_li_task();
    t.with_hashes = false;
    EXPECT_EQ(refusal_of(t, "UPDATE"),
              "ActionRequest[0]/UPDATE/HI1Object/TargetIdentifier/TargetIdentifierValues/TargetIdentifierValue[0]: "
              "no salted hash in NationalHandlingParameters");
}

TEST(Hi1TaskRequestTest, MissingHashForOneValueNamesIt) {
    TestTask t;
    t.li = false;
    t.reference = "XX-ACTOR01-1234";
    t.values = two_value_li_task().values;
    t.values[1].value = "447700900999";
    auto only_first = t;
    only_first.values.resize(1);
    t.hashes_override = testing::salted_hashes(only_first);
    EXPECT_EQ(refusal_of(t),
              "ActionRequest[0]/CREATE/HI1Object/RequestDetails/RequestValues/RequestValue[1]: no salted hash in "
              "NationalHandlingParameters");
}

TEST(Hi1TaskRequestTest, BadSaltedHashContentIsRefusedPerValue) {
    const std::string nhp = "ActionRequest[0]/CREATE/HI1Object/NationalHandlingParameters/SaltedHash[";
    struct Case {
        const char* what;
        std::function<void(TestTask&)> edit;
        std::string expected;  // prefix of the refusal
    };
    const std::vector<Case> cases = {
        {"short salt", [](TestTask& t) {
             t.values[1].salt_hex = "00010203040506070809";
             t.values[1].hash_hex = std::string(64, 'a');
         },
         nhp + "1]/Salt: 10 bytes, at least 16 required"},
        {"hash of the wrong length", [](TestTask& t) { t.values[0].hash_hex = std::string(40, 'a'); },
         nhp + "0]/Hash: 20 bytes, sha256 gives 32"},
        {"hash mismatch", [](TestTask& t) { t.values[0].hash_hex = std::string(64, 'a'); },
         "ActionRequest[0]/CREATE/HI1Object/TargetIdentifier/TargetIdentifierValues/TargetIdentifierValue[0]: the "
         "salted hash does not match the value"},
        {"index out of range",
         [](TestTask& t) {
             t.hashes_override = testing::salted_hashes(t);
             const auto at = t.hashes_override.rfind("<enc:ValueIndex>1<");
             t.hashes_override.replace(at, 18, "<enc:ValueIndex>5<");
         },
         nhp + "1]/ValueIndex: value 5 out of range (the object has 2 value(s))"},
        {"two hashes for one value",
         [](TestTask& t) {
             t.hashes_override = testing::salted_hashes(t);
             const auto at = t.hashes_override.rfind("<enc:ValueIndex>1<");
             t.hashes_override.replace(at, 18, "<enc:ValueIndex>0<");
         },
         nhp + "1]: a second salted hash for value 0"},
        {"no reference", [](TestTask& t) { t.reference.clear(); },
         "ActionRequest[0]/CREATE/HI1Object: no Reference (LIID)"},
        {"no end time", [](TestTask& t) { t.end.clear(); },
         "ActionRequest[0]/CREATE/HI1Object/Timespan: StartTime and EndTime are required"},
        {"end before start", [](TestTask& t) { t.end = "2025-01-01T00:00:00Z"; },
         "ActionRequest[0]/CREATE/HI1Object/Timespan: EndTime is not after StartTime"},
        {"time with an offset", [](TestTask& t) { t.start = "2026-01-01T00:00:00+01:00"; },
         "ActionRequest[0]/CREATE/HI1Object/Timespan/StartTime: only UTC times"},
        {"no values", [](TestTask& t) {
             t.values.clear();
             t.with_hashes = false;
         },
         "ActionRequest[0]/CREATE/HI1Object: no target value"},
    };
    for (const auto& c : cases) {
        auto t = two_value_li_task();
        c.edit(t);
        const std::string got = refusal_of(t);
        EXPECT_EQ(got.substr(0, c.expected.size()), c.expected) << c.what << ": " << got;
    }
}

TEST(Hi1TaskRequestTest, TooManyValuesIsRefused) {
    TestTask t;
    for (int i = 0; i < 65; ++i) {
        t.values.push_back(TestValue{"InternationalE164", "4420794602" + std::to_string(10 + i), "sha256",
                                     "000102030405060708090a0b0c0d0e0f", std::string(64, '0')});
    }
    TestTask one;
    one.values = {t.values[0]};
    t.hashes_override = testing::salted_hashes(one);
    EXPECT_EQ(refusal_of(t), "ActionRequest[0]/CREATE/HI1Object: over 64 target values");
}

TEST(Hi1TaskRequestTest, UnsupportedObjectsAndActionsAreRefusedPerAction) {
    const std::string auth =
        "<HI1Object xsi:type=\"auth:AuthorisationObject\"><ObjectIdentifier>7dbbc880-8750-4d3c-abe7-ea4a17646045"
        "</ObjectIdentifier></HI1Object>";
    const auto good = two_value_li_task();
    const auto req = parse_ok(hi1_request(action(0, "CREATE", auth) + action(1, "CREATE", task_object(good)) +
                                          action(2, "GETCSPCONFIG", "")));
    ASSERT_EQ(req.actions.size(), 3u);
    ASSERT_TRUE(req.actions[0].refusal);
    EXPECT_EQ(req.actions[0].refusal->code, hi1_error::kUnsupported);
    EXPECT_EQ(req.actions[0].refusal->description,
              "ActionRequest[0]/CREATE/HI1Object: object type AuthorisationObject (TS 103 120 Authorisation) is not "
              "supported (only task:LITaskObject and task:LDTaskObject)");
    EXPECT_FALSE(req.actions[1].refusal);
    EXPECT_TRUE(req.actions[1].task);
    ASSERT_TRUE(req.actions[2].refusal);
    EXPECT_EQ(req.actions[2].action, Hi1TaskAction::unsupported);
    EXPECT_EQ(req.actions[2].refusal->description,
              "ActionRequest[2]/GETCSPCONFIG: action not supported on the tasking interface (CREATE, UPDATE, GET, "
              "LIST)");
    const auto answer = refused_answer(req.actions[2]);
    EXPECT_EQ(answer.error, req.actions[2].refusal);
}

TEST(Hi1TaskRequestTest, TaskElementsEnclaveCannotHonourAreRefused) {
    const std::string id = "<ObjectIdentifier>2b36a78b-b628-416d-bd22-404e68a0cd36</ObjectIdentifier>";
    const auto req = parse_ok(hi1_request(
        action(0, "UPDATE", "<HI1Object xsi:type=\"task:LITaskObject\">" + id + "</HI1Object>") +
        action(1, "UPDATE",
               "<HI1Object xsi:type=\"task:LITaskObject\">" + id +
                   "<task:ListOfIRIPolicyReferences/></HI1Object>")));
    ASSERT_EQ(req.actions.size(), 2u);
    ASSERT_TRUE(req.actions[0].refusal);
    EXPECT_EQ(req.actions[0].refusal->description.rfind(
                  "ActionRequest[0]/UPDATE/HI1Object: the UPDATE changes nothing Enclave supports", 0),
              0u)
        << req.actions[0].refusal->description;
    ASSERT_TRUE(req.actions[1].refusal);
    EXPECT_EQ(req.actions[1].refusal->description,
              "ActionRequest[1]/UPDATE/HI1Object/ListOfIRIPolicyReferences: not supported by Enclave");
    EXPECT_EQ(req.actions[1].refusal->code, hi1_error::kUnsupported);
}

TEST(Hi1TaskRequestTest, ListFiltersThatAreNotSupportedAreRefused) {
    const auto req = parse_ok(hi1_request(action(0, "LIST", "<LastChanged>2026-01-01T00:00:00Z</LastChanged>") +
                                          action(1, "LIST",
                                                 "<ObjectType><common:Owner>ETSI</common:Owner><common:Name>ObjectType"
                                                 "</common:Name><common:Value>Document</common:Value></ObjectType>")));
    ASSERT_EQ(req.actions.size(), 2u);
    ASSERT_TRUE(req.actions[0].refusal);
    EXPECT_EQ(req.actions[0].refusal->description, "ActionRequest[0]/LIST/LastChanged: this LIST filter is not supported");
    ASSERT_TRUE(req.actions[1].refusal);
    EXPECT_EQ(req.actions[1].refusal->code, hi1_error::kUnsupported);
}

TEST(Hi1TaskRequestTest, HostileMessagesAreRefusedWhole) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const std::string good = hi1_request(action(0, "CREATE", task_object(two_value_li_task())));
    ASSERT_TRUE(parse_hi1_task_request(good, *set));

    const std::string doctype = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaa\"><!ENTITY b "
                                "\"&a;&a;&a;&a;&a;&a;\">]>" + good.substr(good.find("<HI1Message"));
    auto r = parse_hi1_task_request(doctype, *set);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input);

    r = parse_hi1_task_request(good, *set, XmlLimits{1024, 64, 500'000});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);

    std::string nest;
    for (int i = 0; i < 200; ++i) {
        nest = "<x>" + nest + "</x>";
    }
    r = parse_hi1_task_request(hi1_request(nest), *set);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);

    // Bad hex in a salt: not schema-valid (xs:hexBinary); the error names the element, not the text.
    auto bad_hex = two_value_li_task();
    bad_hex.values[0].salt_hex = "zz0102030405060708090a0b0c0d0e0f";
    bad_hex.values[0].hash_hex = std::string(64, 'a');
    r = parse_hi1_task_request(hi1_request(action(0, "CREATE", task_object(bad_hex))), *set);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::malformed_input);
    EXPECT_NE(r.error().context().find("'Salt'"), std::string::npos) << r.error().context();
    EXPECT_EQ(r.error().context().find("zz01"), std::string::npos);

    // An unknown algorithm: not schema-valid either.
    auto bad_alg = two_value_li_task();
    bad_alg.values[0].algorithm = "md5";
    bad_alg.values[0].hash_hex = std::string(32, 'a');
    EXPECT_FALSE(parse_hi1_task_request(hi1_request(action(0, "CREATE", task_object(bad_alg))), *set));

    for (const std::string& junk :
         {std::string(), std::string("<a/>"), std::string("not xml"), good.substr(0, good.size() / 2),
          std::string("<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\"/>")}) {
        EXPECT_FALSE(parse_hi1_task_request(junk, *set));
    }
}

TEST(Hi1TaskRequestTest, AResponseIsNotARequest) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const auto resp = build_hi1_message_error(EndpointId{"XX", "A"}, EndpointId{"XX", "B"}, std::nullopt,
                                              Hi1Error{hi1_error::kMessageRefused, "no"});
    ASSERT_TRUE(resp);
    auto r = parse_hi1_task_request(*resp, *set);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().context(), "HI1Message is not a request (no RequestPayload)");
}

}  // namespace
}  // namespace enclave::delivery
