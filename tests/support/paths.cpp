// SPDX-License-Identifier: Apache-2.0
#include "support/paths.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace enclave::testing {

std::filesystem::path shared_dir() {
    std::filesystem::path dir;
    if (const char* env = std::getenv("ENCLAVE_SHARED"); env != nullptr && *env != '\0') {
        dir = env;
    } else {
        dir = std::filesystem::path(ENCLAVE_SOURCE_DIR) / ".." / "shared";
    }
    if (!std::filesystem::is_directory(dir)) {
        ADD_FAILURE() << "shared folder not found at " << dir
                      << ": clone the project beside shared/ or set ENCLAVE_SHARED";
        return {};
    }
    return dir;
}

nlohmann::json load_shared_json(const std::string& relative) {
    const auto path = shared_dir() / relative;
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot open " + path.string());
    }
    return nlohmann::json::parse(in);
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/enclave-test-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace enclave::testing
