// SPDX-License-Identifier: Apache-2.0
// The admin socket's file-system side (no Asio): the folder, stale sockets,
// mode and group.
#include "socket_file.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "appliance/admin_server.hpp"
#include "appliance/log.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

bool unix_socket_answers(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool answers = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return answers;
}

crypto::Result<void> check_admin_socket_free(const std::filesystem::path& path) {
    if (unix_socket_answers(path)) {
        return fail(Errc::already_exists,
                    "admin.socket: another daemon answers on " + path.string() +
                        " (is enclaved already running for this data directory?)");
    }
    return {};
}

crypto::Result<gid_t> resolve_group(const std::string& name) {
    if (name.empty()) return ::getegid();
    std::vector<char> buf(16384);
    for (int attempt = 0; attempt < 6; ++attempt) {
        group g{};
        group* out = nullptr;
        const int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &out);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || out == nullptr) break;
        return out->gr_gid;
    }
    return fail(Errc::invalid_argument, "admin.socket_group: no group named '" + name + "'");
}

namespace {

/// Logs a warning when members of `gid` (not the owner) cannot traverse a
/// folder above `dir`: group roles would then never reach the socket. Only
/// a diagnostic: the operator decides (docs/operations.md).
void warn_if_group_cannot_reach(const std::filesystem::path& dir, gid_t gid) {
    const auto absolute = std::filesystem::absolute(dir);
    for (auto p = absolute.parent_path(); !p.empty(); p = p.parent_path()) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) return;
        const bool group_x = st.st_gid == gid && (st.st_mode & S_IXGRP) != 0;
        const bool other_x = (st.st_mode & S_IXOTH) != 0;
        if (!group_x && !other_x) {
            log(LogLevel::warning, "admin",
                "group roles cannot reach the admin socket: " + p.string() +
                    " gives its members no search permission (give it the socket's group and "
                    "mode 0710 or 0750; see docs/operations.md)");
            return;
        }
        if (p == p.root_path()) return;
    }
}

/// The folder of the admin socket follows the socket's mode (see the header).
crypto::Result<void> prepare_socket_folder(const std::filesystem::path& dir, gid_t gid,
                                           std::uint32_t socket_mode) {
    const bool group_access = (socket_mode & 0070U) != 0;
    const mode_t want = group_access ? 0750 : 0700;
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT || ::mkdir(dir.c_str(), 0700) != 0) {
            return fail(Errc::io_error,
                        "admin.socket: cannot create " + dir.string() + ": " + errno_text(errno));
        }
        if (::lstat(dir.c_str(), &st) != 0) {
            return fail(Errc::io_error, "admin.socket: " + dir.string() + ": " + errno_text(errno));
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        return fail(Errc::invalid_argument,
                    "admin.socket: " + dir.string() + " is not a directory");
    }
    if (st.st_uid == ::geteuid() && ((st.st_mode & 07777) != want || st.st_gid != gid)) {
        if ((st.st_gid != gid && ::chown(dir.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
            ::chmod(dir.c_str(), want) != 0) {
            return fail(Errc::io_error, "admin.socket: cannot set group/mode of " + dir.string() +
                                            ": " + errno_text(errno));
        }
    }
    if (group_access) warn_if_group_cannot_reach(dir, gid);
    return {};
}

}  // namespace

namespace detail {

crypto::Result<void> prepare_socket_path(const std::filesystem::path& path, gid_t gid,
                                         std::uint32_t socket_mode) {
    sockaddr_un probe{};
    if (path.string().size() >= sizeof probe.sun_path) {
        return fail(Errc::invalid_argument, "admin.socket: path longer than " +
                                                std::to_string(sizeof probe.sun_path - 1) +
                                                " bytes");
    }
    const auto dir = path.parent_path();
    if (auto ok = prepare_socket_folder(dir, gid, socket_mode); !ok) return ok;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return fail(Errc::io_error, "admin.socket: " + path.string() + ": " + errno_text(errno));
    }
    if (!S_ISSOCK(st.st_mode)) {
        return fail(Errc::invalid_argument, "admin.socket: " + path.string() +
                                                " exists and is not a socket; not touching it");
    }
    if (auto free = check_admin_socket_free(path); !free) return free;
    if (::unlink(path.c_str()) != 0) {
        return fail(Errc::io_error, "admin.socket: cannot remove the stale socket " +
                                        path.string() + ": " + errno_text(errno));
    }
    log(LogLevel::info, "admin", "removed a stale socket file " + path.string());
    return {};
}

crypto::Result<void> apply_socket_permissions(const std::filesystem::path& path, std::uint32_t mode,
                                              gid_t gid) {
    // No chown when the group is already right (the usual case: the daemon's
    // own group): the packaged unit's SystemCallFilter denies @chown.
    struct stat st {};
    const bool same_group = ::lstat(path.c_str(), &st) == 0 && st.st_gid == gid;
    if (!same_group && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
        return fail(Errc::io_error, "admin.socket_group: cannot give " + path.string() +
                                        " to gid " + std::to_string(gid) + ": " +
                                        errno_text(errno));
    }
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
        return fail(Errc::io_error,
                    "admin.socket_mode: cannot chmod " + path.string() + ": " + errno_text(errno));
    }
    return {};
}

SocketIdentity socket_identity(const std::filesystem::path& path) noexcept {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return {};
    return SocketIdentity{st.st_dev, st.st_ino};
}

void remove_socket_if_ours(const std::filesystem::path& path, const SocketIdentity& id) noexcept {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id.dev &&
        st.st_ino == id.ino) {
        ::unlink(path.c_str());
    }
}

ScopedUmask::ScopedUmask(mode_t mask) noexcept : previous_(::umask(mask)) {}
ScopedUmask::~ScopedUmask() { ::umask(previous_); }

}  // namespace detail
}  // namespace enclave::appliance
