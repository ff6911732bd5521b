// SPDX-License-Identifier: Apache-2.0
#include "metrics_reader.hpp"

#include <thread>

#include "http_client.hpp"

namespace enclave::daemon_test {

std::optional<std::uint64_t> sample_value(std::string_view text, std::string_view series) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        if (line.size() > series.size() && line.substr(0, series.size()) == series &&
            line[series.size()] == ' ') {
            return std::stoull(std::string(line.substr(series.size() + 1)));
        }
        pos = end + 1;
    }
    return std::nullopt;
}

std::optional<std::string> fetch_metrics(const std::filesystem::path& socket) {
    auto r = unix_get(socket, "/metrics");
    if (r.status != 200) return std::nullopt;
    return r.body;
}

namespace {

template <class Done>
std::uint64_t poll_sample(const std::filesystem::path& socket, std::string_view series,
                          std::chrono::milliseconds limit, Done done) {
    const auto end = std::chrono::steady_clock::now() + limit;
    std::uint64_t last = 0;
    for (;;) {
        if (auto text = fetch_metrics(socket)) last = sample_value(*text, series).value_or(0);
        if (done(last) || std::chrono::steady_clock::now() >= end) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

std::uint64_t wait_for_sample(const std::filesystem::path& socket, std::string_view series,
                              std::uint64_t at_least, std::chrono::milliseconds limit) {
    return poll_sample(socket, series, limit, [&](std::uint64_t v) { return v >= at_least; });
}

std::uint64_t wait_for_sample_eq(const std::filesystem::path& socket, std::string_view series,
                                 std::uint64_t value, std::chrono::milliseconds limit) {
    return poll_sample(socket, series, limit, [&](std::uint64_t v) { return v == value; });
}

std::uint64_t wait_for_sample_at_most(const std::filesystem::path& socket, std::string_view series,
                                      std::uint64_t at_most, std::chrono::milliseconds limit) {
    return poll_sample(socket, series, limit, [&](std::uint64_t v) { return v <= at_most; });
}

}  // namespace enclave::daemon_test
