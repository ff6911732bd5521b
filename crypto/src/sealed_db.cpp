// SPDX-License-Identifier: Apache-2.0
// SealedDb: create, open, key handling and connection settings.
#include "crypto/sealed_db.hpp"

#include <sodium.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "crypto/wrapped_key_file.hpp"
#include "sealed_db_fs.hpp"
#include "sealed_db_internal.hpp"

namespace enclave::crypto {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kSaltSize = 16;
constexpr std::size_t kPageSize = 4096;
constexpr char kSaltDomain[] = "enclave/sealed-db/salt/v1";
constexpr char kPlainHeader[] = "SQLite format 3";  // 15 chars + NUL = the 16-byte plaintext magic
using Salt = std::array<std::uint8_t, kSaltSize>;

fs::path key_path_for(const fs::path& db_path, const SealedDbOptions& options) {
    return options.key_path.empty() ? SealedDb::default_key_path(db_path) : options.key_path;
}

fs::path sibling(const fs::path& db_path, const char* suffix) {
    return fs::path(db_path.string() + suffix);
}

/// The database salt is a function of the key (a key check value).
Salt derive_salt(const Secret& key) {
    Salt salt{};
    crypto_generichash(salt.data(), salt.size(), reinterpret_cast<const unsigned char*>(kSaltDomain),
                       sizeof(kSaltDomain) - 1, key.data(), key.size());
    return salt;
}

/// x'<64 hex key><32 hex salt>' in secure memory, for sqlite3_key().
Secret raw_key_spec(const Secret& key, const Salt& salt) {
    constexpr std::size_t kSpecSize = 2 + 2 * (kKeySize + kSaltSize) + 1;
    Secret spec(kSpecSize + 1);  // +1: sodium_bin2hex writes a NUL
    char* out = reinterpret_cast<char*>(spec.data());
    out[0] = 'x';
    out[1] = '\'';
    sodium_bin2hex(out + 2, 2 * kKeySize + 1, key.data(), kKeySize);
    sodium_bin2hex(out + 2 + 2 * kKeySize, 2 * kSaltSize + 1, salt.data(), kSaltSize);
    out[kSpecSize - 1] = '\'';
    spec.truncate(kSpecSize);
    return spec;
}

/// Reads the key file, checks it was made by `kek`, unwraps the key.
Result<Secret> load_key(const fs::path& key_path, KeyWrapper& kek) {
    auto file = WrappedKeyFile::read(key_path);
    if (!file) {
        if (file.error().code() == Errc::not_found) {
            return fail(Errc::not_found, "key file " + key_path.string() +
                                             " does not exist: the database cannot be opened without it");
        }
        return tl::unexpected(file.error());
    }
    const std::string current = kek.key_id();
    if (file->kek_id != current) {
        return fail(Errc::integrity_failure, "key file " + key_path.string() + " was wrapped by KEK '" +
                                                 file->kek_id + "', not by the KEK in use ('" + current +
                                                 "')");
    }
    auto key = kek.unwrap(file->wrapped, kKeySize);
    if (!key && key.error().code() == Errc::integrity_failure) {
        return fail(Errc::integrity_failure,
                    "key file " + key_path.string() + " does not authenticate under KEK '" + current +
                        "' (altered, or wrapped by another key with the same id)");
    }
    if (!key) {
        // The KEK itself is unusable (token gone, key destroyed, PIN locked):
        // say so, rather than blame the key file.
        return tl::unexpected(key.error().wrap("unwrapping key file " + key_path.string() +
                                               " with KEK '" + current + "'"));
    }
    return key;
}

/// Checks done on the raw file before SQLCipher sees it.
Result<void> precheck_db_file(const fs::path& db_path, const Salt& salt) {
    auto fd = detail::open_regular_readonly(db_path, "database");
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    auto size = detail::file_size(*fd, db_path);
    auto head = detail::read_prefix(*fd, kSaltSize, db_path);
    if (!size || !head) {
        return tl::unexpected(!size ? size.error() : head.error());
    }
    const std::string p = db_path.string();
    if (*size == 0) {
        return fail(Errc::integrity_failure, "database " + p + " is empty (an interrupted create?)");
    }
    if (head->size() == kSaltSize && std::memcmp(head->data(), kPlainHeader, kSaltSize) == 0) {
        return fail(Errc::integrity_failure,
                    "database " + p + " is a plaintext SQLite file, not an encrypted one: refusing it");
    }
    if (*size % kPageSize != 0) {
        return fail(Errc::integrity_failure, "database " + p + " is " + std::to_string(*size) +
                                                 " bytes, not a whole number of 4096-byte pages: "
                                                 "truncated, or not a SealedDb database");
    }
    if (!constant_time_equal(*head, salt)) {
        return fail(Errc::db_wrong_key,
                    "database " + p + " does not open with its key: the key file was made for a "
                                      "different database (the file's salt is not the key's), or the "
                                      "database file was replaced");
    }
    return {};
}

/// Maps the first read after keying: SQLCipher reports a page that fails its
/// HMAC as SQLITE_NOTADB, SQLite a short or inconsistent file as SQLITE_CORRUPT.
Error first_read_error(sqlite3* db, int rc, const fs::path& db_path) {
    const int primary = rc & 0xff;
    if (primary == SQLITE_NOTADB) {
        return Error(Errc::integrity_failure,
                     "database " + db_path.string() +
                         " does not authenticate under its own key: corrupt or altered");
    }
    if (primary == SQLITE_CORRUPT) {
        return Error(Errc::integrity_failure,
                     "database " + db_path.string() + " is corrupt or truncated (SQLITE_CORRUPT)");
    }
    return detail::sqlite_error(db, rc, "reading database " + db_path.string());
}

Result<void> check_cipher_version(sqlite3* db) {
    auto version = detail::query_text(db, "PRAGMA cipher_version");
    if (!version) {
        return tl::unexpected(version.error());
    }
    if (version->rfind("3.", 0) != 0) {
        return fail(Errc::unavailable, "SQLCipher " + *version +
                                           " is not a 3.x release: SealedDb's on-disk format is the "
                                           "3.x one (see crypto/sealed_db.hpp)");
    }
    return {};
}

/// Opens the connection, keys it, pins the cipher settings, proves the key.
Result<std::shared_ptr<detail::Connection>> connect(const fs::path& db_path, const Secret& key,
                                                    const Salt& salt) {
    if (!detail::wiping_allocator_installed()) {
        // Fail closed: without it, freed pages with plaintext stay in the heap.
        return fail(Errc::internal,
                    "SQLite was initialised before Enclave's wiping allocator could be installed");
    }
    auto conn = std::make_shared<detail::Connection>();
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_PRIVATECACHE;
    int rc = sqlite3_open_v2(db_path.c_str(), &conn->db, flags, nullptr);
    if (rc != SQLITE_OK) {
        return tl::unexpected(detail::sqlite_error(conn->db, rc, "opening database " + db_path.string()));
    }
    sqlite3_extended_result_codes(conn->db, 1);
    if (auto v = check_cipher_version(conn->db); !v) {
        return tl::unexpected(v.error());
    }
    {
        const Secret spec = raw_key_spec(key, salt);
        rc = sqlite3_key(conn->db, spec.data(), static_cast<int>(spec.size()));
    }  // spec wiped here; SQLCipher holds its own copy until it derives
    if (rc != SQLITE_OK) {
        return tl::unexpected(detail::sqlite_error(conn->db, rc, "keying database"));
    }
    // Must come after the key and before the first page is read.
    auto pinned = detail::exec_sql(conn->db,
                                   "PRAGMA cipher_use_hmac = ON;"
                                   "PRAGMA cipher_page_size = 4096;"
                                   "PRAGMA fast_kdf_iter = 2;"
                                   "PRAGMA cipher_hmac_pgno = le;",
                                   "setting cipher parameters");
    if (!pinned) {
        return tl::unexpected(pinned.error());
    }
    // The first read: SQLCipher derives its keys and wipes its copy of the spec.
    rc = sqlite3_exec(conn->db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return tl::unexpected(first_read_error(conn->db, rc, db_path));
    }
    return conn;
}

struct ExpectedSetting {
    const char* query;
    const char* expected;
};

/// Options refused before any file is touched.
Result<void> check_options(const SealedDbOptions& options) {
    if (options.cache_kib < 64 || options.cache_kib > 65536) {
        return fail(Errc::invalid_argument, "database cache_kib must be 64..65536");
    }
    return {};
}

/// SQLite settings, then a read-back of every security-relevant value.
Result<void> configure(detail::Connection& conn, const SealedDbOptions& options) {
    sqlite3* db = conn.db;
    const std::string cache = "-" + std::to_string(options.cache_kib);
    const std::string set_cache = "PRAGMA cache_size = " + cache + ";";
    if (auto ok = detail::exec_sql(db, set_cache.c_str(), "configuring database");
        !ok) {
        return ok;
    }
    if (auto v = detail::query_text(db, "PRAGMA cache_size"); !v || *v != cache) {
        return fail(Errc::db_error, "PRAGMA cache_size did not take effect");
    }
    auto set = detail::exec_sql(db,
                                "PRAGMA secure_delete = ON;"
                                "PRAGMA foreign_keys = ON;"
                                "PRAGMA temp_store = MEMORY;"
                                "PRAGMA synchronous = FULL;"
                                "PRAGMA cell_size_check = ON;",
                                "configuring database");
    if (!set) {
        return set;
    }
    auto mode = detail::query_text(db, "PRAGMA journal_mode = WAL");
    if (!mode || *mode != "wal") {
        return fail(Errc::db_error, "database did not switch to WAL journal mode");
    }
    static constexpr ExpectedSetting kChecks[] = {
        {"PRAGMA secure_delete", "1"},      {"PRAGMA foreign_keys", "1"},
        {"PRAGMA temp_store", "2"},         {"PRAGMA synchronous", "2"},
        {"PRAGMA journal_mode", "wal"},     {"PRAGMA cipher", "AES-256-CBC"},
        {"PRAGMA cipher_use_hmac", "1"},    {"PRAGMA cipher_page_size", "4096"},
        {"PRAGMA fast_kdf_iter", "2"},      {"PRAGMA cipher_hmac_pgno", "le"},
        {"PRAGMA cipher_hmac_salt_mask", "3a"},
    };
    for (const auto& check : kChecks) {
        auto value = detail::query_text(db, check.query);
        if (!value) {
            return tl::unexpected(value.error());
        }
        if (*value != check.expected) {
            return fail(Errc::db_error, std::string(check.query) + " is '" + *value + "', expected '" +
                                            check.expected + "'");
        }
    }
    const auto ms = options.busy_timeout.count();
    sqlite3_busy_timeout(db, ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms));
    sqlite3_set_authorizer(db, &detail::authorize, &conn);
    conn.guard = detail::Guard::normal;
    return {};
}

