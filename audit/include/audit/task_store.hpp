// SPDX-License-Identifier: Apache-2.0
#pragma once
// TaskStore: tasks and their D.4 records in their own SQLCipher database
// (crypto::SealedDb, e.g. DIR/tasks.db, key wrapped by the KEK), every state
// change recorded in the audit log first (fail closed). docs/tasks.md has the
// full story; in short:
//
//  create   per-task random 32-byte key, wrapped by the KeyWrapper; each
//           value and salt sealed under it with XChaCha20-Poly1305 (AD binds
//           task id, field index and "value"/"salt"); audit "hash.verified"
//           per field and "task.created"; then commit.
//  reveal   active tasks only; audit "task.revealed" before returning.
//  close    audit "task.closed"; delete the sealed rows and the wrapped key
//           (secure_delete) and commit; checkpoint-and-truncate the WAL;
//           audit "task.purged". What remains: the hash-only record.
//
// Order of audit append and commit (crash safety): the audit entry is made
// durable BEFORE the database transaction commits, inside it. A failed append
// rolls the transaction back, so no change exists without its entry. A crash
// (or a failed commit) between the two leaves an entry for a change that did
// not happen; never the reverse. A failed commit appends "task.create_failed"
// / "task.close_failed" (best effort) so a reader can pair them. The purge
// after a committed close is retried by open(), close_expired() and
// retry_pending_purges() until "task.purged" is in the log.
//
// Holds: no long-lived secret. Per-task keys are unwrapped into a Secret for
// the duration of one create() or reveal() call; values and salts exist
// decrypted only in the Secrets returned by reveal(). The database holds only
// ciphertext under the per-task key (itself inside SQLCipher's encryption).
//
// Thread-safety: every public member takes an internal mutex.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_sink.hpp"
#include "audit/task.hpp"
#include "audit/task_time.hpp"
#include "crypto/bytes.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "crypto/salted_hash.hpp"
#include "crypto/sealed_db.hpp"
#include "crypto/secret.hpp"

namespace enclave::audit {

enum class TaskState { active, closed };
enum class CloseReason { operator_request, expired };

std::string_view task_state_name(TaskState s) noexcept;          ///< "active" / "closed"
std::string_view close_reason_name(CloseReason r) noexcept;      ///< "operator" / "expired"
std::optional<CloseReason> close_reason_from_name(std::string_view name) noexcept;

/// One field of the record: what remains after close.
struct FieldRecord {
    std::size_t index = 0;
    std::string format_name;
    crypto::SaltedHashAlg algorithm{};
    crypto::Bytes hash;
};

struct DeliveryRecord {
    std::string id;
    std::uint64_t size = 0;
    crypto::Bytes sha256;
    UtcTime recorded_at{};
};

/// Everything list()/show() return. Never a value or a salt.
struct TaskRecord {
    std::string reference;
    std::string task_id;  ///< 32 lowercase hex (16 random bytes), also in every audit event
    TaskKind kind{};
    UtcTime start{};
    UtcTime end{};
    std::optional<std::string> endpoint;
    TaskState state{};
    std::vector<FieldRecord> fields;
    UtcTime created_at{};
    Actor created_by;
    std::optional<UtcTime> closed_at;
    std::optional<Actor> closed_by;
    std::optional<CloseReason> close_reason;
    std::optional<UtcTime> purged_at;  ///< set once the WAL truncation and "task.purged" are done
    std::vector<DeliveryRecord> deliveries;
};

/// The record as the admin API shows it (docs/tasks.md, "Records"); hashes
/// and checksums in lowercase hex, times canonical RFC 3339.
nlohmann::json to_json(const TaskRecord& record);

/// A field as reveal() returns it.
/// Holds: the value (UTF-8) and the salt (raw bytes) in Secrets.
struct RevealedField {
    std::size_t index = 0;
    std::string format_name;
    crypto::SaltedHashAlg algorithm{};
    crypto::Secret value;
    crypto::Secret salt;
};

/// What close_expired() did.
struct ExpiryReport {
    std::vector<std::string> closed;                          ///< references, in end-time order
    std::vector<std::pair<std::string, crypto::Error>> failed;  ///< reference (or "purge") and why
};

class TaskStore {
public:
    struct Options {
        crypto::SealedDbOptions db{};
        Clock clock = system_now;
    };

    /// "<dir>/tasks.db".
    static std::filesystem::path default_path(const std::filesystem::path& dir);

    /// Opens (or creates) the database, brings its schema up to date and
    /// completes any purge a crash interrupted (which needs `audit`). `kek`
    /// and `audit` must outlive the store. SealedDb::open's errors.
    static crypto::Result<std::unique_ptr<TaskStore>> open(const std::filesystem::path& db_path,
                                                           crypto::KeyWrapper& kek, AuditSink& audit,
                                                           Options options);
    static crypto::Result<std::unique_ptr<TaskStore>> open(const std::filesystem::path& db_path,
                                                           crypto::KeyWrapper& kek, AuditSink& audit);

