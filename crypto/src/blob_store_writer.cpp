// SPDX-License-Identifier: Apache-2.0
// BlobStore::create and BlobWriterHandle: write into tmp/, then publish the
// key and the data with fsync + rename under the store's namespace lock.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "blob_format_detail.hpp"
#include "blob_store_detail.hpp"
#include "crypto/blob_store.hpp"

namespace enclave::crypto {

struct detail::BlobWriterHandleState {
    std::shared_ptr<BlobStoreState> store;
    std::string id;
    std::optional<BlobWriter> writer;
    Bytes key_file;        // the wrapped data key, encoded (nothing secret)
    std::string tmp_blob;  // names inside tmp/
    std::string tmp_key;
    bool spent = false;

    void discard() noexcept {
        writer.reset();
        ::unlinkat(store->tmp.get(), tmp_blob.c_str(), 0);
        ::unlinkat(store->tmp.get(), tmp_key.c_str(), 0);
        spent = true;
    }

    Result<void> publish();
};

using detail::BlobWriterHandleState;

namespace {

tl::unexpected<Error> taken(std::string_view id) {
    return fail(Errc::already_exists, "blob object '" + std::string(id) + "' already exists");
}

}  // namespace

/// Renames the key and then the data into place. Caller holds nothing; this
/// takes the namespace lock exclusively.
Result<void> BlobWriterHandleState::publish() {
    BlobStoreState& s = *store;
    const std::string key_name = detail::key_name(id);
    const std::string blob_name = detail::blob_name(id);
    std::unique_lock lock(s.ns);
    auto has_blob = detail::regular_file_exists(s.data.get(), blob_name);
    if (!has_blob) return tl::unexpected(has_blob.error());
    if (*has_blob) return taken(id);
    auto has_key = detail::regular_file_exists(s.keys.get(), key_name);
    if (!has_key) return tl::unexpected(has_key.error());
    if (*has_key) {
        // A key without data: a crash between the two renames below. It
        // protects nothing; destroy it so the id can be used.
        if (auto ok = detail::destroy_file(s.keys.get(), key_name); !ok) return ok;
    }
    if (::renameat(s.tmp.get(), tmp_key.c_str(), s.keys.get(), key_name.c_str()) != 0) {
        return detail::io_failure("installing the key of blob object '" + id + "'", errno);
    }
    if (auto ok = detail::sync_dir(s.keys.get(), "keys"); !ok) return ok;
    if (::renameat(s.tmp.get(), tmp_blob.c_str(), s.data.get(), blob_name.c_str()) != 0) {
        const int err = errno;
        (void)detail::destroy_file(s.keys.get(), key_name);  // roll back; best effort
        return detail::io_failure("installing the data of blob object '" + id + "'", err);
    }
    return detail::sync_dir(s.data.get(), "data");
}

BlobWriterHandle::BlobWriterHandle(std::unique_ptr<BlobWriterHandleState> state) noexcept
    : s_(std::move(state)) {}
BlobWriterHandle::~BlobWriterHandle() { abort(); }
BlobWriterHandle::BlobWriterHandle(BlobWriterHandle&&) noexcept = default;
BlobWriterHandle& BlobWriterHandle::operator=(BlobWriterHandle&& other) noexcept {
    if (this != &other) {
        abort();
        s_ = std::move(other.s_);
    }
    return *this;
}

const std::string& BlobWriterHandle::id() const noexcept { return s_->id; }

std::uint64_t BlobWriterHandle::bytes_written() const noexcept {
    return s_ && s_->writer ? s_->writer->bytes_written() : 0;
}

Result<void> BlobWriterHandle::write(ByteView data) {
    if (!s_ || s_->spent) return fail(Errc::invalid_argument, "blob writer handle is spent");
    auto ok = s_->writer->write(data);
    if (!ok) return tl::unexpected(ok.error().wrap("writing blob object '" + s_->id + "'"));
    return ok;
}

Result<BlobInfo> BlobWriterHandle::commit() {
    if (!s_ || s_->spent) return fail(Errc::invalid_argument, "blob writer handle is spent");
    BlobWriterHandleState& h = *s_;
    const std::string what = "committing blob object '" + h.id + "'";
    auto info = h.writer->finish();  // seals, writes and fsyncs the data
    h.writer.reset();
    if (!info) {
        h.discard();
        return tl::unexpected(info.error().wrap(what));
    }
    if (auto ok = detail::write_new_file(h.store->tmp.get(), h.tmp_key, h.key_file); !ok) {
        h.discard();
        return tl::unexpected(ok.error().wrap(what));
    }
    auto published = h.publish();
    h.discard();  // removes whatever publish() did not rename
    if (!published) return tl::unexpected(published.error().wrap(what));
    return info;
}

void BlobWriterHandle::abort() noexcept {
    if (s_ && !s_->spent) s_->discard();
}

Result<BlobWriterHandle> BlobStore::create(std::optional<std::string_view> id,
                                           BlobWriterOptions options) {
    const std::string oid = id ? std::string(*id) : generate_object_id();
    if (auto ok = check_object_id(oid); !ok) return tl::unexpected(ok.error());
    if (auto e = exists(oid); !e) {
        return tl::unexpected(e.error());
    } else if (*e) {
        return taken(oid);
    }
    auto h = std::make_unique<BlobWriterHandleState>();
    h->store = s_;
    h->id = oid;
    const std::string nonce = generate_object_id().substr(0, 16);
    h->tmp_blob = oid + "." + nonce + ".blob";
    h->tmp_key = oid + "." + nonce + ".key";

    const Secret data_key = Secret::random(kBlobKeySize);
    auto wrapped = s_->master->wrap(data_key);
    if (!wrapped) return tl::unexpected(wrapped.error().wrap("wrapping a new object key"));
    h->key_file = detail::encode_key_file(detail::kObjectKeyMagic, {s_->master_id, *wrapped});

    UniqueFd fd(::openat(s_->tmp.get(), h->tmp_blob.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return detail::io_failure("creating a temp file for '" + oid + "'", errno);
    if (::fchmod(fd.get(), 0600) != 0) {
        const int err = errno;
        ::unlinkat(s_->tmp.get(), h->tmp_blob.c_str(), 0);
        return detail::io_failure("setting the mode of a temp file", err);
    }
    auto writer = BlobWriter::create(std::move(fd), data_key, oid, options);
    if (!writer) {
        ::unlinkat(s_->tmp.get(), h->tmp_blob.c_str(), 0);
        return tl::unexpected(writer.error());
    }
    h->writer.emplace(std::move(*writer));
    return BlobWriterHandle(std::move(h));
}

}  // namespace enclave::crypto
