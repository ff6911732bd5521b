// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers of the LTAP codec suites: the samples (ltap_samples.hpp) and
// xmllint (a real process) on archive/schemas/ltap.xsd as an independent
// oracle.

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "archive/ltap.hpp"
#include "archive/ltap_samples.hpp"
#include "support/paths.hpp"

namespace enclave::archive::testing {

/// Planted in documents whose errors are checked: must never appear in an Error.
inline constexpr const char* kPlanted = "PLANTED-c0ffee-91d7";

struct LintResult {
    int status = -1;
    std::string output;
};

/// `xmllint --nonet --noout --schema archive/schemas/ltap.xsd` on `xml`.
inline LintResult run_xmllint(const std::string& xml) {
    LintResult r;
    enclave::testing::TempDir dir;
    std::ofstream(dir.path() / "doc.xml", std::ios::binary) << xml;
    const std::string cmd = "xmllint --nonet --noout --schema '" + ltap_schema_file().string() + "' '" +
                            (dir.path() / "doc.xml").string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        r.output = "popen failed";
        return r;
    }
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r.status == 127) r.output += " (xmllint not found: install the Debian package libxml2-utils)";
    return r;
}

}  // namespace enclave::archive::testing
