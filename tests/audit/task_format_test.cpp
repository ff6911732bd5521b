// SPDX-License-Identifier: Apache-2.0
// The format-type matchers against the TS 103 280 patterns, and the
// documentation listing every supported type.
#include "audit/task_format.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "audit/task_time.hpp"

namespace enclave::audit {
namespace {

struct Case {
    const char* format;
    std::vector<std::string> good;
    std::vector<std::string> bad;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> all = {
        {"InternationalE164", {"4", "442079460223", "123456789012345"}, {"", "+44207", "1234567890123456", "4420 7946", " 442079460223", "44a"}},
        {"GPSIMSISDN", {"1", "447700900123"}, {"", "1234567890123456"}},
        {"IMSI", {"001010", "001010123456789"}, {"00101", "0010101234567890", "00101a123"}},
        {"SUPIIMSI", {"001010123456789"}, {"12345"}},
        {"IMEI", {"35209900176148"}, {"3520990017614", "352099001761481"}},
        {"PEIIMEI", {"35209900176148"}, {"3520990017614x"}},
        {"IMEICheckDigit", {"352099001761481"}, {"35209900176148"}},
        {"PEIIMEICheckDigit", {"352099001761481"}, {"3520990017614812"}},
        {"IMEISV", {"3520990017614823"}, {"352099001761482"}},
        {"PEIIMEISV", {"3520990017614823"}, {"35209900176148231"}},
        {"ICCID", {"8944110068256270054", "89441100682562700547"}, {"894411006825627005", "894411006825627005471"}},
        {"EUICCID", {std::string(32, '8')}, {std::string(31, '8'), std::string(33, '8')}},
        {"IPv4Address", {"192.0.2.1", "0.0.0.0", "255.255.255.255", "001.02.3.099"},
         {"256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.4 ", "1.2.3.1000", "299.1.1.1", "1..2.3", "a.b.c.d"}},
        {"IPv4CIDR", {"10.0.0.0/8", "0.0.0.0/0", "192.0.2.1/32", "10.0.0.0/29"},
         {"10.0.0.0/33", "10.0.0.0/08", "10.0.0.0", "10.0.0.0/", "10.0.0.0/123"}},
        {"IPv6Address", {"2001:0db8:0000:0000:0000:0000:0000:0001"},
         {"2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:0db8:0000:0000:0000:0000:0000",
          "2001:0db8:0000:0000:0000:0000:0000:0001:0000"}},
        {"IPv6CIDR", {"2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:0db8:0000:0000:0000:0000:0000:0000/128",
                      "2001:0db8:0000:0000:0000:0000:0000:0000/1"},
         {"2001:0db8:0000:0000:0000:0000:0000:0000/0", "2001:0db8:0000:0000:0000:0000:0000:0000/129",
          "2001:0db8:0000:0000:0000:0000:0000:0000/032", "2001:0db8:0000:0000:0000:0000:0000:0000"}},
        {"MACAddress", {"00:1a:2b:3c:4d:5e"}, {"00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e", "00:1a:2b:3c:4d", "001a2b3c4d5e"}},
        {"EUI64", {"00:1a:2b:3c:4d:5e:6f:70"}, {"00:1a:2b:3c:4d:5e"}},
        {"EmailAddress", {"alice@example.com", "a.b+c/d=e?f^g_h`i{j|k}l~m-n!#$%&'*@x", "x@a", "x@a-b.c0"},
         {"alice", "@example.com", "alice@", "alice@-example.com", "alice@example-.com", "alice@example..com",
          "alice@example.com.", "al ice@example.com", "alice@exa_mple.com", "al\xC3\xA9@example.com",
          "a@" + std::string(64, 'b'), std::string(250, 'a') + "@b.com"}},
        {"InternationalizedEmailAddress", {"al\xC3\xA9@exampl\xC3\xA9.fr", "a@b", "@@@"},
         {"@b", "a@", "ab", "a\n@b", "a@b\r", "a\x01@b", std::string(254, 'a') + "@bc", "a@\xFF"}},
        {"SIPURI", {"sip:alice@example.com", "sips:+44207;user=phone", "sip:[2001:db8::1]:5060"},
         {"sip:", "sipx:alice", "sip:al ice", "tel:+44", "sip:alice<b>"}},
        {"TELURI", {"tel:+442079460223", "tel:7042;phone-context=example.com"}, {"tel:", "tel:a b", "sip:x"}},
        {"H323URI", {"h323:alice@example.com"}, {"h323:", "h323:a b", "h323:" + std::string(251, 'a')}},
        {"IMPU", {"sip:alice@ims.example.com", "+442079460223"}, {"", "a b", std::string(256, 'a')}},
        {"UUID", {"123e4567-e89b-12d3-a456-426614174000"},
         {"123E4567-E89B-12D3-A456-426614174000", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400"}},
        {"CGI", {"234-15-1a2b-3c4d", "234-150-1a2b-3c4d"}, {"234-1-1a2b-3c4d", "234-15-1a2b-3c4", "234-15-1A2B-3C4D"}},
        {"ECGI", {"234-15-1a2b3c4"}, {"234-15-1a2b3c", "234-15-1a2b3c4d"}},
        {"NCGI", {"234-15-1a2b3c4d5"}, {"234-15-1a2b3c4d", "234-15-1a2b3c4d5e"}},
        {"VIN", {"1M8GDM9AXKP042788"}, {"1M8GDM9AXKP04278", "1M8GDM9AXKP0427O8", "1m8gdm9axkp042788", "IM8GDM9AXKP042788"}},
        {"Username", {"Zo\xC3\xAB_\xC3\xBCn\xC3\xAF" "code", "alice", "a b", std::string(255, 'x')},
         {"", "a\tb", "a\x7f", "a\xC2\x85" "b", std::string(256, 'x'), "\xC3", std::string("a\0b", 3)}},
    };
    return all;
}

TEST(TaskFormatTest, EachFormatAcceptsAndRefusesPerItsPattern) {
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.format);
        ASSERT_TRUE(is_supported_format(c.format));
        for (const std::string& v : c.good) EXPECT_TRUE(value_matches_format(c.format, v)) << "refused: " << v;
        for (const std::string& v : c.bad) EXPECT_FALSE(value_matches_format(c.format, v)) << "accepted: " << v;
    }
}

TEST(TaskFormatTest, EverySupportedFormatIsTested) {
    std::vector<std::string> tested;
    for (const Case& c : cases()) tested.emplace_back(c.format);
    for (std::string_view name : supported_format_names()) {
        EXPECT_NE(std::find(tested.begin(), tested.end(), name), tested.end()) << name << " has no test case";
    }
    EXPECT_EQ(tested.size(), supported_format_names().size());
}

TEST(TaskFormatTest, UnknownNamesAreNotSupported) {
    for (const char* name : {"", "internationalE164", "E164", "NAI", "PhoneNumber", "IPAddress", "InternationalE164 "}) {
        EXPECT_FALSE(is_supported_format(name)) << name;
        EXPECT_FALSE(value_matches_format(name, "1")) << name;
    }
}

TEST(TaskTimeTest, ParsesAndFormatsCanonically) {
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
        {"2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z"},
        {"2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.100000Z"},
        {"2024-02-29T12:34:56.654321Z", "2024-02-29T12:34:56.654321Z"},
        {"9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"},
    };
    for (const auto& [in, out] : pairs) {
        auto t = parse_utc_time(in);
        ASSERT_TRUE(t) << in << ": " << t.error().message();
        EXPECT_EQ(format_utc_time(*t), out);
    }
    EXPECT_EQ(parse_utc_time("1970-01-01T00:00:01Z")->time_since_epoch().count(), 1000000);
    for (const char* bad : {"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
                            "2026-01-00T00:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01 00:00:00Z",
                            "2026-01-01T00:00:00z", "2026-01-01T00:00:00.12a4Z", "2026-01-01T00:00:00ZZ"}) {
        EXPECT_FALSE(parse_utc_time(bad)) << bad;
    }
}

}  // namespace
}  // namespace enclave::audit
