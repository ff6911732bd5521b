// SPDX-License-Identifier: Apache-2.0
#include "line_reader.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace enclave::audit::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

LineReader::LineReader(int fd, std::size_t chunk) : fd_(fd), chunk_(chunk), buf_(chunk) {}

// Makes room for `need` more bytes after end_ (moving the unconsumed tail to
// the front, growing only when one line needs it), then reads once. Returns
// false at end of file.
Result<bool> LineReader::fill(std::size_t need) {
    if (begin_ > 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (buf_.size() - end_ < need) buf_.resize(end_ + need);
    for (;;) {
        const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(Errc::io_error, std::string("read: ") + std::strerror(errno));
        end_ += static_cast<std::size_t>(n);
        return n > 0;
    }
}

Result<LineReader::Line> LineReader::next(std::size_t max_length) {
    for (;;) {
        const std::size_t have = end_ - begin_;
        const std::size_t window = std::min(have, max_length + 1);
        if (scanned_ < window) {
            const char* start = buf_.data() + begin_;
            const void* nl = std::memchr(start + scanned_, '\n', window - scanned_);
            if (nl != nullptr) {
                const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
                begin_ += len + 1;
                consumed_ += len + 1;
                scanned_ = 0;
                return Line{Status::line, {start, len}};
            }
            scanned_ = window;
        }
        if (have > max_length) return Line{Status::too_long, {}};
        if (eof_) {
            if (have == 0) return Line{Status::eof, {}};
            const char* start = buf_.data() + begin_;
            begin_ = end_;
            consumed_ += have;
            scanned_ = 0;
            return Line{Status::unterminated, {start, have}};
        }
        // Read at least a chunk, and enough to see the end of a long line.
        const std::size_t need = std::max(chunk_, max_length + 1 - std::min(have, max_length + 1));
        auto more = fill(need);
        if (!more) return tl::unexpected(more.error());
        if (!*more) eof_ = true;
    }
}

}  // namespace enclave::audit::detail
