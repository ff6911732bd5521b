// SPDX-License-Identifier: Apache-2.0
#pragma once
// HandoverItem: one TS 103 707 handover item (clauses 5.3-5.6) as the
// appliance holds it between intake (ingest JSON or handoverItem XML) and
// emission (the handoverItem element inside a DeliveryObject).
//
// The shared vocabulary of the delivery layer: the ingest parsers produce it,
// the XML writer emits it, the outbox stores its serialised form.
//
// Holds communications content of a lawful-interception target (party
// identifiers, CSP-defined XML): sensitive. It is never logged, never put in
// an error, an event or a metric; errors about it name the field, not the
// value. At rest it exists only inside the encrypted outbox.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace enclave::delivery {

/// The TS 103 707 namespace of handoverItem / handoverItemCollection.
inline constexpr const char* kTs103707Namespace = "http://uri.etsi.org/03707/2020/02";

/// Table 5: ApplicationCorrelation.
struct ApplicationCorrelation {
    std::uint64_t application_level_id = 0;
    std::uint64_t application_sequence_number = 0;  ///< zero-based within the level id
    bool operator==(const ApplicationCorrelation&) const = default;
};

/// Table 7 identifiers: a QualifiedPartyIdentifier (Table 7A) or a plain
/// LongString. `qualified` false: only `value` is used (LongString form).
struct PartyIdentifier {
    bool qualified = false;
    std::string format_type;  ///< Table 7A formatType ("" = absent); only when qualified
    std::string value;        ///< LongString (TS 103 280): 1..1024 characters
    bool operator==(const PartyIdentifier&) const = default;
};

/// Table 7: MessagingParty.
struct MessagingParty {
    std::vector<PartyIdentifier> identifiers;  ///< one or more
    std::optional<bool> is_targeted_party;
    bool operator==(const MessagingParty&) const = default;
};

/// Table 8: BinaryObject. `blob_id` is ours (the blob store object id): it
/// is never emitted in XML; the outbox and the Model A/B/C code use it.
struct BinaryObject {
    std::string url;  ///< Annex C URL (Model B: the LEA's scheme with a fresh UUID)
    std::optional<std::uint64_t> content_length;
    std::optional<std::string> content_type;  ///< RFC 6838 media type
    std::optional<std::string> expiry;        ///< QualifiedDateTime (Model A/C)
    std::optional<std::string> checksum;      ///< SHA-256, 64 lowercase hex digits
    std::optional<std::string> original_filename;
    std::optional<std::string> csp_defined_identifier;
    std::string blob_id;  ///< internal: the blob store object (never in XML)
    bool operator==(const BinaryObject&) const = default;
};

/// Table 9: SchemaDetails.
struct SchemaDetails {
    std::string schema_identifier;  ///< M
    std::optional<std::string> schema_url;
    std::optional<std::string> schema_content;
    bool operator==(const SchemaDetails&) const = default;
};

/// Clause 5.6: CSP-defined parameters: the schema details and the CSP's own
/// XML (one well-formed element, in a namespace other than TS 103 707's).
struct CspDefinedParameters {
    SchemaDetails schema_details;
    std::string xml;  ///< serialised element ("" = none)
    bool operator==(const CspDefinedParameters&) const = default;
};

/// One handover item of a messaging service (Table 6 core parameters).
struct HandoverItem {
    std::optional<ApplicationCorrelation> application_correlation;  ///< Table 4
    std::optional<MessagingParty> message_sender;
    std::vector<MessagingParty> message_receivers;
    std::string timestamp;  ///< M: "YYYY-MM-DDThh:mm:ss[.ffffff](Z|+hh:mm)"
    std::vector<BinaryObject> associated_binary_data;
    std::optional<CspDefinedParameters> csp_defined;
    bool operator==(const HandoverItem&) const = default;
};

}  // namespace enclave::delivery
