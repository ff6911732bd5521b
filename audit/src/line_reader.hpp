// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reads a file line by line through one large buffer, without a copy per
// line, with a per-call length limit so a hostile file without newlines
// cannot make us buffer it whole.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::audit::detail {

class LineReader {
public:
    enum class Status {
        line,         ///< `text` is one line, without its "\n"
        unterminated, ///< `text` is the file's last bytes, with no "\n" after them
        too_long,     ///< no "\n" within the limit
        eof,          ///< nothing left
    };
    struct Line {
        Status status = Status::eof;
        std::string_view text;  ///< valid until the next call
    };

    /// Reads from `fd` (not owned) from its current offset.
    explicit LineReader(int fd, std::size_t chunk = 4u << 20);

    /// The next line of at most `max_length` bytes (plus its "\n").
    /// io_error when read() fails.
    [[nodiscard]] crypto::Result<Line> next(std::size_t max_length);

    /// Bytes consumed so far (lines returned, with their newlines).
    [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }

private:
    crypto::Result<bool> fill(std::size_t need);

    int fd_;
    std::size_t chunk_;
    std::vector<char> buf_;
    std::size_t begin_ = 0;    ///< first unconsumed byte
    std::size_t end_ = 0;      ///< one past the last byte read
    std::size_t scanned_ = 0;  ///< bytes after begin_ known to hold no '\n'
    bool eof_ = false;
    std::uint64_t consumed_ = 0;
};

}  // namespace enclave::audit::detail
