// SPDX-License-Identifier: Apache-2.0
#pragma once
// LTAP messages (draft-ietf-ltans-ltap-03 sections 4-5) and their XML form.
//
// The draft's XML schema fragments leave gaps (no namespace, undeclared
// element references, a RequestInformation that differs between its XSD and
// ASN.1 forms, MetaData as ##any). The project's own XSD
// (archive/schemas/ltap.xsd, target namespace kLtapNamespace) fills them;
// docs/ltap.md lists each choice. Every request is validated against it
// after a hardened parse (delivery/xml_document.hpp: size limit first, no
// DOCTYPE, no network, no entity expansion), and every response is
// validated before it is sent.
//
// Message content may be archived evidence (lawful-interception records):
// it is never logged and never put into an Error (errors name the element
// and line only).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::archive {

inline constexpr std::string_view kLtapNamespace = "urn:x-enclave:ltap:v1";
/// The media type requests and responses travel with.
inline constexpr std::string_view kLtapMediaType = "application/ltap+xml";
/// The XSD's cap on Data elements per message (LtapLimits may lower it).
inline constexpr std::size_t kMaxLtapDataItems = 64;
/// The XSD's cap on one RawData (decoded): its base64 text must stay under
/// libxml2's bound of 10,000,000 characters per text node.
inline constexpr std::size_t kMaxRawDataItemBytes = 6u << 20;

enum class ServiceType { archive, status, verify, export_, delete_ };
enum class StatusInfo { waiting, granted, granted_with_mods, rejection };

std::string_view to_string(ServiceType t) noexcept;   ///< "archive", ..., "delete"
std::string_view to_string(StatusInfo s) noexcept;    ///< "waiting", ..., "rejection"

/// MessageImprint (4.2): a digest algorithm URI and the digest value.
/// Known URIs: http://www.w3.org/2001/04/xmlenc#sha256,
/// http://www.w3.org/2001/04/xmldsig-more#sha384,
/// http://www.w3.org/2001/04/xmlenc#sha512.
struct MessageImprint {
    std::string digest_algorithm;
    crypto::Bytes digest_value;
    bool operator==(const MessageImprint&) const = default;
};

/// One MetaData entry (4.3): a key/value pair (the draft's ASN.1 form).
struct MetaEntry {
    std::string name;   ///< 1..128 chars, [A-Za-z0-9._:-]
    std::string value;  ///< UTF-8 text, <= 4096 chars
    bool operator==(const MetaEntry&) const = default;
};

/// Data (4.7) with its DataOrTransaction choice (4.6). In a request at most
/// one of raw_data / artifact / data_reference is set, and when none is, the
/// imprint is (STATUS, EXPORT, VERIFY and DELETE may name an object by its
/// MessageImprint alone, 6.2-6.5). A response may carry a data_reference
/// and an artifact together (the object and the transaction), raw_data for
/// EXPORT, and any part alone (at least one). raw_data <= kMaxRawDataItemBytes.
struct DataItem {
    std::optional<crypto::Bytes> raw_data;       ///< RawData (base64)
    std::optional<std::string> artifact;         ///< Artifact
    std::optional<std::string> data_reference;   ///< DataReference (anyURI)
    std::vector<MetaEntry> metadata;
    std::optional<MessageImprint> imprint;
    /// Project extension: an RFC 4998 EvidenceRecord (DER, base64 on the
    /// wire), returned by EXPORT and VERIFY and accepted by VERIFY.
    std::optional<crypto::Bytes> evidence_record;
    bool operator==(const DataItem&) const = default;
};

/// RequestInformation (4.15).
struct RequestInformation {
    std::string version = "v1";                   ///< "v0" or "v1" (4.10)
    std::optional<crypto::Bytes> nonce;           ///< hexBinary, 1..64 bytes (4.4)
    std::optional<std::int64_t> serial_number;    ///< 4.8 (>= 0)
    std::optional<std::chrono::sys_time<std::chrono::milliseconds>> request_time;  ///< 4.9
    std::vector<std::string> request_entities;    ///< RequestEntityIdentifier (0..16)
    std::vector<std::string> server_entities;     ///< ServerEntityIdentifier (0..16)
    ServiceType service = ServiceType::archive;
    std::vector<std::string> policies;            ///< ServicePolicyInformation URIs (0..16)
    std::vector<MetaEntry> configuration;         ///< ServiceConfiguration (0..64)
    bool operator==(const RequestInformation&) const = default;
};

/// Request (5.1): 1..kMaxLtapDataItems Data.
struct Request {
    RequestInformation info;
    std::vector<DataItem> data;
    bool operator==(const Request&) const = default;
};

/// GeneralErrorNotice (4.14), returned with rejection / grantedWithMods.
struct GeneralErrorNotice {
    std::int32_t id = 0;
    std::string information;  ///< <= 8192 chars; never carries request content
    bool operator==(const GeneralErrorNotice&) const = default;
};

/// OperationResponse (5.3): 0..kMaxLtapDataItems Data; rejection and
/// grantedWithMods carry a GeneralErrorNotice (4.13 "MUST").
struct OperationResponse {
    RequestInformation info;  ///< echo of the request's (nonce included), server time
    std::vector<DataItem> data;
    StatusInfo status = StatusInfo::waiting;
    std::optional<GeneralErrorNotice> error;
    bool operator==(const OperationResponse&) const = default;
};

/// ErrorNotice (5.2): the request could not be understood at all.
struct ErrorNotice {
    std::int32_t id = 0;
    std::string information;
    bool operator==(const ErrorNotice&) const = default;
};

/// Response (5.4).
using Response = std::variant<OperationResponse, ErrorNotice>;

/// Bounds on a message from outside.
struct LtapLimits {
    std::size_t max_bytes = 48u << 20;  ///< XML size, checked before parsing
    std::size_t max_data_items = 64;    ///< Data elements per message (<= kMaxLtapDataItems)
    std::size_t max_raw_bytes = 32u << 20;  ///< decoded RawData, all items together
};

/// Parses and validates a request. Errors: too_large, malformed_input (not
/// well-formed, not valid against the XSD, or a rule the XSD cannot say);
/// the context names element and line, never content. not_found when the
/// schema file is missing (a broken installation: see check_ltap_schema).
crypto::Result<Request> parse_request(std::string_view xml, const LtapLimits& limits = {});
/// Parses and validates a response (clients: enclavectl, tests, the simulator).
crypto::Result<Response> parse_response(std::string_view xml, const LtapLimits& limits = {});

/// Renders, then runs the result through the same parse, XSD validation and
/// rules as a message from outside. Errors: invalid_argument (a string
/// that is not UTF-8 XML text, a URI holding whitespace, a time outside
/// years 0001-9999), internal (a message the XSD or the rules refuse, e.g.
/// an over-long field, a request Data with nothing in it, a rejection
/// without GeneralErrorNotice: a bug in the caller).
crypto::Result<std::string> render_request(const Request& request);
crypto::Result<std::string> render_response(const Response& response);

/// archive/schemas/ltap.xsd of this build (ENCLAVE_ARCHIVE_SCHEMA_DIR), e.g.
/// for xmllint or for shipping beside the service.
std::filesystem::path ltap_schema_file();
/// Compiles the schema now (once per process, shared by every parse and
/// render) so that a service can refuse to start without it. Errors:
/// not_found, malformed_input.
crypto::Result<void> check_ltap_schema();

}  // namespace enclave::archive
