// SPDX-License-Identifier: Apache-2.0
// PskStore (appliance/include/appliance/psk_store.hpp): TLS PSKs of LEA
// endpoints in DIR/state/psks.db, each value wrapped by the KEK on its own.
//
// Only wrapped values reach SQLite: SealedDb keeps bound and read values in
// its (wiping) heap as plaintext, so a value is never bound in clear. A value
// is unwrapped into a Secret only in find()/current(), outside the lock.
#include "appliance/psk_store.hpp"

#include <array>

#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using nlohmann::json;

namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE psks (
    id          INTEGER PRIMARY KEY,
    identity    TEXT NOT NULL UNIQUE,
    endpoint    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    wrapped     BLOB NOT NULL,
    size        INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    retires     INTEGER NOT NULL DEFAULT 0,
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX psks_endpoint ON psks(endpoint, id);
)sql";
constexpr std::array<crypto::Migration, 1> kSchema{{{1, kSchemaV1}}};

constexpr std::int64_t kMaxOverlapSeconds = 30 * 24 * 3600;
constexpr std::string_view kColumns =
    "identity, endpoint, fingerprint, created, expires, retires, revoked";

/// As tasks and the endpoint store name endpoints: [a-z0-9][a-z0-9-]{0,62}.
bool endpoint_name_ok(std::string_view s) noexcept {
    if (s.empty() || s.size() > 63 || s.front() == '-') return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string fingerprint_of(const crypto::Secret& key) {
    crypto::Bytes d = crypto::digest(crypto::HashAlg::sha256, key.view());
    std::string hex = crypto::hex_encode(crypto::ByteView(d.data(), 8));
    crypto::wipe(crypto::MutableByteView(d.data(), d.size()));
    return hex;
}

/// The checks add() and rotate() share. Errors name the identity only when
/// it is valid (an invalid one may hold control characters).
Result<void> check_new(std::string_view endpoint, std::string_view identity,
                       const crypto::Secret& key, std::int64_t expires, std::int64_t now) {
    if (!endpoint_name_ok(endpoint)) {
        return fail(Errc::invalid_argument,
                    "psk endpoint: 1..63 of a-z, 0-9 and '-', not starting with '-'");
    }
    if (!valid_psk_identity(identity)) {
        return fail(Errc::invalid_argument,
                    "psk identity: 1..128 printable ASCII characters without spaces");
    }
    if (key.size() < kMinPskBytes || key.size() > kMaxPskBytes) {
        return fail(Errc::invalid_argument, "psk " + std::string(identity) + ": the key must be " +
                                                std::to_string(kMinPskBytes) + ".." +
                                                std::to_string(kMaxPskBytes) + " bytes");
    }
    if (expires != 0 && expires <= now) {
        return fail(Errc::invalid_argument,
                    "psk " + std::string(identity) + ": expires must be in the future (or 0)");
    }
    return {};
}

PskInfo read_info(const crypto::Statement& st) {
    PskInfo info;
    info.identity = st.column_text(0);
    info.endpoint = st.column_text(1);
    info.fingerprint = st.column_text(2);
    info.created = st.column_int64(3);
    info.expires = st.column_int64(4);
    info.retires = st.column_int64(5);
    info.revoked = st.column_int64(6);
    return info;
}

/// Inserts the new row (caller holds the lock and, for rotate, a transaction).
Result<void> insert(crypto::SealedDb& db, const PskInfo& info, const crypto::Bytes& wrapped,
                    std::size_t size) {
    auto used = db.prepare("SELECT 1 FROM psks WHERE identity = ?1");
    if (!used) return tl::unexpected(used.error());
    if (auto r = used->bind_text(1, info.identity); !r) return r;
    auto row = used->step();
    if (!row) return tl::unexpected(row.error());
    if (*row) {
        return fail(Errc::already_exists,
                    "psk identity " + info.identity + " was already used (identities are never reused)");
    }
    auto st = db.prepare(
        "INSERT INTO psks(identity, endpoint, fingerprint, wrapped, size, created, expires) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return tl::unexpected(st.error());
    for (auto r : {st->bind_text(1, info.identity), st->bind_text(2, info.endpoint),
                   st->bind_text(3, info.fingerprint), st->bind_blob(4, wrapped),
                   st->bind_int64(5, static_cast<std::int64_t>(size)),
                   st->bind_int64(6, info.created), st->bind_int64(7, info.expires)}) {
        if (!r) return r;
    }
    return st->run();
}

/// A row of find()/current() before unwrapping.
struct WrappedRow {
    PskInfo info;
    crypto::Bytes wrapped;
    std::size_t size = 0;
};

Result<std::optional<WrappedRow>> read_wrapped(crypto::Statement& st) {
    auto row = st.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::optional<WrappedRow>{};
    WrappedRow w;
    w.info = read_info(st);
    w.wrapped = st.column_blob(7);
    const std::int64_t size = st.column_int64(8);
    if (size < static_cast<std::int64_t>(kMinPskBytes) ||
        size > static_cast<std::int64_t>(kMaxPskBytes)) {
        return fail(Errc::integrity_failure, "psk " + w.info.identity + ": stored size out of range");
    }
    w.size = static_cast<std::size_t>(size);
    return std::optional<WrappedRow>(std::move(w));
}

}  // namespace

bool valid_psk_identity(std::string_view identity) noexcept {
    if (identity.empty() || identity.size() > kMaxPskIdentityChars) return false;
    for (const char c : identity) {
        if (c <= 0x20 || c >= 0x7f) return false;  // printable, no space (signed char: <0 too)
    }
    return true;
}

json to_json(const PskInfo& info) {
    return json{{"identity", info.identity},   {"endpoint", info.endpoint},
                {"fingerprint", info.fingerprint}, {"created", info.created},
                {"expires", info.expires},     {"retires", info.retires},
                {"revoked", info.revoked}};
}

Result<std::unique_ptr<PskStore>> PskStore::open(const std::filesystem::path& db,
                                                 crypto::KeyWrapper& kek) {
    crypto::SealedDbOptions options;
    options.cache_kib = crypto::kSmallStoreCacheKib;
    auto sealed = crypto::SealedDb::open_or_create(db, kek, options);
    if (!sealed) return tl::unexpected(sealed.error().wrap("psk store"));
    if (auto v = sealed->migrate(kSchema); !v) {
        return tl::unexpected(v.error().wrap("psk store schema"));
    }
    return std::unique_ptr<PskStore>(new PskStore(std::move(*sealed), kek));
}

namespace {

/// add() and rotate(): the new row and, with `overlap_s`, the retirement of
/// the endpoint's other usable PSKs, in one transaction under `mu`.
Result<PskInfo> store_new(crypto::SealedDb& db, crypto::KeyWrapper& kek, std::mutex& mu,
                          std::uint64_t& generation, PskInfo info, const crypto::Secret& key,
                          std::optional<std::int64_t> overlap_s) {
    auto wrapped = kek.wrap(key);  // may be a token call: outside the lock
    if (!wrapped) return tl::unexpected(wrapped.error().wrap("psk " + info.identity + ": wrap"));
    std::lock_guard lock(mu);
    auto tx = db.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    if (auto r = insert(db, info, *wrapped, key.size()); !r) return tl::unexpected(r.error());
    if (overlap_s) {
        // Every other PSK of the endpoint usable now retires at `until`,
        // unless it retires or expires by then anyway.
        const std::int64_t until = info.created + *overlap_s;
        auto st = db.prepare(
            "UPDATE psks SET retires = ?1 WHERE endpoint = ?2 AND identity <> ?3 "
            "AND revoked = 0 AND (expires = 0 OR expires > ?4) AND (retires = 0 OR retires > ?4) "
            "AND (expires = 0 OR expires > ?1) AND (retires = 0 OR retires > ?1)");
        if (!st) return tl::unexpected(st.error());
        for (auto r : {st->bind_int64(1, until), st->bind_text(2, info.endpoint),
                       st->bind_text(3, info.identity), st->bind_int64(4, info.created)}) {
            if (!r) return tl::unexpected(r.error());
        }
        if (auto r = st->run(); !r) return tl::unexpected(r.error());
    }
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    ++generation;
    return info;
}

}  // namespace

Result<PskInfo> PskStore::add(std::string_view endpoint, std::string_view identity,
                              const crypto::Secret& key, std::int64_t expires, std::int64_t now) {
    if (auto ok = check_new(endpoint, identity, key, expires, now); !ok) {
        return tl::unexpected(ok.error());
    }
    PskInfo info{std::string(identity), std::string(endpoint), fingerprint_of(key), now, expires,
                 0, 0};
    return store_new(db_, kek_, mu_, generation_, std::move(info), key, std::nullopt);
}

Result<PskInfo> PskStore::rotate(std::string_view endpoint, std::string_view identity,
                                 const crypto::Secret& key, std::int64_t expires,
                                 std::int64_t overlap_s, std::int64_t now) {
    if (auto ok = check_new(endpoint, identity, key, expires, now); !ok) {
        return tl::unexpected(ok.error());
    }
    if (overlap_s < 0 || overlap_s > kMaxOverlapSeconds) {
        return fail(Errc::invalid_argument, "psk rotation overlap: 0..30 days");
    }
    PskInfo info{std::string(identity), std::string(endpoint), fingerprint_of(key), now, expires,
                 0, 0};
    return store_new(db_, kek_, mu_, generation_, std::move(info), key, overlap_s);
}

Result<PskInfo> PskStore::revoke(std::string_view identity, std::int64_t now) {
    if (!valid_psk_identity(identity)) {
        return fail(Errc::not_found, "no psk with that identity (not a valid identity)");
    }
    std::lock_guard lock(mu_);
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return tl::unexpected(tx.error());
    auto st = db_.prepare("UPDATE psks SET revoked = ?1 WHERE identity = ?2 AND revoked = 0");
    if (!st) return tl::unexpected(st.error());
    if (auto r = st->bind_int64(1, now); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_text(2, identity); !r) return tl::unexpected(r.error());
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    const bool changed = db_.changes() > 0;
    auto get = db_.prepare("SELECT " + std::string(kColumns) + " FROM psks WHERE identity = ?1");
    if (!get) return tl::unexpected(get.error());
    if (auto r = get->bind_text(1, identity); !r) return tl::unexpected(r.error());
    auto row = get->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return fail(Errc::not_found, "no psk with identity " + std::string(identity));
    PskInfo info = read_info(*get);
    get->reset();
    if (auto r = tx->commit(); !r) return tl::unexpected(r.error());
    if (changed) ++generation_;
    return info;
}

Result<std::vector<PskInfo>> PskStore::list() {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " + std::string(kColumns) + " FROM psks ORDER BY id");
    if (!st) return tl::unexpected(st.error());
    std::vector<PskInfo> out;
    for (;;) {
        auto row = st->step();
        if (!row) return tl::unexpected(row.error());
        if (!*row) break;
        out.push_back(read_info(*st));
    }
    return out;
}

namespace {

/// Unwraps a usable row into a match; nullopt for none or unusable.
Result<std::optional<PskMatch>> unwrap_row(crypto::KeyWrapper& kek,
                                           std::optional<WrappedRow> row, std::int64_t now) {
    if (!row || !row->info.usable(now)) return std::optional<PskMatch>{};
    auto key = kek.unwrap(row->wrapped, row->size);
    if (!key) return tl::unexpected(key.error().wrap("psk " + row->info.identity + ": unwrap"));
    const std::string fp = fingerprint_of(*key);
    if (!crypto::constant_time_equal(crypto::as_bytes(fp), crypto::as_bytes(row->info.fingerprint))) {
        return fail(Errc::integrity_failure,
                    "psk " + row->info.identity + ": value does not match its fingerprint");
    }
    return std::optional<PskMatch>(PskMatch{std::move(row->info), std::move(*key)});
}

}  // namespace

Result<std::optional<PskMatch>> PskStore::find(std::string_view identity, std::int64_t now) {
    // An identity a TLS client offered is untrusted: one we could never have
    // stored is simply unknown.
    if (!valid_psk_identity(identity)) return std::optional<PskMatch>{};
    std::optional<WrappedRow> row;
    {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT " + std::string(kColumns) +
                              ", wrapped, size FROM psks WHERE identity = ?1");
        if (!st) return tl::unexpected(st.error());
        if (auto r = st->bind_text(1, identity); !r) return tl::unexpected(r.error());
        auto w = read_wrapped(*st);
        if (!w) return tl::unexpected(w.error());
        row = std::move(*w);
    }
    return unwrap_row(kek_, std::move(row), now);
}

Result<std::optional<PskMatch>> PskStore::current(std::string_view endpoint, std::int64_t now) {
    if (!endpoint_name_ok(endpoint)) return std::optional<PskMatch>{};
    std::optional<WrappedRow> row;
    {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT " + std::string(kColumns) +
                              ", wrapped, size FROM psks WHERE endpoint = ?1 AND revoked = 0 "
                              "AND (expires = 0 OR expires > ?2) AND (retires = 0 OR retires > ?2) "
                              "ORDER BY id DESC LIMIT 1");
        if (!st) return tl::unexpected(st.error());
        if (auto r = st->bind_text(1, endpoint); !r) return tl::unexpected(r.error());
        if (auto r = st->bind_int64(2, now); !r) return tl::unexpected(r.error());
        auto w = read_wrapped(*st);
        if (!w) return tl::unexpected(w.error());
        row = std::move(*w);
    }
    return unwrap_row(kek_, std::move(row), now);
}

std::uint64_t PskStore::generation() const noexcept {
    std::lock_guard lock(mu_);
    return generation_;
}

}  // namespace enclave::appliance
