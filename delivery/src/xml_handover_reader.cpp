// SPDX-License-Identifier: Apache-2.0
// handoverItem / handoverItemCollection XML -> HandoverItem. Runs on
// documents the SchemaSet has validated: element order and presence are
// already checked, this walks and converts.
#include <algorithm>
#include <cctype>

#include "delivery/xml_handover.hpp"
#include "xml_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

constexpr const char* kNs = kTs103707Namespace;
constexpr const char* kTaskNs = "http://uri.etsi.org/03120/common/2020/09/Task";

// xs:boolean, xs:anyURI, xs:dateTime collapse whitespace.
std::string trimmed(const xmlNode* n) { return text_trimmed(n); }

bool read_bool(const xmlNode* n) {
    const std::string v = trimmed(n);
    return v == "true" || v == "1";
}

PartyIdentifier read_qualified(xmlNode* q) {
    PartyIdentifier id;
    id.qualified = true;
    for (xmlNode* c = first_element(q); c != nullptr; c = next_element(c)) {
        if (is_element(c, kNs, "formatType")) {
            std::string owner;
            std::string name;
            for (xmlNode* f = first_element(c); f != nullptr; f = next_element(f)) {
                if (is_element(f, kTaskNs, "FormatOwner")) {
                    owner = text_of(f);
                } else if (is_element(f, kTaskNs, "FormatName")) {
                    name = text_of(f);
                }
            }
            id.format_type = owner == kDefaultFormatOwner ? name : owner + ":" + name;
        } else if (is_element(c, kNs, "value")) {
            id.value = text_of(c);
        }
    }
    return id;
}

MessagingParty read_party(xmlNode* p) {
    MessagingParty party;
    for (xmlNode* c = first_element(p); c != nullptr; c = next_element(c)) {
        if (is_element(c, kNs, "identifiers")) {
            for (xmlNode* i = first_element(c); i != nullptr; i = next_element(i)) {
                if (is_element(i, kNs, "identifier")) {
                    party.identifiers.push_back(PartyIdentifier{false, {}, text_of(i)});
                } else if (is_element(i, kNs, "qualifiedPartyIdentifier")) {
                    party.identifiers.push_back(read_qualified(i));
                }
            }
        } else if (is_element(c, kNs, "isTargetedParty")) {
            party.is_targeted_party = read_bool(c);
        }
    }
    return party;
}

