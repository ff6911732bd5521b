// SPDX-License-Identifier: Apache-2.0
// verify_bundle: one streaming pass over the file, O(log n) memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <optional>

#include "audit/bundle.hpp"
#include "bundle_entry.hpp"
#include "bundle_header.hpp"
#include "bundle_verify_detail.hpp"
#include "consistency_plan.hpp"
#include "line_reader.hpp"

namespace enclave::audit {

namespace fs = std::filesystem;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using detail::bad;

namespace {

constexpr std::uint64_t kProgressEvery = 16384;
// A caller's line limit is clamped to this: the reader buffers one line.
constexpr std::size_t kMaxEntryLimit = std::size_t{1} << 30;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    [[nodiscard]] int get() const { return fd_; }

private:
    int fd_;
};

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
    std::uint64_t out = 0;
    return __builtin_mul_overflow(a, b, &out) ? UINT64_MAX : out;
}

// The state of one verification run.
class Verification {
public:
    Verification(const fs::path& path, const VerifyOptions& options)
        : path_(path),
          options_(options),
          max_entry_(std::clamp<std::size_t>(options.max_entry_size, 1, kMaxEntryLimit)) {}

    Result<BundleReport> run();

private:
    Result<int> open_file();
    Result<void> read_header(detail::LineReader& reader);
    Result<void> check_checkpoints();
    Result<void> prepare_since();
    Result<void> stream(detail::LineReader& reader);
    Result<void> after_entry();
    Result<void> finish(detail::LineReader& reader);

    const fs::path& path_;
    const VerifyOptions& options_;
    const std::size_t max_entry_;  ///< options.max_entry_size, clamped
    BundleReport report_;
    detail::BundleHeader header_;
    std::optional<NoteVerifierKey> key_;
    std::optional<NoteVerifierKey> bundle_key_;
    detail::OpenedCheckpoints checkpoints_;
    std::size_t next_older_ = 0;
    std::optional<Checkpoint> since_;
    std::optional<detail::ConsistencyPlan> plan_;
    detail::Chain chain_;
};

Result<int> Verification::open_file() {
    // O_NONBLOCK: opening a FIFO without a writer must not hang; the type
    // check below refuses it, and regular files ignore the flag.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        const Errc code = errno == ENOENT ? Errc::not_found : Errc::io_error;
        return fail(code, "opening " + path_.string() + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Errc::io_error, path_.string() + " is not a regular file");
    }
    (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    report_.bytes = static_cast<std::uint64_t>(st.st_size);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return fd;
}

Result<void> Verification::read_header(detail::LineReader& reader) {
    auto line = reader.next(kMaxBundleHeaderSize);
    if (!line) return tl::unexpected(line.error());
    if (line->status == detail::LineReader::Status::eof) return bad("header: the file is empty");
    if (line->status == detail::LineReader::Status::too_long) {
        return bad("header: longer than " + std::to_string(kMaxBundleHeaderSize) + " bytes");
    }
    if (line->status == detail::LineReader::Status::unterminated) {
        return bad("header: not followed by a newline");
    }
    auto header = detail::parse_header_line(line->text);
    if (!header) return bad("header: " + header.error().context());
    header_ = std::move(*header);
    auto key = NoteVerifierKey::parse(header_.public_key);
    if (!key) return bad("header: \"public_key\": " + key.error().context());
    bundle_key_ = *key;
    if (header_.size > options_.max_entries) {
        return bad("header: " + std::to_string(header_.size) + " entries exceed the limit of " +
                   std::to_string(options_.max_entries));
    }
    const std::uint64_t body =
        report_.bytes > reader.consumed() ? report_.bytes - reader.consumed() : 0;
    if (body > saturating_mul(header_.size, max_entry_ + 1)) {
        return bad("header: the file holds more bytes than " + std::to_string(header_.size) +
                   " entries of at most " + std::to_string(max_entry_) +
                   " bytes can (extra data)");
    }
    return {};
}

Result<void> Verification::check_checkpoints() {
    report_.key_pinned = options_.pinned_key.has_value();
    key_ = report_.key_pinned ? *options_.pinned_key : *bundle_key_;
    report_.bundle_key_differs = report_.key_pinned && !(*key_ == *bundle_key_);
    report_.key = key_->to_string();
    auto opened =
        detail::open_checkpoints(header_.checkpoint, header_.checkpoints, *key_, header_.origin);
    if (!opened) {
        std::string context = opened.error().context();
        if (report_.bundle_key_differs) {
            context += " (the bundle names key " + bundle_key_->label() + ", not the pinned key)";
        }
        return bad(context);
    }
    checkpoints_ = std::move(*opened);
    if (checkpoints_.latest.size != header_.size) {
        return bad("header: \"size\" " + std::to_string(header_.size) +
                   " differs from the checkpoint's size " +
                   std::to_string(checkpoints_.latest.size));
    }
    report_.origin = header_.origin;
    report_.checkpoints_checked = 1 + checkpoints_.older.size();
    return {};
}

