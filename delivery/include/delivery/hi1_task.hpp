// SPDX-License-Identifier: Apache-2.0
#pragma once
// HI1 tasking (TS 103 120) on the LEA listener: the delivery-layer part.
//
//  - parse_hi1_task_request: an HI1Message whose ActionRequests CREATE or
//    UPDATE an LITaskObject / LDTaskObject, GET one by ObjectIdentifier, or
//    LIST them. Each target value (LI TargetIdentifierValue, LD RequestValue)
//    must come with its salt and TS 103 707 D.4 salted hash in the object's
//    NationalHandlingParameters (project extension,
//    delivery/schemas/enclave_task_extension.xsd, namespace kTaskExtensionNs).
//    A message that does not parse or validate, or is not a request, is a
//    Result error (answer it with build_hi1_message_error). A single action
//    that cannot be taken (unsupported action or object, a missing or wrong
//    salted hash...) is refused on its own: Hi1TaskActionRequest::refusal,
//    whose description names the element path, e.g.
//    "ActionRequest[1]/CREATE/HI1Object/RequestDetails/RequestValues/RequestValue[0]:
//     no salted hash in NationalHandlingParameters".
//  - build_hi1_task_response: the HI1 answer, one ActionResponse per request.
//
// The structs are neutral (no audit types: delivery never links audit). The
// profile and the mapping to audit::TaskIntake: docs/hi1-tasking.md.
//
// Holds secrets: Hi1TaskField::value and ::salt are crypto::Secret
// (sodium_malloc'd, mlock'd, wiped on destruction). They are copied from the
// libxml2 text nodes straight into secure memory (no std::string copy), and
// the text nodes of every task Value and extension Salt in the document are
// wiped before the document is freed (what cannot be wiped: see
// docs/hi1-tasking.md, "What is wiped"). No error, refusal or log line ever
// holds a value, a salt or a hash.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "delivery/hi1_deliver.hpp"
#include "delivery/xml_document.hpp"
#include "delivery/xml_schema.hpp"

