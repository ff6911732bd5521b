// SPDX-License-Identifier: Apache-2.0
#pragma once
// Safe XML parsing for every document that enters the appliance (HI1
// messages from a LEA, handoverItem XML from collectors, CSP-defined XML,
// outbox payloads re-read for delivery).
//
// parse_xml() is libxml2 configured for hostile input:
//   - the size limit is checked before libxml2 sees a byte;
//   - a DOCTYPE is refused outright (no internal subset, hence no entity
//     declarations: no billion laughs, no external entities);
//   - no network (XML_PARSE_NONET), no entity substitution, no DTD loading,
//     no XInclude processing (xi:include stays an ordinary element, which
//     schema validation then refuses);
//   - element depth and node count are bounded while parsing (the parser
//     stops at the first element over a limit, before building the rest);
//   - the input is read as UTF-8 whatever the XML declaration says;
//   - libxml2 never prints: errors are collected per parse and turned into
//     an Error that names the line and the kind of fault, never the
//     document's text (element names only when they are plain ASCII names).
// Thread-safe: no shared mutable state besides libxml2's one-time init.
//
// The document may hold lawful-interception content: it is never logged.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

struct _xmlDoc;  // libxml2's xmlDoc (kept out of the public include path)

namespace enclave::delivery {

/// Bounds on a document. The defaults fit one HI1 message carrying a
/// collection of a few thousand handover items.
struct XmlLimits {
    std::size_t max_bytes = 16u * 1024u * 1024u;  ///< input size, checked first
    std::size_t max_depth = 64;                    ///< element nesting (root = 1)
    std::size_t max_nodes = 500'000;               ///< elements + attributes + text runs
};

/// A parsed document (RAII over xmlDoc). Move-only.
class XmlDocument {
public:
    XmlDocument() = default;
    explicit XmlDocument(_xmlDoc* doc) noexcept : doc_(doc) {}

    [[nodiscard]] _xmlDoc* get() const noexcept { return doc_.get(); }
    explicit operator bool() const noexcept { return doc_ != nullptr; }

    /// Namespace URI of the root element ("" when it has none).
    [[nodiscard]] std::string root_namespace() const;
    /// Local name of the root element.
    [[nodiscard]] std::string root_name() const;
    /// The document serialised again (UTF-8, with an XML declaration).
    [[nodiscard]] crypto::Result<std::string> to_string() const;

private:
    struct Free {
        void operator()(_xmlDoc* d) const noexcept;
    };
    std::unique_ptr<_xmlDoc, Free> doc_;
};

/// Parses `bytes` as described above. Errors: too_large (size, depth or
/// node count over `limits`), malformed_input (not well-formed, a DOCTYPE,
/// not UTF-8); the context names the line, never the content.
crypto::Result<XmlDocument> parse_xml(std::string_view bytes, const XmlLimits& limits = {});

}  // namespace enclave::delivery
