// SPDX-License-Identifier: Apache-2.0
#include <string>

#include <gtest/gtest.h>

#include "delivery/ingest_json.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;

constexpr const char* kFull = R"({
  "idempotencyKey": "collector-7:42",
  "timestamp": "2026-01-01T00:00:00.000000Z",
  "sender": {"identifiers": ["alice@example", {"formatType": "EmailAddress", "value": "a@b.example"}],
             "isTargetedParty": true},
  "receivers": [{"identifiers": ["bob"]}, {"identifiers": [{"value": "carol"}], "isTargetedParty": false}],
  "binaries": ["0123abcd", {"id": "blob_2-x", "originalFilename": "photo.jpg", "cspDefinedIdentifier": "att-9"}],
  "cspDefined": {"schemaIdentifier": "urn:csp:msg:1", "schemaUrl": "https://csp.example/s.xsd",
                 "xml": "<m xmlns=\"urn:csp\">hi</m>"},
  "applicationCorrelation": {"applicationLevelID": 18446744073709551615, "applicationSequenceNumber": 0}
})";

TEST(IngestJsonTest, ParsesTheFullForm) {
    auto items = parse_ingest_items(kFull);
    ASSERT_TRUE(items) << items.error().message();
    ASSERT_EQ(items->size(), 1u);
    const IngestItem& in = items->front();
    ASSERT_TRUE(in.idempotency_key);
    EXPECT_EQ(*in.idempotency_key, "collector-7:42");
    const HandoverItem& it = in.item;
    EXPECT_EQ(it.timestamp, "2026-01-01T00:00:00.000000Z");
    ASSERT_TRUE(it.message_sender);
    ASSERT_EQ(it.message_sender->identifiers.size(), 2u);
    EXPECT_FALSE(it.message_sender->identifiers[0].qualified);
    EXPECT_EQ(it.message_sender->identifiers[0].value, "alice@example");
    EXPECT_TRUE(it.message_sender->identifiers[1].qualified);
    EXPECT_EQ(it.message_sender->identifiers[1].format_type, "EmailAddress");
    EXPECT_EQ(it.message_sender->identifiers[1].value, "a@b.example");
    EXPECT_EQ(it.message_sender->is_targeted_party, std::optional<bool>(true));
    ASSERT_EQ(it.message_receivers.size(), 2u);
    EXPECT_FALSE(it.message_receivers[0].is_targeted_party.has_value());
    EXPECT_TRUE(it.message_receivers[1].identifiers[0].qualified);
    EXPECT_TRUE(it.message_receivers[1].identifiers[0].format_type.empty());
    EXPECT_EQ(it.message_receivers[1].is_targeted_party, std::optional<bool>(false));
    ASSERT_EQ(in.blob_ids, (std::vector<std::string>{"0123abcd", "blob_2-x"}));
    ASSERT_EQ(it.associated_binary_data.size(), 2u);
    EXPECT_EQ(it.associated_binary_data[0].blob_id, "0123abcd");
    EXPECT_FALSE(it.associated_binary_data[0].original_filename);
    EXPECT_EQ(it.associated_binary_data[1].original_filename, std::optional<std::string>("photo.jpg"));
    EXPECT_EQ(it.associated_binary_data[1].csp_defined_identifier, std::optional<std::string>("att-9"));
    EXPECT_TRUE(it.associated_binary_data[1].url.empty());
    ASSERT_TRUE(it.csp_defined);
    EXPECT_EQ(it.csp_defined->schema_details.schema_identifier, "urn:csp:msg:1");
    EXPECT_EQ(it.csp_defined->schema_details.schema_url, std::optional<std::string>("https://csp.example/s.xsd"));
    EXPECT_EQ(it.csp_defined->xml, "<m xmlns=\"urn:csp\">hi</m>");
    ASSERT_TRUE(it.application_correlation);
    EXPECT_EQ(it.application_correlation->application_level_id, 18446744073709551615ull);
    EXPECT_EQ(it.application_correlation->application_sequence_number, 0u);
}

TEST(IngestJsonTest, OnlyTimestampIsRequired) {
    auto items = parse_ingest_items(R"({"timestamp": "2026-02-28T23:59:59+01:00"})");
    ASSERT_TRUE(items) << items.error().message();
    ASSERT_EQ(items->size(), 1u);
    EXPECT_FALSE((*items)[0].idempotency_key);
    EXPECT_EQ((*items)[0].item.timestamp, "2026-02-28T23:59:59+01:00");
    EXPECT_FALSE((*items)[0].item.message_sender);
    EXPECT_TRUE((*items)[0].blob_ids.empty());
}