Result<void> Verification::prepare_since() {
    if (!options_.since_checkpoint) return {};
    auto cp = open_checkpoint(*options_.since_checkpoint, *key_);
    if (!cp) return bad("since-checkpoint: " + cp.error().context());
    if (cp->origin != header_.origin) {
        return bad("since-checkpoint: its origin differs from the bundle's origin");
    }
    const std::uint64_t n = header_.size;
    if (cp->size > n) {
        return bad("since-checkpoint: rolled back: the older checkpoint covers " +
                   std::to_string(cp->size) + " entries, this bundle only " + std::to_string(n) +
                   " (entries " + std::to_string(n) + " to " + std::to_string(cp->size - 1) +
                   " are gone)");
    }
    report_.since_size = cp->size;
    ++report_.checkpoints_checked;
    if (cp->size == 0 && cp->root != crypto::LogHasher{}.empty_root()) {
        return bad("since-checkpoint: its root is not the empty tree's root for size 0");
    }
    if (cp->size > 0 && cp->size < n) {
        auto plan = detail::ConsistencyPlan::make(cp->size, n);
        if (!plan) return tl::unexpected(plan.error());
        plan_ = std::move(*plan);
    }
    since_ = std::move(*cp);
    return {};
}

// The checks due once an entry has joined the chain: the roots of older
// checkpoints and of the since-checkpoint at their sizes, the proof plan,
// progress.
Result<void> Verification::after_entry() {
    const std::uint64_t count = chain_.count();
    if (plan_) plan_->add_leaf(count - 1, chain_.last_leaf());
    auto& older = checkpoints_.older;
    if (next_older_ < older.size() && older[next_older_].size == count) {
        if (older[next_older_].root != chain_.root()) {
            const std::uint64_t from = next_older_ == 0 ? 0 : older[next_older_ - 1].size;
            return bad(detail::older_root_mismatch(next_older_ + 1, count, from));
        }
        ++next_older_;
    }
    if (since_ && since_->size == count && since_->root != chain_.root()) {
        return bad("since-checkpoint: diverges: the first " + std::to_string(count) +
                   " entries of this bundle do not have the older checkpoint's root (the log "
                   "was rewritten or forked)");
    }
    if (options_.progress && count % kProgressEvery == 0) options_.progress(count, header_.size);
    return {};
}

Result<void> Verification::stream(detail::LineReader& reader) {
    using Status = detail::LineReader::Status;
    const std::uint64_t n = header_.size;
    while (chain_.count() < n) {
        const std::uint64_t position = chain_.count();
        auto line = reader.next(max_entry_);
        if (!line) return tl::unexpected(line.error());
        if (line->status == Status::eof) return bad(detail::missing_tail(position, n));
        if (line->status == Status::too_long) {
            return bad(detail::entry_prefix(position) + "longer than " +
                       std::to_string(max_entry_) + " bytes");
        }
        if (line->status == Status::unterminated) {
            return bad(detail::entry_prefix(position) +
                       "the file ends without a newline after it (truncated?)");
        }
        const detail::LinkCheck link = chain_.add(line->text);
        if (link.fault == detail::LinkFault::index_mismatch) {
            return bad(detail::classify_index_fault(reader, position, link.found_index, n,
                                                    max_entry_));
        }
        if (link.fault != detail::LinkFault::none) return bad(detail::link_fault(link, position));
        if (auto ok = after_entry(); !ok) return ok;
    }
    return {};
}

Result<void> Verification::finish(detail::LineReader& reader) {
    const std::uint64_t n = header_.size;
    auto extra = reader.next(max_entry_);
    if (!extra) return tl::unexpected(extra.error());
    if (extra->status != detail::LineReader::Status::eof) {
        return bad(detail::entry_prefix(n) + "extra data after the " + std::to_string(n) +
                   " entries the checkpoint covers (an appended or inserted entry)");
    }
    report_.root = chain_.root();
    if (report_.root != checkpoints_.latest.root) {
        const std::uint64_t from = checkpoints_.older.empty() ? 0 : checkpoints_.older.back().size;
        return bad(detail::final_root_mismatch(n, from));
    }
    report_.entries = n;
    if (plan_) {
        auto proof = plan_->proof();
        if (!proof) return tl::unexpected(proof.error());
        auto ok = crypto::verify_consistency(crypto::LogHasher{}, since_->size, n, *proof,
                                             since_->root, report_.root);
        if (!ok) return bad("since-checkpoint: the consistency proof does not verify: " +
                            ok.error().context());
        report_.consistency_proof = std::move(*proof);
    }
    if (options_.progress && (n == 0 || n % kProgressEvery != 0)) options_.progress(n, n);
    return {};
}

Result<BundleReport> Verification::run() {
    const auto start = std::chrono::steady_clock::now();
    auto fd = open_file();
    if (!fd) return tl::unexpected(fd.error());
    const Fd file(*fd);
    detail::LineReader reader(file.get());
    if (auto ok = read_header(reader); !ok) return tl::unexpected(ok.error());
    if (auto ok = check_checkpoints(); !ok) return tl::unexpected(ok.error());
    if (auto ok = prepare_since(); !ok) return tl::unexpected(ok.error());
    if (auto ok = stream(reader); !ok) return tl::unexpected(ok.error());
    if (auto ok = finish(reader); !ok) return tl::unexpected(ok.error());
    report_.elapsed = std::chrono::steady_clock::now() - start;
    return report_;
}

}  // namespace

Result<BundleReport> verify_bundle(const fs::path& path, const VerifyOptions& options) {
    return Verification(path, options).run();
}

}  // namespace enclave::audit
