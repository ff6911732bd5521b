// SPDX-License-Identifier: Apache-2.0
// write_handover_item / parse_handover_items: every written element
// validates (libxml2 and xmllint), round trips, and hostile input is refused.

#include <string>

#include <gtest/gtest.h>

#include "delivery/xml_handover.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;
using testing::run_xmllint;
using testing::shared_schemas;

HandoverItem full_item() {
    HandoverItem item;
    item.application_correlation = ApplicationCorrelation{18446744073709551615ull, 3};
    item.message_sender = MessagingParty{
        {PartyIdentifier{false, {}, "alice <&> \"quoted\" 'x' ]]> \xc3\xa9"},
         PartyIdentifier{true, "InternationalE164", "447700900123"},
         PartyIdentifier{true, "XX-Police:CustomerRef", "  spaced value  "}},
        true};
    item.message_receivers = {MessagingParty{{PartyIdentifier{false, {}, "bob"}}, false},
                              MessagingParty{{PartyIdentifier{true, {}, "carol"}}, std::nullopt}};
    item.timestamp = "2026-01-01T00:00:00.000000Z";
    BinaryObject b;
    b.url = "https://lea.example/binaryData/6f1c1f2e-6c1a-4c57-9a57-2b8f0c1d2e3f/";
    b.content_length = 1048576;
    b.content_type = "image/jpeg";
    b.expiry = "2026-01-02T00:00:00+01:00";
    b.checksum = std::string(64, 'a');
    b.original_filename = "holiday photo.jpg";
    b.csp_defined_identifier = "attachment-1";
    item.associated_binary_data = {b, BinaryObject{"https://lea.example/binaryData/x/", {}, {}, {}, {}, {}, {}, {}}};
    item.csp_defined = CspDefinedParameters{
        SchemaDetails{"csp-schema-v1", "https://csp.example/schema/v1.xsd", "<xs:schema>...</xs:schema>"},
        R"(<c:event xmlns:c="urn:csp:v1" kind="join"><c:group>g&amp;1</c:group><plain>no namespace</plain></c:event>)"};
    return item;
}

HandoverItem minimal_item() {
    HandoverItem item;
    item.timestamp = "2026-01-01T00:00:00Z";
    return item;
}

TEST(XmlHandoverTest, FullItemValidatesAndRoundTrips) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const HandoverItem item = full_item();
    auto xml = write_handover_item(item);
    ASSERT_TRUE(xml) << xml.error().message();
    EXPECT_EQ(xml->rfind("<hi:handoverItem xmlns:hi=\"http://uri.etsi.org/03707/2020/02\"", 0), 0u) << *xml;
    EXPECT_NE(xml->find("&lt;&amp;&gt;"), std::string::npos);

    auto back = parse_handover_items(*xml, *set);
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(back->size(), 1u);
    HandoverItem got = back->front();
    // The CSP XML comes back as an equivalent serialisation.
    ASSERT_TRUE(got.csp_defined);
    EXPECT_NE(got.csp_defined->xml.find("xmlns:c=\"urn:csp:v1\""), std::string::npos) << got.csp_defined->xml;
    EXPECT_NE(got.csp_defined->xml.find("<plain>no namespace</plain>"), std::string::npos);
    got.csp_defined->xml = item.csp_defined->xml;
    EXPECT_EQ(got, item);

    const auto lint = run_xmllint(*xml);
    EXPECT_EQ(lint.status, 0) << lint.output;
}

TEST(XmlHandoverTest, MinimalItemValidatesAndRoundTrips) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    auto xml = write_handover_item(minimal_item());
    ASSERT_TRUE(xml) << xml.error().message();
    auto back = parse_handover_items(*xml, *set);
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ(back->front(), minimal_item());
    EXPECT_EQ(run_xmllint(*xml).status, 0);
}

TEST(XmlHandoverTest, UnqualifiedCspChildStaysUnqualified) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    HandoverItem item = minimal_item();
    item.csp_defined = CspDefinedParameters{SchemaDetails{"s", {}, {}}, R"(<c:e xmlns:c="urn:c"><plain/></c:e>)"};
    auto xml = write_handover_item(item);
    ASSERT_TRUE(xml) << xml.error().message();
    // No default namespace anywhere: <plain/> cannot be captured by one.
    EXPECT_EQ(xml->find("xmlns=\""), std::string::npos) << *xml;
    auto back = parse_handover_items(*xml, *set);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(back->front().csp_defined->xml, R"(<c:e xmlns:c="urn:c"><plain/></c:e>)");
}

