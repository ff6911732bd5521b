// SPDX-License-Identifier: Apache-2.0
#include "simulator/delivery_inspector.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>

#include "crypto/c_handle.hpp"

namespace enclave::simulator {
namespace {

using crypto::Errc;
using crypto::fail;
using DocPtr = crypto::CHandle<xmlDoc, xmlFreeDoc>;
using ParserCtxtPtr = crypto::CHandle<xmlParserCtxt, xmlFreeParserCtxt>;

bool named(const xmlNode* n, const char* local, const char* ns) {
    return n != nullptr && n->type == XML_ELEMENT_NODE &&
           std::strcmp(reinterpret_cast<const char*>(n->name), local) == 0 && n->ns != nullptr &&
           std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) == 0;
}

const xmlNode* child(const xmlNode* parent, const char* local, const char* ns) {
    if (parent == nullptr) return nullptr;
    for (const xmlNode* c = parent->children; c != nullptr; c = c->next) {
        if (named(c, local, ns)) return c;
    }
    return nullptr;
}

/// The text content of an element without child elements ("" otherwise).
std::string text(const xmlNode* n) {
    if (n == nullptr) return {};
    std::string out;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) return {};
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            out += reinterpret_cast<const char*>(c->content);
        }
    }
    const auto b = out.find_first_not_of(" \t\r\n");
    const auto e = out.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

bool parse_u64(const std::string& s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
}

void read_header(const xmlNode* header, DeliveryFacts& f) {
    const xmlNode* s = child(header, "SenderIdentifier", kHi1CoreNamespace);
    const xmlNode* r = child(header, "ReceiverIdentifier", kHi1CoreNamespace);
    f.sender_country = text(child(s, "CountryCode", kHi1CoreNamespace));
    f.sender_id = text(child(s, "UniqueIdentifier", kHi1CoreNamespace));
    f.receiver_country = text(child(r, "CountryCode", kHi1CoreNamespace));
    f.receiver_id = text(child(r, "UniqueIdentifier", kHi1CoreNamespace));
    f.transaction_id = text(child(header, "TransactionIdentifier", kHi1CoreNamespace));
    f.etsi_version =
        text(child(child(header, "Version", kHi1CoreNamespace), "ETSIVersion", kHi1CoreNamespace));
}

/// The fields of one binaryObject element a fetcher needs.
BinaryObjectFacts read_binary_object(const xmlNode* obj) {
    BinaryObjectFacts b;
    b.url = text(child(obj, "url", kTs103707Namespace));
    std::uint64_t length = 0;
    if (parse_u64(text(child(obj, "contentLength", kTs103707Namespace)), length)) {
        b.content_length = length;
    }
    b.checksum = text(child(obj, "checksum", kTs103707Namespace));
    b.expiry = text(child(obj, "expiry", kTs103707Namespace));
    return b;
}

/// Walks the XMLData subtree: counts handoverItems, collects binary URLs and
/// binaryObjects.
void scan_items(const xmlNode* n, DeliveryFacts& f, int depth) {
    if (depth > 64) return;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        if (named(c, "handoverItem", kTs103707Namespace)) ++f.items;
        if (named(c, "url", kTs103707Namespace)) f.binary_urls.push_back(text(c));
        if (named(c, "binaryObject", kTs103707Namespace)) {
            f.binary_objects.push_back(read_binary_object(c));
        }
        scan_items(c, f, depth + 1);
    }
}

crypto::Result<void> read_delivery_object(const xmlNode* obj, DeliveryFacts& f) {
    const char* d = kHi1DeliveryNamespace;
    const xmlNode* ref = child(obj, "Reference", d);
    if (const xmlNode* liid = child(ref, "LIID", d)) {
        f.reference_kind = "LIID";
        f.reference = text(liid);
    } else if (const xmlNode* ldid = child(ref, "LDID", d)) {
        f.reference_kind = "LDID";
        f.reference = text(ldid);
    }
    if (f.reference.empty()) return fail(Errc::malformed_input, "DeliveryObject: no Reference");
    f.delivery_id = text(child(obj, "DeliveryID", d));
    if (!is_uuid(f.delivery_id)) {
        return fail(Errc::malformed_input, "DeliveryObject: DeliveryID is not a UUID");
    }
    for (auto& ch : f.delivery_id)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!parse_u64(text(child(obj, "SequenceNumber", d)), f.sequence_number)) {
        return fail(Errc::malformed_input, "DeliveryObject: bad SequenceNumber");
    }
    const std::string last = text(child(obj, "LastSequence", d));
    if (last != "true" && last != "false" && last != "1" && last != "0") {
        return fail(Errc::malformed_input, "DeliveryObject: bad LastSequence");
    }
    f.last_sequence = last == "true" || last == "1";
    if (const xmlNode* data = child(child(obj, "Delivery", d), "XMLData", d)) {
        scan_items(data, f, 0);
    }
    return {};
}

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string now_microseconds() {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
    const std::time_t t = std::chrono::system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::array<char, 32> date{};
    std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    std::string frac = std::to_string(static_cast<unsigned long>(micros) % 1000000u);
    frac.insert(0, 6 - frac.size(), '0');
    return std::string(date.data()) + "." + frac + "Z";
}

std::string or_default(const std::string& v, const char* fallback) {
    return v.empty() ? fallback : v;
}

