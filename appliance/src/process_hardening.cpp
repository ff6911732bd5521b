// SPDX-License-Identifier: Apache-2.0
#include "appliance/process_hardening.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;

std::string errno_text(int err) { return std::strerror(err); }

std::string octal(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777U);
    return buf;
}

std::string limit_text(rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v) + " bytes";
}

}  // namespace

crypto::Result<void> disable_core_dumps() {
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        return fail(Errc::io_error, "prctl(PR_SET_DUMPABLE, 0): " + errno_text(errno));
    }
    const rlimit none{0, 0};
    if (::setrlimit(RLIMIT_CORE, &none) != 0) {
        return fail(Errc::io_error, "setrlimit(RLIMIT_CORE, 0): " + errno_text(errno));
    }
    return {};
}

crypto::Result<void> ensure_memory_lockable() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_MEMLOCK, &lim) != 0) {
        return fail(Errc::io_error, "getrlimit(RLIMIT_MEMLOCK): " + errno_text(errno));
    }
    if (lim.rlim_cur != lim.rlim_max) {
        rlimit raised{lim.rlim_max, lim.rlim_max};
        if (::setrlimit(RLIMIT_MEMLOCK, &raised) == 0) lim = raised;
    }
    void* probe = ::mmap(nullptr, kMemlockProbeBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED) {
        return fail(Errc::io_error, "mmap of the memory-lock probe: " + errno_text(errno));
    }
    const int rc = ::mlock(probe, kMemlockProbeBytes);
    const int err = errno;
    if (rc == 0) ::munlock(probe, kMemlockProbeBytes);
    ::munmap(probe, kMemlockProbeBytes);
    if (rc != 0) {
        return fail(Errc::resource_exhausted,
                    "cannot lock " + std::to_string(kMemlockProbeBytes) +
                        " bytes of memory (RLIMIT_MEMLOCK " + limit_text(lim.rlim_cur) + "): " +
                        errno_text(err) +
                        "; keys would sit in swappable memory. Raise the limit (systemd "
                        "LimitMEMLOCK=, ulimit -l, docker --ulimit memlock=)");
    }
    return {};
}

crypto::Result<void> check_private_dir(const std::filesystem::path& dir, unsigned forbidden,
                                       const char* what) {
    // stat, not lstat: a symlinked folder is judged by what it points to.
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        const int err = errno;
        return fail(err == ENOENT ? Errc::not_found : Errc::io_error,
                    std::string(what) + " " + dir.string() + ": " + errno_text(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(Errc::invalid_argument,
                    std::string(what) + " " + dir.string() + " is not a directory");
    }
    const unsigned mode = st.st_mode & 07777U;
    if ((mode & forbidden) != 0) {
        return fail(Errc::permission_denied,
                    std::string(what) + " " + dir.string() + " has mode " + octal(mode) +
                        ": it must grant group and others no " +
                        ((forbidden & 0011U) != 0 ? "access" : "read or write") +
                        "; refusing to start (chmod " + octal(mode & ~forbidden) + " " +
                        dir.string() + ")");
    }
    return {};
}

}  // namespace enclave::appliance
