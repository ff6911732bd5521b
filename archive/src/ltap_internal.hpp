// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private helpers of the LTAP codec (ltap_*.cpp): the compiled schema, the
// parse-and-validate pipeline both directions share, the RequestTime form.
// Not installed: only archive/src includes it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "archive/ltap.hpp"
#include "crypto/result.hpp"
#include "delivery/xml_document.hpp"
#include "delivery/xml_schema.hpp"

struct _xmlNode;

namespace enclave::archive::detail {

using Millis = std::chrono::sys_time<std::chrono::milliseconds>;

enum class LtapRoot { request, response };

/// The element a document of this kind starts with ("Request", "Response").
std::string_view root_name(LtapRoot root) noexcept;

/// archive/schemas/ltap.xsd compiled once per process (thread-safe); a
/// failure is remembered and returned again.
crypto::Result<std::shared_ptr<const delivery::SchemaSet>> ltap_schema();

/// The hardened parse (size first, no DOCTYPE, bounded depth and nodes),
/// the root element check, the Data count against `limits` (too_large) and
/// XSD validation. Errors name element and line, never content.
crypto::Result<delivery::XmlDocument> load_validated(std::string_view xml, LtapRoot root,
                                                     const LtapLimits& limits);

/// "YYYY-MM-DDTHH:MM:SS.mmmZ"; invalid_argument outside years 0001-9999.
crypto::Result<std::string> format_time(Millis t);
/// The inverse of format_time for a value the XSD pattern accepted already;
/// malformed_input on an impossible date.
crypto::Result<Millis> parse_time(std::string_view text);

/// Line of a node for error messages (0 when unknown).
long line_of(const _xmlNode* node) noexcept;

/// malformed_input "LTAP <element> (line N): <rule>".
crypto::Error ltap_error(const _xmlNode* node, std::string_view rule);

/// Digest length of a known MessageImprint algorithm URI, 0 when unknown.
std::size_t known_digest_length(std::string_view algorithm_uri) noexcept;

}  // namespace enclave::archive::detail
