// SPDX-License-Identifier: Apache-2.0
#pragma once
// AuditLog: the durable, append-only audit log of the appliance
// (ARCHITECTURE section 7, issue #4, docs/audit-log.md).
//
// Each entry is one line of RFC 8785 canonical JSON (audit/jcs.hpp): the
// caller's event plus three members the log sets,
//   "index"  0-based position in the log,
//   "prev"   lowercase hex of the RFC 9162 leaf hash of entry index-1 ("" for 0),
//   "time"   RFC 3339 UTC with milliseconds ("2026-11-21T10:00:00.123Z").
// Entries are the leaves of an RFC 9162 Merkle tree (leaf hash =
// SHA-256(0x00 || entry bytes)); checkpoints are C2SP signed notes over
// "<origin>\n<size>\n<base64 root>\n".
//
// Storage: one SealedDb (SQLCipher) file of its own, WAL with
// synchronous=FULL, so a commit is fsync'd before append() returns. A
// "<db>.lock" file beside it (flock) keeps a second AuditLog, in this or
// another process, from opening the same log.
//
// Group commit: append() prepares and canonicalises the event on the
// caller's thread, then hands it to one writer thread, which takes every
// waiting request (in arrival order) into one transaction, commits it once
// and answers each caller with its own index. When the commit fails, every
// caller of that batch gets the error and the tree does not grow (fail
// closed); later appends are tried afresh.
//
// In memory: every leaf hash and every complete perfect subtree (about 64
// bytes per entry: 64 MB for a million entries), so root, inclusion and
// consistency proofs cost O(log^2 n) lookups.
//
// Open verifies everything it loads: every leaf hash is recomputed from the
// stored bytes, "index" and "prev" must chain without a gap, and the root at
// every stored checkpoint's size must equal that checkpoint's root. Any
// mismatch refuses to open (integrity_failure naming the index or range).
//
// Thread-safety: every public member may be called from any thread.
//
// Holds: no key. The database key is unwrapped by SealedDb during open() and
// wiped there; the KeyWrapper is used only during open() and not kept.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_sink.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"

namespace enclave::audit {

/// Signs a checkpoint body ("<origin>\n<size>\n<base64 root>\n") and returns
/// the whole signed note text (the body, a blank line, signature lines).
/// Called on the log's writer thread (automatic checkpoints) or the thread
/// that calls checkpoint(); never concurrently with itself. It must not call
/// back into the log (appends wait for the thread that is signing).
using CheckpointSigner = std::function<crypto::Result<std::string>(std::string_view body)>;

/// Wall clock used for entry times and the checkpoint interval. Must be
/// thread-safe.
using AuditClock = std::function<std::chrono::system_clock::time_point()>;

struct AuditLogOptions {
    /// The checkpoint origin line (C2SP tlog-checkpoint), e.g.
    /// "enclave.example.net/audit". 1-255 printable ASCII characters, no
    /// leading or trailing space. Fixed for the life of the log: open()
    /// refuses another origin than the one the log was created with.
    std::string origin;
    /// A checkpoint after every this many entries (0: no count trigger).
    /// Batches are cut at these boundaries, so automatic checkpoints land on
    /// exact multiples when no on-demand checkpoint intervenes.
    std::uint64_t checkpoint_every = 1000;
    /// A checkpoint when this much time has passed since the last one and
    /// there are new entries (0: no time trigger). The writer thread looks
    /// at least once a second; checkpoint_if_due() looks now.
    std::chrono::milliseconds checkpoint_interval = std::chrono::seconds(60);
    /// Signs checkpoints. Empty: checkpoints are stored unsigned (the body
    /// alone), which no verifier accepts; for tests and tools only.
    CheckpointSigner signer;
    /// Empty: std::chrono::system_clock::now.
    AuditClock clock;
    /// Most entries committed in one transaction.
    std::size_t max_batch = 4096;
    /// Largest entry (canonical bytes, with index/prev/time) accepted.
    std::size_t max_entry_bytes = 64 * 1024;
};

/// A checkpoint (signed tree head) as stored.
struct LogCheckpoint {
    std::uint64_t size = 0;
    crypto::Hash root{};
    /// The signed note text the signer returned (or the bare body, unsigned).
    std::string note;
    /// When it was made (the log's clock).
    std::chrono::system_clock::time_point created;
};

class AuditLog final : public AuditSink {
public:
    /// Opens the log in `db_path` (creating the database and its wrapped key
    /// file "<db_path>.key" when neither exists), verifies it, and starts the
    /// writer thread. Errors:
    ///   invalid_argument   bad options (origin, sizes)
    ///   unavailable        the log is open elsewhere (lock file held)
    ///   integrity_failure  verification failed (the index or range named),
    ///                      or the origin differs from the stored one
    ///   any SealedDb error (not_found for a missing key file, db_wrong_key, ...)
    [[nodiscard]] static crypto::Result<std::unique_ptr<AuditLog>> open(
        const std::filesystem::path& db_path, crypto::KeyWrapper& kek, AuditLogOptions options);