/// Makes the (already created, empty) database file a SQLCipher database
/// under `key`: SQLCipher writes page 1.
Result<std::shared_ptr<detail::Connection>> init_database(const fs::path& db_path, const Secret& key,
                                                          const SealedDbOptions& options) {
    const Salt salt = derive_salt(key);
    auto conn = connect(db_path, key, salt);
    if (!conn) {
        return conn;
    }
    if (auto cfg = configure(**conn, options); !cfg) {
        return tl::unexpected(cfg.error());
    }
    // Switching to WAL wrote page 1: the file must now start with our salt.
    auto fd = detail::open_regular_readonly(db_path, "database");
    if (!fd) {
        return tl::unexpected(fd.error());
    }
    auto head = detail::read_prefix(*fd, kSaltSize, db_path);
    if (!head || !constant_time_equal(*head, salt)) {
        return fail(Errc::internal, "new database " + db_path.string() + " does not start with its salt");
    }
    if (auto synced = detail::sync_parent_dir(db_path); !synced) {
        return tl::unexpected(synced.error());
    }
    return conn;
}

void remove_created(const fs::path& db_path, const fs::path& key_path) {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        ::unlink(sibling(db_path, suffix).c_str());
    }
    ::unlink(key_path.c_str());
}

}  // namespace

