// SPDX-License-Identifier: Apache-2.0
// The DELIVER request: TS 103 707 tables 1-3 on TS 103 120 clause 10.

#include "delivery/uuid.hpp"
#include "hi1_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

// TS 103 280 LIID: ([!-~]{1,25})|([0-9a-f]{26,50}); LDID: [A-Z]{2}-.+-.+
bool is_liid(std::string_view v) noexcept {
    if (v.empty() || v.size() > 50) {
        return false;
    }
    if (v.size() <= 25) {
        return v.find_first_not_of("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                                   "abcdefghijklmnopqrstuvwxyz{|}~") == std::string_view::npos;
    }
    return v.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool is_ldid(std::string_view v) noexcept {
    if (v.size() < 6 || v.size() > 65535 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' || v[2] != '-') {
        return false;
    }
    const auto dash = v.find('-', 4);  // ".+" before it: at least one character
    return dash != std::string_view::npos && dash + 1 < v.size() && v.find_first_of("\r\n") == std::string_view::npos;
}

Result<void> check_spec(const DeliverySpec& s, std::size_t items) {
    if (auto ok = check_endpoint(s.sender, "sender"); !ok) {
        return ok;
    }
    if (auto ok = check_endpoint(s.receiver, "receiver"); !ok) {
        return ok;
    }
    if (s.receiver.unique_identifier.size() > 255) {
        // Table 2: OwnerIdentifier (a ShortString) repeats it.
        return fail(Errc::invalid_argument, "receiver.unique_identifier: over 255 characters (OwnerIdentifier)");
    }
    const bool ref_ok = s.reference_kind == ReferenceKind::liid ? is_liid(s.reference) : is_ldid(s.reference);
    if (!ref_ok || !is_xml_text(s.reference)) {
        return fail(Errc::invalid_argument, "reference: not a valid LIID / LDID (TS 103 280)");
    }
    if (auto ok = check_uuid(s.delivery_id, "delivery_id"); !ok) {
        return ok;
    }
    if (s.object_id) {
        if (auto ok = check_uuid(*s.object_id, "object_id"); !ok) {
            return ok;
        }
    }
    if (items == 0 && !s.last_sequence) {
        return fail(Errc::invalid_argument, "a delivery without items must carry last_sequence");
    }
    return {};
}

void add_manifest(xmlNode* obj, const Hi1Skeleton& m) {
    xmlNode* manifest = add_element(obj, m.delivery, "Manifest");
    xmlNode* spec = add_element(manifest, m.delivery, "Specification");
    add_text(spec, m.common, "Owner", "ETSI", "manifest").value();
    add_text(spec, m.common, "Name", "ManifestSpecification", "manifest").value();
    add_text(spec, m.common, "Value", "TS103707", "manifest").value();
}

Result<void> add_items(xmlNode* obj, const Hi1Skeleton& m, std::span<const std::string> items) {
    xmlNode* data = add_element(add_element(obj, m.delivery, "Delivery"), m.delivery, "XMLData");
    xmlNode* parent = data;
    if (items.size() > 1) {
        parent = add_element(data, nullptr, "handoverItemCollection");
        xmlSetNs(parent, xmlNewNs(parent, xstr(kTs103707Namespace), xstr("hi")));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string field = "item_elements[" + std::to_string(i) + "]";
        auto doc = parse_xml(items[i]);
        if (!doc) {
            return tl::unexpected(doc.error().wrap(field));
        }
        const xmlNode* root = xmlDocGetRootElement(doc->get());
        if (!is_element(root, kTs103707Namespace, "handoverItem")) {
            return fail(Errc::malformed_input, field + ": not a TS 103 707 handoverItem element");
        }
        if (auto n = import_element(parent, root); !n) {
            return tl::unexpected(n.error());
        }
    }
    return {};
}

}  // namespace

Result<std::string> build_deliver_request(const DeliverySpec& spec, std::span<const std::string> item_elements) {
    if (auto ok = check_spec(spec, item_elements.size()); !ok) {
        return tl::unexpected(ok.error());
    }
    Hi1Skeleton m = new_hi1_message();
    const std::string object_id = spec.object_id.value_or(spec.delivery_id);
    if (auto ok = add_header(m, spec.sender, spec.receiver, spec.transaction_id.value_or(uuid_v4()),
                             spec.timestamp.value_or(hi1_timestamp_now()));
        !ok) {
        return tl::unexpected(ok.error());
    }
    xmlNode* request = add_element(add_element(add_element(add_element(m.root, m.core, "Payload"), m.core,
                                                           "RequestPayload"),
                                               m.core, "ActionRequests"),
                                   m.core, "ActionRequest");
    add_text(request, m.core, "ActionIdentifier", "0", "action").value();
    xmlNode* deliver = add_element(request, m.core, "DELIVER");
    add_text(deliver, m.core, "Identifier", object_id, "object_id").value();
    xmlNode* obj = add_element(deliver, m.core, "HI1Object");
    xmlNewNsProp(obj, m.xsi, xstr("type"), xstr("delivery:DeliveryObject"));
    add_text(obj, m.core, "ObjectIdentifier", object_id, "object_id").value();
    add_text(obj, m.core, "CountryCode", spec.receiver.country_code, "receiver").value();
    add_text(obj, m.core, "OwnerIdentifier", spec.receiver.unique_identifier, "receiver").value();
    xmlNode* ref = add_element(obj, m.delivery, "Reference");
    add_text(ref, m.delivery, spec.reference_kind == ReferenceKind::liid ? "LIID" : "LDID", spec.reference,
             "reference")
        .value();
    add_text(obj, m.delivery, "DeliveryID", spec.delivery_id, "delivery_id").value();
    add_text(obj, m.delivery, "SequenceNumber", std::to_string(spec.sequence_number), "sequence").value();
    add_text(obj, m.delivery, "LastSequence", spec.last_sequence ? "true" : "false", "last").value();
    add_manifest(obj, m);
    if (!item_elements.empty()) {
        if (auto ok = add_items(obj, m, item_elements); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return serialise_document(m.doc.get());
}

namespace {

// The xsi:type of an HI1Object, resolved against the in-scope namespaces.
bool is_delivery_object(xmlNode* obj) {
    xmlChar* type = xmlGetNsProp(obj, xstr("type"), xstr(kXsiNs));
    if (type == nullptr) {
        return false;
    }
    std::string qname(cstr(type));
    xmlFree(type);
    const auto colon = qname.find(':');
    const std::string prefix = colon == std::string::npos ? std::string() : qname.substr(0, colon);
    const std::string local = colon == std::string::npos ? qname : qname.substr(colon + 1);
    const xmlNs* ns = xmlSearchNs(obj->doc, obj, prefix.empty() ? nullptr : xstr(prefix.c_str()));
    return local == "DeliveryObject" && ns != nullptr && std::string_view(cstr(ns->href)) == kDeliveryNs;
}

Result<void> read_delivery_object(xmlNode* obj, DeliverRequest& out) {
    out.object_id = text_trimmed(child(obj, kCoreNs, "ObjectIdentifier"));
    xmlNode* ref = child(obj, kDeliveryNs, "Reference");
    xmlNode* id = child(obj, kDeliveryNs, "DeliveryID");
    xmlNode* seq = child(obj, kDeliveryNs, "SequenceNumber");
    if (ref == nullptr || id == nullptr || seq == nullptr) {
        return fail(Errc::malformed_input, "DeliveryObject lacks Reference, DeliveryID or SequenceNumber");
    }
    xmlNode* which = first_element(ref);
    out.reference_kind = is_element(which, kDeliveryNs, "LDID") ? ReferenceKind::ldid : ReferenceKind::liid;
    out.reference = text_trimmed(which);
    out.delivery_id = text_trimmed(id);
    auto n = parse_u64(text_of(seq), "SequenceNumber");
    if (!n) {
        return tl::unexpected(n.error());
    }
    out.sequence_number = *n;
    xmlNode* last = child(obj, kDeliveryNs, "LastSequence");
    const std::string last_text = text_trimmed(last);
    out.last_sequence = last_text == "true" || last_text == "1";
    xmlNode* delivery = child(obj, kDeliveryNs, "Delivery");
    if (delivery == nullptr) {
        return {};  // a closing marker
    }
    xmlNode* data = child(delivery, kDeliveryNs, "XMLData");
    xmlNode* root = data != nullptr ? first_element(data) : nullptr;
    if (root == nullptr || next_element(root) != nullptr) {
        return fail(Errc::malformed_input, "Delivery is not XMLData with one TS 103 707 element");
    }
    auto items = read_handover_items(root);
    if (!items) {
        return tl::unexpected(items.error());
    }
    out.items = std::move(*items);
    return {};
}

}  // namespace

Result<DeliverRequest> parse_deliver_request(std::string_view xml, const SchemaSet& schemas, const XmlLimits& limits) {
    auto msg = parse_hi1_message(xml, schemas, limits);
    if (!msg) {
        return tl::unexpected(msg.error());
    }
    xmlNode* root = msg->root;
    DeliverRequest out;
    const Hi1Header h = read_header(child(root, kCoreNs, "Header"));
    out.sender = h.sender;
    out.receiver = h.receiver;
    out.transaction_id = h.transaction_id;
    out.timestamp = h.timestamp;
    xmlNode* actions = child(child(child(root, kCoreNs, "Payload"), kCoreNs, "RequestPayload"), kCoreNs,
                             "ActionRequests");
    xmlNode* action = first_element(actions);
    if (action == nullptr || next_element(action) != nullptr) {
        return fail(Errc::malformed_input, "not a request with exactly one ActionRequest");
    }
    xmlNode* deliver = child(action, kCoreNs, "DELIVER");
    xmlNode* obj = child(deliver, kCoreNs, "HI1Object");
    if (deliver == nullptr || obj == nullptr || !is_delivery_object(obj)) {
        return fail(Errc::malformed_input, "the ActionRequest is not a DELIVER of a DeliveryObject");
    }
    auto action_id = parse_u64(text_of(child(action, kCoreNs, "ActionIdentifier")), "ActionIdentifier");
    if (!action_id) {
        return tl::unexpected(action_id.error());
    }
    out.action_identifier = *action_id;
    if (auto ok = read_delivery_object(obj, out); !ok) {
        return tl::unexpected(ok.error());
    }
    return out;
}

}  // namespace enclave::delivery