std::string header_xml(const DeliveryFacts& f) {
    // The answer goes from the LEA (the request's receiver) to the CSP.
    std::string tid = is_uuid(f.transaction_id) ? f.transaction_id : random_uuid();
    std::string version = f.etsi_version.empty() ? "V1.13.1" : f.etsi_version;
    return "<Header><SenderIdentifier><CountryCode>" +
           escape(or_default(f.receiver_country, "XX")) + "</CountryCode><UniqueIdentifier>" +
           escape(or_default(f.receiver_id, "Not specified")) +
           "</UniqueIdentifier></SenderIdentifier><ReceiverIdentifier><CountryCode>" +
           escape(or_default(f.sender_country, "XX")) + "</CountryCode><UniqueIdentifier>" +
           escape(or_default(f.sender_id, "Not specified")) +
           "</UniqueIdentifier></ReceiverIdentifier><TransactionIdentifier>" + escape(tid) +
           "</TransactionIdentifier><Timestamp>" + now_microseconds() +
           "</Timestamp><Version><ETSIVersion>" + escape(version) +
           "</ETSIVersion><NationalProfileOwner>N/A</NationalProfileOwner>"
           "<NationalProfileVersion>N/A</NationalProfileVersion></Version></Header>";
}

constexpr const char* kOpen =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<HI1Message xmlns=\"http://uri.etsi.org/03120/common/2019/10/Core\">";

}  // namespace

crypto::Result<DeliveryFacts> inspect_delivery(std::string_view xml) {
    if (xml.size() > kMaxInspectBytes) return fail(Errc::too_large, "XML document over 64 MiB");
    // No DTD at all: no entities to expand, nothing to fetch.
    if (xml.find("<!DOCTYPE") != std::string_view::npos) {
        return fail(Errc::malformed_input, "XML document: a DOCTYPE is not allowed");
    }
    ParserCtxtPtr ctxt(xmlNewParserCtxt());
    if (!ctxt) throw std::bad_alloc();
    DocPtr doc(xmlCtxtReadMemory(ctxt.get(), xml.data(), static_cast<int>(xml.size()), nullptr,
                                 nullptr,
                                 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc || !ctxt->wellFormed)
        return fail(Errc::malformed_input, "XML document: not well-formed");
    if (doc->intSubset != nullptr) return fail(Errc::malformed_input, "XML document: DTD present");
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    if (!named(root, "HI1Message", kHi1CoreNamespace)) {
        return fail(Errc::malformed_input, "XML document: the root is not an HI1 HI1Message");
    }
    DeliveryFacts f;
    read_header(child(root, "Header", kHi1CoreNamespace), f);
    const xmlNode* requests =
        child(child(child(root, "Payload", kHi1CoreNamespace), "RequestPayload", kHi1CoreNamespace),
              "ActionRequests", kHi1CoreNamespace);
    if (requests == nullptr) return fail(Errc::malformed_input, "HI1Message: no ActionRequests");
    for (const xmlNode* ar = requests->children; ar != nullptr; ar = ar->next) {
        if (!named(ar, "ActionRequest", kHi1CoreNamespace)) continue;
        const xmlNode* deliver = child(ar, "DELIVER", kHi1CoreNamespace);
        if (deliver == nullptr) continue;
        if (!parse_u64(text(child(ar, "ActionIdentifier", kHi1CoreNamespace)),
                       f.action_identifier)) {
            return fail(Errc::malformed_input, "ActionRequest: bad ActionIdentifier");
        }
        f.object_identifier = text(child(deliver, "Identifier", kHi1CoreNamespace));
        const xmlNode* obj = child(deliver, "HI1Object", kHi1CoreNamespace);
        if (obj == nullptr) return fail(Errc::malformed_input, "DELIVER: no HI1Object");
        if (auto ok = read_delivery_object(obj, f); !ok) return tl::unexpected(ok.error());
        return f;
    }
    return fail(Errc::malformed_input, "HI1Message: no DELIVER ActionRequest");
}

std::string minimal_deliver_response(const DeliveryFacts& f) {
    const std::string id = is_uuid(f.object_identifier) ? f.object_identifier : f.delivery_id;
    return std::string(kOpen) + header_xml(f) +
           "<Payload><ResponsePayload><ActionResponses><ActionResponse><ActionIdentifier>" +
           std::to_string(f.action_identifier) +
           "</ActionIdentifier><DELIVERResponse><Identifier>" + escape(id) +
           "</Identifier></DELIVERResponse></ActionResponse></ActionResponses></ResponsePayload>"
           "</Payload></HI1Message>\n";
}

std::string minimal_error_response(const DeliveryFacts& f, unsigned code,
                                   std::string_view description) {
    return std::string(kOpen) + header_xml(f) +
           "<Payload><ResponsePayload><ErrorInformation><ErrorCode>" + std::to_string(code) +
           "</ErrorCode><ErrorDescription>" + escape(description) +
           "</ErrorDescription></ErrorInformation></ResponsePayload></Payload></HI1Message>\n";
}

std::string random_uuid() {
    std::array<unsigned char, 16> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 0x0f];
    }
    return out;
}

bool is_uuid(std::string_view t) noexcept {
    if (t.size() != 36) return false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (t[i] == '-')) return false;
        if (!dash && std::isxdigit(static_cast<unsigned char>(t[i])) == 0) return false;
    }
    return true;
}

}  // namespace enclave::simulator