fs::path SealedDb::default_key_path(const fs::path& db_path) { return sibling(db_path, ".key"); }

SealedDb::SealedDb(std::shared_ptr<detail::Connection> conn, fs::path path) noexcept
    : conn_(std::move(conn)), path_(std::move(path)) {}
SealedDb::SealedDb(SealedDb&&) noexcept = default;
SealedDb& SealedDb::operator=(SealedDb&&) noexcept = default;
SealedDb::~SealedDb() = default;

Result<SealedDb> SealedDb::create(const fs::path& db_path, KeyWrapper& kek,
                                  const SealedDbOptions& options) {
    if (auto ok = check_options(options); !ok) return tl::unexpected(ok.error());
    const fs::path key_path = key_path_for(db_path, options);
    for (const fs::path& p : {db_path, key_path, sibling(db_path, "-wal"), sibling(db_path, "-shm"),
                              sibling(db_path, "-journal")}) {
        if (detail::path_exists(p)) {
            return fail(Errc::already_exists, p.string() + " already exists: refusing to create a "
                                                           "database over it");
        }
    }
    Secret key = Secret::random(kKeySize);
    auto wrapped = kek.wrap(key);
    if (!wrapped) {
        return tl::unexpected(wrapped.error().wrap("wrapping the new database key"));
    }
    // The key file first: a crash after it leaves an orphan key file (create
    // then refuses until an operator removes it), never a database whose key
    // was lost.
    if (auto written = WrappedKeyFile{kek.key_id(), std::move(*wrapped)}.write_new(key_path); !written) {
        return tl::unexpected(written.error());
    }
    // The database file is created here, empty, 0600 and O_EXCL, so SQLite
    // never creates it with its default mode and we never remove a file that
    // someone else made between the checks above and now.
    auto fd = detail::create_exclusive(db_path, "database");
    if (!fd || !fd->close()) {
        Error err = !fd ? fd.error() : Error(Errc::io_error, "cannot close new database " + db_path.string());
        if (fd) {
            ::unlink(db_path.c_str());
        }
        ::unlink(key_path.c_str());
        return tl::unexpected(std::move(err));
    }
    auto conn = init_database(db_path, key, options);
    key = Secret();
    if (!conn) {
        remove_created(db_path, key_path);
        return tl::unexpected(conn.error().wrap("creating database " + db_path.string()));
    }
    return SealedDb(std::move(*conn), db_path);
}

