// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: the admin socket's file-system side (admin_server.hpp explains
// the policy).

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>

#include "crypto/result.hpp"

namespace enclave::appliance::detail {

struct SocketIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
};

/// Checks the path length, removes a stale socket nobody answers on, and
/// makes the socket's folder follow the socket: created when missing, and
/// when it is the daemon's own (created by us or by `enclavectl init`) given
/// group `gid` and mode 0750 if `socket_mode` grants the group anything,
/// else 0700. A folder owned by someone else is left as it is. Logs a
/// warning when the group cannot traverse a folder above it (the socket
/// would be unreachable for group roles).
crypto::Result<void> prepare_socket_path(const std::filesystem::path& path, gid_t gid,
                                         std::uint32_t socket_mode);

/// chown(-1, gid) and chmod(mode) on the bound socket.
crypto::Result<void> apply_socket_permissions(const std::filesystem::path& path, std::uint32_t mode,
                                              gid_t gid);

/// Device and inode of `path` (zeros when it does not exist).
SocketIdentity socket_identity(const std::filesystem::path& path) noexcept;

/// Unlinks `path` when it is still the socket identified by `id`.
void remove_socket_if_ours(const std::filesystem::path& path, const SocketIdentity& id) noexcept;

/// Sets the process umask for a scope (single-threaded start-up only).
class ScopedUmask {
public:
    explicit ScopedUmask(mode_t mask) noexcept;
    ~ScopedUmask();
    ScopedUmask(const ScopedUmask&) = delete;
    ScopedUmask& operator=(const ScopedUmask&) = delete;

private:
    mode_t previous_;
};

}  // namespace enclave::appliance::detail
