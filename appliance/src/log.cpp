// SPDX-License-Identifier: Apache-2.0
#include "appliance/log.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "hsm/log.hpp"

namespace enclave::appliance {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};

bool under_journald() noexcept {
    static const bool journald = [] {
        const char* s = std::getenv("JOURNAL_STREAM");
        return s != nullptr && *s != '\0';
    }();
    return journald;
}

// sd-daemon(3) priorities: err=3, warning=4, info=6, debug=7.
char syslog_priority(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::error:
            return '3';
        case LogLevel::warning:
            return '4';
        case LogLevel::info:
            return '6';
        case LogLevel::debug:
            return '7';
    }
    return '6';
}

void append_timestamp(std::string& line) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    tm utc{};
    ::gmtime_r(&ts.tv_sec, &utc);
    std::array<char, 40> buf{};
    const int n = std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
                                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                utc.tm_min, utc.tm_sec, ts.tv_nsec / 1'000'000);
    if (n > 0) line.append(buf.data(), static_cast<std::size_t>(n));
}

// Control characters (and DEL) become \xNN so one call is one line.
void append_escaped(std::string& line, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            line += "\\x";
            line += kHex[u >> 4];
            line += kHex[u & 0x0f];
        } else {
            line += c;
        }
    }
}

void write_all(const std::string& line) noexcept {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void hsm_sink(hsm::LogLevel level, std::string_view message) noexcept {
    LogLevel ours = LogLevel::info;
    switch (level) {
        case hsm::LogLevel::debug:
            ours = LogLevel::debug;
            break;
        case hsm::LogLevel::info:
            ours = LogLevel::info;
            break;
        case hsm::LogLevel::warning:
            ours = LogLevel::warning;
            break;
        case hsm::LogLevel::error:
            ours = LogLevel::error;
            break;
    }
    log(ours, "hsm", message);
}

}  // namespace

std::string_view log_level_name(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warning:
            return "warning";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

bool parse_log_level(std::string_view name, LogLevel& out) noexcept {
    for (const LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warning, LogLevel::error}) {
        if (name == log_level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }

LogLevel log_level() noexcept { return g_level.load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view component, std::string_view message) noexcept {
    if (level < log_level()) return;
    try {
        std::string line;
        line.reserve(message.size() + component.size() + 48);
        if (under_journald()) {
            line += '<';
            line += syslog_priority(level);
            line += '>';
        } else {
            append_timestamp(line);
        }
        line += log_level_name(level);
        line += ' ';
        append_escaped(line, component);
        line += ": ";
        append_escaped(line, message);
        line += '\n';
        write_all(line);
    } catch (...) {
        // bad_alloc while logging: drop the line rather than terminate.
    }
}

void install_hsm_log_sink() noexcept { hsm::set_log_sink(&hsm_sink); }

}  // namespace enclave::appliance