    TaskStore(const TaskStore&) = delete;
    TaskStore& operator=(const TaskStore&) = delete;
    ~TaskStore();

    /// Stores a task that passed parse_task(). Consumes `intake` (its Secrets
    /// are wiped when this returns). Errors: already_exists (the reference
    /// exists, active or closed: references are never reused), invalid_argument
    /// (end not after now, bad actor), the KeyWrapper's and the audit sink's
    /// errors ("task not created: ..."), db_error.
    crypto::Result<TaskRecord> create(TaskIntake intake, const Actor& actor);

    crypto::Result<std::vector<TaskRecord>> list();
    /// not_found when no task has that reference.
    crypto::Result<TaskRecord> show(std::string_view reference);

    /// Values and salts of an active task, in field order. The caller checks
    /// the security-officer role; the store records "task.revealed" with
    /// `actor` before returning (fail closed). Errors: not_found,
    /// invalid_state (closed), integrity_failure (key or ciphertext altered,
    /// or wrapped under another KEK), the audit sink's errors.
    crypto::Result<std::vector<RevealedField>> reveal(std::string_view reference, const Actor& actor);

    /// Closes an active task and purges its values, salts and key. Errors:
    /// not_found, invalid_state (already closed), the audit sink's errors
    /// (nothing changed), and, after a committed close, the checkpoint's or
    /// the "task.purged" append's error (the purge is retried later; show()
    /// then has no purged_at yet).
    crypto::Result<TaskRecord> close(std::string_view reference, const Actor& actor, CloseReason reason);

    /// Closes (reason "expired", actor system) every active task whose end
    /// <= now, after retrying interrupted purges. Keeps going past failures.
    ExpiryReport close_expired(UtcTime now);

    /// The earliest end time of an active task (for the daemon's timer).
    crypto::Result<std::optional<UtcTime>> next_end();

    /// The task's LEA endpoint (nullopt when it has none); not_found.
    crypto::Result<std::optional<std::string>> owner_endpoint(std::string_view reference);

    /// What routing an item or a delivery needs (kind, state, endpoint),
    /// from the task's row alone: unlike show(), its cost does not grow
    /// with the task's fields and deliveries. not_found.
    struct Routing {
        TaskKind kind{};
        TaskState state{};
        std::optional<std::string> endpoint;
    };
    crypto::Result<Routing> routing(std::string_view reference);

    /// The references of closed tasks that have an endpoint, oldest first:
    /// the task rows only, none of their deliveries or fields (list() loads
    /// those too, which grows with every delivery ever recorded).
    crypto::Result<std::vector<std::pair<std::string, std::string>>> closed_with_endpoint();

    /// Records a delivery made for the task (active or closed: an item
    /// accepted while active may be delivered after close). `delivery_id`:
    /// 1..128 visible ASCII characters; `sha256`: 32 bytes. Appends
    /// "delivery.recorded" first. The same id with the same size and checksum
    /// again is a no-op (at-least-once delivery); with other facts it is
    /// already_exists.
    crypto::Result<void> record_delivery(std::string_view reference, std::string_view delivery_id,
                                         std::uint64_t size, crypto::ByteView sha256);

    /// Completes purges that a crash or a failed checkpoint left pending
    /// (checkpoint, then "task.purged"). Returns how many were completed.
    crypto::Result<std::size_t> retry_pending_purges();

    /// The current time from the injected clock.
    [[nodiscard]] UtcTime now() const { return clock_(); }

private:
    struct Row;
    TaskStore(crypto::SealedDb db, crypto::KeyWrapper& kek, AuditSink& audit, Clock clock);

    static Row read_row(const crypto::Statement& st);
    crypto::Result<Row> find_row(std::string_view reference);
    crypto::Result<TaskRecord> load_record(const Row& row);
    /// Inserts the task and field rows; returns the task's rowid.
    crypto::Result<std::int64_t> insert_task(const TaskIntake& intake, const Row& row, const Actor& actor);
    crypto::Result<void> insert_secrets(const TaskIntake& intake, std::int64_t rowid,
                                        crypto::ByteView task_id);
    crypto::Result<crypto::Secret> unwrap_task_key(const Row& row);
    crypto::Result<std::vector<RevealedField>> open_secrets(const Row& row, const crypto::Secret& key);
    crypto::Result<void> append_created(const TaskIntake& intake, const Row& row, const Actor& actor);
    crypto::Result<TaskRecord> close_locked(std::string_view reference, const Actor& actor,
                                            CloseReason reason);
    crypto::Result<std::size_t> purge_pending_locked();
    crypto::Result<void> purge_one_locked(const Row& row);
    void append_best_effort(nlohmann::json event);

    std::mutex mu_;
    crypto::SealedDb db_;
    crypto::KeyWrapper& kek_;
    AuditSink& audit_;
    Clock clock_;
};

}  // namespace enclave::audit
