// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small terminal progress bar for long offline checks (verify_bundle on a
// large bundle). It draws only when its file descriptor is a terminal
// (isatty), redraws at most ten times a second, and writes nothing else, so
// piped or logged output stays clean.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <unistd.h>

namespace enclave::audit {

/// Progress: units done so far and the total.
using ProgressFunction = std::function<void(std::uint64_t done, std::uint64_t total)>;

class ProgressBar {
public:
    /// Draws on `fd` (not owned; stderr by default) when it is a terminal.
    explicit ProgressBar(std::string label, std::uint64_t total, int fd = STDERR_FILENO);
    /// Ends the line if anything was drawn.
    ~ProgressBar();
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    /// Redraws when 100 ms passed since the last draw, or when done == total.
    void update(std::uint64_t done);
    /// Draws the final state and ends the line (once).
    void finish();

    [[nodiscard]] bool enabled() const noexcept { return enabled_; }

private:
    void draw(std::uint64_t done);

    std::string label_;
    std::uint64_t total_;
    int fd_;
    bool enabled_;
    bool drawn_ = false;
    bool finished_ = false;
    std::uint64_t last_done_ = 0;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_{};
};

/// A ProgressFunction for verify_bundle: shows a ProgressBar on `fd` (stderr)
/// when it is a terminal and the total exceeds `threshold` (the rule:
/// bundles over 100,000 entries); otherwise does nothing. The bar is created
/// at the first call, when the total is known, and ends its line at the
/// final call (done == total) or when the function is destroyed.
[[nodiscard]] ProgressFunction terminal_progress(std::string label,
                                                 std::uint64_t threshold = 100000,
                                                 int fd = STDERR_FILENO);

}  // namespace enclave::audit
