// SPDX-License-Identifier: Apache-2.0
#pragma once
// TS 103 707 handover items as XML: HandoverItem <-> one `handoverItem`
// element of namespace http://uri.etsi.org/03707/2020/02, as the project
// schema delivery/schemas/ts_103707_enclave.xsd defines it (element names
// and choices: docs/delivery.md, "XML profile").
//
// The element is written with the prefix "hi" and its own xmlns:hi
// declaration (no default namespace, so unqualified elements inside the
// CSP's XML keep meaning "no namespace" wherever the element is placed).
// The CSP-defined XML is parsed with parse_xml() and imported as nodes,
// never pasted as text. Content is sensitive: errors name fields only.

#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"
#include "delivery/handover_item.hpp"
#include "delivery/xml_document.hpp"
#include "delivery/xml_schema.hpp"

namespace enclave::delivery {

/// TS 103 280 FormatOwner assumed when HandoverItem's PartyIdentifier::
/// format_type has no "Owner:" part.
inline constexpr const char* kDefaultFormatOwner = "ETSI";

/// Serialises `item` as one handoverItem element (no XML declaration).
/// PartyIdentifier::format_type "Name" is written as FormatOwner "ETSI" +
/// FormatName "Name"; "Owner:Name" (split at the first ':') as that owner
/// and name. Errors (malformed_input / invalid_argument, naming the field):
/// a string that is not XML text (bad UTF-8, control characters) or over
/// its type's length, a timestamp that is neither QualifiedDateTime nor
/// QualifiedMicrosecondDateTime, a party without identifiers, a checksum
/// that is not 64 hex digits, CSP-defined XML that is not one well-formed
/// element in a namespace other than TS 103 707's.
/// Output that this returns validates against the SchemaSet (tests check).
crypto::Result<std::string> write_handover_item(const HandoverItem& item);

/// Parses a document whose root is handoverItem or handoverItemCollection:
/// parse_xml(limits), SchemaSet validation, then the items in document
/// order. A formatType with FormatOwner "ETSI" is read back as "Name",
/// any other owner as "Owner:Name"; checksums are lowercased; CSP-defined
/// XML is re-serialised with the namespace declarations it uses.
/// Errors: those of parse_xml and validate, malformed_input for another
/// root element or an integer over 2^64-1.
crypto::Result<std::vector<HandoverItem>> parse_handover_items(std::string_view xml, const SchemaSet& schemas,
                                                               const XmlLimits& limits = {});

/// True for "YYYY-MM-DDThh:mm:ss" + optional ".ffffff" (exactly six) +
/// "Z" or "+hh:mm"/"-hh:mm": the union of TS 103 280 QualifiedDateTime and
/// QualifiedMicrosecondDateTime (field ranges as xs:dateTime checks them).
bool is_handover_datetime(std::string_view text) noexcept;

}  // namespace enclave::delivery
