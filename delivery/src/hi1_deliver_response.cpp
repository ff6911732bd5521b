// SPDX-License-Identifier: Apache-2.0
// The LEA's answer to a DELIVER: ActionResponse/DELIVERResponse, or
// ErrorInformation (in the ActionResponse or for the whole message).
#include "delivery/uuid.hpp"
#include "hi1_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using namespace detail;

namespace {

Result<void> add_error(xmlNode* parent, xmlNs* core, const Hi1Error& e) {
    if (e.description.empty() || e.description.size() > 65535) {
        return fail(Errc::invalid_argument, "error.description: empty or over 65535 bytes");
    }
    xmlNode* info = add_element(parent, core, "ErrorInformation");
    add_text(info, core, "ErrorCode", std::to_string(e.code), "error.code").value();
    if (auto n = add_text(info, core, "ErrorDescription", e.description, "error.description"); !n) {
        return tl::unexpected(n.error());
    }
    return {};
}

}  // namespace

Result<std::string> build_deliver_response(const DeliverResponseSpec& spec) {
    const bool action_level = !spec.error || !spec.message_level_error;
    if (action_level) {
        if (auto ok = check_uuid(spec.object_id, "object_id"); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    Hi1Skeleton m = new_hi1_message();
    if (auto ok = add_header(m, spec.sender, spec.receiver, spec.transaction_id.value_or(uuid_v4()),
                             spec.timestamp.value_or(hi1_timestamp_now()));
        !ok) {
        return tl::unexpected(ok.error());
    }
    xmlNode* payload = add_element(add_element(m.root, m.core, "Payload"), m.core, "ResponsePayload");
    if (!action_level) {
        if (auto ok = add_error(payload, m.core, *spec.error); !ok) {
            return tl::unexpected(ok.error());
        }
        return serialise_document(m.doc.get());
    }
    xmlNode* response = add_element(add_element(payload, m.core, "ActionResponses"), m.core, "ActionResponse");
    add_text(response, m.core, "ActionIdentifier", std::to_string(spec.action_identifier), "action").value();
    if (spec.error) {
        if (auto ok = add_error(response, m.core, *spec.error); !ok) {
            return tl::unexpected(ok.error());
        }
    } else {
        xmlNode* ok = add_element(response, m.core, "DELIVERResponse");
        add_text(ok, m.core, "Identifier", spec.object_id, "object_id").value();
    }
    return serialise_document(m.doc.get());
}

namespace {

/// `out` answered with the ErrorInformation element `info`.
Result<DeliverOutcome> with_error(DeliverOutcome out, xmlNode* info) {
    auto code = parse_u64(text_of(child(info, kCoreNs, "ErrorCode")), "ErrorCode");
    if (!code) {
        return tl::unexpected(code.error());
    }
    out.error = Hi1Error{*code, text_of(child(info, kCoreNs, "ErrorDescription"))};
    return out;
}

}  // namespace

Result<DeliverOutcome> parse_deliver_response(std::string_view xml, const SchemaSet& schemas,
                                              const XmlLimits& limits) {
    auto msg = parse_hi1_message(xml, schemas, limits);
    if (!msg) {
        return tl::unexpected(msg.error());
    }
    xmlNode* root = msg->root;
    DeliverOutcome out;
    out.transaction_id = read_header(child(root, kCoreNs, "Header")).transaction_id;
    xmlNode* payload = child(child(root, kCoreNs, "Payload"), kCoreNs, "ResponsePayload");
    if (payload == nullptr) {
        return fail(Errc::malformed_input, "HI1Message is not a response");
    }
    if (xmlNode* info = child(payload, kCoreNs, "ErrorInformation"); info != nullptr) {
        return with_error(std::move(out), info);
    }
    xmlNode* response = first_element(child(payload, kCoreNs, "ActionResponses"));
    if (response == nullptr || next_element(response) != nullptr) {
        return fail(Errc::malformed_input, "not a response with exactly one ActionResponse");
    }
    if (xmlNode* info = child(response, kCoreNs, "ErrorInformation"); info != nullptr) {
        return with_error(std::move(out), info);
    }
    xmlNode* ok = child(response, kCoreNs, "DELIVERResponse");
    if (ok == nullptr) {
        return fail(Errc::malformed_input, "the ActionResponse is neither DELIVERResponse nor ErrorInformation");
    }
    out.accepted = true;
    out.object_id = text_trimmed(child(ok, kCoreNs, "Identifier"));
    return out;
}

}  // namespace enclave::delivery
