// SPDX-License-Identifier: Apache-2.0
#pragma once
// What enclaved does to itself at start, whatever runs it (systemd's unit in
// image/systemd/enclaved.service adds its own sandbox on top; docs/packaging.md):
//
// - no core dumps: PR_SET_DUMPABLE 0 (also keeps other processes of the same
//   uid from ptrace-attaching or reading /proc/PID/mem) and RLIMIT_CORE 0;
// - key memory can be locked: every Secret is sodium_malloc'd, which mlocks
//   its pages, but libsodium ignores a failed mlock, so a process whose
//   RLIMIT_MEMLOCK is (nearly) spent would hold keys in swappable pages
//   without a word. The soft limit is raised to the hard one and a probe
//   locks kMemlockProbeBytes once; failing that, the daemon refuses to start;
// - private folders: the data directory must grant its group and others no
//   read or write (search only, 0710/0711, is allowed: docs/operations.md,
//   the admin socket) and DIR/state no permission at all.
// Errors name the folder and its mode or the limit, never a secret.

#include <cstddef>
#include <filesystem>

#include "crypto/result.hpp"

namespace enclave::appliance {

/// Locked memory the daemon needs to be able to hold at least (1 MiB: 256
/// one-page Secrets at a time).
inline constexpr std::size_t kMemlockProbeBytes = 1U << 20;

/// PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. Errors: io_error (a call failed).
crypto::Result<void> disable_core_dumps();

/// Raises RLIMIT_MEMLOCK's soft limit to the hard one, then locks and
/// unlocks kMemlockProbeBytes. Errors: resource_exhausted (the lock failed:
/// the message names the limit and the fix, LimitMEMLOCK=).
crypto::Result<void> ensure_memory_lockable();

/// The folder exists, is a directory (a symlink is followed) and its mode has none
/// of the bits in `forbidden` (e.g. 0077, or 0066 for search-only groups).
/// Errors: not_found, invalid_argument (not a directory), permission_denied
/// (mode too open: the message names the folder, its mode and the fix).
crypto::Result<void> check_private_dir(const std::filesystem::path& dir, unsigned forbidden,
                                       const char* what);

}  // namespace enclave::appliance
