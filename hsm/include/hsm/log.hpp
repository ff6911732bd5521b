// SPDX-License-Identifier: Apache-2.0
#pragma once
// A minimal log hook for the hsm layer. Destructors cannot return errors
// (C_Logout / C_CloseSession failing in ~Session), so they report through
// here. The appliance installs its own sink; the default writes warnings and
// errors to stderr. Messages never carry PINs or key bytes: callers pass only
// operation names, CKR names, labels and URIs.

#include <string_view>

namespace enclave::hsm {

enum class LogLevel { debug, info, warning, error };

/// A sink must be thread-safe and must not throw.
using LogSink = void (*)(LogLevel level, std::string_view message) noexcept;

/// Installs `sink` for the whole process (nullptr restores the default).
void set_log_sink(LogSink sink) noexcept;

/// Sends one line to the current sink. Never throws.
void log(LogLevel level, std::string_view message) noexcept;

}  // namespace enclave::hsm