Result<BinaryObject> read_binary(xmlNode* o) {
    BinaryObject b;
    for (xmlNode* c = first_element(o); c != nullptr; c = next_element(c)) {
        const std::string_view name = cstr(c->name);
        if (name == "url") {
            b.url = trimmed(c);
        } else if (name == "contentLength") {
            auto v = parse_u64(trimmed(c), "binaryObject.contentLength");
            if (!v) {
                return tl::unexpected(v.error());
            }
            b.content_length = *v;
        } else if (name == "contentType") {
            b.content_type = text_of(c);
        } else if (name == "expiry") {
            b.expiry = trimmed(c);
        } else if (name == "checksum") {
            std::string sum = trimmed(c);
            std::transform(sum.begin(), sum.end(), sum.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            b.checksum = std::move(sum);
        } else if (name == "originalFilename") {
            b.original_filename = text_of(c);
        } else if (name == "cspDefinedIdentifier") {
            b.csp_defined_identifier = text_of(c);
        }
    }
    return b;
}

Result<void> read_core(xmlNode* core, HandoverItem& item) {
    for (xmlNode* c = first_element(core); c != nullptr; c = next_element(c)) {
        if (is_element(c, kNs, "messageSender")) {
            item.message_sender = read_party(c);
        } else if (is_element(c, kNs, "messageReceivers")) {
            for (xmlNode* p = first_element(c); p != nullptr; p = next_element(p)) {
                item.message_receivers.push_back(read_party(p));
            }
        } else if (is_element(c, kNs, "timestamp")) {
            item.timestamp = trimmed(c);
        } else if (is_element(c, kNs, "associatedBinaryData")) {
            for (xmlNode* o = first_element(c); o != nullptr; o = next_element(o)) {
                auto b = read_binary(o);
                if (!b) {
                    return tl::unexpected(b.error());
                }
                item.associated_binary_data.push_back(std::move(*b));
            }
        }
    }
    return {};
}

Result<CspDefinedParameters> read_csp(xmlNode* csp) {
    CspDefinedParameters out;
    for (xmlNode* c = first_element(csp); c != nullptr; c = next_element(c)) {
        if (is_element(c, kNs, "schemaDetails")) {
            for (xmlNode* d = first_element(c); d != nullptr; d = next_element(d)) {
                const std::string_view name = cstr(d->name);
                if (name == "schemaIdentifier") {
                    out.schema_details.schema_identifier = text_of(d);
                } else if (name == "schemaURL") {
                    out.schema_details.schema_url = trimmed(d);
                } else if (name == "schemaContent") {
                    out.schema_details.schema_content = text_of(d);
                }
            }
        } else {
            auto xml = serialise_element(c);
            if (!xml) {
                return tl::unexpected(xml.error());
            }
            out.xml = std::move(*xml);
        }
    }
    return out;
}

Result<HandoverItem> read_item(xmlNode* node) {
    HandoverItem item;
    for (xmlNode* c = first_element(node); c != nullptr; c = next_element(c)) {
        if (is_element(c, kNs, "applicationLevelHeader")) {
            xmlNode* corr = first_element(c);
            if (corr != nullptr) {
                xmlNode* id = first_element(corr);
                auto level = parse_u64(text_of(id), "applicationLevelID");
                auto seq = parse_u64(text_of(next_element(id)), "applicationSequenceNumber");
                if (!level || !seq) {
                    return tl::unexpected(!level ? level.error() : seq.error());
                }
                item.application_correlation = ApplicationCorrelation{*level, *seq};
            }
        } else if (is_element(c, kNs, "messagingCoreParameters")) {
            if (auto ok = read_core(c, item); !ok) {
                return tl::unexpected(ok.error());
            }
        } else if (is_element(c, kNs, "cspDefinedParameters")) {
            auto csp = read_csp(c);
            if (!csp) {
                return tl::unexpected(csp.error());
            }
            item.csp_defined = std::move(*csp);
        }
    }
    return item;
}

}  // namespace

namespace detail {

Result<std::vector<HandoverItem>> read_handover_items(xmlNode* root) {
    std::vector<HandoverItem> items;
    auto add = [&items](xmlNode* n) -> Result<void> {
        auto item = read_item(n);
        if (!item) {
            return tl::unexpected(item.error().wrap("handoverItem[" + std::to_string(items.size()) + "]"));
        }
        items.push_back(std::move(*item));
        return {};
    };
    if (is_element(root, kNs, "handoverItem")) {
        if (auto ok = add(root); !ok) {
            return tl::unexpected(ok.error());
        }
        return items;
    }
    if (!is_element(root, kNs, "handoverItemCollection")) {
        return fail(Errc::malformed_input, "root element is not a TS 103 707 handoverItem or handoverItemCollection");
    }
    for (xmlNode* c = first_element(root); c != nullptr; c = next_element(c)) {
        if (auto ok = add(c); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return items;
}

}  // namespace detail

Result<std::vector<HandoverItem>> parse_handover_items(std::string_view xml, const SchemaSet& schemas,
                                                       const XmlLimits& limits) {
    auto doc = parse_xml(xml, limits);
    if (!doc) {
        return tl::unexpected(doc.error());
    }
    xmlNode* root = xmlDocGetRootElement(doc->get());
    if (!is_element(root, kNs, "handoverItem") && !is_element(root, kNs, "handoverItemCollection")) {
        return fail(Errc::malformed_input, "root element is not a TS 103 707 handoverItem or handoverItemCollection");
    }
    if (auto ok = schemas.validate(*doc); !ok) {
        return tl::unexpected(ok.error());
    }
    return read_handover_items(root);
}

}  // namespace enclave::delivery
