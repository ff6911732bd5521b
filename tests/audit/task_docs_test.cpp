// SPDX-License-Identifier: Apache-2.0
// docs/tasks.md documents every format type the intake accepts.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "audit/task_format.hpp"

namespace enclave::audit {
namespace {

TEST(TaskDocsTest, ListEverySupportedFormat) {
    std::ifstream in(std::string(ENCLAVE_SOURCE_DIR) + "/docs/tasks.md");
    ASSERT_TRUE(in) << "docs/tasks.md is missing";
    std::stringstream text;
    text << in.rdbuf();
    for (std::string_view name : supported_format_names()) {
        EXPECT_NE(text.str().find("`" + std::string(name) + "`"), std::string::npos)
            << name << " is not documented in docs/tasks.md";
    }
}

}  // namespace
}  // namespace enclave::audit
