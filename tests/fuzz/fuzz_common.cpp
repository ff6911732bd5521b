// SPDX-License-Identifier: Apache-2.0
// The helpers the fuzz bodies share (the harness table is fuzz_table.cpp).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_harness.hpp"
#include "fuzz_support.hpp"

namespace enclave::fuzz {

void fuzz_require(bool ok, const char* harness, const char* rule) {
    if (ok) return;
    std::fprintf(stderr, "fuzz %s: %s\n", harness, rule);
    std::abort();
}

const delivery::SchemaSet& schemas() {
    // Compiled once per process (tens of ms); the real set the appliance uses.
    static const auto set = [] {
        auto s = delivery::SchemaSet::shared();
        if (!s) {
            std::fprintf(stderr, "fuzz: the ETSI schemas do not load (%s)\n", s.error().message().c_str());
            std::abort();
        }
        return *s;
    }();
    return *set;
}

std::filesystem::path scratch_file(const char* name) {
    static const std::filesystem::path dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/enclave-fuzz-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
            std::perror("fuzz: mkdtemp");
            std::abort();
        }
        return std::filesystem::path(tmpl);
    }();
    static const struct Cleanup {
        ~Cleanup() {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        }
    } cleanup;
    return dir / name;
}

void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    const bool ok = f != nullptr && (size == 0 || std::fwrite(data, 1, size, f) == size);
    const bool closed = f != nullptr && std::fclose(f) == 0;
    if (!ok || !closed) {
        std::perror("fuzz: writing the scratch file");
        std::abort();
    }
}

}  // namespace enclave::fuzz
