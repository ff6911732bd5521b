// SPDX-License-Identifier: Apache-2.0
#include "hsm/log.hpp"

#include <atomic>
#include <cstdio>

namespace enclave::hsm {
namespace {

void default_sink(LogLevel level, std::string_view message) noexcept {
    if (level < LogLevel::warning) {
        return;
    }
    const char* tag = level == LogLevel::error ? "error" : "warning";
    std::fprintf(stderr, "enclave hsm %s: %.*s\n", tag, static_cast<int>(message.size()),
                 message.data());
}

std::atomic<LogSink> g_sink{&default_sink};

}  // namespace

void set_log_sink(LogSink sink) noexcept {
    g_sink.store(sink != nullptr ? sink : &default_sink, std::memory_order_release);
}

void log(LogLevel level, std::string_view message) noexcept {
    g_sink.load(std::memory_order_acquire)(level, message);
}

}  // namespace enclave::hsm
