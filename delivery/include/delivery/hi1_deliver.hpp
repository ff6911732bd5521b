// SPDX-License-Identifier: Apache-2.0
#pragma once
// TS 103 120 HI1 messages of a TS 103 707 delivery (TS 103 707 tables 1-3):
//  - build_deliver_request: the CSP's HI1Message with one DELIVER
//    ActionRequest carrying a DeliveryObject whose Delivery/XMLData holds a
//    handoverItem (one item) or a handoverItemCollection (several);
//  - parse_deliver_request: the LEA side of the same (enclave-lea-sim);
//  - build_deliver_response / parse_deliver_response: the LEA's answer
//    (ActionResponse DELIVERResponse, or ErrorInformation).
// All parsing goes through parse_xml() and SchemaSet validation first.
// Choices where the specifications leave room: docs/delivery.md, "XML profile".

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "delivery/handover_item.hpp"
#include "delivery/xml_document.hpp"
#include "delivery/xml_schema.hpp"

namespace enclave::delivery {

/// The TS 103 120 version put in Header/Version/ETSIVersion: the version of
/// the ETSI schema set the messages are validated against.
inline constexpr const char* kEtsiVersion = "V1.23.1";

/// TS 103 120 EndpointID (SenderIdentifier / ReceiverIdentifier).
struct EndpointId {
    std::string country_code;       ///< ISO 3166-1 alpha-2, or "XX"
    std::string unique_identifier;  ///< LongString, non-empty
    bool operator==(const EndpointId&) const = default;
};

enum class ReferenceKind { liid, ldid };

struct DeliverySpec {
    EndpointId sender;                             ///< the CSP (Table 1)
    EndpointId receiver{"XX", "Not specified"};    ///< the LEA (Table 1 defaults)
    ReferenceKind reference_kind = ReferenceKind::liid;
    std::string reference;                         ///< the LIID or LDID (Table 3)
    std::string delivery_id;                       ///< UUID, stable across retries
    std::uint64_t sequence_number = 0;
    bool last_sequence = false;
    /// Header timestamp, QualifiedMicrosecondDateTime; now (UTC) if absent.
    std::optional<std::string> timestamp;
    /// Header TransactionIdentifier (UUID); a fresh uuid_v4() if absent.
    std::optional<std::string> transaction_id;
    /// DeliveryObject ObjectIdentifier and DELIVER Identifier (UUID);
    /// delivery_id if absent, so a retry is the same object.
    std::optional<std::string> object_id;
};

/// Builds the HI1Message. `item_elements` are handoverItem elements as
/// write_handover_item() returns them; each is re-parsed (parse_xml) and
/// imported as nodes. Zero items is a closing marker: it requires
/// last_sequence and has no Delivery element. Errors: invalid_argument
/// naming the spec field (bad UUID, country code, reference, empty sender
/// id, zero items without last_sequence), malformed_input for an item that
/// is not one handoverItem element.
crypto::Result<std::string> build_deliver_request(const DeliverySpec& spec,
                                                  std::span<const std::string> item_elements);

/// What a LEA reads from a DELIVER request.
struct DeliverRequest {
    EndpointId sender;
    EndpointId receiver;
    std::string transaction_id;
    std::string timestamp;
    std::uint64_t action_identifier = 0;
    std::string object_id;
    ReferenceKind reference_kind = ReferenceKind::liid;
    std::string reference;
    std::string delivery_id;
    std::uint64_t sequence_number = 0;
    bool last_sequence = false;
    std::vector<HandoverItem> items;  ///< empty for a closing marker
};

/// Parses and validates a DELIVER request carrying TS 103 707 XML data.
/// malformed_input when the message is not schema-valid, not exactly one
/// DELIVER of a DeliveryObject, or its XMLData is not a handover item.
crypto::Result<DeliverRequest> parse_deliver_request(std::string_view xml, const SchemaSet& schemas,
                                                     const XmlLimits& limits = {});

/// TS 103 120 ActionUnsuccesfulInformation.
struct Hi1Error {
    std::uint64_t code = 0;
    std::string description;  ///< LongString; never content of the delivery
    bool operator==(const Hi1Error&) const = default;
};

struct DeliverResponseSpec {
    EndpointId sender;    ///< the LEA (the request's receiver)
    EndpointId receiver;  ///< the CSP (the request's sender)
    /// The request's TransactionIdentifier; a fresh UUID if absent (a
    /// request too broken to have one).
    std::optional<std::string> transaction_id;
    std::uint64_t action_identifier = 0;
    std::string object_id;  ///< the DELIVER Identifier answered (ActionResponse forms)
    /// Absent: accepted (DELIVERResponse). Present: ErrorInformation.
    std::optional<Hi1Error> error;
    /// With `error`: put ErrorInformation in ResponsePayload (the whole
    /// message refused) instead of in the ActionResponse.
    bool message_level_error = false;
    std::optional<std::string> timestamp;  ///< now if absent
};

crypto::Result<std::string> build_deliver_response(const DeliverResponseSpec& spec);

struct DeliverOutcome {
    bool accepted = false;
    std::string transaction_id;
    std::string object_id;         ///< DELIVERResponse Identifier ("" for a message-level error)
    std::optional<Hi1Error> error; ///< set when not accepted
};

/// Parses and validates the LEA's answer. malformed_input when it is not a
/// schema-valid HI1 response with a DELIVERResponse or ErrorInformation.
crypto::Result<DeliverOutcome> parse_deliver_response(std::string_view xml, const SchemaSet& schemas,
                                                      const XmlLimits& limits = {});

/// Now, UTC, as QualifiedMicrosecondDateTime ("2026-01-01T00:00:00.000000Z").
std::string hi1_timestamp_now();

}  // namespace enclave::delivery
