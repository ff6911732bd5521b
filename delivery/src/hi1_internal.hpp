// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private helpers shared by the HI1 request and response code: namespaces,
// the message skeleton (Table 1 header) and header reading.

#include <string>
#include <string_view>

#include "delivery/hi1_deliver.hpp"
#include "xml_internal.hpp"

namespace enclave::delivery::detail {

inline constexpr const char* kCoreNs = "http://uri.etsi.org/03120/common/2019/10/Core";
inline constexpr const char* kDeliveryNs = "http://uri.etsi.org/03120/common/2019/10/Delivery";
inline constexpr const char* kCommonNs = "http://uri.etsi.org/03120/common/2016/02/Common";
inline constexpr const char* kXsiNs = "http://www.w3.org/2001/XMLSchema-instance";

/// A new document whose root is core:HI1Message declaring the core,
/// delivery, common and xsi prefixes (no default namespace).
struct Hi1Skeleton {
    DocPtr doc;
    xmlNode* root = nullptr;
    xmlNs* core = nullptr;
    xmlNs* delivery = nullptr;
    xmlNs* common = nullptr;
    xmlNs* xsi = nullptr;
};
Hi1Skeleton new_hi1_message();

/// Checks an EndpointID (field names the spec member on error).
crypto::Result<void> check_endpoint(const EndpointId& id, std::string_view field);
crypto::Result<void> check_uuid(std::string_view value, std::string_view field);
/// QualifiedMicrosecondDateTime.
crypto::Result<void> check_micro_timestamp(std::string_view value, std::string_view field);

/// Appends core:Header (Table 1) to the skeleton.
crypto::Result<void> add_header(Hi1Skeleton& m, const EndpointId& sender, const EndpointId& receiver,
                                const std::string& transaction_id, const std::string& timestamp);

struct Hi1Header {
    EndpointId sender;
    EndpointId receiver;
    std::string transaction_id;
    std::string timestamp;
};
/// Reads a validated core:Header.
Hi1Header read_header(xmlNode* header);

/// The root of a parsed document once it is a core:HI1Message and the
/// schemas accept the document (malformed_input, or the validation error).
crypto::Result<xmlNode*> validated_hi1_root(const XmlDocument& doc, const SchemaSet& schemas);

/// A parsed, validated core:HI1Message: the document and its root element.
struct Hi1Document {
    XmlDocument doc;
    xmlNode* root = nullptr;
};
/// parse_xml, then validated_hi1_root.
crypto::Result<Hi1Document> parse_hi1_message(std::string_view xml, const SchemaSet& schemas,
                                              const XmlLimits& limits);

/// The only element child of `parent` with that name, or nullptr.
xmlNode* child(xmlNode* parent, const char* ns, const char* name) noexcept;

}  // namespace enclave::delivery::detail
