// SPDX-License-Identifier: Apache-2.0
// LTAP codec: render -> parse gives back the original for every service
// type and status, our output validates under xmllint (a real process on
// archive/schemas/ltap.xsd, the independent oracle), the XSD choices of
// docs/ltap.md hold, and the compiled schema is shared across threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "crypto/encoding.hpp"
#include "ltap_test_util.hpp"

namespace enclave::archive {
namespace {

using namespace testing;

constexpr ServiceType kServices[] = {ServiceType::archive, ServiceType::status, ServiceType::verify,
                                     ServiceType::export_, ServiceType::delete_};
constexpr StatusInfo kStatuses[] = {StatusInfo::waiting, StatusInfo::granted, StatusInfo::granted_with_mods,
                                    StatusInfo::rejection};

TEST(LtapCodecTest, NamesMatchTheDraft) {
    EXPECT_EQ(to_string(ServiceType::archive), "archive");
    EXPECT_EQ(to_string(ServiceType::status), "status");
    EXPECT_EQ(to_string(ServiceType::verify), "verify");
    EXPECT_EQ(to_string(ServiceType::export_), "export");
    EXPECT_EQ(to_string(ServiceType::delete_), "delete");
    EXPECT_EQ(to_string(StatusInfo::waiting), "waiting");
    EXPECT_EQ(to_string(StatusInfo::granted), "granted");
    EXPECT_EQ(to_string(StatusInfo::granted_with_mods), "grantedWithMods");
    EXPECT_EQ(to_string(StatusInfo::rejection), "rejection");
}

TEST(LtapCodecTest, RequestRoundTripsForEveryServiceType) {
    for (const auto service : kServices) {
        SCOPED_TRACE(std::string(to_string(service)));
        const Request original = full_request(service);
        auto xml = render_request(original);
        ASSERT_TRUE(xml) << xml.error().message();
        EXPECT_NE(xml->find("<ServiceType>" + std::string(to_string(service)) + "</ServiceType>"), std::string::npos);
        auto parsed = parse_request(*xml);
        ASSERT_TRUE(parsed) << parsed.error().message() << "\n" << *xml;
        EXPECT_EQ(*parsed, original);
        const auto lint = run_xmllint(*xml);
        EXPECT_EQ(lint.status, 0) << lint.output << "\n" << *xml;
    }
}

TEST(LtapCodecTest, ResponseRoundTripsForEveryStatusAndServiceType) {
    for (const auto service : kServices) {
        for (const auto status : kStatuses) {
            SCOPED_TRACE(std::string(to_string(service)) + "/" + std::string(to_string(status)));
            const Response original = full_operation(service, status);
            auto xml = render_response(original);
            ASSERT_TRUE(xml) << xml.error().message();
            EXPECT_NE(xml->find("<StatusInformation>" + std::string(to_string(status))), std::string::npos);
            auto parsed = parse_response(*xml);
            ASSERT_TRUE(parsed) << parsed.error().message() << "\n" << *xml;
            EXPECT_EQ(*parsed, original);
            const auto lint = run_xmllint(*xml);
            EXPECT_EQ(lint.status, 0) << lint.output << "\n" << *xml;
        }
    }
}

TEST(LtapCodecTest, ErrorNoticeRoundTrips) {
    const Response original = ErrorNotice{-3, "request could not be decoded at line 4"};
    auto xml = render_response(original);
    ASSERT_TRUE(xml) << xml.error().message();
    EXPECT_NE(xml->find("<ErrorNotice>"), std::string::npos);
    auto parsed = parse_response(*xml);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, original);
    EXPECT_EQ(run_xmllint(*xml).status, 0);
}

TEST(LtapCodecTest, MinimalMessagesRoundTrip) {
    Request minimal;  // version v1, archive, one imprint-only item, nothing optional
    minimal.data.push_back(DataItem{});
    minimal.data[0].imprint = MessageImprint{"urn:x:unknown-digest", crypto::Bytes{1}};
    auto xml = render_request(minimal);
    ASSERT_TRUE(xml) << xml.error().message();
    EXPECT_EQ(xml->find("Nonce"), std::string::npos);
    auto parsed = parse_request(*xml);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, minimal);
    EXPECT_EQ(run_xmllint(*xml).status, 0);

    OperationResponse empty;  // DELETE's final answer may carry no Data at all
    empty.info.version = "v0";
    empty.info.service = ServiceType::delete_;
    empty.status = StatusInfo::granted;
    auto rxml = render_response(Response(empty));
    ASSERT_TRUE(rxml) << rxml.error().message();
    auto rparsed = parse_response(*rxml);
    ASSERT_TRUE(rparsed) << rparsed.error().message();
    EXPECT_EQ(std::get<OperationResponse>(*rparsed), empty);
}

TEST(LtapCodecTest, EmptyRawDataAndLargestRawDataItemRoundTrip) {
    Request r;
    r.info.service = ServiceType::archive;
    DataItem empty;
    empty.raw_data = crypto::Bytes{};
    DataItem big;
    big.raw_data = crypto::Bytes(kMaxRawDataItemBytes, 0x5a);
    r.data = {empty, big};
    auto xml = render_request(r);
    ASSERT_TRUE(xml) << xml.error().message();
    auto parsed = parse_request(*xml);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(*parsed, r);
}

