// SPDX-License-Identifier: Apache-2.0
// SQLite plumbing shared by the SealedDb sources: error names, the
// authorizer, one-row queries.
#include <array>
#include <cctype>
#include <utility>

#include "sealed_db_internal.hpp"

namespace enclave::crypto::detail {
namespace {

constexpr std::array<std::pair<int, const char*>, 31> kPrimaryNames{{
    {SQLITE_OK, "SQLITE_OK"},         {SQLITE_ERROR, "SQLITE_ERROR"},
    {SQLITE_INTERNAL, "SQLITE_INTERNAL"}, {SQLITE_PERM, "SQLITE_PERM"},
    {SQLITE_ABORT, "SQLITE_ABORT"},   {SQLITE_BUSY, "SQLITE_BUSY"},
    {SQLITE_LOCKED, "SQLITE_LOCKED"}, {SQLITE_NOMEM, "SQLITE_NOMEM"},
    {SQLITE_READONLY, "SQLITE_READONLY"}, {SQLITE_INTERRUPT, "SQLITE_INTERRUPT"},
    {SQLITE_IOERR, "SQLITE_IOERR"},   {SQLITE_CORRUPT, "SQLITE_CORRUPT"},
    {SQLITE_NOTFOUND, "SQLITE_NOTFOUND"}, {SQLITE_FULL, "SQLITE_FULL"},
    {SQLITE_CANTOPEN, "SQLITE_CANTOPEN"}, {SQLITE_PROTOCOL, "SQLITE_PROTOCOL"},
    {SQLITE_EMPTY, "SQLITE_EMPTY"},   {SQLITE_SCHEMA, "SQLITE_SCHEMA"},
    {SQLITE_TOOBIG, "SQLITE_TOOBIG"}, {SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT"},
    {SQLITE_MISMATCH, "SQLITE_MISMATCH"}, {SQLITE_MISUSE, "SQLITE_MISUSE"},
    {SQLITE_NOLFS, "SQLITE_NOLFS"},   {SQLITE_AUTH, "SQLITE_AUTH"},
    {SQLITE_FORMAT, "SQLITE_FORMAT"}, {SQLITE_RANGE, "SQLITE_RANGE"},
    {SQLITE_NOTADB, "SQLITE_NOTADB"}, {SQLITE_NOTICE, "SQLITE_NOTICE"},
    {SQLITE_WARNING, "SQLITE_WARNING"}, {SQLITE_ROW, "SQLITE_ROW"},
    {SQLITE_DONE, "SQLITE_DONE"},
}};

constexpr std::array<std::pair<int, const char*>, 9> kExtendedNames{{
    {SQLITE_CONSTRAINT_UNIQUE, "SQLITE_CONSTRAINT_UNIQUE"},
    {SQLITE_CONSTRAINT_PRIMARYKEY, "SQLITE_CONSTRAINT_PRIMARYKEY"},
    {SQLITE_CONSTRAINT_FOREIGNKEY, "SQLITE_CONSTRAINT_FOREIGNKEY"},
    {SQLITE_CONSTRAINT_NOTNULL, "SQLITE_CONSTRAINT_NOTNULL"},
    {SQLITE_CONSTRAINT_CHECK, "SQLITE_CONSTRAINT_CHECK"},
    {SQLITE_BUSY_SNAPSHOT, "SQLITE_BUSY_SNAPSHOT"},
    {SQLITE_BUSY_RECOVERY, "SQLITE_BUSY_RECOVERY"},
    {SQLITE_READONLY_DBMOVED, "SQLITE_READONLY_DBMOVED"},
    {SQLITE_IOERR_FSYNC, "SQLITE_IOERR_FSYNC"},
}};

bool iequals(const char* a, std::string_view b) {
    if (a == nullptr) {
        return false;
    }
    std::size_t i = 0;
    for (; a[i] != '\0'; ++i) {
        if (i >= b.size() || std::tolower(static_cast<unsigned char>(a[i])) != b[i]) {
            return false;
        }
    }
    return i == b.size();
}

bool istarts_with(const char* a, std::string_view prefix) {
    if (a == nullptr) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (a[i] == '\0' || std::tolower(static_cast<unsigned char>(a[i])) != prefix[i]) {
            return false;
        }
    }
    return true;
}

/// Pragmas that hand out or change the key, whatever their argument.
bool is_key_pragma(const char* name) {
    return iequals(name, "key") || iequals(name, "rekey") || iequals(name, "hexkey") ||
           iequals(name, "hexrekey") || iequals(name, "cipher_migrate");
}

/// Pragmas whose value SealedDb sets and callers may only read.
bool is_locked_pragma(const char* name) {
    static constexpr std::array<std::string_view, 11> kLocked{
        "journal_mode",  "secure_delete", "foreign_keys", "temp_store",   "temp_store_directory",
        "synchronous",   "cell_size_check", "user_version", "writable_schema", "locking_mode",
        "query_only"};
    for (auto locked : kLocked) {
        if (iequals(name, locked)) {
            return true;
        }
    }
    return istarts_with(name, "cipher");
}

int authorize_pragma(Guard guard, const char* name, const char* value) {
    if (guard == Guard::configuring) {
        return SQLITE_OK;
    }
    if (is_key_pragma(name)) {
        return SQLITE_DENY;
    }
    const bool assigns = value != nullptr;
    if (assigns && (guard == Guard::migrating || is_locked_pragma(name))) {
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

}  // namespace

std::string sqlite_code_name(int rc) {
    for (const auto& [code, name] : kExtendedNames) {
        if (code == rc) {
            return name;
        }
    }
    for (const auto& [code, name] : kPrimaryNames) {
        if (code == (rc & 0xff)) {
            return rc == code ? std::string(name) : std::string(name) + "[" + std::to_string(rc) + "]";
        }
    }
    return "SQLITE_UNKNOWN[" + std::to_string(rc) + "]";
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    std::string ctx(what);
    ctx += ": ";
    ctx += sqlite_code_name(rc);
    const char* msg = nullptr;
    if (db != nullptr && (sqlite3_extended_errcode(db) & 0xff) == (rc & 0xff)) {
        msg = sqlite3_errmsg(db);
    } else {
        msg = sqlite3_errstr(rc);
    }
    if (msg != nullptr && *msg != '\0') {
        ctx += " (";
        ctx += msg;
        ctx += ")";
    }
    return Error(Errc::db_error, std::move(ctx));
}

int authorize(void* user, int action, const char* arg1, const char* arg2, const char* /*arg3*/,
              const char* /*arg4*/) {
    const auto* conn = static_cast<const Connection*>(user);
    switch (action) {
        case SQLITE_ATTACH:
        case SQLITE_DETACH:
            // Attaching a plaintext database is the one way SQL could copy
            // decrypted rows out of this file.
            return SQLITE_DENY;
        case SQLITE_PRAGMA:
            return authorize_pragma(conn->guard, arg1, arg2);
        case SQLITE_TRANSACTION:
            return conn->guard == Guard::migrating ? SQLITE_DENY : SQLITE_OK;
        case SQLITE_FUNCTION:
            return iequals(arg2, "sqlcipher_export") ? SQLITE_DENY : SQLITE_OK;
        default:
            return SQLITE_OK;
    }
}

Result<std::string> query_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(raw);
        return tl::unexpected(sqlite_error(db, rc, sql));
    }
    rc = sqlite3_step(raw);
    std::string out;
    if (rc == SQLITE_ROW) {
        const auto* text = sqlite3_column_text(raw, 0);
        if (text != nullptr) {
            out.assign(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(raw, 0)));
        }
    } else if (rc != SQLITE_DONE) {
        Error err = sqlite_error(db, rc, sql);
        sqlite3_finalize(raw);
        return tl::unexpected(std::move(err));
    }
    sqlite3_finalize(raw);
    return out;
}

Result<void> exec_sql(sqlite3* db, const char* sql, std::string_view what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return tl::unexpected(sqlite_error(db, rc, what));
    }
    return {};
}

}  // namespace enclave::crypto::detail
