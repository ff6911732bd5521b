// SPDX-License-Identifier: Apache-2.0
// Every official TS 103 120 example message (../shared/etsi-examples, read in
// place) goes through parse_hi1_task_request: each is either taken, or
// refused (whole or per action) with a precise error. None has the
// project's salted hashes, so no task CREATE among them is accepted.

#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "delivery/hi1_task.hpp"
#include "support/paths.hpp"
#include "xml_test_util.hpp"

namespace enclave::delivery {
namespace {

using testing::read_file;
using testing::shared_schemas;

// One line per outcome: "message: <error context>" or, per action,
// "<path>: ok" / "<refusal description>".
std::string outcome(const crypto::Result<Hi1TaskRequest>& r) {
    if (!r) {
        return "message: " + r.error().context();
    }
    std::string out;
    for (const auto& a : r->actions) {
        out += a.refusal ? a.refusal->description : a.path + ": ok";
        out += "\n";
    }
    return out;
}

const std::string kAuth = "/HI1Object: object type AuthorisationObject (TS 103 120 Authorisation) is not supported "
                          "(only task:LITaskObject and task:LDTaskObject)\n";
const std::string kLdNoHash =
    "ActionRequest[1]/CREATE/HI1Object/RequestDetails/RequestValues/RequestValue[0]: no salted hash in "
    "NationalHandlingParameters\n";
const std::string kLiNoHash =
    "ActionRequest[1]/CREATE/HI1Object/TargetIdentifier/TargetIdentifierValues/TargetIdentifierValue[0]: no salted "
    "hash in NationalHandlingParameters\n";
const std::string kDeliver =
    "ActionRequest[0]/DELIVER: action not supported on the tasking interface (CREATE, UPDATE, GET, LIST)\n";
const std::string kNotRequest = "message: HI1Message is not a request (no RequestPayload)";

const std::map<std::string, std::string>& expected() {
    static const std::map<std::string, std::string> m = {
        {"103120-v1.12.1/request1.xml", "ActionRequest[0]/CREATE" + kAuth + kLiNoHash},
        {"103120-v1.12.1/request2.xml", "ActionRequest[0]/GET: ok\nActionRequest[1]/GET: ok\n"},
        {"103120-v1.12.1/request3.xml",
         "ActionRequest[0]/CREATE/HI1Object: object type DocumentObject (TS 103 120 Document) is not supported "
         "(only task:LITaskObject and task:LDTaskObject)\nActionRequest[1]/UPDATE" +
             kAuth},
        {"103120-v1.12.1/request4.xml", "ActionRequest[0]/CREATE" + kAuth + kLdNoHash},
        {"103120-v1.12.1/request6.xml", "ActionRequest[0]/CREATE" + kAuth + kLdNoHash},
        {"103120-v1.12.1/request6_signed.xml", "ActionRequest[0]/CREATE" + kAuth + kLiNoHash},
        // FooServiceSchema.xsd is not in the set: XMLData's strict wildcard refuses the payload.
        {"103120-v1.12.1/request5-XML-Delivery.xml",
         "message: XML does not match the schema: schema validation failed at element 'FooItem' (line 69) "
         "[libxml2 code 1845]"},
        {"103120-v1.23.1/request5-XML-Delivery.xml",
         "message: XML does not match the schema: schema validation failed at element 'FooItem' (line 66) "
         "[libxml2 code 1845]"},
        {"103120-v1.12.1/mutliple-auth-example-request.xml",
         "ActionRequest[0]/CREATE/HI1Object: no Reference (LIID)\nActionRequest[1]/CREATE/HI1Object: no Reference "
         "(LIID)\n"},
        {"103120-v1.12.1/request7_TrafficPolicyObject.xml",
         "ActionRequest[0]/CREATE/HI1Object: object type TrafficRuleObject (TS 103 120 TrafficPolicy) is not "
         "supported (only task:LITaskObject and task:LDTaskObject)\nActionRequest[1]/CREATE/HI1Object: object type "
         "TrafficPolicyObject (TS 103 120 TrafficPolicy) is not supported (only task:LITaskObject and "
         "task:LDTaskObject)\nActionRequest[2]/UPDATE/HI1Object/ListOfTrafficPolicyReferences: not supported by "
         "Enclave\n"},
        {"103120-v1.12.1/request5-Binary-Delivery.xml", kDeliver},
        {"103120-v1.23.1/request5-Binary-Delivery.xml", kDeliver},
        {"103120-v1.12.1/response1.xml", kNotRequest},
        {"103120-v1.12.1/response2.xml", kNotRequest},
        {"103120-v1.12.1/response3.xml", kNotRequest},
        {"103120-v1.12.1/response4.xml", kNotRequest},
        {"103120-v1.12.1/response5.xml", kNotRequest},
        {"103120-v1.12.1/response6.xml", kNotRequest},
        {"103120-v1.12.1/ts_103120_ETSIDictionaryDefinitions.xml",
         "message: root element is not a TS 103 120 HI1Message"},
    };
    return m;
}

TEST(Hi1TaskExamplesTest, EveryOfficialExampleIsTakenOrRefusedPrecisely) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    const auto root = enclave::testing::shared_dir() / "etsi-examples";
    ASSERT_TRUE(std::filesystem::is_directory(root)) << root;
    std::size_t seen = 0;
    std::size_t checked = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".xml") {
            continue;
        }
        ++seen;
        const std::string name = std::filesystem::relative(entry.path(), root).generic_string();
        const auto r = parse_hi1_task_request(read_file(entry.path()), *set);
        const std::string got = outcome(r);
        SCOPED_TRACE(name + " -> " + got);
        EXPECT_FALSE(got.empty());
        if (r) {
            ASSERT_FALSE(r->actions.empty());
            for (const auto& a : r->actions) {
                EXPECT_EQ(a.path.rfind("ActionRequest[", 0), 0u);
                if (a.refusal) {  // every refusal names its action's path
                    EXPECT_EQ(a.refusal->description.rfind(a.path, 0), 0u);
                    EXPECT_FALSE(a.task.has_value());
                }
                // No example carries the project's salted hashes: no task is taken.
                EXPECT_FALSE(a.task.has_value());
            }
        }
        if (const auto it = expected().find(name); it != expected().end()) {
            EXPECT_EQ(got, it->second);
            ++checked;
        }
    }
    EXPECT_EQ(seen, expected().size()) << "an example without an expected outcome";
    EXPECT_EQ(checked, expected().size()) << "an expected example file is missing";
}

}  // namespace
}  // namespace enclave::delivery
