// SPDX-License-Identifier: Apache-2.0
#pragma once
// Builders of HI1 tasking request messages for the hi1_task_* suites: the
// header, a CREATE / UPDATE of an LI or LD task with values and their salted
// hashes (computed with crypto::compute_salted_hash), GET and LIST.

#include <cstdint>
#include <string>
#include <vector>

#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"

namespace enclave::delivery::testing {

inline std::string hi1_request(const std::string& actions) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<HI1Message xmlns="http://uri.etsi.org/03120/common/2019/10/Core"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:common="http://uri.etsi.org/03120/common/2016/02/Common"
 xmlns:task="http://uri.etsi.org/03120/common/2020/09/Task"
 xmlns:auth="http://uri.etsi.org/03120/common/2020/09/Authorisation"
 xmlns:enc="urn:enclave:hi1:task-extension:1">
 <Header>
  <SenderIdentifier><CountryCode>XX</CountryCode><UniqueIdentifier>LEA-1</UniqueIdentifier></SenderIdentifier>
  <ReceiverIdentifier><CountryCode>GB</CountryCode><UniqueIdentifier>CSP-ENCLAVE-1</UniqueIdentifier></ReceiverIdentifier>
  <TransactionIdentifier>c02358b2-76cf-4ba4-a8eb-f6436ccaea2e</TransactionIdentifier>
  <Timestamp>2026-01-01T12:00:00.000000Z</Timestamp>
  <Version><ETSIVersion>V1.23.1</ETSIVersion><NationalProfileOwner>XX</NationalProfileOwner><NationalProfileVersion>v1.0</NationalProfileVersion></Version>
 </Header>
 <Payload><RequestPayload><ActionRequests>)" +
           actions + R"(</ActionRequests></RequestPayload></Payload>
</HI1Message>)";
}

struct TestValue {
    std::string format_name = "InternationalE164";
    std::string value;
    std::string algorithm = "sha256";
    std::string salt_hex = "000102030405060708090a0b0c0d0e0f";
    std::string hash_hex;  ///< computed when empty
};

inline std::string salted_hash_hex(const TestValue& v) {
    const auto alg = crypto::salted_hash_from_name(v.algorithm).value();
    const auto salt = crypto::hex_decode(v.salt_hex).value();
    return crypto::hex_encode(crypto::compute_salted_hash(alg, salt, v.value).value());
}

struct TestTask {
    bool li = true;
    std::string object_id = "2b36a78b-b628-416d-bd22-404e68a0cd36";
    std::string reference = "LIID-0001";
    std::string start = "2026-01-01T00:00:00Z";
    std::string end = "2026-02-01T00:00:00Z";
    std::vector<TestValue> values;
    /// Replaces the generated SaltedHash elements when set.
    std::string hashes_override;
    bool with_hashes = true;
    std::string extra;  ///< appended after the values (e.g. DeliveryDetails)
};

inline std::string salted_hashes(const TestTask& t) {
    if (!t.hashes_override.empty()) {
        return t.hashes_override;
    }
    std::string out;
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const auto& v = t.values[i];
        out += "<enc:SaltedHash><enc:ValueIndex>" + std::to_string(i) + "</enc:ValueIndex><enc:Algorithm>" +
               v.algorithm + "</enc:Algorithm><enc:Salt>" + v.salt_hex + "</enc:Salt><enc:Hash>" +
               (v.hash_hex.empty() ? salted_hash_hex(v) : v.hash_hex) + "</enc:Hash></enc:SaltedHash>";
    }
    return out;
}

inline std::string task_object(const TestTask& t) {
    const std::string item = t.li ? "TargetIdentifierValue" : "RequestValue";
    std::string values;
    for (const auto& v : t.values) {
        values += "<task:" + item + "><task:FormatType><task:FormatOwner>ETSI</task:FormatOwner><task:FormatName>" +
                  v.format_name + "</task:FormatName></task:FormatType><task:Value>" + v.value + "</task:Value></task:" +
                  item + ">";
    }
    std::string o = std::string("<HI1Object xsi:type=\"task:") + (t.li ? "LITaskObject" : "LDTaskObject") +
                    "\"><ObjectIdentifier>" + t.object_id + "</ObjectIdentifier><CountryCode>XX</CountryCode>";
    if (t.with_hashes) {
        o += "<NationalHandlingParameters xsi:type=\"enc:SaltedHashParameters\"><CountryCode>XX</CountryCode>" +
             salted_hashes(t) + "</NationalHandlingParameters>";
    }
    if (!t.reference.empty()) {
        o += "<task:Reference>" + t.reference + "</task:Reference>";
    }
    const std::string times = (t.start.empty() ? "" : "<task:StartTime>" + t.start + "</task:StartTime>") +
                              (t.end.empty() ? "" : "<task:EndTime>" + t.end + "</task:EndTime>");
    if (t.li) {
        o += "<task:DesiredStatus><common:Owner>ETSI</common:Owner><common:Name>TaskDesiredStatus</common:Name>"
             "<common:Value>Active</common:Value></task:DesiredStatus>";
        if (!times.empty()) {
            o += "<task:Timespan>" + times + "</task:Timespan>";
        }
        if (!values.empty()) {
            o += "<task:TargetIdentifier><task:TargetIdentifierValues>" + values +
                 "</task:TargetIdentifierValues></task:TargetIdentifier>";
        }
    } else {
        o += "<task:DesiredStatus><common:Owner>ETSI</common:Owner><common:Name>LDTaskDesiredStatus</common:Name>"
             "<common:Value>AwaitingDisclosure</common:Value></task:DesiredStatus>";
        o += "<task:RequestDetails>" + times + (values.empty() ? "" : "<task:RequestValues>" + values + "</task:RequestValues>") +
             "</task:RequestDetails>";
    }
    return o + t.extra + "</HI1Object>";
}

inline std::string action(std::uint64_t id, const std::string& op, const std::string& body) {
    return "<ActionRequest><ActionIdentifier>" + std::to_string(id) + "</ActionIdentifier><" + op + ">" + body + "</" +
           op + "></ActionRequest>";
}

inline TestTask two_value_li_task() {
    TestTask t;
    t.values.push_back(TestValue{"InternationalE164", "442079460223", "sha256", "000102030405060708090a0b0c0d0e0f", ""});
    t.values.push_back(TestValue{"InternationalE164", "447700900123", "hmac-sha256",
                                 "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f", ""});
    return t;
}

}  // namespace enclave::delivery::testing