TEST(IngestJsonTest, ParsesAnArrayInOrder) {
    auto items = parse_ingest_items(
        R"([{"timestamp": "2026-01-01T00:00:00Z", "idempotencyKey": "a"},
            {"timestamp": "2026-01-01T00:00:01Z", "idempotencyKey": "b"}])");
    ASSERT_TRUE(items) << items.error().message();
    ASSERT_EQ(items->size(), 2u);
    EXPECT_EQ(*(*items)[0].idempotency_key, "a");
    EXPECT_EQ(*(*items)[1].idempotency_key, "b");
}

struct Bad {
    const char* json;
    Errc code;
    const char* path;  // expected at the start of the context
};

TEST(IngestJsonTest, RefusesMalformedInputNamingThePathNotTheValue) {
    const Bad cases[] = {
        {R"({})", Errc::malformed_input, "timestamp: missing"},
        {R"({"timestamp": 5})", Errc::malformed_input, "timestamp: must be a string"},
        {R"({"timestamp": "2026-01-01 00:00:00Z"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2026-01-01T00:00:00.000Z"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2026-01-01T00:00:00"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2025-02-29T00:00:00Z"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2026-01-01T24:00:00Z"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2026-01-01T00:00:00+14:01"})", Errc::malformed_input, "timestamp: not a"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "secret-number-0611": 1})", Errc::malformed_input,
         "(top level): unknown member"},
        {R"([{"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "2026-01-01T00:00:00Z",
             "sender": {"identifiers": []}}])",
         Errc::malformed_input, "[1].sender.identifiers: must not be empty"},
        {R"([{"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "2026-01-01T00:00:00Z"},
             {"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "2026-01-01T00:00:00Z",
             "sender": {"identifiers": [7]}}])",
         Errc::malformed_input, "[3].sender.identifiers[0]: must be a string or a {formatType, value} object"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": [""]}})", Errc::malformed_input,
         "sender.identifiers[0]: must not be empty"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": ["a\u0001b"]}})",
         Errc::malformed_input, "sender.identifiers[0]: contains a character"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": [{"formatType": "x"}]}})",
         Errc::malformed_input, "sender.identifiers[0].value: missing"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": ["a"], "isTargetedParty": 1}})",
         Errc::malformed_input, "sender.isTargetedParty: must be true or false"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "receivers": {"identifiers": ["a"]}})", Errc::malformed_input,
         "receivers: must be an array"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "binaries": ["../etc/passwd"]})", Errc::malformed_input,
         "binaries[0]: not a blob id"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "binaries": ["a", {"id": "a"}]})", Errc::malformed_input,
         "binaries[1]: names the same blob"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "binaries": [{"originalFilename": "x"}]})",
         Errc::malformed_input, "binaries[0].id: missing"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "cspDefined": {"xml": "<a/>"}})", Errc::malformed_input,
         "cspDefined.schemaIdentifier: missing"},
        {R"({"timestamp": "2026-01-01T00:00:00Z",
             "applicationCorrelation": {"applicationLevelID": -1, "applicationSequenceNumber": 0}})",
         Errc::malformed_input, "applicationCorrelation.applicationLevelID: must be a non-negative"},
        {R"({"timestamp": "2026-01-01T00:00:00Z",
             "applicationCorrelation": {"applicationLevelID": 1.5, "applicationSequenceNumber": 0}})",
         Errc::malformed_input, "applicationCorrelation: a number that is not a 64-bit integer"},
        {R"({"timestamp": "2026-01-01T00:00:00Z",
             "applicationCorrelation": {"applicationLevelID": 18446744073709551616, "applicationSequenceNumber": 0}})",
         Errc::malformed_input, "applicationCorrelation: a number that is not a 64-bit integer"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "applicationCorrelation": {"applicationLevelID": 1}})",
         Errc::malformed_input, "applicationCorrelation.applicationSequenceNumber: missing"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "timestamp": "2026-01-01T00:00:00Z"})", Errc::malformed_input,
         "(top level): a duplicate member \"timestamp\""},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": ["a"], "identifiers": ["b"]}})",
         Errc::malformed_input, "sender: a duplicate member"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "idempotencyKey": "has space"})", Errc::malformed_input,
         "idempotencyKey: must be printable ASCII"},
        {R"([])", Errc::malformed_input, "(top level): an empty array"},
        {R"("just a string")", Errc::malformed_input, "(top level): must be an item object"},
        {R"([5])", Errc::malformed_input, "[0]: must be an object"},
        {R"({"timestamp": "2026-01-01T00:00:00Z")", Errc::malformed_input, "not valid JSON"},
        {R"({"timestamp": "2026-01-01T00:00:00Z"} {})", Errc::malformed_input, "not valid JSON"},
        {"{\"timestamp\": \"2026-01-01T00:00:00Z\", \"idempotencyKey\": \"\xff\"}", Errc::malformed_input,
         "not valid JSON"},
        {R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": [[[[[[[[[]]]]]]]]]}})",
         Errc::too_large, "sender.identifiers[0][0][0][0][0]: nested deeper"},
    };
    for (const Bad& c : cases) {
        auto r = parse_ingest_items(c.json);
        ASSERT_FALSE(r) << c.json;
        EXPECT_EQ(r.error().code(), c.code) << c.json << " -> " << r.error().message();
        EXPECT_EQ(r.error().context().rfind(c.path, 0), 0u) << c.json << " -> " << r.error().message();
        // Never an echo of a value or of an unknown member name.
        for (const char* value : {"secret-number-0611", "passwd", "has space", "alice", "2026-01-01 00"}) {
            EXPECT_EQ(r.error().context().find(value), std::string::npos) << r.error().message();
        }
    }
}