namespace enclave::delivery {

/// Namespace of the project's NationalHandlingParameters extension.
inline constexpr const char* kTaskExtensionNs = "urn:enclave:hi1:task-extension:1";

/// At most this many target values per task (audit::kMaxTaskFields).
inline constexpr std::size_t kMaxHi1TaskValues = 64;

/// TS 103 120 ErrorCode values Enclave uses (TS 103 120 defines the element,
/// not the values; these are the project's, listed in docs/hi1-tasking.md).
namespace hi1_error {
inline constexpr std::uint64_t kMessageRefused = 1000;  ///< not well-formed, not valid, not a request
inline constexpr std::uint64_t kUnsupported = 2000;     ///< action or object type not taken here
inline constexpr std::uint64_t kInvalidTask = 3000;     ///< task content refused (salted hash, times...)
inline constexpr std::uint64_t kNotFound = 4000;        ///< (lead) no such object
inline constexpr std::uint64_t kConflict = 5000;        ///< (lead) exists already / state does not allow it
inline constexpr std::uint64_t kInternal = 9000;        ///< (lead) the appliance failed
}  // namespace hi1_error

enum class Hi1TaskAction { create, update, get, list, unsupported };

/// One target value with its D.4 material, after every check passed
/// (including the D.4 hash itself, constant time).
/// Holds: `value` (UTF-8, exactly the Value element's text) and `salt` (raw
/// bytes) in secure memory.
struct Hi1TaskField {
    std::size_t index = 0;      ///< position among the object's values (0-based)
    std::string format_owner;   ///< FormatType/FormatOwner, e.g. "ETSI"
    std::string format_name;    ///< FormatType/FormatName, e.g. "InternationalE164"
    std::string algorithm;      ///< sha256 | sha384 | sha512 | sha3-256 | hmac-sha256
    crypto::Secret value;
    crypto::Secret salt;
    crypto::Bytes hash;         ///< not secret: the record that remains
};

/// Where the LEA asks deliveries to go (the first DeliveryDestination's
/// DeliveryAddress). `address_type` is the TS 103 120 choice element name
/// (URL, FQDN, EndpointID, DeliveryInformationID, IPv4Address, ...);
/// `value` its text (for EndpointID: its UniqueIdentifier).
struct Hi1DeliveryHint {
    std::string address_type;
    std::string value;
};

/// A task object as CREATE / UPDATE carried it. Move-only (Secrets).
struct Hi1TaskObject {
    std::string object_id;                       ///< HI1Object/ObjectIdentifier (UUID)
    ReferenceKind kind = ReferenceKind::liid;    ///< LITaskObject -> liid, LDTaskObject -> ldid
    std::optional<std::string> reference;        ///< LIID / LDID (always set for CREATE)
    /// Validity (LI Timespan, LD RequestDetails Start/EndTime): TS 103 280
    /// QualifiedDateTime restricted to UTC, "YYYY-MM-DDTHH:MM:SSZ", which
    /// audit::parse_utc_time accepts. Always both set for CREATE, end > start.
    std::optional<std::string> start;
    std::optional<std::string> end;
    /// DesiredStatus Value (ETSI TaskDesiredStatus / LDTaskDesiredStatus), e.g. "Active".
    std::optional<std::string> desired_status;
    std::optional<Hi1DeliveryHint> delivery_hint;
    std::vector<Hi1TaskField> fields;            ///< in value order; >= 1 for CREATE
};

struct Hi1TaskActionRequest {
    std::uint64_t action_identifier = 0;
    Hi1TaskAction action = Hi1TaskAction::unsupported;
    std::string path;                        ///< "ActionRequest[2]/CREATE"
    std::optional<Hi1TaskObject> task;       ///< CREATE / UPDATE (absent when refused)
    std::string identifier;                  ///< GET: the ObjectIdentifier asked for
    /// LIST filters: ObjectType "Task" -> liid, "LDTask" -> ldid, absent -> both.
    std::optional<ReferenceKind> list_kind;
    std::optional<std::string> list_status;  ///< LIST Status Value, if given
    std::optional<std::uint64_t> list_max;   ///< LIST MaximumObjectCount, if given
    /// Set: refuse this action with this ErrorInformation (and nothing else
    /// of the action is set). The description names the element path.
    std::optional<Hi1Error> refusal;
    crypto::Errc refusal_errc = crypto::Errc::invalid_argument;  ///< for the audit trail
};

struct Hi1TaskRequest {
    EndpointId sender;          ///< the LEA
    EndpointId receiver;        ///< (should be) Enclave
    std::string transaction_id;
    std::string timestamp;      ///< QualifiedMicrosecondDateTime as sent
    std::vector<Hi1TaskActionRequest> actions;  ///< in message order
};

/// Parses, validates and reads an HI1 tasking request. Result errors (answer
/// with build_hi1_message_error, code kMessageRefused): too_large /
/// malformed_input from parse_xml, malformed_input when not schema-valid, not
/// an HI1Message or not a RequestPayload. Everything else is per action.
crypto::Result<Hi1TaskRequest> parse_hi1_task_request(std::string_view xml, const SchemaSet& schemas,
                                                      const XmlLimits& limits = {});

// ---- Answers -------------------------------------------------------------

/// A value's non-sensitive record (never the value, never the salt).
struct Hi1HashRecord {
    std::size_t index = 0;
    std::string format_owner;
    std::string format_name;
    std::string algorithm;
    crypto::Bytes hash;
};

/// A task as GET / LIST / CREATE / UPDATE answers show it.
struct Hi1TaskView {
    std::string object_id;                     ///< UUID
    ReferenceKind kind = ReferenceKind::liid;
    std::string reference;
    std::string status;                        ///< ETSI TaskStatus / LDTaskStatus value, e.g. "Active"
    std::optional<std::string> start;          ///< QualifiedDateTime ("...Z")
    std::optional<std::string> end;
    std::uint64_t generation = 1;
    std::optional<std::string> last_changed;   ///< QualifiedDateTime
    std::vector<Hi1HashRecord> hashes;
};

struct Hi1TaskAnswer {
    std::uint64_t action_identifier = 0;
    Hi1TaskAction action = Hi1TaskAction::unsupported;  ///< create / update / get / list
    std::string object_id;              ///< CREATE / UPDATE: the Identifier answered
    std::optional<Hi1TaskView> view;    ///< GET: required; CREATE / UPDATE: optional HI1Object
    std::vector<Hi1TaskView> list;      ///< LIST
    std::optional<Hi1Error> error;      ///< set: ErrorInformation instead (any action)
};

/// The answer for a refused action (request.refusal), ready to put in a spec.
Hi1TaskAnswer refused_answer(const Hi1TaskActionRequest& request);

struct Hi1TaskResponseSpec {
    EndpointId sender;    ///< Enclave (the request's receiver)
    EndpointId receiver;  ///< the LEA (the request's sender)
    std::optional<std::string> transaction_id;  ///< the request's; fresh UUID if absent
    std::optional<std::string> timestamp;       ///< now if absent
    /// Country code put in the answers' HI1Object NationalHandlingParameters.
    std::string country_code = "XX";
    std::vector<Hi1TaskAnswer> answers;         ///< one per ActionRequest, >= 1
};

/// An HI1Message with ResponsePayload/ActionResponses. Errors:
/// invalid_argument naming the answer ("answers[2].view.reference: ...")
/// for a spec the schema would refuse (bad UUID, reference, time, no answers).
crypto::Result<std::string> build_hi1_task_response(const Hi1TaskResponseSpec& spec);

/// The answer to a message that could not be taken at all:
/// ResponsePayload/ErrorInformation. `error.description` must not quote the
/// message (the Error contexts of parse_hi1_task_request never do).
crypto::Result<std::string> build_hi1_message_error(const EndpointId& sender, const EndpointId& receiver,
                                                    std::optional<std::string> transaction_id,
                                                    const Hi1Error& error,
                                                    std::optional<std::string> timestamp = std::nullopt);

}  // namespace enclave::delivery
