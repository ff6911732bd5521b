// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers for the delivery XML suites: the shared schema set, the
// independent oracle (xmllint run as a process on the same schema set), file
// reading and a concurrent-run counter.

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "delivery/xml_document.hpp"
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

/// Asserts that `xml` parses and validates against the shared schema set,
/// both in libxml2 and in xmllint.
inline void expect_valid(const std::string& xml) {
    auto set = shared_schemas();
    ASSERT_TRUE(set);
    auto doc = parse_xml(xml);
    ASSERT_TRUE(doc) << doc.error().message();
    auto ok = set->validate(*doc);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message()) << "\n" << xml;
    const auto lint = run_xmllint(xml);
    EXPECT_EQ(lint.status, 0) << lint.output << "\n" << xml;
}

/// The whole file as bytes ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// Runs `step(thread, iteration)` on `threads` threads, `iterations` times
/// each; returns how many calls returned false.
template <class Step>
int count_failures_concurrently(int threads, int iterations, Step step) {
    std::atomic<int> wrong{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&wrong, &step, t, iterations] {
            for (int i = 0; i < iterations; ++i) {
                if (!step(t, i)) {
                    ++wrong;
                }
            }
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    return wrong.load();
}

}  // namespace enclave::delivery::testing
