// SPDX-License-Identifier: Apache-2.0
// Statement and Transaction of SealedDb.
#include <cstring>
#include <limits>
#include <stdexcept>

#include "crypto/sealed_db.hpp"
#include "sealed_db_internal.hpp"

namespace enclave::crypto {

void Statement::Finalizer::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

Statement::Statement(std::shared_ptr<detail::Connection> conn, sqlite3_stmt* stmt) noexcept
    : conn_(std::move(conn)), stmt_(stmt) {}

Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;
Statement::~Statement() = default;

namespace {

Result<void> bind_result(sqlite3_stmt* stmt, int rc, int index) {
    if (rc == SQLITE_OK) {
        return {};
    }
    return tl::unexpected(
        detail::sqlite_error(sqlite3_db_handle(stmt), rc, "binding parameter " + std::to_string(index)));
}

// A non-null pointer for empty values: SQLite binds NULL for a null pointer.
const char kEmpty[1] = {0};

}  // namespace

Result<void> Statement::bind_int64(int index, std::int64_t value) {
    return bind_result(stmt_.get(), sqlite3_bind_int64(stmt_.get(), index, value), index);
}

Result<void> Statement::bind_text(int index, std::string_view value) {
    const char* data = value.empty() ? kEmpty : value.data();
    return bind_result(stmt_.get(),
                       sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT,
                                           SQLITE_UTF8),
                       index);
}

Result<void> Statement::bind_blob(int index, ByteView value) {
    const void* data = value.empty() ? static_cast<const void*>(kEmpty) : value.data();
    return bind_result(stmt_.get(),
                       sqlite3_bind_blob64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT),
                       index);
}

Result<void> Statement::bind_null(int index) {
    return bind_result(stmt_.get(), sqlite3_bind_null(stmt_.get(), index), index);
}

Result<bool> Statement::step() {
    has_row_ = false;
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) {
        has_row_ = true;
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return tl::unexpected(detail::sqlite_error(conn_->db, rc, "executing statement"));
}

Result<void> Statement::run() {
    for (;;) {
        auto more = step();
        if (!more) {
            return tl::unexpected(more.error());
        }
        if (!*more) {
            return {};
        }
    }
}

void Statement::reset() noexcept {
    has_row_ = false;
    // sqlite3_reset repeats the last step's error; step() already reported it.
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

int Statement::column_count() const noexcept { return sqlite3_column_count(stmt_.get()); }

void Statement::require_row(int col) const {
    if (!has_row_) {
        throw std::logic_error("Statement column read without a current row");
    }
    if (col < 0 || col >= column_count()) {
        throw std::logic_error("Statement column index out of range");
    }
}

ColumnType Statement::column_type(int col) const {
    require_row(col);
    switch (sqlite3_column_type(stmt_.get(), col)) {
        case SQLITE_INTEGER: return ColumnType::integer;
        case SQLITE_FLOAT: return ColumnType::real;
        case SQLITE_TEXT: return ColumnType::text;
        case SQLITE_BLOB: return ColumnType::blob;
        default: return ColumnType::null;
    }
}

bool Statement::column_is_null(int col) const { return column_type(col) == ColumnType::null; }

std::int64_t Statement::column_int64(int col) const {
    require_row(col);
    return sqlite3_column_int64(stmt_.get(), col);
}

std::string Statement::column_text(int col) const {
    require_row(col);
    // Pointer first, then the size (SQLite's documented order).
    const auto* text = sqlite3_column_text(stmt_.get(), col);
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col));
    if (text == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(text), size);
}

Bytes Statement::column_blob(int col) const {
    require_row(col);
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col));
    if (data == nullptr) {
        return {};
    }
    return Bytes(data, data + size);
}

Secret Statement::column_secret(int col) const {
    require_row(col);
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col));
    if (data == nullptr) {
        return Secret();
    }
    return Secret::copy_of(ByteView(data, size));
}

Transaction::Transaction(std::shared_ptr<detail::Connection> conn) noexcept : conn_(std::move(conn)) {}

Transaction::Transaction(Transaction&& other) noexcept
    : conn_(std::move(other.conn_)), active_(std::exchange(other.active_, false)) {}

Transaction::~Transaction() {
    if (active_) {
        (void)rollback();
    }
}

Result<void> Transaction::commit() {
    if (!active_) {
        return fail(Errc::invalid_argument, "transaction is no longer open");
    }
    auto r = detail::exec_sql(conn_->db, "COMMIT", "committing transaction");
    if (r) {
        active_ = false;
    }
    return r;
}

Result<void> Transaction::rollback() {
    if (!active_) {
        return fail(Errc::invalid_argument, "transaction is no longer open");
    }
    active_ = false;
    // An error such as SQLITE_FULL may already have rolled back; then there
    // is nothing left to undo.
    if (sqlite3_get_autocommit(conn_->db) != 0) {
        return {};
    }
    return detail::exec_sql(conn_->db, "ROLLBACK", "rolling back transaction");
}

}  // namespace enclave::crypto
