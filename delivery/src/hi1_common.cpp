// SPDX-License-Identifier: Apache-2.0
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

#include "delivery/uuid.hpp"
#include "delivery/xml_handover.hpp"
#include "hi1_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::string hi1_timestamp_now() {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count() % 1000000;
    const std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(micros));
    return buf;
}

namespace detail {

Hi1Skeleton new_hi1_message() {
    ensure_libxml_init();
    Hi1Skeleton m;
    m.doc.reset(xmlNewDoc(xstr("1.0")));
    if (!m.doc) {
        throw std::bad_alloc();
    }
    m.root = xmlNewDocNode(m.doc.get(), nullptr, xstr("HI1Message"), nullptr);
    if (m.root == nullptr) {
        throw std::bad_alloc();
    }
    xmlDocSetRootElement(m.doc.get(), m.root);
    m.core = xmlNewNs(m.root, xstr(kCoreNs), xstr("core"));
    m.delivery = xmlNewNs(m.root, xstr(kDeliveryNs), xstr("delivery"));
    m.common = xmlNewNs(m.root, xstr(kCommonNs), xstr("common"));
    m.xsi = xmlNewNs(m.root, xstr(kXsiNs), xstr("xsi"));
    xmlSetNs(m.root, m.core);
    return m;
}

Result<void> check_endpoint(const EndpointId& id, std::string_view field) {
    const auto& cc = id.country_code;
    if (cc.size() != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z') {
        return fail(Errc::invalid_argument, std::string(field) + ".country_code: not two capital letters (ISO 3166-1)");
    }
    if (id.unique_identifier.empty() || id.unique_identifier.size() > 65535 || !is_xml_text(id.unique_identifier)) {
        return fail(Errc::invalid_argument, std::string(field) + ".unique_identifier: empty, too long or not XML text");
    }
    return {};
}

Result<void> check_uuid(std::string_view value, std::string_view field) {
    if (!is_uuid(value)) {
        return fail(Errc::invalid_argument, std::string(field) + ": not a lowercase UUID");
    }
    return {};
}

Result<void> check_micro_timestamp(std::string_view value, std::string_view field) {
    if (!is_handover_datetime(value) || value.size() < 20 || value[19] != '.') {
        return fail(Errc::invalid_argument, std::string(field) + ": not a QualifiedMicrosecondDateTime");
    }
    return {};
}

namespace {

void add_endpoint(xmlNode* header, xmlNs* core, const char* name, const EndpointId& id) {
    xmlNode* e = add_element(header, core, name);
    add_text(e, core, "CountryCode", id.country_code, name).value();
    add_text(e, core, "UniqueIdentifier", id.unique_identifier, name).value();
}

}  // namespace

Result<void> add_header(Hi1Skeleton& m, const EndpointId& sender, const EndpointId& receiver,
                        const std::string& transaction_id, const std::string& timestamp) {
    if (auto ok = check_endpoint(sender, "sender"); !ok) {
        return ok;
    }
    if (auto ok = check_endpoint(receiver, "receiver"); !ok) {
        return ok;
    }
    if (auto ok = check_uuid(transaction_id, "transaction_id"); !ok) {
        return ok;
    }
    if (auto ok = check_micro_timestamp(timestamp, "timestamp"); !ok) {
        return ok;
    }
    xmlNode* header = add_element(m.root, m.core, "Header");
    add_endpoint(header, m.core, "SenderIdentifier", sender);
    add_endpoint(header, m.core, "ReceiverIdentifier", receiver);
    add_text(header, m.core, "TransactionIdentifier", transaction_id, "transaction_id").value();
    add_text(header, m.core, "Timestamp", timestamp, "timestamp").value();
    xmlNode* version = add_element(header, m.core, "Version");
    add_text(version, m.core, "ETSIVersion", kEtsiVersion, "version").value();
    add_text(version, m.core, "NationalProfileOwner", "N/A", "version").value();
    add_text(version, m.core, "NationalProfileVersion", "N/A", "version").value();
    return {};
}

xmlNode* child(xmlNode* parent, const char* ns, const char* name) noexcept {
    for (xmlNode* c = first_element(parent); c != nullptr; c = next_element(c)) {
        if (is_element(c, ns, name)) {
            return c;
        }
    }
    return nullptr;
}

Hi1Header read_header(xmlNode* header) {
    Hi1Header h;
    auto endpoint = [](xmlNode* e) {
        return EndpointId{text_trimmed(child(e, kCoreNs, "CountryCode")),
                          text_of(child(e, kCoreNs, "UniqueIdentifier"))};
    };
    h.sender = endpoint(child(header, kCoreNs, "SenderIdentifier"));
    h.receiver = endpoint(child(header, kCoreNs, "ReceiverIdentifier"));
    h.transaction_id = text_trimmed(child(header, kCoreNs, "TransactionIdentifier"));
    h.timestamp = text_trimmed(child(header, kCoreNs, "Timestamp"));
    return h;
}

Result<xmlNode*> validated_hi1_root(const XmlDocument& doc, const SchemaSet& schemas) {
    xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!is_element(root, kCoreNs, "HI1Message")) {
        return fail(Errc::malformed_input, "root element is not a TS 103 120 HI1Message");
    }
    if (auto ok = schemas.validate(doc); !ok) {
        return tl::unexpected(ok.error());
    }
    return root;
}

Result<Hi1Document> parse_hi1_message(std::string_view xml, const SchemaSet& schemas, const XmlLimits& limits) {
    auto doc = parse_xml(xml, limits);
    if (!doc) {
        return tl::unexpected(doc.error());
    }
    auto root = validated_hi1_root(*doc, schemas);
    if (!root) {
        return tl::unexpected(root.error());
    }
    return Hi1Document{std::move(*doc), *root};
}

}  // namespace detail
}  // namespace enclave::delivery
