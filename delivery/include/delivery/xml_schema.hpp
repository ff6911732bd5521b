// SPDX-License-Identifier: Apache-2.0
#pragma once
// SchemaSet: the compiled XSD set every HI1 / TS 103 707 document is
// validated against: the ETSI TS 103 120 + TS 103 280 schemas (the folder's
// _local_hi1_validation_wrapper.xsd) plus the project's TS 103 707 schema
// (delivery/schemas/ts_103707_enclave.xsd), joined by the project wrapper
// template delivery/schemas/enclave_schema_set.xsd.in whose schemaLocations
// are filled in at run time.
//
// Loading reads local files only: libxml2's entity loader is replaced by one
// that refuses every non-file URL, so a schemaLocation pointing at the
// network fails instead of fetching. Compile once (slow: tens of ms), share
// the result: validate() is const and thread-safe (one validation context
// per call over the read-only compiled schema).

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crypto/result.hpp"
#include "delivery/xml_document.hpp"

struct _xmlSchema;  // libxml2's compiled schema

namespace enclave::delivery {

/// Where the schema files are.
struct SchemaPaths {
    /// The ETSI folder (holds _local_hi1_validation_wrapper.xsd, 103120/, 103280/, w3c/).
    std::filesystem::path etsi_dir;
    /// The project folder (holds ts_103707_enclave.xsd and enclave_schema_set.xsd.in).
    std::filesystem::path project_dir;
    /// More schemas to import: {target namespace, .xsd file} (e.g. a CSP's
    /// own schema for its cspDefinedParameters, or a test schema).
    std::vector<std::pair<std::string, std::filesystem::path>> extra_imports;

    /// An installed program's <prefix>/share/enclave/schemas/{etsi,enclave}
    /// (<prefix> = the folder above the program's, /usr for the package) when
    /// it holds the project schema; else the build's ENCLAVE_ETSI_SCHEMA_DIR
    /// and ENCLAVE_PROJECT_SCHEMA_DIR (source paths, for the build tree).
    static SchemaPaths defaults();
};

class SchemaSet {
public:
    /// Compiles the set. Errors: not_found (a folder or file missing; the
    /// context names the path), malformed_input (a schema does not compile).
    static crypto::Result<std::shared_ptr<const SchemaSet>> load(const SchemaPaths& paths);

    /// Compiles ONE schema file (and what it includes or imports, local files
    /// only, through the same no-network loader), for documents outside the
    /// HI1 set (e.g. archive/schemas/ltap.xsd). Same errors as load().
    static crypto::Result<std::shared_ptr<const SchemaSet>> load_file(const std::filesystem::path& xsd);

    /// The process-wide set from SchemaPaths::defaults(), compiled on first
    /// use (thread-safe, once). A failure is remembered and returned again.
    static crypto::Result<std::shared_ptr<const SchemaSet>> shared();

    /// The filled-in project wrapper for `paths` (what load() compiles), for
    /// running xmllint on the same set.
    static crypto::Result<std::string> wrapper_xsd(const SchemaPaths& paths);

    /// Validates a parsed document (any root element the set declares).
    /// malformed_input naming line and element on failure, never content.
    [[nodiscard]] crypto::Result<void> validate(const XmlDocument& doc) const;

    ~SchemaSet();
    SchemaSet(const SchemaSet&) = delete;
    SchemaSet& operator=(const SchemaSet&) = delete;

private:
    explicit SchemaSet(_xmlSchema* schema) noexcept : schema_(schema) {}
    _xmlSchema* schema_;
};

}  // namespace enclave::delivery
