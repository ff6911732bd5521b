// SPDX-License-Identifier: Apache-2.0
// HI1 DELIVER request and response: every built message validates (libxml2
// and xmllint), round trips through the parsers, and hostile or wrong input
// is refused.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/hi1_deliver.hpp"
#include "delivery/uuid.hpp"
#include "delivery/xml_handover.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;
using testing::expect_valid;
using testing::read_file;
using testing::run_xmllint;
using testing::shared_schemas;

HandoverItem item_n(std::uint64_t n) {
    HandoverItem item;
    item.application_correlation = ApplicationCorrelation{42, n};
    item.message_sender = MessagingParty{{PartyIdentifier{false, {}, "sender-" + std::to_string(n)}}, true};
    item.timestamp = "2026-01-01T00:00:00.000000Z";
    item.csp_defined = CspDefinedParameters{SchemaDetails{"csp-v1", {}, {}}, R"(<c:e xmlns:c="urn:c"><x/></c:e>)"};
    return item;
}

std::vector<std::string> elements(std::size_t count) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) {
        out.push_back(write_handover_item(item_n(i)).value());
    }
    return out;
}

DeliverySpec spec() {
    DeliverySpec s;
    s.sender = EndpointId{"GB", "CSP-ENCLAVE-1"};
    s.reference = "LIID-0001";
    s.delivery_id = uuid_v4();
    s.sequence_number = 7;
    return s;
}

TEST(Hi1DeliverTest, OneItemRequestFollowsTables1To3) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const auto s = spec();
    const auto items = elements(1);
    auto xml = build_deliver_request(s, items);
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    for (const char* expected :
         {"<core:ETSIVersion>V1.23.1</core:ETSIVersion>", "<core:NationalProfileOwner>N/A</core:NationalProfileOwner>",
          "<core:NationalProfileVersion>N/A</core:NationalProfileVersion>", "xsi:type=\"delivery:DeliveryObject\"",
          "<core:CountryCode>XX</core:CountryCode>", "<core:OwnerIdentifier>Not specified</core:OwnerIdentifier>",
          "<common:Value>TS103707</common:Value>", "<common:Name>ManifestSpecification</common:Name>",
          "<delivery:XMLData><hi:handoverItem", "<delivery:LastSequence>false</delivery:LastSequence>"}) {
        EXPECT_NE(xml->find(expected), std::string::npos) << expected;
    }
    EXPECT_EQ(xml->find("NationalHandlingParameters"), std::string::npos);

    auto req = parse_deliver_request(*xml, *set);
    ASSERT_TRUE(req) << req.error().message();
    EXPECT_EQ(req->sender, s.sender);
    EXPECT_EQ(req->receiver, (EndpointId{"XX", "Not specified"}));
    EXPECT_TRUE(is_uuid(req->transaction_id));
    EXPECT_TRUE(is_handover_datetime(req->timestamp));
    ASSERT_EQ(req->timestamp.size(), 27u);  // six fractional digits + Z
    EXPECT_EQ(req->timestamp[19], '.');
    EXPECT_EQ(req->object_id, s.delivery_id);
    EXPECT_EQ(req->reference_kind, ReferenceKind::liid);
    EXPECT_EQ(req->reference, "LIID-0001");
    EXPECT_EQ(req->delivery_id, s.delivery_id);
    EXPECT_EQ(req->sequence_number, 7u);
    EXPECT_FALSE(req->last_sequence);
    ASSERT_EQ(req->items.size(), 1u);
    EXPECT_EQ(req->items[0], item_n(0));
}

TEST(Hi1DeliverTest, SeveralItemsMakeACollection) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    auto s = spec();
    s.reference_kind = ReferenceKind::ldid;
    s.reference = "GB-LEA1-000123";
    s.receiver = EndpointId{"DE", "LEA-7"};
    s.last_sequence = true;
    s.timestamp = "2026-03-04T05:06:07.123456+01:00";
    s.transaction_id = uuid_v4();
    s.object_id = uuid_v4();
    const auto items = elements(5);
    auto xml = build_deliver_request(s, items);
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    EXPECT_NE(xml->find("<hi:handoverItemCollection"), std::string::npos);
    auto req = parse_deliver_request(*xml, *set);
    ASSERT_TRUE(req) << req.error().message();
    EXPECT_EQ(req->reference_kind, ReferenceKind::ldid);
    EXPECT_EQ(req->reference, s.reference);
    EXPECT_EQ(req->receiver, s.receiver);
    EXPECT_EQ(req->timestamp, *s.timestamp);
    EXPECT_EQ(req->transaction_id, *s.transaction_id);
    EXPECT_EQ(req->object_id, *s.object_id);
    EXPECT_TRUE(req->last_sequence);
    ASSERT_EQ(req->items.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(req->items[i], item_n(i));
    }
}

