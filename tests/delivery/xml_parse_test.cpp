// SPDX-License-Identifier: Apache-2.0
// parse_xml: hostile and malformed input is refused with a clear error that
// never quotes the document; good input parses; limits hold; thread-safe.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/xml_document.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;

std::string nested(std::size_t depth) {
    std::string s;
    for (std::size_t i = 0; i < depth; ++i) {
        s += "<e>";
    }
    for (std::size_t i = 0; i < depth; ++i) {
        s += "</e>";
    }
    return s;
}

TEST(XmlParseTest, ParsesWellFormedDocument) {
    auto doc = parse_xml(R"(<?xml version="1.0"?><r:root xmlns:r="urn:x"><a b="1">t &amp; u</a></r:root>)");
    ASSERT_TRUE(doc) << doc.error().message();
    EXPECT_EQ(doc->root_name(), "root");
    EXPECT_EQ(doc->root_namespace(), "urn:x");
    auto text = doc->to_string();
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("t &amp; u"), std::string::npos);
}

TEST(XmlParseTest, RefusesBillionLaughs) {
    const std::string bomb = R"(<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>)";
    auto doc = parse_xml(bomb);
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), Errc::malformed_input);
    EXPECT_NE(doc.error().context().find("DOCTYPE"), std::string::npos);
}

TEST(XmlParseTest, RefusesExternalEntity) {
    const std::string xxe = R"(<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>)";
    auto doc = parse_xml(xxe);
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), Errc::malformed_input);
    EXPECT_EQ(doc.error().context().find("root:"), std::string::npos);
}

TEST(XmlParseTest, RefusesDoctypeWithoutInternalSubset) {
    auto doc = parse_xml(R"(<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>)");
    ASSERT_FALSE(doc);
    EXPECT_NE(doc.error().context().find("DOCTYPE"), std::string::npos);
}

TEST(XmlParseTest, UndeclaredEntityIsNotWellFormed) {
    auto doc = parse_xml("<r>&undeclared;</r>");
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), Errc::malformed_input);
}

TEST(XmlParseTest, DoesNotProcessXInclude) {
    auto doc = parse_xml(R"(<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd" parse="text"/></r>)");
    ASSERT_TRUE(doc) << doc.error().message();
    auto text = doc->to_string();
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("xi:include"), std::string::npos);
    EXPECT_EQ(text->find("root:"), std::string::npos);
}

TEST(XmlParseTest, RefusesOversizeBeforeParsing) {
    XmlLimits limits;
    limits.max_bytes = 64;
    const std::string big = "<r>" + std::string(100, 'x') + "</r>";
    auto doc = parse_xml(big, limits);
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), Errc::too_large);
    // Exactly at the limit is fine.
    const std::string fits = "<r>" + std::string(64 - 7, 'x') + "</r>";
    ASSERT_EQ(fits.size(), 64u);
    EXPECT_TRUE(parse_xml(fits, limits));
}

TEST(XmlParseTest, EnforcesDepthLimit) {
    XmlLimits limits;
    limits.max_depth = 10;
    EXPECT_TRUE(parse_xml(nested(10), limits));
    auto deep = parse_xml(nested(11), limits);
    ASSERT_FALSE(deep);
    EXPECT_EQ(deep.error().code(), Errc::too_large);
    // The default limit holds against a very deep document.
    auto very_deep = parse_xml(nested(100'000));
    ASSERT_FALSE(very_deep);
    EXPECT_EQ(very_deep.error().code(), Errc::too_large);
}

TEST(XmlParseTest, EnforcesNodeLimit) {
    XmlLimits limits;
    limits.max_nodes = 100;
    std::string many = "<r>";
    for (int i = 0; i < 200; ++i) {
        many += "<i/>";
    }
    many += "</r>";
    auto doc = parse_xml(many, limits);
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().code(), Errc::too_large);
    std::string attrs = "<r";
    for (int i = 0; i < 150; ++i) {
        attrs += " a" + std::to_string(i) + "=\"v\"";
    }
    attrs += "/>";
    EXPECT_FALSE(parse_xml(attrs, limits));
}

TEST(XmlParseTest, ReadsMoreThanTenMegabytesOfText) {
    // libxml2 2.9 stopped such documents when told the encoding up front.
    const std::string text(4'000'000, 'A');
    XmlLimits limits;
    auto doc = parse_xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><r><a>" + text + "</a><a>" + text + "</a><a>" +
                             text + "</a></r>",
                         limits);
    ASSERT_TRUE(doc) << doc.error().message();
    EXPECT_EQ(doc->root_name(), "r");
}

