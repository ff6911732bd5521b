// SPDX-License-Identifier: Apache-2.0
// HandoverItem -> handoverItem element (TS 103 707 tables 4-9).
#include <cctype>
#include <string>

#include "delivery/xml_handover.hpp"
#include "xml_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

constexpr std::size_t kLongString = 65535;   // TS 103 280 LongString maxLength
constexpr std::size_t kShortString = 255;    // TS 103 280 ShortString maxLength
constexpr std::size_t kMaxUri = 8192;        // project XSD NonEmptyURI

std::size_t code_points(std::string_view s) noexcept {
    std::size_t n = 0;
    for (const char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

Result<void> check_string(std::string_view v, std::string_view field, std::size_t max, bool non_empty = true) {
    if (non_empty && v.empty()) {
        return fail(Errc::malformed_input, std::string(field) + ": must not be empty");
    }
    if (code_points(v) > max) {
        return fail(Errc::too_large, std::string(field) + ": longer than " + std::to_string(max) + " characters");
    }
    return {};
}

// Writes a checked string element.
Result<void> put(xmlNode* parent, xmlNs* ns, const char* name, std::string_view v, const std::string& field,
                 std::size_t max, bool non_empty = true) {
    if (auto ok = check_string(v, field, max, non_empty); !ok) {
        return ok;
    }
    if (auto n = add_text(parent, ns, name, v, field); !n) {
        return tl::unexpected(n.error());
    }
    return {};
}

bool is_media_type(std::string_view v) noexcept {
    auto token = [](std::string_view t) {
        if (t.empty() || t.size() > 127 || !std::isalnum(static_cast<unsigned char>(t[0]))) {
            return false;
        }
        for (const char c : t) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("!#$&-^_.+").find(c) == std::string_view::npos) {
                return false;
            }
        }
        return true;
    };
    const auto semi = v.find(';');
    std::string_view type = v.substr(0, semi);
    while (!type.empty() && type.back() == ' ') {
        type.remove_suffix(1);
    }
    const auto slash = type.find('/');
    return slash != std::string_view::npos && token(type.substr(0, slash)) && token(type.substr(slash + 1)) &&
           (semi == std::string_view::npos || v.substr(semi).find_first_of("\r\n") == std::string_view::npos);
}

