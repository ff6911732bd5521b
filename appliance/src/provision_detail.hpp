// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to provisioning: creating files and directories that must not
// exist yet, the record of what a run created (to undo a failed run), and the
// demo PKI step.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "appliance/provision.hpp"
#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::appliance::detail {

/// Everything one run created, so a failure can take it back: key objects
/// on an existing token first, then files and directories in reverse order.
class Rollback {
public:
    explicit Rollback(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
    void created(const std::filesystem::path& absolute_path);
    void created_key(hsm::KeyRef key) { keys_.push_back(std::move(key)); }
    /// The data directory existed: restore this mode on undo.
    void existing_dir_mode(mode_t mode) { saved_mode_ = mode; }

    /// Destroys the recorded key objects (newest first); returns what could
    /// not be destroyed. Call while the pool is still open.
    std::vector<std::string> undo_keys(hsm::SessionPool* pool) noexcept;
    /// Removes the recorded paths (newest first) and restores the mode of an
    /// existing data directory; returns what could not be removed. Call after
    /// the module is released, so it writes nothing into removed directories.
    std::vector<std::string> undo_files() noexcept;
    /// Created paths relative to the data directory, in creation order.
    [[nodiscard]] std::vector<std::filesystem::path> relative_paths() const;

private:
    std::filesystem::path data_dir_;
    std::vector<std::filesystem::path> paths_;
    std::vector<hsm::KeyRef> keys_;
    std::optional<mode_t> saved_mode_;
};

/// Creates `path` with `mode` (exactly, whatever the umask), O_EXCL and
/// O_NOFOLLOW, writes `data`, fsyncs; records it in `rb`.
crypto::Result<void> write_new_file(const std::filesystem::path& path, crypto::ByteView data,
                                    mode_t mode, Rollback& rb);
/// mkdir with mode 0700 exactly; fails when it exists; records it in `rb`.
crypto::Result<void> make_private_dir(const std::filesystem::path& path, Rollback& rb);
/// Writes `data` to a temporary name beside `path`, then renames it to
/// `path` without replacing anything (the file appears complete or not at all).
crypto::Result<void> publish_new_file(const std::filesystem::path& path, crypto::ByteView data,
                                      mode_t mode, Rollback& rb);
/// fsync on a directory (makes the names durable).
void sync_dir(const std::filesystem::path& dir) noexcept;

/// The PIN and one "\n", in a Secret, for writing to its file.
crypto::Secret pin_file_content(const crypto::Secret& pin);

/// SPKI DER of the four token TLS keys.
struct TokenTlsKeys {
    crypto::Bytes lea;
    crypto::Bytes ingest;
    crypto::Bytes admin;
    crypto::Bytes lea_client;
};

/// DIR/pki: the demo CA, certificates for the token keys, the demo LEA and
/// collector identities, one trust bundle per listener.
crypto::Result<void> build_demo_pki(const std::filesystem::path& pki_dir, const TokenTlsKeys& keys,
                                    Rollback& rb);

}  // namespace enclave::appliance::detail
