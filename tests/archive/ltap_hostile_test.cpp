// SPDX-License-Identifier: Apache-2.0
// LTAP parsers on malformed, oversized and hostile input: each is refused
// with a specific Errc and an error that names the element or line, and a
// value planted in the document (kPlanted) never appears in the error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ltap_test_util.hpp"

namespace enclave::archive {
namespace {

using crypto::Errc;
using namespace testing;

// A valid request with `data` as its Data elements and `info_extra` inside
// RequestInformation after ServiceType; the planted value sits in an entity
// identifier, so every error below has content it could leak.
std::string request_with(const std::string& data, const std::string& info_tail = "",
                         const std::string& ns = "urn:x-enclave:ltap:v1") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Request xmlns=\"" + ns +
           "\">\n<RequestInformation>\n<Version>v1</Version>\n"
           "<RequestEntityIdentifier>" +
           std::string(kPlanted) + "</RequestEntityIdentifier>\n<ServiceType>archive</ServiceType>\n" + info_tail +
           "</RequestInformation>\n" + data + "</Request>\n";
}

std::string raw(const std::string& b64) {
    return "<Data><DataOrTransaction><RawData>" + b64 + "</RawData></DataOrTransaction><MetaData><Item name=\"n\">" +
           std::string(kPlanted) + "</Item></MetaData></Data>\n";
}

std::string info_with(const std::string& element) {
    return "<?xml version=\"1.0\"?>\n<Request xmlns=\"urn:x-enclave:ltap:v1\">\n<RequestInformation>\n"
           "<Version>v1</Version>\n" +
           element + "\n<ServiceType>status</ServiceType>\n</RequestInformation>\n" + raw("aGk=") + "</Request>";
}

// Refused with `code`, the context names `mention` (an element, "line",
// ...) and never the planted value.
void expect_refused(const crypto::Result<Request>& r, Errc code, const std::string& mention) {
    ASSERT_FALSE(r) << "accepted";
    EXPECT_EQ(r.error().code(), code) << r.error().message();
    EXPECT_NE(r.error().context().find(mention), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find(kPlanted), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("c0ffee"), std::string::npos) << r.error().message();
}

TEST(LtapHostileTest, TheBaseDocumentIsValid) {
    auto ok = parse_request(request_with(raw("aGk=")));
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->info.request_entities.at(0), kPlanted);
    EXPECT_EQ(run_xmllint(request_with(raw("aGk="))).status, 0);
}

