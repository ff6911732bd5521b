// SPDX-License-Identifier: Apache-2.0
// The JSON-lines file sink (size-based rotation) and the stdout sink
// (monitoring.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "appliance/monitoring.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;

/// Writes as much of `data` as it can; the bytes written.
std::size_t write_some(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
    }
    return off;
}

class FileSink final : public MonitoringSink {
public:
    FileSink(std::filesystem::path path, std::uint64_t max_bytes, std::uint32_t keep)
        : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
    ~FileSink() override {
        if (fd_ >= 0) ::close(fd_);
    }

    [[nodiscard]] std::string_view name() const noexcept override { return "file"; }
    [[nodiscard]] std::string_view failure_reason() const noexcept override { return reason_; }

    crypto::Result<std::size_t> deliver(const std::vector<EventRecord>& batch) override {
        std::size_t done = 0;
        for (const EventRecord& r : batch) {
            const std::uint64_t need = r.json.size() + 1;
            if (fd_ >= 0 && size_ > 0 && size_ + need > max_bytes_) {
                if (auto ok = rotate(); !ok) return done > 0 ? crypto::Result<std::size_t>(done) : tl::unexpected(ok.error());
            }
            if (fd_ < 0) {
                if (auto ok = open_file(); !ok) return done > 0 ? crypto::Result<std::size_t>(done) : tl::unexpected(ok.error());
            }
            std::string line = r.json;
            line += '\n';
            const std::size_t n = write_some(fd_, line);
            if (n != line.size()) {
                // A partial line: cut it off so the file stays whole lines.
                if (n > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
                    ::close(fd_);
                    fd_ = -1;
                }
                reason_ = "write";
                if (done > 0) return done;
                return fail(Errc::io_error, "writing " + path_.string() + ": " + std::strerror(errno));
            }
            size_ += n;
            ++done;
        }
        if (fd_ >= 0) ::fdatasync(fd_);
        return done;
    }

private:
    crypto::Result<void> open_file() {
        std::error_code ec;
        std::filesystem::create_directories(path_.parent_path(), ec);
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd_ < 0) {
            reason_ = "open";
            return fail(Errc::io_error, "opening " + path_.string() + ": " + std::strerror(errno));
        }
        struct stat st {};
        size_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
        return {};
    }

    /// events.jsonl -> .1 -> .2 ... -> .keep (deleted beyond).
    crypto::Result<void> rotate() {
        ::close(fd_);
        fd_ = -1;
        const std::string base = path_.string();
        std::error_code ec;
        std::filesystem::remove(base + "." + std::to_string(keep_), ec);
        for (std::uint32_t i = keep_; i > 1; --i) {
            const std::string from = base + "." + std::to_string(i - 1);
            if (std::filesystem::exists(from, ec)) {
                std::filesystem::rename(from, base + "." + std::to_string(i), ec);
            }
        }
        std::filesystem::rename(base, base + ".1", ec);
        if (ec) {
            reason_ = "rotate";
            return fail(Errc::io_error, "rotating " + base + ": " + ec.message());
        }
        return open_file();
    }

    std::filesystem::path path_;
    std::uint64_t max_bytes_;
    std::uint32_t keep_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string_view reason_ = "write";
};

class StdoutSink final : public MonitoringSink {
public:
    [[nodiscard]] std::string_view name() const noexcept override { return "stdout"; }
    crypto::Result<std::size_t> deliver(const std::vector<EventRecord>& batch) override {
        std::size_t done = 0;
        for (const EventRecord& r : batch) {
            std::string line = r.json;
            line += '\n';
            if (write_some(STDOUT_FILENO, line) != line.size()) {
                if (done > 0) return done;
                return fail(Errc::io_error, std::string("writing to stdout: ") + std::strerror(errno));
            }
            ++done;
        }
        return done;
    }
};

}  // namespace

std::unique_ptr<MonitoringSink> make_file_sink(std::filesystem::path path, std::uint64_t max_bytes,
                                               std::uint32_t keep) {
    return std::make_unique<FileSink>(std::move(path), max_bytes, keep);
}

std::unique_ptr<MonitoringSink> make_stdout_sink() { return std::make_unique<StdoutSink>(); }

}  // namespace enclave::appliance
