// SPDX-License-Identifier: Apache-2.0
#include "xml_internal.hpp"

#include <charconv>
#include <cstring>
#include <mutex>

#include <libxml/xmlIO.h>
#include <libxml/xmlsave.h>

namespace enclave::delivery::detail {

using crypto::Errc;
using crypto::fail;

namespace {

// Every entity, DTD or schema document libxml2 wants to load comes through
// here. Only local files are allowed; xmlNoNetExternalEntityLoader then
// refuses http/ftp as well (belt and braces).
xmlParserInputPtr local_only_loader(const char* url, const char* id, xmlParserCtxtPtr ctxt) {
    if (url != nullptr) {
        const std::string_view u(url);
        const auto scheme_end = u.find("://");
        if (scheme_end != std::string_view::npos && u.substr(0, scheme_end) != "file") {
            return nullptr;
        }
    }
    return xmlNoNetExternalEntityLoader(url, id, ctxt);
}

void silent_generic(void*, const char*, ...) {}

constexpr std::size_t kMaxMessages = 4;

std::string kind_of(const xmlError& e) {
    switch (e.domain) {
        case XML_FROM_SCHEMASV:
            return "schema validation failed";
        case XML_FROM_SCHEMASP:
            return "schema could not be compiled";
        case XML_FROM_IO:
            return "input/output error";
        case XML_FROM_NAMESPACE:
            return "namespace error";
        default:
            return "not well-formed";
    }
}

}  // namespace

void ensure_libxml_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        xmlInitParser();
        xmlSetExternalEntityLoader(local_only_loader);
    });
}

ErrorScope::ErrorScope()
    : prev_structured_(xmlStructuredError),
      prev_structured_ctx_(xmlStructuredErrorContext),
      prev_generic_(xmlGenericError),
      prev_generic_ctx_(xmlGenericErrorContext) {
    xmlSetStructuredErrorFunc(this, &ErrorScope::on_error);
    xmlSetGenericErrorFunc(nullptr, silent_generic);
}

ErrorScope::~ErrorScope() {
    xmlSetStructuredErrorFunc(prev_structured_ctx_, prev_structured_);
    xmlSetGenericErrorFunc(prev_generic_ctx_, prev_generic_);
}

void ErrorScope::on_error(void* self, xmlErrorPtr error) {
    auto* scope = static_cast<ErrorScope*>(self);
    if (scope == nullptr || error == nullptr || error->level == XML_ERR_WARNING) {
        return;
    }
    if (scope->messages_.size() >= kMaxMessages) {
        ++scope->dropped_;
        return;
    }
    try {
        std::string m = kind_of(*error);
        if (error->domain == XML_FROM_SCHEMASV && error->node != nullptr) {
            const auto* node = static_cast<const xmlNode*>(error->node);
            if (node->type == XML_ELEMENT_NODE) {
                m += " at element '" + safe_name(node->name) + "'";
            }
        }
        if (error->line > 0) {
            m += " (line " + std::to_string(error->line) + ")";
        }
        m += " [libxml2 code " + std::to_string(error->code) + "]";
        scope->messages_.push_back(std::move(m));
    } catch (...) {
        ++scope->dropped_;  // bad_alloc inside a C callback: never propagate
    }
}

std::string ErrorScope::summary(std::string_view fallback) const {
    if (messages_.empty()) {
        return std::string(fallback);
    }
    std::string out;
    for (const auto& m : messages_) {
        if (!out.empty()) {
            out += "; ";
        }
        out += m;
    }
    if (dropped_ > 0) {
        out += "; and " + std::to_string(dropped_) + " more";
    }
    return out;
}

std::string safe_name(const xmlChar* name) {
    if (name == nullptr) {
        return "?";
    }
    const std::string_view n(cstr(name));
    if (n.empty() || n.size() > 64) {
        return "?";
    }
    for (const char c : n) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '.';
        if (!ok) {
            return "?";
        }
    }
    return std::string(n);
}

