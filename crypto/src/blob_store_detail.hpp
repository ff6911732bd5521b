// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals of BlobStore: its shared state, the wrapped key file codec and
// the *at() file helpers. Not installed.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/blob_format.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/bytes.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto::detail {

inline constexpr std::string_view kMasterKeyMagic = "ENCLBMKY";
inline constexpr std::string_view kObjectKeyMagic = "ENCLOKEY";
inline constexpr std::string_view kMasterKeyFile = "master.key";
inline constexpr std::size_t kKeyFileHeaderSize = 14;
inline constexpr std::size_t kMaxKekIdLength = 255;
inline constexpr std::size_t kMaxWrappedKeyLength = 4096;
inline constexpr std::size_t kMaxKeyFileSize = kKeyFileHeaderSize + kMaxKekIdLength + kMaxWrappedKeyLength;

/// Shared by a BlobStore and its writer handles (shared_ptr), so a handle
/// may outlive the store object. Holds: the master key's wrapping subkey,
/// inside a SecretKeyWrapper (sodium_malloc'd, wiped when the last owner goes).
struct BlobStoreState {
    std::filesystem::path dir;
    UniqueFd root;  // holds the flock for the store's lifetime
    UniqueFd data;
    UniqueFd keys;
    UniqueFd tmp;
    std::unique_ptr<SecretKeyWrapper> master;  // wraps object data keys
    std::string master_id;
    /// Exclusive while an object appears or disappears (commit, remove);
    /// shared while one is looked up, so a reader never sees half of either.
    mutable std::shared_mutex ns;
};

inline std::string key_name(std::string_view id) { return std::string(id) + ".key"; }
inline std::string blob_name(std::string_view id) { return std::string(id) + ".blob"; }

/// One wrapped key file (see blob_store.hpp for the layout).
struct WrappedKeyFile {
    std::string wrapping_key_id;
    Bytes wrapped;
};
Bytes encode_key_file(std::string_view magic, const WrappedKeyFile& f);
/// Strict parse; `what` names the file in errors ("master.key").
Result<WrappedKeyFile> parse_key_file(std::string_view magic, ByteView file,
                                      std::size_t max_id_length, std::string_view what);
/// 1..max printable ASCII characters.
bool is_valid_wrapping_key_id(std::string_view id, std::size_t max_length) noexcept;

/// mkdirat (when missing) and open a directory below `parent` (or an absolute
/// path when parent is AT_FDCWD), refusing symlinks, other owners and any
/// group/other permission bits.
Result<UniqueFd> open_private_dir(int parent, const std::string& name, const std::string& label);
/// True when `name` is a regular file in `dirfd`; false when absent.
Result<bool> regular_file_exists(int dirfd, const std::string& name);
/// Reads a whole small file: not_found when absent, too_large beyond `max`.
Result<Bytes> read_small_file(int dirfd, const std::string& name, std::size_t max);
/// Creates `name` in `dirfd` (O_EXCL, 0600), writes `data` and fsyncs it.
Result<void> write_new_file(int dirfd, const std::string& name, ByteView data);
/// Overwrites a file with random bytes, fsyncs, unlinks it and fsyncs the directory.
Result<void> destroy_file(int dirfd, const std::string& name);
Result<void> sync_dir(int dirfd, std::string_view label);
/// Names of the entries of a directory (without "." and "..").
Result<std::vector<std::string>> list_dir(int dirfd);

}  // namespace enclave::crypto::detail
