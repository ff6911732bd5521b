// SPDX-License-Identifier: Apache-2.0
#include "audit/progress.hpp"

#include <algorithm>
#include <cstdio>

namespace enclave::audit {

namespace {

constexpr int kWidth = 30;
constexpr auto kInterval = std::chrono::milliseconds(100);

void write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n <= 0) return;  // a progress bar never fails its caller
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace

ProgressBar::ProgressBar(std::string label, std::uint64_t total, int fd)
    : label_(std::move(label)),
      total_(total),
      fd_(fd),
      enabled_(::isatty(fd) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
    if (drawn_ && !finished_) write_all(fd_, "\n", 1);
}

void ProgressBar::update(std::uint64_t done) {
    if (!enabled_ || finished_) return;
    last_done_ = done;
    const auto now = std::chrono::steady_clock::now();
    if (done < total_ && drawn_ && now - last_draw_ < kInterval) return;
    last_draw_ = now;
    draw(done);
}

void ProgressBar::finish() {
    if (!enabled_ || finished_) return;
    draw(std::max(last_done_, total_));
    write_all(fd_, "\n", 1);
    finished_ = true;
}

void ProgressBar::draw(std::uint64_t done) {
    const double fraction =
        total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    const int filled = static_cast<int>(fraction * kWidth);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = '\0';
    char line[256];
    const int n = std::snprintf(line, sizeof line, "\r%.40s [%s] %5.1f%% %llu/%llu %.1f s",
                                label_.c_str(), bar, fraction * 100.0,
                                static_cast<unsigned long long>(done),
                                static_cast<unsigned long long>(total_), seconds);
    if (n > 0) write_all(fd_, line, std::min(static_cast<std::size_t>(n), sizeof line - 1));
    drawn_ = true;
}

ProgressFunction terminal_progress(std::string label, std::uint64_t threshold, int fd) {
    auto bar = std::make_shared<std::unique_ptr<ProgressBar>>();
    return [bar, label = std::move(label), threshold, fd](std::uint64_t done, std::uint64_t total) {
        if (!*bar) {
            if (total <= threshold || ::isatty(fd) != 1) return;
            *bar = std::make_unique<ProgressBar>(label, total, fd);
        }
        (*bar)->update(done);
        if (done >= total) (*bar)->finish();
    };
}

}  // namespace enclave::audit