bool is_xml_text(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        std::uint32_t cp = 0;
        std::size_t len = 0;
        if (*p < 0x80) {
            cp = *p;
            len = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1Fu;
            len = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0Fu;
            len = 3;
        } else if ((*p & 0xF8) == 0xF0) {
            cp = *p & 0x07u;
            len = 4;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) < len) {
            return false;
        }
        for (std::size_t i = 1; i < len; ++i) {
            if ((p[i] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        // Overlong forms and surrogates are not UTF-8.
        static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return false;
        }
        const bool xml_char = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                              (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
        if (!xml_char) {
            return false;
        }
        p += len;
    }
    return true;
}

bool is_element(const xmlNode* node, const char* ns, const char* name) noexcept {
    if (node == nullptr || node->type != XML_ELEMENT_NODE || std::strcmp(cstr(node->name), name) != 0) {
        return false;
    }
    if (ns == nullptr) {
        return node->ns == nullptr;
    }
    return node->ns != nullptr && node->ns->href != nullptr && std::strcmp(cstr(node->ns->href), ns) == 0;
}

xmlNode* first_element(xmlNode* parent) noexcept {
    for (xmlNode* c = parent != nullptr ? parent->children : nullptr; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return nullptr;
}

xmlNode* next_element(xmlNode* node) noexcept {
    for (xmlNode* c = node != nullptr ? node->next : nullptr; c != nullptr; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return nullptr;
}

std::string text_of(const xmlNode* node) {
    xmlChar* content = xmlNodeGetContent(node);
    if (content == nullptr) {
        return {};
    }
    std::string out(cstr(content));
    xmlFree(content);
    return out;
}

std::string text_trimmed(const xmlNode* node) {
    std::string s = text_of(node);
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return {};
    }
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

crypto::Result<std::uint64_t> parse_u64(std::string_view text, std::string_view field) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                             text.front() == '\r')) {
        text.remove_prefix(1);
    }
    while (!text.empty() &&
           (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
    }
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        return fail(Errc::malformed_input, std::string(field) + ": not an integer in 0..2^64-1");
    }
    return v;
}

crypto::Result<xmlNode*> add_text(xmlNode* parent, xmlNs* ns, const char* name, std::string_view value,
                                  std::string_view field) {
    if (!is_xml_text(value)) {
        return fail(Errc::malformed_input, std::string(field) + ": not UTF-8 text allowed in XML");
    }
    const std::string copy(value);
    // xmlNewTextChild stores raw text; the serialiser escapes it.
    xmlNode* n = xmlNewTextChild(parent, ns, xstr(name), xstr(copy.c_str()));
    if (n == nullptr) {
        throw std::bad_alloc();
    }
    return n;
}

xmlNode* add_element(xmlNode* parent, xmlNs* ns, const char* name) {
    xmlNode* n = xmlNewChild(parent, ns, xstr(name), nullptr);
    if (n == nullptr) {
        throw std::bad_alloc();
    }
    return n;
}

crypto::Result<xmlNode*> import_element(xmlNode* parent, const xmlNode* src) {
    xmlNode* copy = xmlDocCopyNode(const_cast<xmlNode*>(src), parent->doc, 1);
    if (copy == nullptr) {
        return fail(Errc::internal, "copying an XML element failed");
    }
    if (xmlAddChild(parent, copy) == nullptr) {
        xmlFreeNode(copy);
        return fail(Errc::internal, "attaching an XML element failed");
    }
    return copy;
}

crypto::Result<std::string> serialise_element(const xmlNode* node) {
    DocPtr doc(xmlNewDoc(xstr("1.0")));
    if (!doc) {
        throw std::bad_alloc();
    }
    xmlNode* copy = xmlDocCopyNode(const_cast<xmlNode*>(node), doc.get(), 1);
    if (copy == nullptr) {
        return fail(Errc::internal, "copying an XML element failed");
    }
    xmlDocSetRootElement(doc.get(), copy);
    crypto::CHandle<xmlBuffer, xmlBufferFree> buf(xmlBufferCreate());
    if (!buf) {
        throw std::bad_alloc();
    }
    if (xmlNodeDump(buf.get(), doc.get(), copy, 0, 0) < 0) {
        return fail(Errc::internal, "serialising an XML element failed");
    }
    return std::string(cstr(xmlBufferContent(buf.get())), static_cast<std::size_t>(xmlBufferLength(buf.get())));
}

crypto::Result<std::string> serialise_document(xmlDoc* doc) {
    xmlChar* mem = nullptr;
    int size = 0;
    xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    if (mem == nullptr || size < 0) {
        return fail(Errc::internal, "serialising an XML document failed");
    }
    std::string out(cstr(mem), static_cast<std::size_t>(size));
    xmlFree(mem);
    return out;
}

}  // namespace enclave::delivery::detail