TEST(LtapCodecTest, AcceptsLineWrappedRawDataUpToTheLimits) {
    // MIME-style base64 (76 characters, CRLF) of the largest item, five
    // times: 30 MiB of RawData, under max_raw_bytes and max_bytes.
    const std::string b64 = crypto::base64_encode(crypto::Bytes(kMaxRawDataItemBytes, 0xa5));
    std::string wrapped;
    for (std::size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\r\n";
    std::string xml = "<Request xmlns='urn:x-enclave:ltap:v1'><RequestInformation><Version>v1</Version>"
                      "<ServiceType>archive</ServiceType></RequestInformation>";
    for (int i = 0; i < 5; ++i) xml += "<Data><DataOrTransaction><RawData>" + wrapped + "</RawData></DataOrTransaction></Data>";
    xml += "</Request>";
    auto parsed = parse_request(xml);
    ASSERT_TRUE(parsed) << parsed.error().message();
    ASSERT_EQ(parsed->data.size(), 5u);
    EXPECT_EQ(parsed->data[4].raw_data, crypto::Bytes(kMaxRawDataItemBytes, 0xa5));
    LtapLimits tight;
    tight.max_raw_bytes = 4 * kMaxRawDataItemBytes;
    auto refused = parse_request(xml, tight);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), crypto::Errc::too_large);
}

TEST(LtapCodecTest, AcceptsWhatTheXsdAllowsFromOtherWriters) {
    // A prefix instead of the default namespace, line-wrapped base64,
    // whitespace around collapsed values, uppercase hex, a '+' on a number.
    const std::string xml =
        "<?xml version='1.0'?>\n<l:Request xmlns:l='urn:x-enclave:ltap:v1'><l:RequestInformation>"
        "<l:Version> v1 </l:Version><l:Nonce>\n ABCDEF \n</l:Nonce><l:SerialNumber>+0042</l:SerialNumber>"
        "<l:ServiceType>archive</l:ServiceType><l:ServicePolicyInformation> urn:x:p </l:ServicePolicyInformation>"
        "</l:RequestInformation><l:Data><l:DataOrTransaction><l:RawData>aGVs\nbG8g\r\nd29y bGQ=</l:RawData>"
        "</l:DataOrTransaction></l:Data></l:Request>";
    auto parsed = parse_request(xml);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->info.version, "v1");
    EXPECT_EQ(parsed->info.nonce, (crypto::Bytes{0xab, 0xcd, 0xef}));
    EXPECT_EQ(parsed->info.serial_number, 42);
    EXPECT_EQ(parsed->info.policies, std::vector<std::string>{"urn:x:p"});
    EXPECT_EQ(parsed->data.at(0).raw_data, bytes_of("hello world"));
    EXPECT_EQ(run_xmllint(xml).status, 0);
}

TEST(LtapCodecTest, ResponseMayCarryArtifactAndReferenceButRequestMayNot) {
    const std::string both = "<DataOrTransaction><Artifact>t</Artifact><DataReference>urn:x:o</DataReference>"
                             "</DataOrTransaction>";
    const std::string request = "<Request xmlns='urn:x-enclave:ltap:v1'><RequestInformation><Version>v1</Version>"
                                "<ServiceType>status</ServiceType></RequestInformation><Data>" +
                                both + "</Data></Request>";
    auto refused = parse_request(request);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), crypto::Errc::malformed_input);
    EXPECT_NE(run_xmllint(request).status, 0);

    const std::string response = "<Response xmlns='urn:x-enclave:ltap:v1'><OperationResponse><RequestInformation>"
                                 "<Version>v1</Version><ServiceType>status</ServiceType></RequestInformation><Data>" +
                                 both + "</Data><StatusInformation>waiting</StatusInformation></OperationResponse>"
                                        "</Response>";
    auto accepted = parse_response(response);
    ASSERT_TRUE(accepted) << accepted.error().message();
    const auto& item = std::get<OperationResponse>(*accepted).data.at(0);
    EXPECT_EQ(item.artifact, "t");
    EXPECT_EQ(item.data_reference, "urn:x:o");
}

TEST(LtapCodecTest, RenderRefusesWhatItCannotWrite) {
    Request r = full_request(ServiceType::status);
    r.info.request_entities.push_back(std::string("bad \x01 control"));
    auto a = render_request(r);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().code(), crypto::Errc::invalid_argument);
    EXPECT_NE(a.error().context().find("RequestEntityIdentifier"), std::string::npos);

    r = full_request(ServiceType::status);
    r.data[0].data_reference = "urn:x:with space";
    auto b = render_request(r);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), crypto::Errc::invalid_argument);

    r = full_request(ServiceType::status);
    r.data.push_back(DataItem{});  // nothing to name an object with
    auto c = render_request(r);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), crypto::Errc::internal);

    OperationResponse op = full_operation(ServiceType::archive, StatusInfo::rejection);
    op.error.reset();  // 4.13: a rejection MUST say why
    auto d = render_response(Response(op));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code(), crypto::Errc::internal);
    EXPECT_NE(d.error().context().find("GeneralErrorNotice"), std::string::npos);

    r = full_request(ServiceType::archive);
    r.info.request_time = std::chrono::sys_days(std::chrono::year(10000) / 1 / 1);
    auto e = render_request(r);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), crypto::Errc::invalid_argument);
}

TEST(LtapCodecTest, SchemaIsSharedAcrossThreads) {
    ASSERT_TRUE(check_ltap_schema());
    auto xml = render_request(full_request(ServiceType::archive));
    ASSERT_TRUE(xml);
    const Request expected = full_request(ServiceType::archive);
    std::atomic<int> wrong{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                auto p = parse_request(*xml);
                if (!p || *p != expected) ++wrong;
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace enclave::archive