bool is_hex64(std::string_view v) noexcept {
    return v.size() == 64 && v.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

Result<void> put_datetime(xmlNode* parent, xmlNs* ns, const char* name, std::string_view v, const std::string& field) {
    if (!is_handover_datetime(v)) {
        return fail(Errc::malformed_input, field + ": not a QualifiedDateTime (with 0 or 6 fractional digits)");
    }
    return put(parent, ns, name, v, field, 64);
}

Result<void> put_identifier(xmlNode* ids, xmlNs* ns, const PartyIdentifier& id, const std::string& field) {
    if (!id.qualified) {
        return put(ids, ns, "identifier", id.value, field, kLongString);
    }
    xmlNode* q = add_element(ids, ns, "qualifiedPartyIdentifier");
    if (!id.format_type.empty()) {
        const auto colon = id.format_type.find(':');
        const std::string owner = colon == std::string::npos ? kDefaultFormatOwner : id.format_type.substr(0, colon);
        const std::string name = colon == std::string::npos ? id.format_type : id.format_type.substr(colon + 1);
        xmlNode* ft = add_element(q, ns, "formatType");
        xmlNs* task = xmlNewNs(ft, xstr("http://uri.etsi.org/03120/common/2020/09/Task"), xstr("task"));
        if (auto ok = put(ft, task, "FormatOwner", owner, field + ".formatType", kShortString); !ok) {
            return ok;
        }
        if (auto ok = put(ft, task, "FormatName", name, field + ".formatType", kShortString); !ok) {
            return ok;
        }
    }
    return put(q, ns, "value", id.value, field + ".value", kLongString);
}

Result<void> put_party(xmlNode* parent, xmlNs* ns, const char* name, const MessagingParty& party,
                       const std::string& field) {
    if (party.identifiers.empty()) {
        return fail(Errc::malformed_input, field + ".identifiers: at least one identifier is required");
    }
    xmlNode* p = add_element(parent, ns, name);
    xmlNode* ids = add_element(p, ns, "identifiers");
    for (std::size_t i = 0; i < party.identifiers.size(); ++i) {
        if (auto ok = put_identifier(ids, ns, party.identifiers[i], field + ".identifiers[" + std::to_string(i) + "]");
            !ok) {
            return ok;
        }
    }
    if (party.is_targeted_party) {
        add_text(p, ns, "isTargetedParty", *party.is_targeted_party ? "true" : "false", field).value();
    }
    return {};
}

Result<void> put_binary(xmlNode* parent, xmlNs* ns, const BinaryObject& b, const std::string& field) {
    xmlNode* o = add_element(parent, ns, "binaryObject");
    if (auto ok = put(o, ns, "url", b.url, field + ".url", kMaxUri); !ok) {
        return ok;
    }
    if (b.content_length) {
        add_text(o, ns, "contentLength", std::to_string(*b.content_length), field).value();
    }
    if (b.content_type) {
        if (!is_media_type(*b.content_type) || b.content_type->size() > kShortString) {
            return fail(Errc::malformed_input, field + ".contentType: not an RFC 6838 media type");
        }
        if (auto ok = put(o, ns, "contentType", *b.content_type, field + ".contentType", kShortString); !ok) {
            return ok;
        }
    }
    if (b.expiry) {
        if (auto ok = put_datetime(o, ns, "expiry", *b.expiry, field + ".expiry"); !ok) {
            return ok;
        }
    }
    if (b.checksum) {
        if (!is_hex64(*b.checksum)) {
            return fail(Errc::malformed_input, field + ".checksum: not a SHA-256 in hex (64 digits)");
        }
        add_text(o, ns, "checksum", *b.checksum, field).value();
    }
    if (b.original_filename) {
        if (auto ok = put(o, ns, "originalFilename", *b.original_filename, field + ".originalFilename", kLongString);
            !ok) {
            return ok;
        }
    }
    if (b.csp_defined_identifier) {
        return put(o, ns, "cspDefinedIdentifier", *b.csp_defined_identifier, field + ".cspDefinedIdentifier",
                   kLongString);
    }
    return {};
}

Result<void> put_csp(xmlNode* parent, xmlNs* ns, const CspDefinedParameters& csp) {
    xmlNode* c = add_element(parent, ns, "cspDefinedParameters");
    xmlNode* sd = add_element(c, ns, "schemaDetails");
    const auto& d = csp.schema_details;
    if (auto ok = put(sd, ns, "schemaIdentifier", d.schema_identifier, "cspDefined.schemaIdentifier", kLongString);
        !ok) {
        return ok;
    }
    if (d.schema_url) {
        if (auto ok = put(sd, ns, "schemaURL", *d.schema_url, "cspDefined.schemaUrl", kMaxUri); !ok) {
            return ok;
        }
    }
    if (d.schema_content) {
        if (auto ok = put(sd, ns, "schemaContent", *d.schema_content, "cspDefined.schemaContent", 16u << 20, false);
            !ok) {
            return ok;
        }
    }
    if (csp.xml.empty()) {
        return {};
    }
    auto doc = parse_xml(csp.xml);
    if (!doc) {
        return tl::unexpected(doc.error().wrap("cspDefined.xml"));
    }
    const xmlNode* root = xmlDocGetRootElement(doc->get());
    if (root->ns == nullptr || root->ns->href == nullptr ||
        std::string_view(cstr(root->ns->href)) == kTs103707Namespace) {
        return fail(Errc::malformed_input,
                    "cspDefined.xml: the root element must be in a namespace other than TS 103 707's");
    }
    if (auto n = import_element(c, root); !n) {
        return tl::unexpected(n.error());
    }
    return {};
}

Result<void> put_core(xmlNode* parent, xmlNs* ns, const HandoverItem& item) {
    xmlNode* core = add_element(parent, ns, "messagingCoreParameters");
    if (item.message_sender) {
        if (auto ok = put_party(core, ns, "messageSender", *item.message_sender, "sender"); !ok) {
            return ok;
        }
    }
    if (!item.message_receivers.empty()) {
        xmlNode* list = add_element(core, ns, "messageReceivers");
        for (std::size_t i = 0; i < item.message_receivers.size(); ++i) {
            if (auto ok = put_party(list, ns, "messagingParty", item.message_receivers[i],
                                    "receivers[" + std::to_string(i) + "]");
                !ok) {
                return ok;
            }
        }
    }
    if (auto ok = put_datetime(core, ns, "timestamp", item.timestamp, "timestamp"); !ok) {
        return ok;
    }
    if (!item.associated_binary_data.empty()) {
        xmlNode* abd = add_element(core, ns, "associatedBinaryData");
        for (std::size_t i = 0; i < item.associated_binary_data.size(); ++i) {
            if (auto ok = put_binary(abd, ns, item.associated_binary_data[i], "binaries[" + std::to_string(i) + "]");
                !ok) {
                return ok;
            }
        }
    }
    return {};
}

bool digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    if (pos + n > s.size()) {
        return false;
    }
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

int num(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

}  // namespace

bool is_handover_datetime(std::string_view t) noexcept {
    // YYYY-MM-DDThh:mm:ss
    if (t.size() < 20 || !digits(t, 0, 4) || t[4] != '-' || !digits(t, 5, 2) || t[7] != '-' || !digits(t, 8, 2) ||
        t[10] != 'T' || !digits(t, 11, 2) || t[13] != ':' || !digits(t, 14, 2) || t[16] != ':' || !digits(t, 17, 2)) {
        return false;
    }
    const int month = num(t, 5, 2);
    const int day = num(t, 8, 2);
    const int hour = num(t, 11, 2);
    const int minute = num(t, 14, 2);
    const int second = num(t, 17, 2);
    const int year = num(t, 0, 4);
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year == 0 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) ||
        hour > 23 || minute > 59 || second > 59) {
        return false;
    }
    std::size_t pos = 19;
    if (t[pos] == '.') {
        if (!digits(t, pos + 1, 6)) {
            return false;
        }
        pos += 7;
    }
    const std::string_view zone = t.substr(pos);
    if (zone == "Z") {
        return true;
    }
    return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone, 1, 2) && zone[3] == ':' &&
           digits(zone, 4, 2) && (num(zone, 1, 2) < 14 || (num(zone, 1, 2) == 14 && num(zone, 4, 2) == 0)) &&
           num(zone, 4, 2) < 60;
}

