// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internals shared by the task_store*.cpp files: the schema, the row type,
// per-task sealing and small statement helpers.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "audit/task_store.hpp"
#include "crypto/bytes.hpp"
#include "crypto/encoding.hpp"
#include "crypto/result.hpp"
#include "crypto/sealed_db.hpp"
#include "crypto/secret.hpp"

namespace enclave::audit {

/// One row of `tasks`, as the store works with it.
struct TaskStore::Row {
    std::int64_t rowid = 0;
    crypto::Bytes task_id;  // 16 random bytes
    std::string reference;
    TaskKind kind{};
    UtcTime start{};
    UtcTime end{};
    std::optional<std::string> endpoint;
    TaskState state{};
    UtcTime created_at{};
    std::string created_by;  // actor JSON
    std::optional<UtcTime> closed_at;
    std::optional<std::string> closed_by;
    std::optional<CloseReason> close_reason;
    std::optional<UtcTime> purged_at;
    std::int64_t destroyed_secrets = 0;  // task_secrets rows deleted by close
    std::int64_t destroyed_keys = 0;     // task_keys rows deleted by close
};

namespace detail {

inline constexpr std::size_t kTaskIdBytes = 16;
inline constexpr std::size_t kTaskKeyBytes = 32;

/// Schema steps of tasks.db (SealedDb::migrate).
std::span<const crypto::Migration> task_schema();

/// nonce (24) || XChaCha20-Poly1305(key, nonce, AD, plaintext), with
/// AD = "enclave/task-secret/v1" 0x00 || task id (16) || u32 index (BE) || what.
crypto::Bytes seal_task_secret(const crypto::Secret& key, crypto::ByteView task_id, std::size_t index,
                               std::string_view what, crypto::ByteView plaintext);
/// integrity_failure when `sealed` was not made with this key for this
/// task, index and purpose (or was altered).
crypto::Result<crypto::Secret> open_task_secret(const crypto::Secret& key, crypto::ByteView task_id,
                                                std::size_t index, std::string_view what,
                                                crypto::ByteView sealed);

inline std::int64_t to_us(UtcTime t) noexcept { return t.time_since_epoch().count(); }
inline UtcTime from_us(std::int64_t us) noexcept { return UtcTime{std::chrono::microseconds{us}}; }

// Binding by C++ type (1-based indexes, in order).
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, std::int64_t v) { return s.bind_int64(i, v); }
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, std::string_view v) { return s.bind_text(i, v); }
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, const char* v) {
    return s.bind_text(i, v);
}
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, const std::string& v) {
    return s.bind_text(i, v);
}
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, crypto::ByteView v) { return s.bind_blob(i, v); }
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, const crypto::Bytes& v) {
    return s.bind_blob(i, v);
}
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, const std::optional<std::string>& v) {
    return v ? s.bind_text(i, *v) : s.bind_null(i);
}
inline crypto::Result<void> bind_one(crypto::Statement& s, int i, std::nullptr_t) { return s.bind_null(i); }

/// The members every task event carries: event name, reference, task id (hex).
inline nlohmann::json task_event(std::string_view name, const std::string& reference, crypto::ByteView task_id) {
    return {{"event", name}, {"reference", reference}, {"task_id", crypto::hex_encode(task_id)}};
}

/// Prepares `sql` and binds `args` to ?1, ?2, ...
template <class... Args>
crypto::Result<crypto::Statement> prepare_bound(crypto::SealedDb& db, std::string_view sql, const Args&... args) {
    auto st = db.prepare(sql);
    if (!st) return st;
    [[maybe_unused]] int i = 0;
    crypto::Result<void> ok;
    ((ok = ok ? bind_one(*st, ++i, args) : ok), ...);
    if (!ok) return tl::unexpected(ok.error());
    return st;
}

/// Prepares, binds and runs to completion.
template <class... Args>
crypto::Result<void> run_sql(crypto::SealedDb& db, std::string_view sql, const Args&... args) {
    auto st = prepare_bound(db, sql, args...);
    if (!st) return tl::unexpected(st.error());
    return st->run();
}

}  // namespace detail
}  // namespace enclave::audit
