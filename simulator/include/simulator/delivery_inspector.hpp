// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the simulated LEA reads from a received HI1 DELIVER message, and the
// minimal HI1 answers it gives.
//
// inspect_delivery() parses with libxml2 (no network, no DTD: a DOCTYPE is
// refused before parsing, no entity substitution, size checked first) and
// reads the few fields the simulator needs; it does not validate against the
// schemas. Schema validation is LeaSimulatorOptions::validator, and the
// answers are LeaSimulatorOptions::responder; the enclave-lea-sim program
// sets both from the delivery layer (simulator/hi1_hooks.hpp). The
// functions below are the defaults used when those hooks are empty.
//
// Holds: the fields it extracts are identifiers (reference, delivery id),
// not content; the item payloads are never copied out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::simulator {

inline constexpr const char* kHi1CoreNamespace = "http://uri.etsi.org/03120/common/2019/10/Core";
inline constexpr const char* kHi1DeliveryNamespace =
    "http://uri.etsi.org/03120/common/2019/10/Delivery";
inline constexpr const char* kTs103707Namespace = "http://uri.etsi.org/03707/2020/02";

/// One TS 103 707 binaryObject (Table 8) as a fetcher needs it. Values are
/// as written (trimmed); a contentLength that is not a decimal number is left
/// empty, the checksum is not checked here (the fetcher does).
struct BinaryObjectFacts {
    std::string url;
    std::optional<std::uint64_t> content_length;
    std::string checksum;  ///< "" = absent; else expected SHA-256 hex
    std::string expiry;    ///< "" = absent; else a QualifiedDateTime
};

/// Facts of one DELIVER request (the first ActionRequest with a DELIVER).
struct DeliveryFacts {
    std::string sender_country;  ///< Header/SenderIdentifier/CountryCode
    std::string sender_id;       ///< Header/SenderIdentifier/UniqueIdentifier
    std::string receiver_country;
    std::string receiver_id;
    std::string transaction_id;  ///< Header/TransactionIdentifier
    std::string etsi_version;    ///< Header/Version/ETSIVersion
    std::uint64_t action_identifier = 0;
    std::string object_identifier;  ///< DELIVER/Identifier
    std::string reference_kind;     ///< "LIID" or "LDID"
    std::string reference;
    std::string delivery_id;  ///< DeliveryObject/DeliveryID (a UUID)
    std::uint64_t sequence_number = 0;
    bool last_sequence = false;
    std::size_t items = 0;                 ///< handoverItem elements under Delivery/XMLData
    std::vector<std::string> binary_urls;  ///< TS 103 707 binaryObject/url values
    std::vector<BinaryObjectFacts> binary_objects;  ///< each binaryObject, in document order
};

/// Largest XML document inspect_delivery accepts.
inline constexpr std::size_t kMaxInspectBytes = 64u * 1024u * 1024u;

/// Reads the facts. malformed_input (not well-formed, DOCTYPE, not an
/// HI1Message, no DELIVER, a missing or malformed DeliveryID / Reference /
/// SequenceNumber), too_large. Errors name the element, never echo content.
crypto::Result<DeliveryFacts> inspect_delivery(std::string_view xml);

/// A minimal HI1Message answering `facts` with a DELIVERResponse (header:
/// sender and receiver swapped, same TransactionIdentifier, a fresh
/// microsecond timestamp).
std::string minimal_deliver_response(const DeliveryFacts& facts);

/// A minimal HI1Message with ResponsePayload/ErrorInformation. `facts` may be
/// partial (a request that did not parse): missing header fields become
/// "XX" / "Not specified" and a fresh TransactionIdentifier.
std::string minimal_error_response(const DeliveryFacts& facts, unsigned code,
                                   std::string_view description);

/// A random RFC 9562 version 4 UUID, lowercase.
std::string random_uuid();

/// Whether `text` is a lowercase-or-uppercase canonical UUID (8-4-4-4-12 hex).
bool is_uuid(std::string_view text) noexcept;

}  // namespace enclave::simulator