TEST(XmlHandoverTest, CollectionParsesInOrder) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    std::string doc = "<hi:handoverItemCollection xmlns:hi=\"http://uri.etsi.org/03707/2020/02\">";
    for (int i = 0; i < 3; ++i) {
        HandoverItem item = minimal_item();
        item.application_correlation = ApplicationCorrelation{7, static_cast<std::uint64_t>(i)};
        doc += write_handover_item(item).value();
    }
    doc += "</hi:handoverItemCollection>";
    auto items = parse_handover_items(doc, *set);
    ASSERT_TRUE(items) << items.error().message();
    ASSERT_EQ(items->size(), 3u);
    for (std::uint64_t i = 0; i < 3; ++i) {
        EXPECT_EQ((*items)[i].application_correlation->application_sequence_number, i);
    }
}

TEST(XmlHandoverTest, WriterRefusesBadFields) {
    struct Case {
        const char* what;
        void (*mutate)(HandoverItem&);
        Errc code;
    };
    const Case cases[] = {
        {"bad timestamp", [](HandoverItem& i) { i.timestamp = "2026-01-01 00:00:00"; }, Errc::malformed_input},
        {"3 fractional digits", [](HandoverItem& i) { i.timestamp = "2026-01-01T00:00:00.123Z"; }, Errc::malformed_input},
        {"feb 30", [](HandoverItem& i) { i.timestamp = "2026-02-30T00:00:00Z"; }, Errc::malformed_input},
        {"no zone", [](HandoverItem& i) { i.timestamp = "2026-01-01T00:00:00"; }, Errc::malformed_input},
        {"control char", [](HandoverItem& i) { i.message_sender->identifiers[0].value = "a\x01" "b"; },
         Errc::malformed_input},
        {"bad utf8", [](HandoverItem& i) { i.message_sender->identifiers[0].value = "\xc3"; }, Errc::malformed_input},
        {"empty identifier", [](HandoverItem& i) { i.message_sender->identifiers[0].value.clear(); },
         Errc::malformed_input},
        {"no identifiers", [](HandoverItem& i) { i.message_receivers[0].identifiers.clear(); }, Errc::malformed_input},
        {"too long", [](HandoverItem& i) { i.message_sender->identifiers[0].value.assign(65536, 'x'); },
         Errc::too_large},
        {"checksum", [](HandoverItem& i) { i.associated_binary_data[0].checksum = "abc"; }, Errc::malformed_input},
        {"content type", [](HandoverItem& i) { i.associated_binary_data[0].content_type = "jpeg"; },
         Errc::malformed_input},
        {"empty url", [](HandoverItem& i) { i.associated_binary_data[0].url.clear(); }, Errc::malformed_input},
        {"csp doctype", [](HandoverItem& i) { i.csp_defined->xml = "<!DOCTYPE x [<!ENTITY a 'b'>]><c:x xmlns:c=\"urn:c\"/>"; },
         Errc::malformed_input},
        {"csp not well-formed", [](HandoverItem& i) { i.csp_defined->xml = "<c:x xmlns:c=\"urn:c\">"; },
         Errc::malformed_input},
        {"csp no namespace", [](HandoverItem& i) { i.csp_defined->xml = "<x/>"; }, Errc::malformed_input},
        {"csp in 103 707", [](HandoverItem& i) {
             i.csp_defined->xml = "<handoverItem xmlns=\"http://uri.etsi.org/03707/2020/02\"/>";
         }, Errc::malformed_input},
        {"csp two roots", [](HandoverItem& i) { i.csp_defined->xml = "<c:x xmlns:c=\"urn:c\"/><c:y xmlns:c=\"urn:c\"/>"; },
         Errc::malformed_input},
        {"empty schema id", [](HandoverItem& i) { i.csp_defined->schema_details.schema_identifier.clear(); },
         Errc::malformed_input},
    };
    for (const auto& c : cases) {
        HandoverItem item = full_item();
        c.mutate(item);
        auto xml = write_handover_item(item);
        ASSERT_FALSE(xml) << c.what;
        EXPECT_EQ(xml.error().code(), c.code) << c.what << ": " << xml.error().message();
        EXPECT_EQ(xml.error().context().find("alice"), std::string::npos) << c.what;
    }
}

