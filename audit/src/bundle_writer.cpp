// SPDX-License-Identifier: Apache-2.0
// BundleWriter: streaming, atomic (temp file + fsync + rename), mode 0640.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "audit/bundle.hpp"
#include "bundle_entry.hpp"
#include "bundle_header.hpp"

namespace enclave::audit {

namespace fs = std::filesystem;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

constexpr std::size_t kFlushSize = 1u << 20;

tl::unexpected<crypto::Error> os_error(const std::string& what, const fs::path& path) {
    return fail(Errc::io_error, what + " " + path.string() + ": " + std::strerror(errno));
}

Result<void> fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("opening directory", dir);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return os_error("fsync of directory", dir);
    return {};
}

// Renames without replacing an existing file: renameat2(RENAME_NOREPLACE),
// or link + unlink where the file system does not support it.
Result<void> rename_noreplace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    if (errno == EEXIST) return fail(Errc::already_exists, to.string() + " already exists");
    if (errno != EINVAL && errno != ENOSYS) return os_error("renaming the bundle to", to);
    if (::link(from.c_str(), to.c_str()) != 0) {
        if (errno == EEXIST) return fail(Errc::already_exists, to.string() + " already exists");
        return os_error("linking the bundle to", to);
    }
    ::unlink(from.c_str());
    return {};
}

std::string link_reason(const detail::LinkCheck& c, std::uint64_t position) {
    switch (c.fault) {
        case detail::LinkFault::malformed: return "malformed: " + c.reason;
        case detail::LinkFault::index_mismatch:
            return "its \"index\" is " + std::to_string(c.found_index) + ", not its position";
        case detail::LinkFault::prev_mismatch:
            return "its \"prev\" is not the leaf hash of entry " + std::to_string(position - 1);
        case detail::LinkFault::prev_not_empty: return "the first entry's \"prev\" must be empty";
        case detail::LinkFault::none: break;
    }
    return "unknown fault";
}

}  // namespace

struct BundleWriter::Impl {
    fs::path path;
    fs::path tmp_path;
    int fd = -1;
    Options options;
    detail::Chain chain;
    detail::OpenedCheckpoints checkpoints;
    std::size_t next_older = 0;
    std::string buffer;
    bool failed = false;
    bool committed = false;

    ~Impl() { discard(); }

    // Closes and removes the temporary file (unless it became the bundle).
    void discard() noexcept {
        if (fd >= 0) ::close(fd);
        fd = -1;
        if (!committed && !tmp_path.empty()) ::unlink(tmp_path.c_str());
        tmp_path.clear();
    }

    Result<void> flush() {
        std::size_t off = 0;
        while (off < buffer.size()) {
            const ssize_t n = ::write(fd, buffer.data() + off, buffer.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return os_error("writing", tmp_path);
            off += static_cast<std::size_t>(n);
        }
        buffer.clear();
        return {};
    }

    // Any error makes the writer unusable: the caller must start over.
    tl::unexpected<crypto::Error> stop(crypto::Error error) {
        failed = true;
        discard();
        return tl::unexpected(std::move(error));
    }
    tl::unexpected<crypto::Error> stop(Errc code, std::string context) {
        return stop(crypto::Error(code, std::move(context)));
    }

    Result<void> open_temp() {
        std::string tmpl = (path.parent_path() / ("." + path.filename().string() + ".tmp-XXXXXX"))
                               .string();
        fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) return os_error("creating a temporary file beside", path);
        tmp_path = tmpl;
        // mkostemp makes 0600; the bundle is for auditors of the group (0640).
        if (::fchmod(fd, 0640) != 0) return os_error("setting the mode of", tmp_path);
        return {};
    }
};

BundleWriter::BundleWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BundleWriter::BundleWriter(BundleWriter&&) noexcept = default;
BundleWriter& BundleWriter::operator=(BundleWriter&&) noexcept = default;
BundleWriter::~BundleWriter() = default;

