// SPDX-License-Identifier: Apache-2.0
// SchemaSet: compiles the ETSI set + the project XSD from local files only,
// validates the official TS 103 120 examples as they should, and is
// thread-safe.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "delivery/xml_schema.hpp"
#include "support/paths.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;
using testing::read_file;

std::filesystem::path examples() { return enclave::testing::shared_dir() / "etsi-examples"; }

crypto::Result<void> validate_file(const SchemaSet& set, const std::filesystem::path& p) {
    auto doc = parse_xml(read_file(p));
    if (!doc) {
        return tl::unexpected(doc.error());
    }
    return set.validate(*doc);
}

TEST(XmlSchemaTest, OfficialExamplesValidate) {
    auto set = testing::shared_schemas();
    ASSERT_TRUE(set);
    int checked = 0;
    for (const auto* dir : {"103120-v1.12.1", "103120-v1.23.1"}) {
        for (const auto& entry : std::filesystem::directory_iterator(examples() / dir)) {
            const auto name = entry.path().filename().string();
            if (entry.path().extension() != ".xml" || name.find("XML-Delivery") != std::string::npos) {
                continue;
            }
            auto ok = validate_file(*set, entry.path());
            EXPECT_TRUE(ok) << name << ": " << (ok ? "" : ok.error().message());
            ++checked;
        }
    }
    EXPECT_EQ(checked, 17);  // 16 of v1.12.1 (all but XML-Delivery) + the v1.23.1 binary one
}

TEST(XmlSchemaTest, XmlDeliveryExampleNeedsItsPayloadSchema) {
    auto set = testing::shared_schemas();
    ASSERT_TRUE(set);
    const auto example = examples() / "103120-v1.23.1" / "request5-XML-Delivery.xml";
    // XMLData is a strict wildcard: FooItem is unknown to the default set.
    auto refused = validate_file(*set, example);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::malformed_input);
    EXPECT_NE(refused.error().context().find("FooItem"), std::string::npos) << refused.error().context();
    // With FooServiceSchema.xsd imported it validates.
    auto paths = SchemaPaths::defaults();
    paths.extra_imports.emplace_back("http://FooServiceSchema.example.com/schema/v1.1.1/",
                                     examples() / "103120-v1.23.1" / "FooServiceSchema.xsd");
    auto with_foo = SchemaSet::load(paths);
    ASSERT_TRUE(with_foo) << with_foo.error().message();
    auto ok = validate_file(**with_foo, example);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message());
    EXPECT_TRUE(validate_file(**with_foo, examples() / "103120-v1.12.1" / "request5-XML-Delivery.xml"));
}

TEST(XmlSchemaTest, SchemaInvalidMessageIsRefusedWithoutContent) {
    auto set = testing::shared_schemas();
    ASSERT_TRUE(set);
    std::string text = read_file(examples() / "103120-v1.12.1" / "response5.xml");
    const std::string from = "<CountryCode>XX</CountryCode>";
    text.replace(text.find(from), from.size(), "<CountryCode>SECRETVALUE</CountryCode>");
    auto doc = parse_xml(text);
    ASSERT_TRUE(doc);
    auto bad = set->validate(*doc);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::malformed_input);
    EXPECT_NE(bad.error().context().find("CountryCode"), std::string::npos) << bad.error().context();
    EXPECT_EQ(bad.error().context().find("SECRET"), std::string::npos) << bad.error().context();
    // An unknown root is refused too.
    auto unknown = parse_xml("<x:HI1Message xmlns:x=\"urn:not-etsi\"/>");
    ASSERT_TRUE(unknown);
    EXPECT_FALSE(set->validate(*unknown));
}

TEST(XmlSchemaTest, MissingFolderIsNotFound) {
    auto paths = SchemaPaths::defaults();
    paths.etsi_dir = "/nonexistent/etsi-schemas";
    auto set = SchemaSet::load(paths);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().code(), Errc::not_found);
    EXPECT_NE(set.error().context().find("/nonexistent/etsi-schemas"), std::string::npos);
}

// A schema that imports a namespace from http:// must not cause a connection.
TEST(XmlSchemaTest, LoadingNeverTouchesTheNetwork) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/evil.xsd";

    enclave::testing::TempDir dir;
    const auto xsd = dir.path() / "evil.xsd";
    std::ofstream(xsd) << "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:e=\"urn:evil\" "
                          "targetNamespace=\"urn:test-net\"><xs:import namespace=\"urn:evil\" schemaLocation=\""
                       << url << "\"/><xs:element name=\"t\" type=\"e:T\"/></xs:schema>";
    auto paths = SchemaPaths::defaults();
    paths.extra_imports.emplace_back("urn:test-net", xsd);
    auto set = SchemaSet::load(paths);
    EXPECT_FALSE(set);  // e:T cannot be resolved without the network

    pollfd pfd{listener, POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 200), 0) << "the schema loader connected to " << url;
    ::close(listener);
}

TEST(XmlSchemaTest, WrapperIsFilledIn) {
    auto xsd = SchemaSet::wrapper_xsd(SchemaPaths::defaults());
    ASSERT_TRUE(xsd) << xsd.error().message();
    EXPECT_EQ(xsd->find('@'), std::string::npos);
    EXPECT_NE(xsd->find("file:///"), std::string::npos);
    EXPECT_NE(xsd->find("ts_103707_enclave.xsd"), std::string::npos);
    auto paths = SchemaPaths::defaults();
    paths.extra_imports.emplace_back("urn:x\" evil=\"1", paths.project_dir / "ts_103707_enclave.xsd");
    auto bad = SchemaSet::wrapper_xsd(paths);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::invalid_argument);
}

TEST(XmlSchemaTest, ConcurrentValidation) {
    auto set = testing::shared_schemas();
    ASSERT_TRUE(set);
    const std::string good = read_file(examples() / "103120-v1.12.1" / "response5.xml");
    const std::string bad = read_file(examples() / "103120-v1.12.1" / "request5-XML-Delivery.xml");
    const int wrong = testing::count_failures_concurrently(4, 50, [&](int t, int i) {
        const bool want = ((i + t) % 2) == 0;
        auto doc = parse_xml(want ? good : bad);
        return doc && static_cast<bool>(set->validate(*doc)) == want;
    });
    EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace enclave::delivery
