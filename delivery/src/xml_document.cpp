// SPDX-License-Identifier: Apache-2.0
#include "delivery/xml_document.hpp"

#include <climits>

#include <libxml/SAX2.h>
#include <libxml/parserInternals.h>

#include "xml_internal.hpp"

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using namespace detail;

void XmlDocument::Free::operator()(_xmlDoc* d) const noexcept { xmlFreeDoc(d); }

std::string XmlDocument::root_namespace() const {
    const xmlNode* root = doc_ ? xmlDocGetRootElement(doc_.get()) : nullptr;
    if (root == nullptr || root->ns == nullptr || root->ns->href == nullptr) {
        return {};
    }
    return cstr(root->ns->href);
}

std::string XmlDocument::root_name() const {
    const xmlNode* root = doc_ ? xmlDocGetRootElement(doc_.get()) : nullptr;
    return root != nullptr ? std::string(cstr(root->name)) : std::string();
}

crypto::Result<std::string> XmlDocument::to_string() const {
    if (!doc_) {
        return fail(Errc::invalid_argument, "to_string: empty document");
    }
    return serialise_document(doc_.get());
}

namespace {

// Per-parse state reached from the SAX hooks through ctxt->_private.
struct ParseGuard {
    const XmlLimits* limits;
    std::size_t depth = 0;
    std::size_t nodes = 0;
    bool in_text = false;  ///< the last event was text: libxml2 appends to that node
    bool doctype = false;
    bool too_deep = false;
    bool too_many = false;
};

// The parse runs synchronously on the calling thread: a thread_local
// pointer reaches the guard without relying on ctxt fields that
// xmlCtxtReadMemory resets.
thread_local ParseGuard* t_guard = nullptr;

ParseGuard& guard_of(void*) { return *t_guard; }

struct GuardBinding {
    explicit GuardBinding(ParseGuard* g) noexcept : prev_(t_guard) { t_guard = g; }
    ~GuardBinding() { t_guard = prev_; }
    GuardBinding(const GuardBinding&) = delete;
    GuardBinding& operator=(const GuardBinding&) = delete;

private:
    ParseGuard* prev_;
};

bool count_nodes(void* ctx, std::size_t n) {
    auto& g = guard_of(ctx);
    g.in_text = false;
    g.nodes += n;
    if (g.nodes > g.limits->max_nodes) {
        g.too_many = true;
        xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
        return false;
    }
    return true;
}

void on_start(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri, int nb_namespaces,
              const xmlChar** namespaces, int nb_attributes, int nb_defaulted, const xmlChar** attributes) {
    auto& g = guard_of(ctx);
    if (++g.depth > g.limits->max_depth) {
        g.too_deep = true;
        xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
        return;
    }
    if (!count_nodes(ctx, 1u + static_cast<std::size_t>(nb_attributes) + static_cast<std::size_t>(nb_namespaces))) {
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, nb_defaulted,
                          attributes);
}

void on_end(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri) {
    auto& g = guard_of(ctx);
    g.in_text = false;
    if (g.depth > 0) {
        --g.depth;
    }
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

// libxml2 hands one text run over in several calls (at every CR, for
// instance) and appends them to one text node: count the run once, so that
// line-wrapped base64 is not counted per line.
void on_characters(void* ctx, const xmlChar* ch, int len) {
    auto& g = guard_of(ctx);
    if (g.in_text || count_nodes(ctx, 1)) {
        g.in_text = true;
        xmlSAX2Characters(ctx, ch, len);
    }
}

void on_cdata(void* ctx, const xmlChar* ch, int len) {
    if (count_nodes(ctx, 1)) {
        xmlSAX2CDataBlock(ctx, ch, len);
    }
}

void on_comment(void* ctx, const xmlChar* value) {
    if (count_nodes(ctx, 1)) {
        xmlSAX2Comment(ctx, value);
    }
}

void on_pi(void* ctx, const xmlChar* target, const xmlChar* data) {
    if (count_nodes(ctx, 1)) {
        xmlSAX2ProcessingInstruction(ctx, target, data);
    }
}

// Called as soon as "<!DOCTYPE name ..." is read, before any internal
// subset: stopping here means no entity is ever declared.
void on_doctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
    guard_of(ctx).doctype = true;
    xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
}

void install_hooks(xmlSAXHandler* sax) {
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    sax->characters = on_characters;
    sax->ignorableWhitespace = on_characters;
    sax->cdataBlock = on_cdata;
    sax->comment = on_comment;
    sax->processingInstruction = on_pi;
    sax->internalSubset = on_doctype;
    sax->externalSubset = nullptr;
    sax->entityDecl = nullptr;
    sax->unparsedEntityDecl = nullptr;
    sax->getEntity = nullptr;
    sax->getParameterEntity = nullptr;
    sax->resolveEntity = nullptr;
    sax->reference = nullptr;
}

// No NOENT (entities stay references), no DTDLOAD/DTDATTR/DTDVALID, no
// XINCLUDE, no HUGE (keeps libxml2's own internal bounds as well).
constexpr int kParseOptions =
    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_IGNORE_ENC;

}  // namespace

crypto::Result<XmlDocument> parse_xml(std::string_view bytes, const XmlLimits& limits) {
    if (bytes.size() > limits.max_bytes || bytes.size() > static_cast<std::size_t>(INT_MAX)) {
        return fail(Errc::too_large, "XML document of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                                         std::to_string(limits.max_bytes));
    }
    if (bytes.empty()) {
        return fail(Errc::malformed_input, "XML document is empty");
    }
    if (bytes.find('\0') != std::string_view::npos) {
        // libxml2 would stop at the NUL and accept what came before it.
        return fail(Errc::malformed_input, "XML document contains a NUL byte");
    }
    if (bytes.starts_with("\x4C\x6F\xA7\x94")) {
        // "<?xm" in EBCDIC: libxml2 would switch to it; we read UTF-8 only.
        return fail(Errc::malformed_input, "XML document is not UTF-8 (line 1)");
    }
    ensure_libxml_init();
    ErrorScope errors;
    crypto::CHandle<xmlParserCtxt, xmlFreeParserCtxt> ctxt(xmlNewParserCtxt());
    if (!ctxt) {
        throw std::bad_alloc();
    }
    ParseGuard guard{&limits};
    const GuardBinding bind(&guard);
    install_hooks(ctxt->sax);
    // No encoding argument: with one, libxml2 2.9 reads through a converter
    // and stops after about 10 MB of text (an internal error). IGNORE_ENC
    // still ignores the declaration; of libxml2's guesses from the first
    // bytes, UTF-16 and UCS-4 hold NUL bytes and EBCDIC has its own check
    // above, so the input is read as UTF-8 (a BOM is skipped).
    XmlDocument doc(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr,
                                      kParseOptions));
    if (guard.doctype) {
        return fail(Errc::malformed_input, "XML document has a DOCTYPE (refused: no DTDs or entities)");
    }
    if (guard.too_deep) {
        return fail(Errc::too_large, "XML element nesting is deeper than " + std::to_string(limits.max_depth));
    }
    if (guard.too_many) {
        return fail(Errc::too_large, "XML document has more than " + std::to_string(limits.max_nodes) + " nodes");
    }
    if (!doc || ctxt->wellFormed == 0 || ctxt->nsWellFormed == 0 || xmlDocGetRootElement(doc.get()) == nullptr) {
        return fail(Errc::malformed_input, "XML document: " + errors.summary("not well-formed"));
    }
    return doc;
}

}  // namespace enclave::delivery