TEST(Hi1DeliverTest, ZeroItemsIsAClosingMarkerWithoutDelivery) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    auto s = spec();
    s.last_sequence = true;
    auto xml = build_deliver_request(s, {});
    ASSERT_TRUE(xml) << xml.error().message();
    expect_valid(*xml);
    EXPECT_EQ(xml->find("<delivery:Delivery>"), std::string::npos);
    auto req = parse_deliver_request(*xml, *set);
    ASSERT_TRUE(req) << req.error().message();
    EXPECT_TRUE(req->items.empty());
    EXPECT_TRUE(req->last_sequence);

    s.last_sequence = false;
    auto refused = build_deliver_request(s, {});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::invalid_argument);
}

TEST(Hi1DeliverTest, RefusesBadSpecFields) {
    const auto items = elements(1);
    struct Case {
        const char* what;
        void (*mutate)(DeliverySpec&);
    };
    const Case cases[] = {
        {"delivery id", [](DeliverySpec& s) { s.delivery_id = "not-a-uuid"; }},
        {"upper-case uuid", [](DeliverySpec& s) { s.delivery_id = "6F1C1F2E-6C1A-4C57-9A57-2B8F0C1D2E3F"; }},
        {"object id", [](DeliverySpec& s) { s.object_id = "x"; }},
        {"transaction id", [](DeliverySpec& s) { s.transaction_id = ""; }},
        {"country", [](DeliverySpec& s) { s.sender.country_code = "gb"; }},
        {"sender id", [](DeliverySpec& s) { s.sender.unique_identifier.clear(); }},
        {"receiver id", [](DeliverySpec& s) { s.receiver.unique_identifier.assign(256, 'x'); }},
        {"liid chars", [](DeliverySpec& s) { s.reference = "LIID with space"; }},
        {"liid long", [](DeliverySpec& s) { s.reference = std::string(30, 'Z'); }},
        {"ldid form", [](DeliverySpec& s) {
             s.reference_kind = ReferenceKind::ldid;
             s.reference = "nope";
         }},
        {"timestamp", [](DeliverySpec& s) { s.timestamp = "2026-01-01T00:00:00Z"; }},
    };
    for (const auto& c : cases) {
        auto s = spec();
        c.mutate(s);
        auto xml = build_deliver_request(s, items);
        ASSERT_FALSE(xml) << c.what;
        EXPECT_EQ(xml.error().code(), Errc::invalid_argument) << c.what << ": " << xml.error().message();
    }
}

TEST(Hi1DeliverTest, RefusesHostileItemElements) {
    const auto good = elements(1).front();
    const std::vector<std::string> bad = {
        "<x:other xmlns:x=\"urn:x\"/>",
        "<!DOCTYPE d [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><hi:handoverItem "
        "xmlns:hi=\"http://uri.etsi.org/03707/2020/02\">&e;</hi:handoverItem>",
        good + "<evil/>",
        good.substr(0, good.size() - 5),
        "",
    };
    for (const auto& b : bad) {
        const std::vector<std::string> items = {good, b};
        auto xml = build_deliver_request(spec(), items);
        ASSERT_FALSE(xml);
        EXPECT_EQ(xml.error().code(), Errc::malformed_input) << xml.error().message();
        EXPECT_NE(xml.error().context().find("item_elements[1]"), std::string::npos) << xml.error().context();
    }
}

