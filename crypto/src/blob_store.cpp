// SPDX-License-Identifier: Apache-2.0
// BlobStore: opening (directories, lock, master key), lookups and removal.
// Writing new objects is in blob_store_writer.cpp.
#include "crypto/blob_store.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "blob_format_detail.hpp"
#include "blob_store_detail.hpp"
#include "crypto/encoding.hpp"

namespace enclave::crypto {

using detail::BlobStoreState;

namespace {

constexpr char kMasterKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "EnclBMst";

/// Builds the object-key wrapper and the master key id from the master key.
void install_master(BlobStoreState& s, const Secret& master) {
    Secret wrapping(kBlobKeySize);
    crypto_kdf_derive_from_key(wrapping.data(), wrapping.size(), 1, kMasterKdfContext,
                               master.data());
    std::uint8_t id[16];
    crypto_kdf_derive_from_key(id, sizeof id, 2, kMasterKdfContext, master.data());
    s.master_id = "blob-master-" + hex_encode(ByteView(id, sizeof id));
    s.master = std::make_unique<SecretKeyWrapper>(s.master_id, std::move(wrapping));
}

Result<void> create_master(BlobStoreState& s, KeyWrapper& kek) {
    // A store that already holds objects has lost its master key: making a
    // new one would silently orphan every object. Refuse, so the operator
    // restores master.key from backup instead.
    for (const int dirfd : {s.keys.get(), s.data.get()}) {
        auto names = detail::list_dir(dirfd);
        if (!names) return tl::unexpected(names.error());
        if (!names->empty()) {
            return fail(Errc::not_found,
                        "blob store " + s.dir.string() + " holds objects but its master.key is "
                        "missing; refusing to create a new master key (restore master.key)");
        }
    }
    const std::string kek_id = kek.key_id();
    if (!detail::is_valid_wrapping_key_id(kek_id, detail::kMaxKekIdLength)) {
        return fail(Errc::invalid_argument,
                    "the KEK key id must be 1-255 printable ASCII characters");
    }
    const Secret master = Secret::random(kBlobKeySize);
    auto wrapped = kek.wrap(master);
    if (!wrapped) return tl::unexpected(wrapped.error().wrap("wrapping the new blob master key"));
    const Bytes file = detail::encode_key_file(detail::kMasterKeyMagic, {kek_id, *wrapped});
    const std::string tmp_name = std::string(detail::kMasterKeyFile) + ".tmp";
    ::unlinkat(s.root.get(), tmp_name.c_str(), 0);  // a leftover from a crash, if any
    if (auto ok = detail::write_new_file(s.root.get(), tmp_name, file); !ok) return ok;
    if (::renameat(s.root.get(), tmp_name.c_str(), s.root.get(),
                   std::string(detail::kMasterKeyFile).c_str()) != 0) {
        return detail::io_failure("installing master.key", errno);
    }
    if (auto ok = detail::sync_dir(s.root.get(), "of the blob store"); !ok) return ok;
    install_master(s, master);
    return {};
}

Result<void> load_master(BlobStoreState& s, KeyWrapper& kek, ByteView file) {
    auto parsed = detail::parse_key_file(detail::kMasterKeyMagic, file, detail::kMaxKekIdLength,
                                         "master.key");
    if (!parsed) return tl::unexpected(parsed.error());
    const std::string kek_id = kek.key_id();
    if (parsed->wrapping_key_id != kek_id) {
        return fail(Errc::integrity_failure,
                    "the blob master key is wrapped by KEK '" + parsed->wrapping_key_id +
                        "', but the KEK supplied is '" + kek_id + "'");
    }
    auto master = kek.unwrap(parsed->wrapped, kBlobKeySize);
    if (!master) {
        return tl::unexpected(master.error().wrap(
            "master.key does not unwrap under KEK '" + kek_id + "' (wrong KEK or damaged file)"));
    }
    install_master(s, *master);
    return {};
}

/// Removes whatever a crashed writer left in tmp/ (we hold the store lock,
/// so nobody is writing there now).
Result<void> clean_tmp(const BlobStoreState& s) {
    auto names = detail::list_dir(s.tmp.get());
    if (!names) return tl::unexpected(names.error());
    for (const auto& n : *names) {
        if (::unlinkat(s.tmp.get(), n.c_str(), 0) != 0 && errno != ENOENT) {
            return detail::io_failure("removing leftover temp file tmp/" + n, errno);
        }
    }
    return {};
}

Result<void> open_layout(BlobStoreState& s) {
    const std::string label = "blob store directory " + s.dir.string();
    auto root = detail::open_private_dir(AT_FDCWD, s.dir.string(), label);
    if (!root) return tl::unexpected(root.error());
    s.root = std::move(*root);
    if (::flock(s.root.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            return fail(Errc::unavailable, label + " is in use by another BlobStore");
        }
        return detail::io_failure("locking " + label, errno);
    }
    for (auto [fd, name] : {std::pair{&s.data, "data"}, {&s.keys, "keys"}, {&s.tmp, "tmp"}}) {
        auto sub = detail::open_private_dir(s.root.get(), name, label + "/" + name);
        if (!sub) return tl::unexpected(sub.error());
        *fd = std::move(*sub);
    }
    return detail::sync_dir(s.root.get(), "of the blob store");
}

tl::unexpected<Error> no_object(std::string_view id) {
    return fail(Errc::not_found, "no blob object '" + std::string(id) + "'");
}

}  // namespace

std::string generate_object_id() {
    ensure_sodium();
    std::uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    return hex_encode(ByteView(raw, sizeof raw));
}

BlobStore::BlobStore(std::shared_ptr<BlobStoreState> state) noexcept : s_(std::move(state)) {}
BlobStore::~BlobStore() = default;
BlobStore::BlobStore(BlobStore&&) noexcept = default;
BlobStore& BlobStore::operator=(BlobStore&&) noexcept = default;

const std::string& BlobStore::master_key_id() const noexcept { return s_->master_id; }
const std::filesystem::path& BlobStore::directory() const noexcept { return s_->dir; }

Result<BlobStore> BlobStore::open(const std::filesystem::path& dir, KeyWrapper& kek) {
    ensure_sodium();
    if (dir.empty()) return fail(Errc::invalid_argument, "blob store directory is empty");
    auto s = std::make_shared<BlobStoreState>();
    s->dir = dir;
    if (auto ok = open_layout(*s); !ok) return tl::unexpected(ok.error());
    if (auto ok = clean_tmp(*s); !ok) return tl::unexpected(ok.error());
    auto file = detail::read_small_file(s->root.get(), std::string(detail::kMasterKeyFile),
                                        detail::kMaxKeyFileSize);
    if (file) {
        if (auto ok = load_master(*s, kek, *file); !ok) return tl::unexpected(ok.error());
    } else if (file.error().code() == Errc::not_found) {
        if (auto ok = create_master(*s, kek); !ok) return tl::unexpected(ok.error());
    } else {
        return tl::unexpected(file.error());
    }
    return BlobStore(std::move(s));
}

Result<BlobReader> BlobStore::open_object(std::string_view id) const {
    if (auto ok = check_object_id(id); !ok) return tl::unexpected(ok.error());
    Result<Bytes> key_file = Bytes{};
    UniqueFd blob;
    {
        std::shared_lock lock(s_->ns);
        key_file = detail::read_small_file(s_->keys.get(), detail::key_name(id),
                                           detail::kMaxKeyFileSize);
        if (!key_file) {
            if (key_file.error().code() == Errc::not_found) return no_object(id);
            return tl::unexpected(key_file.error());
        }
        blob.reset(::openat(s_->data.get(), detail::blob_name(id).c_str(),
                            O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!blob.valid()) {
            if (errno == ENOENT) return no_object(id);
            return detail::io_failure("opening data file of blob object '" + std::string(id) + "'",
                                      errno);
        }
    }
    const std::string what = "key file of blob object '" + std::string(id) + "'";
    auto parsed = detail::parse_key_file(detail::kObjectKeyMagic, *key_file, kMaxObjectIdLength,
                                         what);
    if (!parsed) return tl::unexpected(parsed.error());
    if (parsed->wrapping_key_id != s_->master_id) {
        return fail(Errc::integrity_failure, what + " was wrapped by master key '" +
                                                 parsed->wrapping_key_id + "', not by this store's '" +
                                                 s_->master_id + "'");
    }
    auto data_key = s_->master->unwrap(parsed->wrapped, kBlobKeySize);
    if (!data_key) return tl::unexpected(data_key.error().wrap("unwrapping the " + what));
    auto reader = BlobReader::open(std::move(blob), *data_key, id);
    if (!reader) return tl::unexpected(reader.error().wrap("blob object '" + std::string(id) + "'"));
    return reader;
}

Result<void> BlobStore::remove(std::string_view id) {
    if (auto ok = check_object_id(id); !ok) return ok;
    std::unique_lock lock(s_->ns);
    auto has_key = detail::regular_file_exists(s_->keys.get(), detail::key_name(id));
    if (!has_key) return tl::unexpected(has_key.error());
    auto has_blob = detail::regular_file_exists(s_->data.get(), detail::blob_name(id));
    if (!has_blob) return tl::unexpected(has_blob.error());
    if (!*has_key && !*has_blob) return no_object(id);
    // Key first: once it is gone, every copy of the data file is noise.
    if (*has_key) {
        if (auto ok = detail::destroy_file(s_->keys.get(), detail::key_name(id)); !ok) return ok;
    }
    if (*has_blob) {
        if (::unlinkat(s_->data.get(), detail::blob_name(id).c_str(), 0) != 0) {
            return detail::io_failure("unlinking data file of blob object '" + std::string(id) + "'",
                                      errno);
        }
        return detail::sync_dir(s_->data.get(), "data");
    }
    return {};
}

Result<bool> BlobStore::exists(std::string_view id) const {
    if (auto ok = check_object_id(id); !ok) return tl::unexpected(ok.error());
    std::shared_lock lock(s_->ns);
    auto has_key = detail::regular_file_exists(s_->keys.get(), detail::key_name(id));
    if (!has_key) return tl::unexpected(has_key.error());
    auto has_blob = detail::regular_file_exists(s_->data.get(), detail::blob_name(id));
    if (!has_blob) return tl::unexpected(has_blob.error());
    return *has_key && *has_blob;
}

Result<std::vector<std::string>> BlobStore::list() const {
    std::shared_lock lock(s_->ns);
    auto names = detail::list_dir(s_->data.get());
    if (!names) return tl::unexpected(names.error());
    std::vector<std::string> ids;
    constexpr std::string_view kSuffix = ".blob";
    for (const auto& n : *names) {
        if (n.size() <= kSuffix.size() || !n.ends_with(kSuffix)) continue;
        const std::string id = n.substr(0, n.size() - kSuffix.size());
        if (!is_valid_object_id(id)) continue;
        auto has_key = detail::regular_file_exists(s_->keys.get(), detail::key_name(id));
        if (has_key && *has_key) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace enclave::crypto
