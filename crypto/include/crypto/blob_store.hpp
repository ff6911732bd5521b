// SPDX-License-Identifier: Apache-2.0
#pragma once
// BlobStore: binary objects at rest, one encrypted blob file per object
// (blob_format.hpp), each under its own random 32-byte data key.
//
// Key hierarchy:
//   KEK (the token's key, any KeyWrapper)  wraps  the blob master key (master.key)
//   blob master key                        wraps  each object's data key (keys/<id>.key)
//   object data key                        seals  the object's chunks (data/<id>.blob)
// The master key is created at random on the first open and exists on disk
// only wrapped by the KEK. Object keys are kept apart from the data, so a
// copy of data/ alone is useless. remove() destroys the object's key first
// (overwrite, fsync, unlink, fsync of the directory) and only then the data
// file: crypto-erasure, so a copy of the data file taken earlier (a backup)
// can no longer be decrypted through this store.
//
// Directory layout (directories 0700, files 0600, owned by the process user):
//   <dir>/master.key        the master key, wrapped by the KEK
//   <dir>/keys/<id>.key     an object's data key, wrapped by the master key
//   <dir>/data/<id>.blob    the object, in the blob format
//   <dir>/tmp/              objects being written; emptied by open()
// An object exists when both its key file and its data file exist. Writes go
// to tmp/, are fsynced and then renamed into keys/ and data/ (key first), so
// a crash never leaves a half-written object visible.
//
// Wrapped key file (master.key and keys/<id>.key), integers big-endian:
//   offset  size  field
//   0       8     magic: "ENCLBMKY" (master.key) or "ENCLOKEY" (object key)
//   8       2     version = 1
//   10      1     W = wrapping key id length, 1..255 (1..64 in an object key file)
//   11      1     reserved, 0
//   12      2     N = wrapped key length, 1..4096
//   14      W     id of the wrapping key, printable ASCII: the KEK's key_id()
//                 in master.key, the master key id in an object key file
//   14+W    N     the wrapped key, as the wrapping KeyWrapper produced it
//   The file ends there; anything else is malformed_input.
// The master key M itself is not used to wrap: with ctx "EnclBMst",
//   wrapping key  = crypto_kdf_derive_from_key(32 bytes, subkey 1, ctx, M)
//   master key id = "blob-master-" + hex(crypto_kdf_derive_from_key(16 bytes, subkey 2, ctx, M))
// and object keys are wrapped with SecretKeyWrapper(master key id, wrapping key).
//
// Object ids are 1..64 characters from [A-Za-z0-9_-], supplied by the caller
// or generated (32 lowercase hex digits from 16 random bytes); anything else
// (paths, "..", NUL, empty, overlong) is refused with invalid_argument.
//
// Processes: one BlobStore at a time per directory (open() takes an
// exclusive flock on the directory; a second open, even in the same process,
// fails with unavailable). Threads: every BlobStore member is thread-safe.
// Readers returned by open_object() are independent of the store and of each
// other (their own descriptor and key) and are themselves thread-safe, so
// concurrent readers of the same or different objects are fine; a reader
// opened before remove() keeps reading the file it opened. A
// BlobWriterHandle is used by one thread at a time and may outlive the
// BlobStore object it came from.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/blob_format.hpp"
#include "crypto/bytes.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"

namespace enclave::crypto {

namespace detail {
struct BlobStoreState;
struct BlobWriterHandleState;
}  // namespace detail

/// A new object's id: 16 bytes from the CSPRNG as 32 lowercase hex digits.
std::string generate_object_id();

/// An object being written. Data goes to a temp file; commit() publishes the
/// object atomically; dropping the handle uncommitted discards everything.
/// Holds: nothing secret beyond its BlobWriter (see there); the data key was
/// wrapped and wiped when the handle was created.
class BlobWriterHandle {
public:
    ~BlobWriterHandle();
    BlobWriterHandle(BlobWriterHandle&&) noexcept;
    BlobWriterHandle& operator=(BlobWriterHandle&&) noexcept;
    BlobWriterHandle(const BlobWriterHandle&) = delete;
    BlobWriterHandle& operator=(const BlobWriterHandle&) = delete;

    [[nodiscard]] const std::string& id() const noexcept;
    /// Plaintext bytes accepted so far.
    [[nodiscard]] std::uint64_t bytes_written() const noexcept;
    /// Appends plaintext.
    Result<void> write(ByteView data);
    /// Seals and fsyncs the blob, stores its wrapped key, and renames both
    /// into place. already_exists when an object with this id appeared in the
    /// meantime. The handle is spent afterwards, whatever the outcome.
    Result<BlobInfo> commit();
    /// Drops the temp file (the destructor does this when commit was not called).
    void abort() noexcept;

private:
    friend class BlobStore;
    explicit BlobWriterHandle(std::unique_ptr<detail::BlobWriterHandleState> state) noexcept;
    std::unique_ptr<detail::BlobWriterHandleState> s_;
};

/// Holds: the blob master key's wrapping subkey inside a SecretKeyWrapper
/// (sodium_malloc'd, wiped when the last user of the store state goes). The
/// KEK is used only inside open() and not kept.
class BlobStore {
public:
    /// Opens the store in `dir`, creating `dir` (mode 0700; its parent must
    /// exist) and the master key on first use. Refuses a directory that
    /// group or others may access, a missing master.key beside existing
    /// objects (not_found: restore it rather than start over), a master key
    /// wrapped by another KEK (integrity_failure naming the expected KEK key
    /// id) and a malformed or damaged master.key. Empties tmp/.
    static Result<BlobStore> open(const std::filesystem::path& dir, KeyWrapper& kek);

    ~BlobStore();
    BlobStore(BlobStore&&) noexcept;
    BlobStore& operator=(BlobStore&&) noexcept;
    BlobStore(const BlobStore&) = delete;
    BlobStore& operator=(const BlobStore&) = delete;

    /// Starts a new object under `id` (or a generated id). already_exists when
    /// the id is taken; invalid_argument for a bad id or chunk size.
    Result<BlobWriterHandle> create(std::optional<std::string_view> id = std::nullopt,
                                    BlobWriterOptions options = {});
    /// Opens an object for reading: not_found when it does not exist (or was
    /// removed); integrity_failure when its key or data fail to authenticate.
    Result<BlobReader> open_object(std::string_view id) const;
    /// Crypto-erases an object: key first, then data. not_found when neither exists.
    Result<void> remove(std::string_view id);
    Result<bool> exists(std::string_view id) const;
    /// The ids of all complete objects, sorted. Temp files, lone key files and
    /// lone data files are not objects and are not listed.
    Result<std::vector<std::string>> list() const;

    /// "blob-master-<32 hex>": names the master key in object key files. Not secret.
    [[nodiscard]] const std::string& master_key_id() const noexcept;
    [[nodiscard]] const std::filesystem::path& directory() const noexcept;

private:
    explicit BlobStore(std::shared_ptr<detail::BlobStoreState> state) noexcept;
    std::shared_ptr<detail::BlobStoreState> s_;
};

}  // namespace enclave::crypto
