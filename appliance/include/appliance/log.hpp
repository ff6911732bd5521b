// SPDX-License-Identifier: Apache-2.0
#pragma once
// Operational log lines of the appliance: one line per event on stderr,
// "<level> <component>: <message>", so journald (or any supervisor that
// captures stderr) keeps each as one record.
//
// - Under journald (JOURNAL_STREAM is set) each line is prefixed with the
//   sd-daemon priority "<N>" so journald records the level, and carries no
//   timestamp (journald adds its own). Otherwise each line starts with an
//   RFC 3339 UTC timestamp.
// - Control characters in a message (CR, LF, ESC...) are written as "\xNN",
//   so a value that reaches a message cannot forge a second log line.
// - Callers never pass secrets: no PINs, key bytes, request bodies or header
//   values. Messages name files, listeners, peers (address, certificate
//   subject) and error kinds.
// Thread-safe: each line is built in memory and written with one write(2).

#include <string_view>

namespace enclave::appliance {

enum class LogLevel { debug, info, warning, error };

/// "debug", "info", "warning", "error".
std::string_view log_level_name(LogLevel level) noexcept;
/// Parses a level name (the config's log.level); false when unknown.
bool parse_log_level(std::string_view name, LogLevel& out) noexcept;

/// Lines below `level` are dropped (default info).
void set_log_level(LogLevel level) noexcept;
[[nodiscard]] LogLevel log_level() noexcept;

/// Writes one line. Never throws; a failed write is ignored.
void log(LogLevel level, std::string_view component, std::string_view message) noexcept;

/// Routes the hsm layer's log hook (hsm::set_log_sink) into log() with
/// component "hsm".
void install_hsm_log_sink() noexcept;

}  // namespace enclave::appliance
