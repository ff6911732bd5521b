// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private helpers of the delivery layer's XML code (libxml2): one-time init,
// per-operation error capture that never echoes content, DOM walking and
// building. Not installed: only delivery/src includes it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"
#include "delivery/handover_item.hpp"

namespace enclave::delivery::detail {

using DocPtr = crypto::CHandle<xmlDoc, xmlFreeDoc>;

/// xmlInitParser once per process, and an external-entity loader that
/// refuses every URL with a scheme other than file (no network, ever).
void ensure_libxml_init();

/// Collects libxml2 errors of one operation on this thread as sanitised
/// text ("line 3: not well-formed (code 76)"), never libxml2's own message
/// (it may quote document content). While alive it is the thread's
/// structured error handler and silences the generic one; restores both.
class ErrorScope {
public:
    ErrorScope();
    ~ErrorScope();
    ErrorScope(const ErrorScope&) = delete;
    ErrorScope& operator=(const ErrorScope&) = delete;

    [[nodiscard]] bool empty() const noexcept { return messages_.empty(); }
    /// The first few messages joined with "; " (or `fallback` if none).
    [[nodiscard]] std::string summary(std::string_view fallback) const;

    static void on_error(void* self, xmlErrorPtr error);

private:
    std::vector<std::string> messages_;
    std::size_t dropped_ = 0;
    xmlStructuredErrorFunc prev_structured_;
    void* prev_structured_ctx_;
    xmlGenericErrorFunc prev_generic_;
    void* prev_generic_ctx_;
};

/// `name` if it is a plain ASCII XML name of at most 64 characters, else "?".
std::string safe_name(const xmlChar* name);

/// True when `text` is UTF-8 made only of XML 1.0 Char code points.
bool is_xml_text(std::string_view text) noexcept;

inline const char* cstr(const xmlChar* s) noexcept { return reinterpret_cast<const char*>(s); }
inline const xmlChar* xstr(const char* s) noexcept { return reinterpret_cast<const xmlChar*>(s); }

/// Element helpers. `ns` nullptr matches "no namespace".
bool is_element(const xmlNode* node, const char* ns, const char* name) noexcept;
xmlNode* first_element(xmlNode* parent) noexcept;
xmlNode* next_element(xmlNode* node) noexcept;
/// The text content of an element (all descendant text).
std::string text_of(const xmlNode* node);
/// text_of without leading/trailing XML whitespace (token, boolean, dateTime, anyURI).
std::string text_trimmed(const xmlNode* node);
/// Parses a base-10 unsigned integer as xs:nonNegativeInteger allows it
/// (whitespace collapsed already by validation), bounded to 64 bits.
crypto::Result<std::uint64_t> parse_u64(std::string_view text, std::string_view field);

/// Appends <prefix:name>value</prefix:name> to `parent` after checking the
/// value is XML text; the error names `field`, never the value.
crypto::Result<xmlNode*> add_text(xmlNode* parent, xmlNs* ns, const char* name,
                                  std::string_view value, std::string_view field);
/// Appends an empty element.
xmlNode* add_element(xmlNode* parent, xmlNs* ns, const char* name);

/// Deep-copies `src` (from another document) under `parent`; namespaces the
/// copy uses but its own subtree does not declare are declared on the copy.
crypto::Result<xmlNode*> import_element(xmlNode* parent, const xmlNode* src);

/// Serialises one element with the namespace declarations it needs (the
/// element is first copied into a fresh document so inherited declarations
/// are made explicit). No XML declaration.
crypto::Result<std::string> serialise_element(const xmlNode* node);
/// Serialises a whole document, UTF-8, with the XML declaration.
crypto::Result<std::string> serialise_document(xmlDoc* doc);

/// Reads the items under a schema-validated handoverItem or
/// handoverItemCollection element (xml_handover_reader.cpp).
crypto::Result<std::vector<HandoverItem>> read_handover_items(xmlNode* root);

}  // namespace enclave::delivery::detail
