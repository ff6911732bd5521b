// SPDX-License-Identifier: Apache-2.0
// The audit log's database: schema, the lock file, and the verification
// that open() runs over everything stored.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "audit_log_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

// Triggers make the tables append-only for every SQL this code could issue
// by mistake. (Whoever holds the key can drop them: that is what the hash
// chain and the signed checkpoints are for.)
constexpr crypto::Migration kSchema[] = {
    {1,
     "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
     "CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry TEXT NOT NULL);"
     "CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL,"
     "  note TEXT NOT NULL, created_ms INTEGER NOT NULL);"
     "CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries"
     "  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
     "CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries"
     "  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
     "CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints"
     "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
     "CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints"
     "  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"},
};

}  // namespace

namespace detail {

Result<LockFile> LockFile::acquire(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return fail(Errc::io_error, "cannot open lock file " + path.string() + ": " +
                                        std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) {
            return fail(Errc::unavailable,
                        "the audit log " + path.string() + " is open in another AuditLog");
        }
        return fail(Errc::io_error, "cannot lock " + path.string() + ": " + std::strerror(err));
    }
    return LockFile(fd);
}

LockFile::~LockFile() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

/// The stored checkpoints, ascending size (the read connection or the writer's).
Result<std::vector<LogCheckpoint>> read_checkpoints(crypto::SealedDb& db) {
    auto stmt = db.prepare("SELECT size, root, note, created_ms FROM checkpoints ORDER BY size");
    if (!stmt) return tl::unexpected(stmt.error());
    std::vector<LogCheckpoint> out;
    for (;;) {
        auto row = stmt->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        LogCheckpoint cp;
        const std::int64_t size = stmt->column_int64(0);
        const crypto::Bytes root = stmt->column_blob(1);
        if (size < 0 || root.size() != cp.root.size()) {
            return fail(Errc::integrity_failure, "audit log: a stored checkpoint row is malformed "
                                                 "(size " + std::to_string(size) + ")");
        }
        cp.size = static_cast<std::uint64_t>(size);
        std::copy(root.begin(), root.end(), cp.root.begin());
        cp.note = stmt->column_text(2);
        cp.created = std::chrono::system_clock::time_point(
            std::chrono::milliseconds(stmt->column_int64(3)));
        out.push_back(std::move(cp));
    }
    return out;
}

}  // namespace detail

Result<void> AuditLog::Impl::prepare_schema() {
    auto version = writer_db.migrate(kSchema);
    if (!version) return tl::unexpected(version.error().wrap("audit log schema"));
    auto stmt = writer_db.prepare("SELECT value FROM meta WHERE name = 'origin'");
    if (!stmt) return tl::unexpected(stmt.error());
    auto row = stmt->step();
    if (!row) return tl::unexpected(row.error());
    if (*row) {
        if (stmt->column_text(0) != options.origin) {
            return fail(Errc::integrity_failure,
                        "audit log: it was created with another origin than '" + options.origin +
                            "'; an origin is fixed for the life of a log");
        }
        return {};
    }
    auto insert = writer_db.prepare("INSERT INTO meta (name, value) VALUES ('origin', ?)");
    if (!insert) return tl::unexpected(insert.error());
    if (auto ok = insert->bind_text(1, options.origin); !ok) return ok;
    return insert->run();
}

}  // namespace enclave::audit