TEST(LtapHostileTest, RefusesEntityBomb) {
    std::string bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE Request [\n<!ENTITY a \"" + std::string(kPlanted) + "\">\n";
    for (int i = 1; i < 10; ++i) {
        const std::string prev(1, static_cast<char>('a' + i - 1));
        bomb += "<!ENTITY " + std::string(1, static_cast<char>('a' + i)) + " \"" + std::string(10, '&') + "\">\n";
        std::string refs;
        for (int k = 0; k < 10; ++k) refs += "&" + prev + ";";
        bomb.replace(bomb.rfind(std::string(10, '&')), 10, refs);
    }
    bomb += "]>\n<Request xmlns=\"urn:x-enclave:ltap:v1\">&j;</Request>";
    expect_refused(parse_request(bomb), Errc::malformed_input, "DOCTYPE");
}

TEST(LtapHostileTest, RefusesExternalEntity) {
    const std::string xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE Request [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n" +
                            request_with(raw("aGk="), "<ServicePolicyInformation>&x;</ServicePolicyInformation>")
                                .substr(std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").size());
    expect_refused(parse_request(xxe), Errc::malformed_input, "DOCTYPE");
    const std::string dtd = "<?xml version=\"1.0\"?>\n<!DOCTYPE Request SYSTEM \"http://127.0.0.1:9/x.dtd\">\n"
                            "<Request xmlns=\"urn:x-enclave:ltap:v1\"/>";
    expect_refused(parse_request(dtd), Errc::malformed_input, "DOCTYPE");
}

TEST(LtapHostileTest, RefusesWrongNamespaceAndRoot) {
    expect_refused(parse_request(request_with(raw("aGk="), "", "urn:x-enclave:ltap:v2")), Errc::malformed_input,
                   "root element");
    expect_refused(parse_request(request_with(raw("aGk="), "", "")), Errc::malformed_input, "root element");
    auto as_response = parse_response(request_with(raw("aGk=")));
    ASSERT_FALSE(as_response);
    EXPECT_NE(as_response.error().context().find("Response"), std::string::npos);
}

TEST(LtapHostileTest, RefusesUnknownElementAndAttribute) {
    expect_refused(parse_request(request_with(raw("aGk="), "<Extra>" + std::string(kPlanted) + "</Extra>\n")),
                   Errc::malformed_input, "Extra");
    expect_refused(parse_request(request_with(raw("aGk="), "<ServicePolicyInformation a=\"" + std::string(kPlanted) +
                                                               "\">urn:x</ServicePolicyInformation>\n")),
                   Errc::malformed_input, "line 7");
    // xsi:type may not swap in another type (blockDefault="#all").
    expect_refused(
        parse_request(request_with("<Data xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                                   "xsi:type=\"ResponseData\"><MetaData><Item name=\"a\">b</Item></MetaData></Data>")),
        Errc::malformed_input, "schema");
}

TEST(LtapHostileTest, RefusesTooManyDataItems) {
    std::string many;
    for (int i = 0; i < 65; ++i) many += raw("aGk=");
    expect_refused(parse_request(request_with(many)), Errc::too_large, "Data");
    LtapLimits tight;
    tight.max_data_items = 2;
    expect_refused(parse_request(request_with(raw("aGk=") + raw("aGk=") + raw("aGk=")), tight), Errc::too_large,
                   "Data");
    EXPECT_TRUE(parse_request(request_with(raw("aGk=") + raw("aGk=")), tight));
    expect_refused(parse_request(request_with("")), Errc::malformed_input, "element 'Request'");
}

TEST(LtapHostileTest, RefusesRawDataOverTheLimits) {
    LtapLimits tight;
    tight.max_raw_bytes = 10;
    const std::string six = "aGVsbG8h";  // 6 bytes
    EXPECT_TRUE(parse_request(request_with(raw(six)), tight));
    expect_refused(parse_request(request_with(raw(six) + raw(six)), tight), Errc::too_large, "RawData");
    // One item over the XSD's per-item cap.
    const std::string big((kMaxRawDataItemBytes / 3 + 1) * 4, 'A');
    expect_refused(parse_request(request_with(raw(big))), Errc::malformed_input, "RawData");
    // The whole document over max_bytes: refused before parsing.
    LtapLimits small;
    small.max_bytes = 512;
    expect_refused(parse_request(request_with(raw(std::string(800, 'A'))), small), Errc::too_large, "over the limit");
}

TEST(LtapHostileTest, RefusesBadBase64) {
    expect_refused(parse_request(request_with(raw("@@@@"))), Errc::malformed_input, "RawData");
    expect_refused(parse_request(request_with(raw("aGk"))), Errc::malformed_input, "RawData");
    // Non-canonical trailing bits (libxml2's base64Binary and our decoder both refuse them).
    expect_refused(parse_request(request_with(raw("aGl="))), Errc::malformed_input, "RawData");
    const std::string imprint = "<Data><MessageImprint><DigestAlgorithm>urn:x:d</DigestAlgorithm><DigestValue>" +
                                std::string("!!!!") + "</DigestValue></MessageImprint></Data>";
    expect_refused(parse_request(request_with(imprint)), Errc::malformed_input, "DigestValue");
    const std::string wrong_len = "<Data><MessageImprint><DigestAlgorithm>http://www.w3.org/2001/04/xmlenc#sha256"
                                  "</DigestAlgorithm><DigestValue>AAAA</DigestValue></MessageImprint></Data>";
    expect_refused(parse_request(request_with(wrong_len)), Errc::malformed_input, "DigestValue");
}

TEST(LtapHostileTest, RefusesBadTime) {
    for (const char* t : {"2026-02-30T00:00:00.000Z", "2026-11-22T03:04:05Z", "2026-11-22T03:04:05.123+01:00",
                          "2026-11-22T24:00:00.000Z", "0000-01-01T00:00:00.000Z", "-2026-11-22T03:04:05.123Z",
                          "2026-11-22 03:04:05.123Z"}) {
        SCOPED_TRACE(t);
        expect_refused(parse_request(info_with("<RequestTime>" + std::string(t) + "</RequestTime>")),
                       Errc::malformed_input, "RequestTime");
    }
}

TEST(LtapHostileTest, RefusesBadNonceSerialVersion) {
    for (const std::string& n : std::vector<std::string>{"abc", "zz", "", std::string(130, 'a')}) {
        SCOPED_TRACE(n.size());
        expect_refused(parse_request(info_with("<Nonce>" + n + "</Nonce>")), Errc::malformed_input, "Nonce");
    }
    expect_refused(parse_request(info_with("<SerialNumber>-1</SerialNumber>")), Errc::malformed_input,
                   "SerialNumber");
    expect_refused(parse_request(info_with("<SerialNumber>9223372036854775808</SerialNumber>")),
                   Errc::malformed_input, "SerialNumber");
    std::string v2 = info_with("");
    v2.replace(v2.find("<Version>v1"), 11, "<Version>v2");
    expect_refused(parse_request(v2), Errc::malformed_input, "Version");
}

TEST(LtapHostileTest, RefusesDeepNesting) {
    std::string deep;
    for (int i = 0; i < 200; ++i) deep += "<x>";
    deep += kPlanted;
    for (int i = 0; i < 200; ++i) deep += "</x>";
    expect_refused(parse_request(request_with("<Data>" + deep + "</Data>")), Errc::too_large, "nesting");
}

TEST(LtapHostileTest, RefusesNonUtf8AndNul) {
    expect_refused(parse_request(request_with(raw("aGk="), "<ServicePolicyInformation>urn:\xff\xfe" +
                                                               std::string(kPlanted) + "</ServicePolicyInformation>")),
                   Errc::malformed_input, "line");
    expect_refused(parse_request(request_with(raw("aGk=")).replace(10, 1, std::string(1, '\0'))),
                   Errc::malformed_input, "NUL");
    expect_refused(parse_request(""), Errc::malformed_input, "empty");
    expect_refused(parse_request("not xml " + std::string(kPlanted)), Errc::malformed_input, "line");
}

TEST(LtapHostileTest, RefusesBadItemsAndDuplicateConfiguration) {
    expect_refused(parse_request(request_with(
                       "<Data><DataOrTransaction><Artifact>a</Artifact></DataOrTransaction><MetaData><Item name=\"" +
                       std::string(kPlanted) + " x\">v</Item></MetaData></Data>")),
                   Errc::malformed_input, "Item");
    expect_refused(parse_request(request_with(raw("aGk="), "<ServiceConfiguration><Item name=\"k\">" +
                                                               std::string(kPlanted) +
                                                               "</Item><Item name=\"k\">2</Item>"
                                                               "</ServiceConfiguration>\n")),
                   Errc::malformed_input, "Item");
    expect_refused(parse_request(request_with(
                       "<Data><DataOrTransaction><RawData>aGk=</RawData><Artifact>a</Artifact></DataOrTransaction>"
                       "</Data>")),
                   Errc::malformed_input, "Artifact");
}

TEST(LtapHostileTest, ResponseRulesAndNoLeaks) {
    const std::string head = "<Response xmlns='urn:x-enclave:ltap:v1'><OperationResponse><RequestInformation>"
                             "<Version>v1</Version><RequestEntityIdentifier>" +
                             std::string(kPlanted) +
                             "</RequestEntityIdentifier><ServiceType>archive</ServiceType></RequestInformation>";
    auto no_notice = parse_response(head + "<StatusInformation>rejection</StatusInformation></OperationResponse>"
                                           "</Response>");
    ASSERT_FALSE(no_notice);
    EXPECT_EQ(no_notice.error().code(), Errc::malformed_input);
    EXPECT_NE(no_notice.error().context().find("GeneralErrorNotice"), std::string::npos);
    EXPECT_EQ(no_notice.error().message().find(kPlanted), std::string::npos);
    auto bad_status = parse_response(head + "<StatusInformation>" + std::string(kPlanted) +
                                     "</StatusInformation></OperationResponse></Response>");
    ASSERT_FALSE(bad_status);
    EXPECT_NE(bad_status.error().context().find("StatusInformation"), std::string::npos);
    EXPECT_EQ(bad_status.error().message().find(kPlanted), std::string::npos);
    auto both = parse_response("<Response xmlns='urn:x-enclave:ltap:v1'><ErrorNotice><ErrorIdentification>1"
                               "</ErrorIdentification><ErrorInformation>x</ErrorInformation></ErrorNotice>"
                               "<ErrorNotice><ErrorIdentification>1</ErrorIdentification><ErrorInformation>x"
                               "</ErrorInformation></ErrorNotice></Response>");
    ASSERT_FALSE(both);
    EXPECT_EQ(both.error().code(), Errc::malformed_input);
}

}  // namespace
}  // namespace enclave::archive
