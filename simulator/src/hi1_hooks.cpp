// SPDX-License-Identifier: Apache-2.0
#include "simulator/hi1_hooks.hpp"

#include "delivery/hi1_deliver.hpp"
#include "delivery/xml_document.hpp"

namespace enclave::simulator {
namespace {

delivery::DeliverResponseSpec answer_to(const DeliveryFacts& f) {
    delivery::DeliverResponseSpec spec;
    // The LEA answers: sender and receiver swapped.
    spec.sender = {f.receiver_country.empty() ? "XX" : f.receiver_country,
                   f.receiver_id.empty() ? "Not specified" : f.receiver_id};
    spec.receiver = {f.sender_country.empty() ? "XX" : f.sender_country,
                     f.sender_id.empty() ? "Not specified" : f.sender_id};
    if (!f.transaction_id.empty()) spec.transaction_id = f.transaction_id;
    spec.action_identifier = f.action_identifier;
    spec.object_id = f.object_identifier;
    return spec;
}

}  // namespace

void use_hi1_schemas(LeaSimulatorOptions& options,
                     std::shared_ptr<const delivery::SchemaSet> schemas) {
    options.validator = [schemas](std::string_view xml) -> crypto::Result<void> {
        auto doc = delivery::parse_xml(xml);
        if (!doc) return tl::unexpected(doc.error());
        return schemas->validate(*doc);
    };
    options.responder.accepted = [](const DeliveryFacts& f) {
        auto xml = delivery::build_deliver_response(answer_to(f));
        return xml ? *xml : minimal_deliver_response(f);
    };
    options.responder.error = [](const DeliveryFacts& f, unsigned code,
                                 std::string_view description) {
        delivery::DeliverResponseSpec spec = answer_to(f);
        spec.error = delivery::Hi1Error{code, std::string(description)};
        spec.message_level_error = f.object_identifier.empty();
        auto xml = delivery::build_deliver_response(spec);
        return xml ? *xml : minimal_error_response(f, code, description);
    };
}

}  // namespace enclave::simulator