Result<SealedDb> SealedDb::open(const fs::path& db_path, KeyWrapper& kek, const SealedDbOptions& options) {
    if (auto ok = check_options(options); !ok) return tl::unexpected(ok.error());
    if (!detail::path_exists(db_path)) {
        return fail(Errc::not_found, "database " + db_path.string() + " does not exist");
    }
    auto key = load_key(key_path_for(db_path, options), kek);
    if (!key) {
        return tl::unexpected(key.error());
    }
    const Salt salt = derive_salt(*key);
    if (auto pre = precheck_db_file(db_path, salt); !pre) {
        return tl::unexpected(pre.error());
    }
    auto conn = connect(db_path, *key, salt);
    key = Secret();  // wipe now: SQLCipher has derived its own keys
    if (!conn) {
        return tl::unexpected(conn.error());
    }
    if (auto cfg = configure(**conn, options); !cfg) {
        return tl::unexpected(cfg.error());
    }
    SealedDb db(std::move(*conn), db_path);
    if (options.verify_on_open) {
        if (auto ok = db.quick_check(); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return db;
}

Result<SealedDb> SealedDb::open_or_create(const fs::path& db_path, KeyWrapper& kek,
                                          const SealedDbOptions& options) {
    if (!detail::path_exists(db_path) && !detail::path_exists(key_path_for(db_path, options))) {
        return create(db_path, kek, options);
    }
    return open(db_path, kek, options);
}

Result<void> SealedDb::rewrap_key(const fs::path& db_path, KeyWrapper& current, KeyWrapper& next,
                                  const SealedDbOptions& options) {
    const fs::path key_path = key_path_for(db_path, options);
    auto key = load_key(key_path, current);
    if (!key) {
        return tl::unexpected(key.error());
    }
    if (auto pre = precheck_db_file(db_path, derive_salt(*key)); !pre) {
        return tl::unexpected(pre.error());
    }
    auto wrapped = next.wrap(*key);
    if (!wrapped) {
        return tl::unexpected(wrapped.error().wrap("wrapping the database key under the new KEK"));
    }
    return WrappedKeyFile{next.key_id(), std::move(*wrapped)}.replace(key_path);
}

}  // namespace enclave::crypto
