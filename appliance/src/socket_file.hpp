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

/// Checks the path length, creates the folder when missing (0750, group
/// `gid`), removes a stale socket nobody answers on.
crypto::Result<void> prepare_socket_path(const std::filesystem::path& path, gid_t gid);

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