TEST(IngestJsonTest, EnforcesSizeAndCountLimits) {
    IngestLimits lim;
    lim.max_bytes = 64;
    auto big = parse_ingest_items(std::string(65, ' '), lim);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);

    lim = IngestLimits{};
    lim.max_items = 2;
    const std::string three = R"([{"timestamp": "2026-01-01T00:00:00Z"}, {"timestamp": "2026-01-01T00:00:00Z"},
                                  {"timestamp": "2026-01-01T00:00:00Z"}])";
    auto many = parse_ingest_items(three, lim);
    ASSERT_FALSE(many);
    EXPECT_EQ(many.error().code(), Errc::too_large);
    lim.max_items = 3;
    EXPECT_TRUE(parse_ingest_items(three, lim));

    lim = IngestLimits{};
    lim.max_identifiers = 2;
    auto ids = parse_ingest_items(
        R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": ["a", "b", "c"]}})", lim);
    ASSERT_FALSE(ids);
    EXPECT_EQ(ids.error().code(), Errc::too_large);
    EXPECT_EQ(ids.error().context().rfind("sender.identifiers: more than 2", 0), 0u) << ids.error().message();

    // 1024 characters (multi-byte ones count once) pass; 1025 do not.
    std::string ok_value;
    for (int i = 0; i < 1024; ++i) ok_value += "\xc3\xa9";  // U+00E9
    const auto with = [](const std::string& v) {
        return R"({"timestamp": "2026-01-01T00:00:00Z", "sender": {"identifiers": [")" + v + R"("]}})";
    };
    EXPECT_TRUE(parse_ingest_items(with(ok_value)));
    auto long_id = parse_ingest_items(with(ok_value + "x"));
    ASSERT_FALSE(long_id);
    EXPECT_EQ(long_id.error().code(), Errc::too_large);
    EXPECT_EQ(long_id.error().context().rfind("sender.identifiers[0]: longer than 1024", 0), 0u);

    lim = IngestLimits{};
    lim.max_csp_xml_bytes = 10;
    auto xml = parse_ingest_items(
        R"({"timestamp": "2026-01-01T00:00:00Z", "cspDefined": {"schemaIdentifier": "s", "xml": "<a>0123456789</a>"}})",
        lim);
    ASSERT_FALSE(xml);
    EXPECT_EQ(xml.error().code(), Errc::too_large);
    EXPECT_EQ(xml.error().context().rfind("cspDefined.xml: longer than 10 bytes", 0), 0u);
}

TEST(IngestJsonTest, DeepNestingIsRefusedWithoutRecursionTrouble) {
    // 100,000 nested arrays: the depth limit stops the builder at once.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    auto r = parse_ingest_items(deep);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::too_large);
}

TEST(IngestJsonTest, QualifiedDateTimeForms) {
    EXPECT_TRUE(is_qualified_date_time("2026-01-01T00:00:00Z"));
    EXPECT_TRUE(is_qualified_date_time("2026-01-01T00:00:00.123456Z"));
    EXPECT_TRUE(is_qualified_date_time("2024-02-29T12:30:59-05:30"));
    EXPECT_TRUE(is_qualified_date_time("2000-02-29T00:00:00+14:00"));
    EXPECT_FALSE(is_qualified_date_time("1900-02-29T00:00:00Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-13-01T00:00:00Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-04-31T00:00:00Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:60:00Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:60Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:00.1234567Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:00.12345Z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:00z"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:00+0100"));
    EXPECT_FALSE(is_qualified_date_time("2026-01-01T00:00:00Z "));
    EXPECT_FALSE(is_qualified_date_time("+2026-01-01T00:00:00Z"));
    EXPECT_FALSE(is_qualified_date_time(""));
}

}  // namespace
}  // namespace enclave::delivery
