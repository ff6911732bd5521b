// SPDX-License-Identifier: Apache-2.0
#include "appliance/allocator_tuning.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace enclave::appliance {

void apply_allocator_tuning(char** argv) noexcept {
    if (argv == nullptr || argv[0] == nullptr) return;
    if (const char* off = std::getenv("ENCLAVE_ALLOCATOR_TUNING");
        off != nullptr && std::strcmp(off, "off") == 0) {
        return;
    }
    const char* current = std::getenv("GLIBC_TUNABLES");
    const std::string before = current != nullptr ? current : "";
    try {
        // Each of ours unless its name is there already: ours from the first
        // start, or the operator's own value.
        std::string value = before;
        for (const std::string_view t : kAllocatorTunables) {
            const std::string name(t.substr(0, t.find('=') + 1));
            if (before.find(name) != std::string::npos) continue;
            if (!value.empty()) value += ':';
            value += t;
        }
        if (value == before) return;
        if (::setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
    } catch (...) {
        return;  // out of memory this early: run untuned
    }
    // The resolved path, so the process keeps its name (a kernel names a
    // process after the file it executes: /proc/self/exe would make it
    // "exe" in ps, pgrep and the journal).
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        ::execv(self, argv);
    }
    // Could not execute ourselves (no /proc, say): carry on as we are, with
    // the environment as it was.
    if (current != nullptr) {
        (void)::setenv("GLIBC_TUNABLES", before.c_str(), 1);
    } else {
        (void)::unsetenv("GLIBC_TUNABLES");
    }
}

}  // namespace enclave::appliance