TEST(Hi1DeliverTest, ResponsesRoundTrip) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    DeliverResponseSpec r;
    r.sender = EndpointId{"XX", "Not specified"};
    r.receiver = EndpointId{"GB", "CSP-ENCLAVE-1"};
    r.transaction_id = uuid_v4();
    r.object_id = uuid_v4();
    auto ok_xml = build_deliver_response(r);
    ASSERT_TRUE(ok_xml) << ok_xml.error().message();
    expect_valid(*ok_xml);
    auto ok = parse_deliver_response(*ok_xml, *set);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_TRUE(ok->accepted);
    EXPECT_EQ(ok->object_id, r.object_id);
    EXPECT_EQ(ok->transaction_id, *r.transaction_id);
    EXPECT_FALSE(ok->error);

    r.error = Hi1Error{1001, "Sequence gap: expected 6 <got 7> & more"};
    auto action_err = build_deliver_response(r);
    ASSERT_TRUE(action_err);
    expect_valid(*action_err);
    auto ae = parse_deliver_response(*action_err, *set);
    ASSERT_TRUE(ae) << ae.error().message();
    EXPECT_FALSE(ae->accepted);
    ASSERT_TRUE(ae->error);
    EXPECT_EQ(*ae->error, *r.error);

    r.message_level_error = true;
    r.transaction_id.reset();
    r.object_id.clear();
    auto msg_err = build_deliver_response(r);
    ASSERT_TRUE(msg_err) << msg_err.error().message();
    expect_valid(*msg_err);
    auto me = parse_deliver_response(*msg_err, *set);
    ASSERT_TRUE(me);
    EXPECT_FALSE(me->accepted);
    EXPECT_EQ(me->error->code, 1001u);

    r.error = Hi1Error{1, ""};
    EXPECT_FALSE(build_deliver_response(r));
}

TEST(Hi1DeliverTest, OfficialExamples) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const auto dir = enclave::testing::shared_dir() / "etsi-examples";
    auto ok = parse_deliver_response(read_file(dir / "103120-v1.12.1" / "response5.xml"), *set);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_TRUE(ok->accepted);
    EXPECT_EQ(ok->object_id, "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
    // Binary data is not a TS 103 707 delivery; FooItem is not in the set.
    for (const auto* name : {"request5-Binary-Delivery.xml", "request5-XML-Delivery.xml"}) {
        auto req = parse_deliver_request(read_file(dir / "103120-v1.23.1" / name), *set);
        ASSERT_FALSE(req) << name;
        EXPECT_EQ(req.error().code(), Errc::malformed_input) << name;
    }
    // A CREATE is not a DELIVER, and a request is not a response.
    auto create = parse_deliver_request(read_file(dir / "103120-v1.12.1" / "request1.xml"), *set);
    ASSERT_FALSE(create);
    EXPECT_EQ(create.error().code(), Errc::malformed_input);
    auto not_resp = parse_deliver_response(read_file(dir / "103120-v1.12.1" / "request1.xml"), *set);
    ASSERT_FALSE(not_resp);
    auto other_resp = parse_deliver_response(read_file(dir / "103120-v1.12.1" / "response1.xml"), *set);
    ASSERT_FALSE(other_resp);
    EXPECT_EQ(other_resp.error().code(), Errc::malformed_input);
}

TEST(Hi1DeliverTest, HostileResponses) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    EXPECT_FALSE(parse_deliver_response("<!DOCTYPE a [<!ENTITY b \"c\">]><a>&b;</a>", *set));
    EXPECT_FALSE(parse_deliver_response("<core:HI1Message xmlns:core=\"http://uri.etsi.org/03120/common/2019/10/Core\"/>",
                                        *set));
    EXPECT_FALSE(parse_deliver_response("", *set));
    XmlLimits tiny;
    tiny.max_bytes = 100;
    DeliverResponseSpec r;
    r.sender = EndpointId{"XX", "Not specified"};
    r.receiver = EndpointId{"GB", "CSP"};
    r.object_id = uuid_v4();
    auto big = parse_deliver_response(build_deliver_response(r).value(), *set, tiny);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);
    // Tampered after building: schema-invalid.
    std::string xml = build_deliver_response(r).value();
    const auto pos = xml.find("<core:Identifier>");
    xml.insert(pos + 17, "x");
    auto tampered = parse_deliver_response(xml, *set);
    ASSERT_FALSE(tampered);
    EXPECT_EQ(tampered.error().code(), Errc::malformed_input);
}

TEST(Hi1DeliverTest, UuidV4Form) {
    const std::string a = uuid_v4();
    const std::string b = uuid_v4();
    EXPECT_TRUE(is_uuid(a));
    EXPECT_NE(a, b);
    EXPECT_EQ(a[14], '4');
    EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
    EXPECT_FALSE(is_uuid("6f1c1f2e6c1a-4c57-9a57-2b8f0c1d2e3f0"));
    EXPECT_FALSE(is_uuid(""));
}

}  // namespace
}  // namespace enclave::delivery
