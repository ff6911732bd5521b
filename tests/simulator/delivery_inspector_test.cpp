// SPDX-License-Identifier: Apache-2.0
// The simulator's stand-in XML reader and its minimal HI1 answers: the
// official example, hostile input, and the answers validated by xmllint
// against the ETSI schema set.
#include "simulator/delivery_inspector.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "sim_fixture.hpp"
#include "simulator/lea_simulator.hpp"

namespace enclave::simulator {
namespace {

using crypto::Errc;
using testing::example_delivery;

/// xmllint --nonet --schema <ETSI wrapper> on `xml`; its exit status.
int xmllint_validate(const std::string& xml) {
    if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
        ADD_FAILURE() << "xmllint not found: install the Debian package libxml2-utils";
        return -1;
    }
    testing::TempDir dir;
    const auto file = dir.path() / "m.xml";
    std::ofstream(file) << xml;
    const auto wrapper = testing::shared_dir() / "etsi-schemas/_local_hi1_validation_wrapper.xsd";
    const std::string cmd = "xmllint --nonet --noout --schema '" + wrapper.string() + "' '" +
                            file.string() + "' >/dev/null 2>&1";
    return std::system(cmd.c_str());
}

TEST(DeliveryInspectorTest, ReadsTheOfficialExample) {
    auto f = inspect_delivery(example_delivery());
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->delivery_id, "d1079830-8e9a-4731-8fb7-36b9b961eb72");
    EXPECT_EQ(f->reference_kind, "LDID");
    EXPECT_EQ(f->reference, "XX-ACTOR01-1234");
    EXPECT_EQ(f->sequence_number, 1u);
    EXPECT_TRUE(f->last_sequence);
    EXPECT_EQ(f->object_identifier, "71ff52ca-bcea-4fa3-b34e-1b89dcfb0d9e");
    EXPECT_EQ(f->sender_id, "ACTOR02");
    EXPECT_EQ(f->transaction_id, "8854cfad-44ac-43b8-99ae-530b690b43da");
    EXPECT_EQ(f->items, 0u);
}

TEST(DeliveryInspectorTest, MinimalAnswersValidateAgainstTheEtsiSchemas) {
    auto f = inspect_delivery(example_delivery());
    ASSERT_TRUE(f);
    const std::string ok = minimal_deliver_response(*f);
    EXPECT_NE(ok.find("<SenderIdentifier><CountryCode>XX</CountryCode><UniqueIdentifier>ACTOR01"),
              std::string::npos);
    EXPECT_EQ(xmllint_validate(ok), 0) << ok;
    EXPECT_EQ(xmllint_validate(minimal_error_response(*f, 400, "bad <thing> & more")), 0);
    EXPECT_EQ(xmllint_validate(minimal_error_response(DeliveryFacts{}, 413, "too large")), 0);
}

TEST(DeliveryInspectorTest, RefusesHostileAndMalformedInput) {
    const std::string example = example_delivery();
    std::string no_id = example;
    no_id.replace(no_id.find("d1079830"), 8, "zzzzzzzz");
    std::string no_seq = example;
    no_seq.replace(no_seq.find("<delivery:SequenceNumber>1"), 26, "<delivery:SequenceNumber>-1");
    const std::string xxe =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
    for (const std::string& bad :
         {std::string(), std::string("<"), std::string("<a><b></a>"), xxe, no_id, no_seq,
          std::string("<HI1Message xmlns=\"urn:wrong\"/>"),
          std::string("<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\"/>"),
          std::string(10000, '<')}) {
        auto f = inspect_delivery(bad);
        ASSERT_FALSE(f);
        EXPECT_EQ(f.error().code(), Errc::malformed_input);
        EXPECT_EQ(f.error().context().find("passwd"), std::string::npos);
    }
    auto big = inspect_delivery(std::string(kMaxInspectBytes + 1, ' '));
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);
}

TEST(DeliveryInspectorTest, UuidHelpers) {
    const std::string u = random_uuid();
    EXPECT_TRUE(is_uuid(u));
    EXPECT_EQ(u[14], '4');
    EXPECT_NE(u, random_uuid());
    EXPECT_FALSE(is_uuid("d1079830-8e9a-4731-8fb7-36b9b961eb7"));
    EXPECT_FALSE(is_uuid("d1079830x8e9a-4731-8fb7-36b9b961eb72"));
    EXPECT_FALSE(is_uuid("g1079830-8e9a-4731-8fb7-36b9b961eb72"));
}

TEST(DeliveryInspectorTest, FaultJsonIsStrict) {
    auto f = parse_fault_json(R"({"kind":"delay","target":"binary","delay_ms":250,"count":2})");
    ASSERT_TRUE(f) << f.error().message();
    EXPECT_EQ(f->kind, FaultKind::delay);
    EXPECT_EQ(f->target, FaultTarget::binary);
    EXPECT_EQ(f->delay.count(), 250);
    EXPECT_EQ(f->count, 2);
    for (const char* bad : {"", "[]", "{\"kind\":\"explode\"}", "{\"other\":1}",
                            "{\"delay_ms\":-5}", "{\"count\":-2}", "{\"target\":7}", "{"}) {
        EXPECT_FALSE(parse_fault_json(bad)) << bad;
    }
    EXPECT_FALSE(parse_fault_json(std::string(5000, ' ')));
}

}  // namespace
}  // namespace enclave::simulator
