// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading a token PIN. PINs never come from argv, URIs or config values: only
// from a file the appliance's user alone can read, from stdin, or from an
// environment variable (for service managers that pass credentials that way).
//
// Holds: the PIN, returned in a crypto::Secret (sodium_malloc'd, mlock'd,
// wiped on destruction). Intermediate buffers are Secrets too; nothing is
// copied into a std::string. Error messages name the file or variable, never
// the content.
//
// Format: the PIN is the whole input with one trailing "\n" (or "\r\n")
// removed. It must be 1..kMaxPinLength bytes and contain no NUL, CR or LF
// (two trailing newlines are a mistake we refuse rather than guess about).

#include <cstddef>
#include <filesystem>
#include <string>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::hsm {

/// Longest PIN accepted (PKCS#11 tokens allow far less; SoftHSM 255).
inline constexpr std::size_t kMaxPinLength = 256;

/// Reads a PIN file. Refuses (invalid_argument) a file that is not a regular
/// file (symlinks are not followed), one readable or writable by group or
/// others (mode & 077), or one owned by a user other than the caller or root.
/// Errors: not_found, io_error, invalid_argument, too_large.
crypto::Result<crypto::Secret> read_pin_file(const std::filesystem::path& path);

/// Reads a PIN from an open descriptor (0 for stdin) up to the first newline or
/// end of input. When the descriptor is a terminal, echo is switched off while
/// reading. The descriptor is not closed.
crypto::Result<crypto::Secret> read_pin_fd(int fd);

/// Reads a PIN from environment variable `name`. When `scrub` is true (the
/// default) the variable's bytes are overwritten in place and the variable is
/// removed, so child processes and /proc/<pid>/environ do not see it. Call this
/// before starting threads (setenv/unsetenv are not thread-safe).
crypto::Result<crypto::Secret> read_pin_env(const std::string& name, bool scrub = true);

/// Checks an in-memory PIN against the rules above (used by the readers and by
/// token initialisation).
crypto::Result<void> validate_pin(const crypto::Secret& pin);

/// A new random PIN of 2 * random_bytes lowercase hex digits (24 by default:
/// 96 bits), built in secure memory. For token initialisation.
crypto::Secret generate_pin(std::size_t random_bytes = 12);

}  // namespace enclave::hsm
