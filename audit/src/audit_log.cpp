// SPDX-License-Identifier: Apache-2.0
// AuditLog: opening, appending, and the read side (proofs, entries,
// checkpoints). The write path is in audit_log_writer.cpp, the database and
// open-time verification in audit_log_store.cpp.
#include "audit/audit_log.hpp"

#include <algorithm>

#include "audit_log_impl.hpp"
#include "crypto/encoding.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Hash;
using crypto::Result;

std::string str(std::uint64_t v) { return std::to_string(v); }

constexpr std::uint64_t kMaxEntriesPerCall = 65536;
constexpr std::uint64_t kReadChunk = 1024;

Result<void> check_options(const AuditLogOptions& o) {
    const std::string& origin = o.origin;
    const bool printable = std::all_of(origin.begin(), origin.end(),
                                       [](char c) { return c >= 0x20 && c < 0x7F; });
    if (origin.empty() || origin.size() > 255 || !printable || origin.front() == ' ' ||
        origin.back() == ' ') {
        return fail(Errc::invalid_argument,
                    "the audit log origin must be 1-255 printable ASCII characters without "
                    "leading or trailing space");
    }
    if (o.max_batch == 0) return fail(Errc::invalid_argument, "max_batch must be at least 1");
    if (o.max_entry_bytes < detail::kEntryOverhead + 16) {
        return fail(Errc::invalid_argument, "max_entry_bytes is too small for any entry");
    }
    if (o.checkpoint_interval.count() < 0) {
        return fail(Errc::invalid_argument, "checkpoint_interval is negative");
    }
    return {};
}

}  // namespace