Result<BundleWriter> BundleWriter::create(const fs::path& path, const NoteVerifierKey& key,
                                          const std::string& checkpoint,
                                          const std::vector<std::string>& older, Options options) {
    if (older.size() > kMaxBundleCheckpoints) {
        return fail(Errc::invalid_argument, "more than " + std::to_string(kMaxBundleCheckpoints) +
                                                " older checkpoints");
    }
    auto opened = detail::open_checkpoints(checkpoint, older, key, {});
    if (!opened) {
        const Errc code = opened.error().code() == Errc::integrity_failure ? Errc::integrity_failure
                                                                           : Errc::invalid_argument;
        return fail(code, "bundle: " + opened.error().context());
    }
    if (path.filename().empty()) {
        return fail(Errc::invalid_argument, "bundle path has no file name");
    }
    std::error_code ec;
    if (!options.overwrite && fs::exists(fs::symlink_status(path, ec))) {
        return fail(Errc::already_exists, path.string() + " already exists");
    }
    auto impl = std::make_unique<Impl>();
    impl->path = fs::absolute(path, ec);
    if (ec) return fail(Errc::io_error, "resolving " + path.string() + ": " + ec.message());
    impl->options = options;
    impl->checkpoints = std::move(*opened);
    if (auto ok = impl->open_temp(); !ok) return tl::unexpected(ok.error());
    const detail::BundleHeader header{impl->checkpoints.latest.origin, key.to_string(),
                                      impl->checkpoints.latest.size, checkpoint, older};
    impl->buffer = detail::header_line(header);
    impl->buffer += '\n';
    return BundleWriter(std::move(impl));
}

Result<void> BundleWriter::append(std::string_view entry) {
    Impl& w = *impl_;
    if (w.failed || w.committed) return fail(Errc::invalid_state, "bundle writer is finished");
    const std::uint64_t position = w.chain.count();
    const std::string at = "entry " + std::to_string(position) + ": ";
    if (position >= w.checkpoints.latest.size) {
        return w.stop(Errc::invalid_state, at + "beyond the checkpoint's size " +
                                               std::to_string(w.checkpoints.latest.size));
    }
    if (entry.size() > w.options.max_entry_size) {
        return w.stop(Errc::invalid_argument, at + "longer than the limit");
    }
    const detail::LinkCheck link = w.chain.add(entry);
    if (link.fault != detail::LinkFault::none) {
        return w.stop(Errc::invalid_argument, at + link_reason(link, position));
    }
    auto& older = w.checkpoints.older;
    if (w.next_older < older.size() && older[w.next_older].size == w.chain.count()) {
        if (older[w.next_older].root != w.chain.root()) {
            return w.stop(Errc::integrity_failure,
                          "older checkpoint " + std::to_string(w.next_older + 1) + " (size " +
                              std::to_string(w.chain.count()) + "): root differs from the entries");
        }
        ++w.next_older;
    }
    w.buffer.append(entry);
    w.buffer += '\n';
    if (w.buffer.size() >= kFlushSize) {
        if (auto ok = w.flush(); !ok) return w.stop(ok.error());
    }
    return {};
}

Result<void> BundleWriter::commit() {
    Impl& w = *impl_;
    if (w.failed || w.committed) return fail(Errc::invalid_state, "bundle writer is finished");
    if (w.chain.count() != w.checkpoints.latest.size) {
        return w.stop(Errc::invalid_state, "bundle: " + std::to_string(w.chain.count()) +
                                               " entries appended, the checkpoint covers " +
                                               std::to_string(w.checkpoints.latest.size));
    }
    if (w.chain.root() != w.checkpoints.latest.root) {
        return w.stop(Errc::integrity_failure,
                      "bundle: the entries' root differs from the checkpoint's root");
    }
    if (auto ok = w.flush(); !ok) return w.stop(ok.error());
    if (::fsync(w.fd) != 0) return w.stop(os_error("fsync of", w.tmp_path).value());
    const int closed = ::close(w.fd);
    w.fd = -1;
    if (closed != 0) return w.stop(os_error("closing", w.tmp_path).value());
    Result<void> placed;
    if (w.options.overwrite) {
        if (::rename(w.tmp_path.c_str(), w.path.c_str()) != 0) {
            placed = os_error("renaming the bundle to", w.path);
        }
    } else {
        placed = rename_noreplace(w.tmp_path, w.path);
    }
    if (!placed) return w.stop(placed.error());
    w.committed = true;
    return fsync_dir(w.path.parent_path());
}

std::uint64_t BundleWriter::appended() const noexcept { return impl_->chain.count(); }
std::uint64_t BundleWriter::size() const noexcept { return impl_->checkpoints.latest.size; }

}  // namespace enclave::audit