    /// close(), then releases the database and the lock.
    ~AuditLog() override;
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    /// Appends `event` and returns its index once the entry is committed
    /// durably. The event must be a JSON object with a string "event" member
    /// (1-64 characters of a-z 0-9 . _ -, starting with a letter), no
    /// "index", "prev" or "time" member, and nothing canonicalize() refuses
    /// (no floating-point number anywhere). Errors:
    ///   invalid_argument  the event breaks those rules (path named)
    ///   too_large         the entry would exceed max_entry_bytes
    ///   invalid_state     the log is closed, or a failed commit left the
    ///                     database and memory disagreeing (reopen the log)
    ///   db_error / io_error  the commit failed: the entry is NOT in the log
    [[nodiscard]] crypto::Result<std::uint64_t> append(const nlohmann::json& event) override;

    /// Called after each successful append with the event as given and its
    /// index (protective monitoring maps some entries to its typed events).
    /// Set it before appends run concurrently; it must not throw.
    using Observer = std::function<void(const nlohmann::json& event, std::uint64_t index)>;
    void set_observer(Observer observer);

    /// Entries committed so far (the tree size).
    [[nodiscard]] std::uint64_t size() const;
    /// Root of the whole tree (the empty-tree root for size 0).
    [[nodiscard]] crypto::Hash root() const;
    /// Root of the first `tree_size` entries. invalid_argument when
    /// tree_size > size().
    [[nodiscard]] crypto::Result<crypto::Hash> root_at(std::uint64_t tree_size) const;
    /// Leaf hash of entry `index` (from memory). invalid_argument when index >= size().
    [[nodiscard]] crypto::Result<crypto::Hash> leaf_hash(std::uint64_t index) const;

    /// RFC 9162 inclusion proof of entry `index` in the tree of the first
    /// `tree_size` entries. Requires index < tree_size <= size()
    /// (invalid_argument otherwise).
    [[nodiscard]] crypto::Result<std::vector<crypto::Hash>> inclusion_proof(
        std::uint64_t index, std::uint64_t tree_size) const;
    /// RFC 9162 consistency proof from `old_size` to `new_size` entries.
    /// Requires old_size <= new_size <= size() (invalid_argument otherwise).
    [[nodiscard]] crypto::Result<std::vector<crypto::Hash>> consistency_proof(
        std::uint64_t old_size, std::uint64_t new_size) const;

    /// The stored bytes of entry `index`, checked against its leaf hash
    /// (integrity_failure when the database was changed under the log).
    /// invalid_argument when index >= size().
    [[nodiscard]] crypto::Result<std::string> entry(std::uint64_t index) const;
    /// Entries [first, first + count) (clipped to size()), at most 65,536 at
    /// a time (too_large beyond: page with for_each_entry), each checked.
    [[nodiscard]] crypto::Result<std::vector<std::string>> entries(std::uint64_t first,
                                                                   std::uint64_t count) const;
    /// Calls `fn(index, bytes)` for entries [first, first + count) (clipped
    /// to size()), in order, reading in chunks so that memory stays small and
    /// appends go on meanwhile. Stops at the first error `fn` returns.
    [[nodiscard]] crypto::Result<void> for_each_entry(
        std::uint64_t first, std::uint64_t count,
        const std::function<crypto::Result<void>(std::uint64_t index, std::string_view entry)>& fn)
        const;

    /// Makes a checkpoint of the current tree now (signs and stores it), or
    /// returns the latest one when the tree has not grown since. Errors from
    /// the signer are passed on; a note that does not start with the body is
    /// refused (crypto_failure).
    [[nodiscard]] crypto::Result<LogCheckpoint> checkpoint();
    /// Makes a checkpoint if the cadence says one is due (checkpoint_every
    /// entries or checkpoint_interval since the last, with new entries).
    /// Returns whether it made one. The writer thread calls this itself.
    [[nodiscard]] crypto::Result<bool> checkpoint_if_due();
    /// The newest checkpoint, if any.
    [[nodiscard]] std::optional<LogCheckpoint> latest_checkpoint() const;
    /// Every checkpoint, ascending size.
    [[nodiscard]] crypto::Result<std::vector<LogCheckpoint>> checkpoints() const;
    /// The error of the last automatic checkpoint, cleared by the next success
    /// (for health reporting: appends go on while the signer is unavailable).
    [[nodiscard]] std::optional<crypto::Error> last_checkpoint_error() const;

    [[nodiscard]] const std::string& origin() const noexcept;
    /// "<origin>\n<size>\n<base64 root>\n".
    [[nodiscard]] static std::string checkpoint_body(std::string_view origin, std::uint64_t size,
                                                     const crypto::Hash& root);

    /// Stops the writer thread after it has answered every queued append.
    /// Later appends and checkpoints fail with invalid_state; reads go on.
    /// Idempotent.
    void close();

    struct Impl;

private:
    explicit AuditLog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace enclave::audit
