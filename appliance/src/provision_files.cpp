// SPDX-License-Identifier: Apache-2.0
// Files and directories of a new instance: created exclusively, with exact
// modes, durably, and recorded so a failed run can remove them again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "hsm/keygen.hpp"
#include "provision_detail.hpp"

namespace enclave::appliance::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

tl::unexpected<crypto::Error> fail_errno(int err, const std::string& what,
                                         const std::filesystem::path& path) {
    const Errc code = err == EEXIST   ? Errc::already_exists
                      : err == ENOENT ? Errc::not_found
                                      : Errc::io_error;
    return fail(code, what + " " + path.string() + ": " + std::strerror(err));
}

Result<void> write_all(int fd, crypto::ByteView data, const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno(errno, "writing", path);
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail_errno(errno, "syncing", path);
    return {};
}

}  // namespace

void Rollback::created(const std::filesystem::path& absolute_path) {
    paths_.push_back(absolute_path);
}

std::vector<std::string> Rollback::undo_keys(hsm::SessionPool* pool) noexcept {
    std::vector<std::string> left;
    try {
        for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
            auto ok = pool == nullptr ? crypto::Result<void>(fail(Errc::unavailable, "no session"))
                                      : hsm::destroy_key(*pool, *it, true);
            if (!ok) {
                left.push_back("key '" + it->label + "' on the token (" + ok.error().message() +
                               ")");
            }
        }
        keys_.clear();
    } catch (const std::exception&) {
        left.push_back("clean-up of token keys stopped early (out of memory)");
    }
    return left;
}

std::vector<std::string> Rollback::undo_files() noexcept {
    std::vector<std::string> left;
    try {
        for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
            std::error_code ec;
            std::filesystem::remove_all(*it, ec);
            if (ec) left.push_back(it->string() + " (" + ec.message() + ")");
        }
        paths_.clear();
        if (saved_mode_ && ::chmod(data_dir_.c_str(), *saved_mode_) != 0) {
            left.push_back("the mode of " + data_dir_.string() + " (it was tightened to 0700)");
        }
    } catch (const std::exception&) {
        left.push_back("clean-up of files stopped early (out of memory)");
    }
    return left;
}

std::vector<std::filesystem::path> Rollback::relative_paths() const {
    std::vector<std::filesystem::path> out;
    for (const auto& p : paths_) {
        out.push_back(p == data_dir_ ? std::filesystem::path(".")
                                     : p.lexically_relative(data_dir_));
    }
    return out;
}

Result<void> write_new_file(const std::filesystem::path& path, crypto::ByteView data, mode_t mode,
                            Rollback& rb) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return fail_errno(errno, "creating", path);
    rb.created(path);
    // The umask may have taken bits away; set exactly what we mean.
    Result<void> ok = ::fchmod(fd, mode) == 0 ? write_all(fd, data, path)
                                              : Result<void>(fail_errno(errno, "chmod", path));
    if (::close(fd) != 0 && ok) ok = fail_errno(errno, "closing", path);
    return ok;
}

Result<void> make_private_dir(const std::filesystem::path& path, Rollback& rb) {
    if (::mkdir(path.c_str(), 0700) != 0) return fail_errno(errno, "creating directory", path);
    rb.created(path);
    if (::chmod(path.c_str(), 0700) != 0) return fail_errno(errno, "chmod", path);
    return {};
}

Result<void> publish_new_file(const std::filesystem::path& path, crypto::ByteView data, mode_t mode,
                              Rollback& rb) {
    std::filesystem::path tmp = path;
    tmp += ".tmp";
    if (auto ok = write_new_file(tmp, data, mode, rb); !ok) return ok;
    // link() never replaces an existing name; then the temporary name goes.
    if (::link(tmp.c_str(), path.c_str()) != 0) return fail_errno(errno, "publishing", path);
    rb.created(path);
    if (::unlink(tmp.c_str()) != 0) return fail_errno(errno, "removing", tmp);
    return {};
}

void sync_dir(const std::filesystem::path& dir) noexcept {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
}

crypto::Secret pin_file_content(const crypto::Secret& pin) {
    crypto::Secret out(pin.size() + 1);
    std::memcpy(out.data(), pin.data(), pin.size());
    out.data()[pin.size()] = '\n';
    return out;
}

}  // namespace enclave::appliance::detail
