// SPDX-License-Identifier: Apache-2.0
#include "delivery/xml_schema.hpp"

#include <fstream>
#include <mutex>
#include <sstream>

#include <libxml/xmlschemas.h>

#include "xml_internal.hpp"

#ifndef ENCLAVE_ETSI_SCHEMA_DIR
#error "ENCLAVE_ETSI_SCHEMA_DIR must be defined by the build"
#endif
#ifndef ENCLAVE_PROJECT_SCHEMA_DIR
#error "ENCLAVE_PROJECT_SCHEMA_DIR must be defined by the build"
#endif

namespace enclave::delivery {

using crypto::Errc;
using crypto::fail;
using namespace detail;

namespace {

constexpr const char* kTemplateFile = "enclave_schema_set.xsd.in";
constexpr const char* kEtsiWrapperFile = "_local_hi1_validation_wrapper.xsd";
constexpr const char* kProjectXsdFile = "ts_103707_enclave.xsd";

// An absolute file: URI for a local path, percent-encoding everything but
// unreserved characters and '/', so it is safe in a URI and an attribute.
std::string file_uri(const std::filesystem::path& p) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out = "file://";
    for (const unsigned char c : std::filesystem::absolute(p).lexically_normal().string()) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                           c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0F];
        }
    }
    return out;
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
}

crypto::Result<void> require_file(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) {
        return fail(Errc::not_found, "schema file not found: " + p.string());
    }
    return {};
}

// Namespace URIs go into an attribute: accept only what a URI may hold.
bool plain_namespace(std::string_view ns) {
    if (ns.empty() || ns.size() > 1024) {
        return false;
    }
    for (const char c : ns) {
        if (c <= ' ' || c == '"' || c == '<' || c == '>' || c == '&' || c == '\'' || c == '\x7f') {
            return false;
        }
    }
    return true;
}

// An installed program (the Debian package's /usr/bin/enclaved) carries its
// schemas in <prefix>/share/enclave/schemas/{etsi,enclave}, <prefix> being
// the folder above the program's own; "" when that folder does not hold them
// (a program in the build tree).
std::filesystem::path installed_schema_root() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) {
        return {};
    }
    auto root = exe.parent_path().parent_path() / "share" / "enclave" / "schemas";
    if (!std::filesystem::is_regular_file(root / "enclave" / kProjectXsdFile, ec)) {
        return {};
    }
    return root;
}

}  // namespace

SchemaPaths SchemaPaths::defaults() {
    static const std::filesystem::path installed = installed_schema_root();
    if (!installed.empty()) {
        return SchemaPaths{installed / "etsi", installed / "enclave", {}};
    }
    return SchemaPaths{ENCLAVE_ETSI_SCHEMA_DIR, ENCLAVE_PROJECT_SCHEMA_DIR, {}};
}

crypto::Result<std::string> SchemaSet::wrapper_xsd(const SchemaPaths& paths) {
    for (const auto& p : {paths.etsi_dir / kEtsiWrapperFile, paths.project_dir / kProjectXsdFile,
                          paths.project_dir / kTemplateFile}) {
        if (auto ok = require_file(p); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    std::ifstream in(paths.project_dir / kTemplateFile, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
        return fail(Errc::io_error, "cannot read " + (paths.project_dir / kTemplateFile).string());
    }
    std::string xsd = text.str();
    std::string extra;
    for (const auto& [ns, file] : paths.extra_imports) {
        if (!plain_namespace(ns)) {
            return fail(Errc::invalid_argument, "extra schema import: namespace is not a plain URI");
        }
        if (auto ok = require_file(file); !ok) {
            return tl::unexpected(ok.error());
        }
        extra += "  <xs:import namespace=\"" + ns + "\" schemaLocation=\"" + file_uri(file) + "\"/>\n";
    }
    replace_all(xsd, "@ETSI_DIR@", file_uri(paths.etsi_dir));
    replace_all(xsd, "@PROJECT_DIR@", file_uri(paths.project_dir));
    replace_all(xsd, "@EXTRA_IMPORTS@", extra);
    return xsd;
}

crypto::Result<std::shared_ptr<const SchemaSet>> SchemaSet::load(const SchemaPaths& paths) {
    auto xsd = wrapper_xsd(paths);
    if (!xsd) {
        return tl::unexpected(xsd.error());
    }
    ensure_libxml_init();
    ErrorScope errors;
    crypto::CHandle<xmlSchemaParserCtxt, xmlSchemaFreeParserCtxt> pctxt(
        xmlSchemaNewMemParserCtxt(xsd->data(), static_cast<int>(xsd->size())));
    if (!pctxt) {
        throw std::bad_alloc();
    }
    xmlSchemaSetParserStructuredErrors(pctxt.get(), &ErrorScope::on_error, &errors);
    xmlSchemaPtr schema = xmlSchemaParse(pctxt.get());
    if (schema == nullptr) {
        return fail(Errc::malformed_input, "schema set did not compile: " + errors.summary("unknown error"));
    }
    return std::shared_ptr<const SchemaSet>(new SchemaSet(schema));
}

crypto::Result<std::shared_ptr<const SchemaSet>> SchemaSet::load_file(const std::filesystem::path& xsd) {
    if (auto ok = require_file(xsd); !ok) {
        return tl::unexpected(ok.error());
    }
    ensure_libxml_init();
    ErrorScope errors;
    // A file: URI, so that relative includes resolve and the loader sees a scheme it allows.
    const std::string uri = file_uri(xsd);
    crypto::CHandle<xmlSchemaParserCtxt, xmlSchemaFreeParserCtxt> pctxt(xmlSchemaNewParserCtxt(uri.c_str()));
    if (!pctxt) {
        throw std::bad_alloc();
    }
    xmlSchemaSetParserStructuredErrors(pctxt.get(), &ErrorScope::on_error, &errors);
    xmlSchemaPtr schema = xmlSchemaParse(pctxt.get());
    if (schema == nullptr) {
        return fail(Errc::malformed_input,
                    "schema " + xsd.filename().string() + " did not compile: " + errors.summary("unknown error"));
    }
    return std::shared_ptr<const SchemaSet>(new SchemaSet(schema));
}

crypto::Result<std::shared_ptr<const SchemaSet>> SchemaSet::shared() {
    static std::once_flag once;
    static crypto::Result<std::shared_ptr<const SchemaSet>> result =
        crypto::fail(Errc::internal, "schema set not loaded");
    std::call_once(once, [] { result = load(SchemaPaths::defaults()); });
    return result;
}

SchemaSet::~SchemaSet() { xmlSchemaFree(schema_); }

crypto::Result<void> SchemaSet::validate(const XmlDocument& doc) const {
    if (!doc) {
        return fail(Errc::invalid_argument, "validate: empty document");
    }
    ErrorScope errors;
    crypto::CHandle<xmlSchemaValidCtxt, xmlSchemaFreeValidCtxt> vctxt(xmlSchemaNewValidCtxt(schema_));
    if (!vctxt) {
        throw std::bad_alloc();
    }
    xmlSchemaSetValidStructuredErrors(vctxt.get(), &ErrorScope::on_error, &errors);
    const int rc = xmlSchemaValidateDoc(vctxt.get(), doc.get());
    if (rc < 0) {
        return fail(Errc::internal, "schema validation could not run: " + errors.summary("libxml2 internal error"));
    }
    if (rc > 0) {
        return fail(Errc::malformed_input, "XML does not match the schema: " + errors.summary("invalid"));
    }
    return {};
}

}  // namespace enclave::delivery
