// SPDX-License-Identifier: Apache-2.0
// BlobStore file plumbing: the wrapped key file codec and directory-relative
// (openat/renameat/unlinkat) helpers that never follow symlinks.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "blob_format_detail.hpp"
#include "blob_store_detail.hpp"

namespace enclave::crypto::detail {

// ---- wrapped key files ---------------------------------------------------------

bool is_valid_wrapping_key_id(std::string_view id, std::size_t max_length) noexcept {
    if (id.empty() || id.size() > max_length) return false;
    return std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

Bytes encode_key_file(std::string_view magic, const WrappedKeyFile& f) {
    Bytes out(kKeyFileHeaderSize + f.wrapping_key_id.size() + f.wrapped.size());
    std::memcpy(out.data(), magic.data(), 8);
    store_be(out.data() + 8, 1, 2);
    out[10] = static_cast<std::uint8_t>(f.wrapping_key_id.size());
    out[11] = 0;
    store_be(out.data() + 12, f.wrapped.size(), 2);
    std::memcpy(out.data() + kKeyFileHeaderSize, f.wrapping_key_id.data(), f.wrapping_key_id.size());
    std::memcpy(out.data() + kKeyFileHeaderSize + f.wrapping_key_id.size(), f.wrapped.data(),
                f.wrapped.size());
    return out;
}

Result<WrappedKeyFile> parse_key_file(std::string_view magic, ByteView file,
                                      std::size_t max_id_length, std::string_view what) {
    const std::string w(what);
    if (file.size() < kKeyFileHeaderSize) {
        return fail(Errc::malformed_input, w + " is truncated (" + std::to_string(file.size()) +
                                               " bytes)");
    }
    if (std::memcmp(file.data(), magic.data(), 8) != 0) {
        return fail(Errc::malformed_input, w + " has a bad magic");
    }
    if (const auto v = load_be(file.data() + 8, 2); v != 1) {
        return fail(Errc::malformed_input, w + " has unsupported version " + std::to_string(v));
    }
    const std::size_t id_len = file[10];
    const std::size_t wrapped_len = load_be(file.data() + 12, 2);
    if (file[11] != 0) return fail(Errc::malformed_input, w + " reserved byte is not zero");
    if (id_len == 0) return fail(Errc::malformed_input, w + " has an empty wrapping key id");
    if (id_len > max_id_length) {
        return fail(Errc::too_large, w + " wrapping key id length " + std::to_string(id_len) +
                                         " exceeds " + std::to_string(max_id_length));
    }
    if (wrapped_len == 0) return fail(Errc::malformed_input, w + " holds an empty wrapped key");
    if (wrapped_len > kMaxWrappedKeyLength) {
        return fail(Errc::too_large, w + " wrapped key length " + std::to_string(wrapped_len) +
                                         " exceeds " + std::to_string(kMaxWrappedKeyLength));
    }
    if (file.size() != kKeyFileHeaderSize + id_len + wrapped_len) {
        return fail(Errc::malformed_input,
                    w + " is " + std::to_string(file.size()) + " bytes but its fields need " +
                        std::to_string(kKeyFileHeaderSize + id_len + wrapped_len));
    }
    WrappedKeyFile out;
    out.wrapping_key_id.assign(reinterpret_cast<const char*>(file.data()) + kKeyFileHeaderSize,
                               id_len);
    if (!is_valid_wrapping_key_id(out.wrapping_key_id, max_id_length)) {
        return fail(Errc::malformed_input, w + " wrapping key id is not printable ASCII");
    }
    const auto body = file.subspan(kKeyFileHeaderSize + id_len);
    out.wrapped.assign(body.begin(), body.end());
    return out;
}

// ---- files and directories ---------------------------------------------------------

Result<UniqueFd> open_private_dir(int parent, const std::string& name, const std::string& label) {
    if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
        return io_failure("creating " + label, errno);
    }
    UniqueFd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return io_failure("opening " + label + " (must be a real directory)", errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return io_failure("inspecting " + label, errno);
    if (st.st_uid != ::geteuid()) {
        return fail(Errc::invalid_argument, label + " is owned by uid " +
                                                std::to_string(st.st_uid) + ", not by this process");
    }
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return fail(Errc::invalid_argument, label + " has mode " + mode +
                                                "; group and others must have no access (0700)");
    }
    return fd;
}

Result<bool> regular_file_exists(int dirfd, const std::string& name) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return false;
        return io_failure("inspecting " + name, errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return fail(Errc::integrity_failure, name + " in the blob store is not a regular file");
    }
    return true;
}

Result<Bytes> read_small_file(int dirfd, const std::string& name, std::size_t max) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) return fail(Errc::not_found, name + " does not exist");
        return io_failure("opening " + name, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return io_failure("inspecting " + name, errno);
    if (!S_ISREG(st.st_mode)) return fail(Errc::integrity_failure, name + " is not a regular file");
    if (static_cast<std::uint64_t>(st.st_size) > max) {
        return fail(Errc::too_large, name + " is " + std::to_string(st.st_size) +
                                         " bytes, more than the " + std::to_string(max) +
                                         " a key file can be");
    }
    Bytes out(static_cast<std::size_t>(st.st_size));
    auto got = pread_upto(fd.get(), out.data(), out.size(), 0);
    if (!got) return tl::unexpected(got.error());
    out.resize(*got);
    return out;
}

Result<void> write_new_file(int dirfd, const std::string& name, ByteView data) {
    UniqueFd fd(::openat(dirfd, name.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return io_failure("creating " + name, errno);
    // The umask can only narrow 0600; make it exactly 0600 all the same.
    if (::fchmod(fd.get(), 0600) != 0) return io_failure("setting the mode of " + name, errno);
    if (auto ok = pwrite_all(fd.get(), data.data(), data.size(), 0); !ok) return ok;
    if (::fsync(fd.get()) != 0) return io_failure("syncing " + name, errno);
    return {};
}

Result<void> sync_dir(int dirfd, std::string_view label) {
    if (::fsync(dirfd) != 0) return io_failure("syncing directory " + std::string(label), errno);
    return {};
}

Result<void> destroy_file(int dirfd, const std::string& name) {
    {
        UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid()) return io_failure("opening " + name + " to destroy it", errno);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return io_failure("inspecting " + name, errno);
        // Key files are tiny; the cap only bounds a file that is not ours.
        const auto size = static_cast<std::size_t>(
            std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), 1u << 20));
        Bytes noise(size);
        if (size > 0) randombytes_buf(noise.data(), noise.size());
        if (auto ok = pwrite_all(fd.get(), noise.data(), noise.size(), 0); !ok) return ok;
        if (::fsync(fd.get()) != 0) return io_failure("syncing " + name, errno);
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return io_failure("unlinking " + name, errno);
    return sync_dir(dirfd, "after removing " + name);
}

Result<std::vector<std::string>> list_dir(int dirfd) {
    // A fresh open file description, so that reading it does not move the
    // offset of the descriptor the store keeps.
    const int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_failure("opening a store directory for listing", errno);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        const int err = errno;
        ::close(fd);
        return io_failure("listing a store directory", err);
    }
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view n(e->d_name);
        if (n != "." && n != "..") names.emplace_back(n);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return io_failure("listing a store directory", err);
    return names;
}

}  // namespace enclave::crypto::detail
