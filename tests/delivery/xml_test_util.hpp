// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers for the delivery XML suites: the shared schema set and the
// independent oracle, xmllint run as a process on the same schema set.

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "delivery/xml_schema.hpp"
#include "support/paths.hpp"

namespace enclave::delivery::testing {

inline std::shared_ptr<const SchemaSet> shared_schemas() {
    auto set = SchemaSet::shared();
    if (!set) {
        ADD_FAILURE() << "schema set: " << set.error().message()
                      << " (the ETSI schemas belong in ../shared/etsi-schemas; install libxml2-dev)";
        return nullptr;
    }
    return *set;
}

struct XmllintResult {
    int status = -1;
    std::string output;
};

/// Runs `xmllint --nonet --noout --schema <project wrapper> <doc>` on `xml`.
inline XmllintResult run_xmllint(const std::string& xml) {
    XmllintResult r;
    enclave::testing::TempDir dir;
    auto wrapper = SchemaSet::wrapper_xsd(SchemaPaths::defaults());
    if (!wrapper) {
        r.output = wrapper.error().message();
        return r;
    }
    std::ofstream(dir.path() / "set.xsd") << *wrapper;
    std::ofstream(dir.path() / "doc.xml", std::ios::binary) << xml;
    const std::string cmd = "xmllint --nonet --noout --schema '" + (dir.path() / "set.xsd").string() + "' '" +
                            (dir.path() / "doc.xml").string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        r.output = "popen failed";
        return r;
    }
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        r.output.append(buf, n);
    }
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r.status == 127) {
        r.output += " (xmllint not found: install the Debian package libxml2-utils)";
    }
    return r;
}

}  // namespace enclave::delivery::testing