AuditLog::Impl::Impl(AuditLogOptions opts, detail::LockFile lock_file, crypto::SealedDb writer_conn,
                     crypto::SealedDb reader_conn)
    : options(std::move(opts)),
      lock(std::move(lock_file)),
      writer_db(std::move(writer_conn)),
      reader_db(std::move(reader_conn)) {}

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLog::~AuditLog() {
    if (impl_) close();
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& db_path,
                                                 crypto::KeyWrapper& kek, AuditLogOptions options) {
    if (auto ok = check_options(options); !ok) return tl::unexpected(ok.error());
    auto lock = detail::LockFile::acquire(db_path.string() + ".lock");
    if (!lock) return tl::unexpected(lock.error());
    // No quick_check: load_and_verify() reads, and so authenticates, every
    // page of every table anyway (audit_log_load.cpp).
    crypto::SealedDbOptions db_options;
    db_options.verify_on_open = false;
    auto writer = crypto::SealedDb::open_or_create(db_path, kek, db_options);
    if (!writer) return tl::unexpected(writer.error().wrap("opening the audit log"));
    // The second connection serves reads while the writer commits (WAL):
    // proofs and entry pages, which touch few pages each.
    db_options.cache_kib = 512;
    auto reader = crypto::SealedDb::open(db_path, kek, db_options);
    if (!reader) return tl::unexpected(reader.error().wrap("opening the audit log for reading"));
    auto impl = std::make_unique<Impl>(std::move(options), std::move(*lock), std::move(*writer),
                                       std::move(*reader));
    if (auto ok = impl->prepare_schema(); !ok) return tl::unexpected(ok.error());
    if (auto ok = impl->load_and_verify(); !ok) return tl::unexpected(ok.error());
    Impl* raw = impl.get();
    impl->writer = std::thread([raw] { raw->writer_loop(); });
    return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

void AuditLog::close() {
    std::call_once(impl_->close_once, [this] {
        {
            std::lock_guard lk(impl_->queue_mutex);
            impl_->stopping = true;
        }
        impl_->queue_cv.notify_all();
        if (impl_->writer.joinable()) impl_->writer.join();
    });
}

Result<std::uint64_t> AuditLog::append(const nlohmann::json& event) {
    auto prepared = detail::prepare_event(event, impl_->options.max_entry_bytes);
    if (!prepared) return tl::unexpected(prepared.error());
    detail::AppendRequest request(std::move(*prepared));
    {
        std::lock_guard lk(impl_->queue_mutex);
        if (impl_->stopping) return fail(Errc::invalid_state, "the audit log is closed");
        impl_->queue.push_back(&request);
    }
    impl_->queue_cv.notify_one();
    request.done.acquire();
    if (request.result->has_value() && impl_->observer) {
        try {
            impl_->observer(event, **request.result);
        } catch (...) {
            // The entry is committed; monitoring of it is best effort.
        }
    }
    return std::move(*request.result);
}

void AuditLog::set_observer(Observer observer) { impl_->observer = std::move(observer); }

std::uint64_t AuditLog::size() const { return impl_->tree_size(); }

Hash AuditLog::root() const {
    std::shared_lock lk(impl_->tree_mutex);
    // A root of a size the source holds cannot fail.
    return crypto::tree_root(impl_->hasher, impl_->nodes, impl_->nodes.size()).value();
}

Result<Hash> AuditLog::root_at(std::uint64_t tree_size) const {
    std::shared_lock lk(impl_->tree_mutex);
    if (tree_size > impl_->nodes.size()) {
        return fail(Errc::invalid_argument, "tree size " + str(tree_size) +
                                                " is beyond the log size " + str(impl_->nodes.size()));
    }
    return crypto::tree_root(impl_->hasher, impl_->nodes, tree_size);
}

Result<Hash> AuditLog::leaf_hash(std::uint64_t index) const {
    std::shared_lock lk(impl_->tree_mutex);
    if (index >= impl_->nodes.size()) {
        return fail(Errc::invalid_argument,
                    "index " + str(index) + " is not below the log size " + str(impl_->nodes.size()));
    }
    return impl_->nodes.leaf_hash(index);
}

Result<std::vector<Hash>> AuditLog::inclusion_proof(std::uint64_t index,
                                                    std::uint64_t tree_size) const {
    std::shared_lock lk(impl_->tree_mutex);
    if (tree_size > impl_->nodes.size()) {
        return fail(Errc::invalid_argument, "tree size " + str(tree_size) +
                                                " is beyond the log size " + str(impl_->nodes.size()));
    }
    return crypto::inclusion_proof(impl_->hasher, impl_->nodes, index, tree_size);
}

Result<std::vector<Hash>> AuditLog::consistency_proof(std::uint64_t old_size,
                                                      std::uint64_t new_size) const {
    std::shared_lock lk(impl_->tree_mutex);
    if (new_size > impl_->nodes.size()) {
        return fail(Errc::invalid_argument, "tree size " + str(new_size) +
                                                " is beyond the log size " + str(impl_->nodes.size()));
    }
    return crypto::consistency_proof(impl_->hasher, impl_->nodes, old_size, new_size);
}

Result<std::string> AuditLog::entry(std::uint64_t index) const {
    if (const std::uint64_t n = size(); index >= n) {
        return fail(Errc::invalid_argument,
                    "index " + str(index) + " is not below the log size " + str(n));
    }
    std::string text;
    auto ok = for_each_entry(index, 1, [&](std::uint64_t, std::string_view bytes) -> Result<void> {
        text.assign(bytes);
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return text;
}

Result<std::vector<std::string>> AuditLog::entries(std::uint64_t first, std::uint64_t count) const {
    const std::uint64_t n = size();
    const std::uint64_t clipped = first >= n ? 0 : std::min(count, n - first);
    if (clipped > kMaxEntriesPerCall) {
        return fail(Errc::too_large, "at most " + str(kMaxEntriesPerCall) +
                                         " entries per call; page with for_each_entry");
    }
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(clipped));
    auto ok = for_each_entry(first, clipped, [&](std::uint64_t, std::string_view bytes) -> Result<void> {
        out.emplace_back(bytes);
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return out;
}

Result<void> AuditLog::for_each_entry(
    std::uint64_t first, std::uint64_t count,
    const std::function<Result<void>(std::uint64_t, std::string_view)>& fn) const {
    const std::uint64_t n = size();
    const std::uint64_t end = first >= n ? first : first + std::min(count, n - first);
    std::vector<std::string> rows;
    std::vector<Hash> leaves;
    for (std::uint64_t at = first; at < end; at += rows.size()) {
        const std::uint64_t want = std::min(kReadChunk, end - at);
        rows.clear();
        {
            std::lock_guard lk(impl_->read_mutex);
            auto stmt = impl_->reader_db.prepare(
                "SELECT idx, entry FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx");
            if (!stmt) return tl::unexpected(stmt.error());
            (void)stmt->bind_int64(1, static_cast<std::int64_t>(at));
            (void)stmt->bind_int64(2, static_cast<std::int64_t>(at + want));
            for (;;) {
                auto row = stmt->step();
                if (!row) return tl::unexpected(row.error().wrap("reading audit entries"));
                if (!*row) break;
                if (static_cast<std::uint64_t>(stmt->column_int64(0)) != at + rows.size()) break;
                rows.push_back(stmt->column_text(1));
            }
        }
        if (rows.size() != want) {
            return fail(Errc::integrity_failure, "audit log: index " + str(at + rows.size()) +
                                                     " is missing from the database");
        }
        leaves.clear();
        {
            std::shared_lock lk(impl_->tree_mutex);
            for (std::uint64_t i = 0; i < want; ++i) leaves.push_back(*impl_->nodes.leaf_hash(at + i));
        }
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (impl_->hasher.hash_leaf(crypto::as_bytes(rows[i])) != leaves[i]) {
                return fail(Errc::integrity_failure,
                            "audit log: index " + str(at + i) +
                                ": the stored entry does not match its leaf hash (the database "
                                "was changed under the log)");
            }
            if (auto ok = fn(at + i, rows[i]); !ok) return ok;
        }
    }
    return {};
}

Result<LogCheckpoint> AuditLog::checkpoint() {
    {
        std::lock_guard lk(impl_->queue_mutex);
        if (impl_->stopping) return fail(Errc::invalid_state, "the audit log is closed");
    }
    std::lock_guard wl(impl_->write_mutex);
    return impl_->make_checkpoint();
}

Result<bool> AuditLog::checkpoint_if_due() {
    {
        std::lock_guard lk(impl_->queue_mutex);
        if (impl_->stopping) return fail(Errc::invalid_state, "the audit log is closed");
    }
    std::lock_guard wl(impl_->write_mutex);
    return impl_->checkpoint_if_due_locked();
}

std::optional<LogCheckpoint> AuditLog::latest_checkpoint() const {
    std::shared_lock lk(impl_->tree_mutex);
    return impl_->latest;
}

Result<std::vector<LogCheckpoint>> AuditLog::checkpoints() const {
    std::lock_guard lk(impl_->read_mutex);
    return detail::read_checkpoints(impl_->reader_db);
}

std::optional<crypto::Error> AuditLog::last_checkpoint_error() const {
    std::shared_lock lk(impl_->tree_mutex);
    return impl_->checkpoint_error;
}

const std::string& AuditLog::origin() const noexcept { return impl_->options.origin; }

std::string AuditLog::checkpoint_body(std::string_view origin, std::uint64_t size, const Hash& root) {
    std::string body(origin);
    body += '\n';
    body += str(size);
    body += '\n';
    body += crypto::base64_encode(root);
    body += '\n';
    return body;
}

}  // namespace enclave::audit