Result<std::string> write_handover_item(const HandoverItem& item) {
    ensure_libxml_init();
    DocPtr doc(xmlNewDoc(xstr("1.0")));
    if (!doc) {
        throw std::bad_alloc();
    }
    xmlNode* root = xmlNewDocNode(doc.get(), nullptr, xstr("handoverItem"), nullptr);
    if (root == nullptr) {
        throw std::bad_alloc();
    }
    xmlDocSetRootElement(doc.get(), root);
    xmlNs* ns = xmlNewNs(root, xstr(kTs103707Namespace), xstr("hi"));
    xmlSetNs(root, ns);
    if (item.application_correlation) {
        xmlNode* header = add_element(root, ns, "applicationLevelHeader");
        xmlNode* corr = add_element(header, ns, "applicationCorrelation");
        add_text(corr, ns, "applicationLevelID", std::to_string(item.application_correlation->application_level_id),
                 "applicationCorrelation")
            .value();
        add_text(corr, ns, "applicationSequenceNumber",
                 std::to_string(item.application_correlation->application_sequence_number), "applicationCorrelation")
            .value();
    }
    if (auto ok = put_core(root, ns, item); !ok) {
        return tl::unexpected(ok.error());
    }
    if (item.csp_defined) {
        if (auto ok = put_csp(root, ns, *item.csp_defined); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return serialise_element(root);
}

}  // namespace enclave::delivery
