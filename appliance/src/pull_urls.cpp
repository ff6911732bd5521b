// SPDX-License-Identifier: Apache-2.0
// The ingest catalogue's Model A/C URLs (table pull_urls, catalogue schema
// v3): which upload a URL serves, to whom, until when. Rows are keyed by the
// SHA-256 of the URL's token, so a copy of the catalogue (decrypted) does
// not hand out working URLs.
#include "delivery_services_impl.hpp"

namespace enclave::appliance {

using crypto::Result;

namespace {

template <class T>
tl::unexpected<crypto::Error> err(const Result<T>& r) {
    return tl::unexpected(r.error());
}

}  // namespace

Result<void> BlobCatalog::add_pull_url(const PullUrl& url) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "INSERT INTO pull_urls(token_hash, blob_id, endpoint, created, expires) "
        "VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!st) return err(st);
    for (auto r : {st->bind_blob(1, url.token_hash), st->bind_text(2, url.blob_id),
                   st->bind_text(3, url.endpoint), st->bind_int64(4, url.created),
                   st->bind_int64(5, url.expires)}) {
        if (!r) return r;
    }
    return st->run();
}

Result<std::optional<PullUrl>> BlobCatalog::find_pull_url(crypto::ByteView token_hash) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT p.blob_id, p.endpoint, p.created, p.expires, p.accessed, "
        "b.content_type, b.size, b.sha256 "
        "FROM pull_urls p JOIN blobs b ON b.id = p.blob_id "
        "WHERE p.token_hash = ?1 AND b.erased = 0");
    if (!st) return err(st);
    if (auto r = st->bind_blob(1, token_hash); !r) return tl::unexpected(r.error());
    auto row = st->step();
    if (!row) return err(row);
    if (!*row) return std::optional<PullUrl>{};
    PullUrl u;
    u.token_hash.assign(token_hash.begin(), token_hash.end());
    u.blob_id = st->column_text(0);
    u.endpoint = st->column_text(1);
    u.created = st->column_int64(2);
    u.expires = st->column_int64(3);
    u.accessed = st->column_int64(4);
    u.content_type = st->column_text(5);
    u.size = static_cast<std::uint64_t>(st->column_int64(6));
    u.sha256 = st->column_text(7);
    return std::optional<PullUrl>(std::move(u));
}

Result<bool> BlobCatalog::mark_pull_accessed(crypto::ByteView token_hash, std::int64_t when) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("UPDATE pull_urls SET accessed = ?2 WHERE token_hash = ?1 AND accessed = 0");
    if (!st) return err(st);
    if (auto r = st->bind_blob(1, token_hash); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_int64(2, when); !r) return tl::unexpected(r.error());
    if (auto r = st->run(); !r) return tl::unexpected(r.error());
    return db_.changes() == 1;
}

Result<void> BlobCatalog::forget_pull_urls(const std::vector<crypto::Bytes>& token_hashes) {
    if (token_hashes.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return err(tx);
    auto st = db_.prepare("DELETE FROM pull_urls WHERE token_hash = ?1");
    if (!st) return err(st);
    for (const auto& h : token_hashes) {
        if (auto r = st->bind_blob(1, h); !r) return r;
        if (auto r = st->run(); !r) return r;
        st->reset();
    }
    return tx->commit();
}

Result<std::vector<std::string>> BlobCatalog::expired_pull_blobs(std::int64_t now,
                                                                 std::size_t limit) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(
        "SELECT DISTINCT blob_id FROM pull_urls WHERE expires <= ?1 ORDER BY blob_id LIMIT ?2");
    if (!st) return err(st);
    if (auto r = st->bind_int64(1, now); !r) return tl::unexpected(r.error());
    if (auto r = st->bind_int64(2, static_cast<std::int64_t>(limit)); !r) {
        return tl::unexpected(r.error());
    }
    std::vector<std::string> out;
    for (;;) {
        auto row = st->step();
        if (!row) return err(row);
        if (!*row) break;
        out.push_back(st->column_text(0));
    }
    return out;
}

Result<bool> BlobCatalog::forget_expired_pull_urls(std::string_view blob_id, std::int64_t now) {
    std::lock_guard lock(mu_);
    auto tx = db_.begin(crypto::TransactionMode::immediate);
    if (!tx) return err(tx);
    auto del = db_.prepare("DELETE FROM pull_urls WHERE blob_id = ?1 AND expires <= ?2");
    if (!del) return err(del);
    if (auto r = del->bind_text(1, blob_id); !r) return tl::unexpected(r.error());
    if (auto r = del->bind_int64(2, now); !r) return tl::unexpected(r.error());
    if (auto r = del->run(); !r) return tl::unexpected(r.error());
    auto left = db_.prepare("SELECT 1 FROM pull_urls WHERE blob_id = ?1 LIMIT 1");
    if (!left) return err(left);
    if (auto r = left->bind_text(1, blob_id); !r) return tl::unexpected(r.error());
    auto row = left->step();
    if (!row) return err(row);
    const bool none = !*row;
    if (auto c = tx->commit(); !c) return tl::unexpected(c.error());
    return none;
}

Result<bool> BlobCatalog::has_pull_url(std::string_view blob_id) {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT 1 FROM pull_urls WHERE blob_id = ?1 LIMIT 1");
    if (!st) return err(st);
    if (auto r = st->bind_text(1, blob_id); !r) return tl::unexpected(r.error());
    auto row = st->step();
    if (!row) return err(row);
    return *row;
}

}  // namespace enclave::appliance