TEST(XmlParseTest, CountsATextRunOnceHoweverLibxmlSplitsIt) {
    // libxml2 passes CRLF-wrapped text in one call per line but keeps one
    // text node: 1000 lines are one node, not a thousand.
    XmlLimits limits;
    limits.max_nodes = 10;
    std::string wrapped = "<r>";
    for (int i = 0; i < 1000; ++i) {
        wrapped += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n";
    }
    wrapped += "</r>";
    auto doc = parse_xml(wrapped, limits);
    ASSERT_TRUE(doc) << doc.error().message();
    // Text runs between elements still count one each.
    std::string runs = "<r>";
    for (int i = 0; i < 20; ++i) {
        runs += "t\r\nu<i/>";
    }
    runs += "</r>";
    EXPECT_FALSE(parse_xml(runs, limits));
}

TEST(XmlParseTest, ErrorsNeverQuoteContent) {
    const std::vector<std::string> bad = {
        "<r>SECRET-VALUE-42<b></r>",
        "<r a=\"SECRET-VALUE-42\" a=\"x\"/>",
        "<r>SECRET-VALUE-42</SECRETVALUE>",
        "<r xmlns:p=\"urn:x\"><q:SECRETVALUE/></r>",
        "<r>&SECRETVALUE;</r>",
    };
    for (const auto& b : bad) {
        ::testing::internal::CaptureStderr();
        auto doc = parse_xml(b);
        const std::string stderr_text = ::testing::internal::GetCapturedStderr();
        ASSERT_FALSE(doc) << b;
        EXPECT_EQ(doc.error().code(), Errc::malformed_input);
        EXPECT_EQ(doc.error().context().find("SECRET"), std::string::npos) << doc.error().context();
        EXPECT_NE(doc.error().context().find("line"), std::string::npos) << doc.error().context();
        EXPECT_TRUE(stderr_text.empty()) << "libxml2 printed: " << stderr_text.size() << " bytes";
    }
}

TEST(XmlParseTest, RefusesNonUtf8AndEmptyAndGarbage) {
    EXPECT_FALSE(parse_xml(""));
    EXPECT_FALSE(parse_xml("not xml at all"));
    EXPECT_FALSE(parse_xml(std::string("<r>\xff\xfe</r>")));
    EXPECT_FALSE(parse_xml(std::string("<r>\x01</r>")));
    EXPECT_FALSE(parse_xml(std::string("<r/>\0<x/>", 9)));
    // The declaration cannot switch the decoder away from UTF-8.
    EXPECT_FALSE(parse_xml(std::string("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>\xe9</r>")));
    // "<?xml" in EBCDIC (IBM037) and in UTF-16: refused, not converted.
    EXPECT_FALSE(parse_xml(std::string("\x4C\x6F\xA7\x94\x93\x40\xA5\x85\x99\xA2\x89\x96\x95\x7E\x7F\xF1\x4B"
                                       "\xF0\x7F\x40\x85\x95\x83\x96\x84\x89\x95\x87\x7E\x7F\xC9\xC2\xD4\xF0"
                                       "\xF3\xF7\x7F\x6F\x6E\x4C\x99\x6E\xA7\x4C\x61\x99\x6E",
                                       47)));
    EXPECT_FALSE(parse_xml(std::string("\xFF\xFE<\0r\0/\0>\0", 10)));
    EXPECT_TRUE(parse_xml(std::string("<r>\xc3\xa9</r>")));
    EXPECT_FALSE(parse_xml("<r/><r/>"));
    EXPECT_FALSE(parse_xml("<r>"));
}

TEST(XmlParseTest, ConcurrentParsesAreIndependent) {
    const int wrong = testing::count_failures_concurrently(4, 200, [](int t, int i) {
        const bool good = ((i + t) % 2) == 0;
        auto doc = parse_xml(good ? "<r><a>1</a></r>" : "<r><a>1</r>");
        auto deep = parse_xml(nested(70));
        return static_cast<bool>(doc) == good && !deep && deep.error().code() == Errc::too_large;
    });
    EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace enclave::delivery
