// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private file helpers for SealedDb and WrappedKeyFile: POSIX calls with the
// flags a key store needs (O_NOFOLLOW, O_EXCL, O_CLOEXEC, 0600, fsync of the
// directory after a create or rename). Not a public header.

#include <cstddef>
#include <filesystem>
#include <string>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto::detail {

/// A file descriptor closed on destruction.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
    /// Closes now; io_error when close() reports a failure (a lost write).
    Result<void> close();

private:
    int fd_ = -1;
};

/// "<what> <path>: <strerror(err)>", for io_error contexts.
std::string errno_context(const std::string& what, const std::filesystem::path& path, int err);

/// Opens an existing regular file read-only without following a symbolic
/// link. not_found, io_error, or malformed_input ("not a regular file" /
/// "is a symbolic link").
Result<UniqueFd> open_regular_readonly(const std::filesystem::path& path, std::string_view what);

/// Size of an open file.
Result<std::size_t> file_size(const UniqueFd& fd, const std::filesystem::path& path);

/// Reads up to `max` bytes from the start of `fd` (fewer at end of file).
Result<Bytes> read_prefix(const UniqueFd& fd, std::size_t max, const std::filesystem::path& path);

/// Creates a new file, mode 0600, O_EXCL|O_NOFOLLOW. already_exists when
/// anything is at `path`.
Result<UniqueFd> create_exclusive(const std::filesystem::path& path, std::string_view what);

/// Writes all of `bytes` (retrying short writes), then fsyncs.
Result<void> write_all_and_sync(const UniqueFd& fd, ByteView bytes, const std::filesystem::path& path);

/// fsync of the directory holding `path`, so a create or rename is durable.
Result<void> sync_parent_dir(const std::filesystem::path& path);

/// True when something (a file, a link, anything) is at `path`.
bool path_exists(const std::filesystem::path& path) noexcept;

}  // namespace enclave::crypto::detail
