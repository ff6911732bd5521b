// SPDX-License-Identifier: Apache-2.0
#pragma once
// Private to the sealed_db*.cpp files: the shared connection object, the
// SQLite error mapping and small query helpers. Not a public header.

// sqlite3_key() is declared only when SQLITE_HAS_CODEC is defined.
#ifndef SQLITE_HAS_CODEC
#define SQLITE_HAS_CODEC 1
#endif
#include <sqlcipher/sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.hpp"

namespace enclave::crypto::detail {

/// What the authorizer lets SQL do (see the header comment of sealed_db.hpp).
enum class Guard {
    configuring,  ///< inside SealedDb: every pragma allowed
    normal,       ///< caller SQL: security settings locked
    migrating,    ///< a migration step: additionally no transaction control, no pragma assignment
};

/// The connection, shared by SealedDb, its Statements and Transactions, so
/// that none of them can use a closed handle. Closed by the last owner.
struct Connection {
    sqlite3* db = nullptr;
    Guard guard = Guard::configuring;

    Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() {
        if (db != nullptr) {
            sqlite3_close_v2(db);
        }
    }
};

/// Sets `guard` for a scope and restores the previous one.
class GuardScope {
public:
    GuardScope(Connection& conn, Guard guard) noexcept : conn_(conn), saved_(conn.guard) {
        conn_.guard = guard;
    }
    ~GuardScope() { conn_.guard = saved_; }
    GuardScope(const GuardScope&) = delete;
    GuardScope& operator=(const GuardScope&) = delete;

private:
    Connection& conn_;
    Guard saved_;
};

/// True when SQLite allocates through the wiping allocator (sealed_db_memory.cpp).
bool wiping_allocator_installed() noexcept;
/// Blocks handed out by the wiping allocator so far (for tests).
std::uint64_t wiping_allocator_allocations() noexcept;

/// "SQLITE_BUSY", "SQLITE_CONSTRAINT_UNIQUE", ... (extended names where we
/// know them, else the primary name).
std::string sqlite_code_name(int rc);

/// Errc::db_error "<what>: <SQLITE_NAME> (<SQLite message>)". SQLite's
/// messages name tables, columns and SQL tokens, never bound values.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

/// The installed sqlite3_set_authorizer callback.
int authorize(void* user, int action, const char* arg1, const char* arg2, const char* arg3,
              const char* arg4);

/// Runs a statement that returns one row and gives column 0 as text.
Result<std::string> query_text(sqlite3* db, const char* sql);

/// sqlite3_exec of a NUL-terminated SQL text, mapped to Result.
Result<void> exec_sql(sqlite3* db, const char* sql, std::string_view what);

}  // namespace enclave::crypto::detail