TEST(XmlHandoverTest, ReaderRefusesWrongRootNamespaceAndInvalidItems) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const std::string wrong_ns = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2019/01"/>)";
    auto a = parse_handover_items(wrong_ns, *set);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code(), Errc::malformed_input);

    const std::string no_ts = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2020/02">)"
                              R"(<hi:messagingCoreParameters/></hi:handoverItem>)";
    auto b = parse_handover_items(no_ts, *set);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), Errc::malformed_input);
    EXPECT_NE(b.error().context().find("schema"), std::string::npos) << b.error().context();

    const std::string bad_value = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2020/02">)"
                                  R"(<hi:messagingCoreParameters><hi:timestamp>SECRET</hi:timestamp>)"
                                  R"(</hi:messagingCoreParameters></hi:handoverItem>)";
    auto c = parse_handover_items(bad_value, *set);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().context().find("SECRET"), std::string::npos) << c.error().context();

    const std::string xinclude = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2020/02" )"
                                 R"(xmlns:xi="http://www.w3.org/2001/XInclude"><hi:messagingCoreParameters>)"
                                 R"(<hi:timestamp><xi:include href="/etc/hostname" parse="text"/></hi:timestamp>)"
                                 R"(</hi:messagingCoreParameters></hi:handoverItem>)";
    EXPECT_FALSE(parse_handover_items(xinclude, *set));

    const std::string huge_int = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2020/02">)"
                                 R"(<hi:applicationLevelHeader><hi:applicationCorrelation>)"
                                 R"(<hi:applicationLevelID>18446744073709551616</hi:applicationLevelID>)"
                                 R"(<hi:applicationSequenceNumber>0</hi:applicationSequenceNumber>)"
                                 R"(</hi:applicationCorrelation></hi:applicationLevelHeader>)"
                                 R"(<hi:messagingCoreParameters><hi:timestamp>2026-01-01T00:00:00Z</hi:timestamp>)"
                                 R"(</hi:messagingCoreParameters></hi:handoverItem>)";
    auto d = parse_handover_items(huge_int, *set);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code(), Errc::malformed_input);

    XmlLimits tiny;
    tiny.max_bytes = 32;
    auto e = parse_handover_items(write_handover_item(minimal_item()).value(), *set, tiny);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), Errc::too_large);
}

TEST(XmlHandoverTest, XmllintRejectsWhatTheSchemaRejects) {
    const std::string no_ts = R"(<hi:handoverItem xmlns:hi="http://uri.etsi.org/03707/2020/02">)"
                              R"(<hi:messagingCoreParameters/></hi:handoverItem>)";
    const auto lint = run_xmllint(no_ts);
    EXPECT_NE(lint.status, 0) << lint.output;
    EXPECT_NE(lint.status, 127) << lint.output;
}

TEST(XmlHandoverTest, DatetimeForms) {
    EXPECT_TRUE(is_handover_datetime("2026-01-01T00:00:00Z"));
    EXPECT_TRUE(is_handover_datetime("2026-01-01T00:00:00.000000Z"));
    EXPECT_TRUE(is_handover_datetime("2024-02-29T23:59:59-05:30"));
    EXPECT_TRUE(is_handover_datetime("2026-12-31T23:59:59.999999+14:00"));
    EXPECT_FALSE(is_handover_datetime("2025-02-29T00:00:00Z"));
    EXPECT_FALSE(is_handover_datetime("2026-01-01T24:00:00Z"));
    EXPECT_FALSE(is_handover_datetime("2026-01-01T00:00:00.0Z"));
    EXPECT_FALSE(is_handover_datetime("2026-01-01T00:00:00+1:00"));
    EXPECT_FALSE(is_handover_datetime("2026-01-01T00:00:00Zjunk"));
    EXPECT_FALSE(is_handover_datetime(""));
}

}  // namespace
}  // namespace enclave::delivery
