// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to the config parser: the problem list every rule reports into,
// the value ranges (shared by the parser, the validator, the renderer and
// docs/configuration.md), and the checks that do not need TOML.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/config.hpp"
#include "crypto/result.hpp"

namespace enclave::appliance::detail {

/// Every broken rule of one config file, as "key.path: rule". Reported
/// together (capped), so an operator fixes a file in one pass.
class Problems {
public:
    void add(std::string_view key_path, std::string_view rule);
    [[nodiscard]] bool empty() const noexcept { return items_.empty(); }
    /// invalid_argument whose context is the problems joined with "; ".
    [[nodiscard]] crypto::Error error() const;

private:
    static constexpr std::size_t kMaxReported = 20;
    std::vector<std::string> items_;
    std::size_t dropped_ = 0;
};

// Value ranges (docs/configuration.md quotes them).
inline constexpr std::int64_t kMinTimeoutMs = 100;
inline constexpr std::int64_t kMaxTimeoutMs = 3'600'000;
inline constexpr std::int64_t kMaxGraceMs = 3'600'000;
inline constexpr std::int64_t kMaxCheckpointEvery = 1'000'000;
inline constexpr std::int64_t kMinHeaderBytes = 1024;
inline constexpr std::int64_t kMaxHeaderBytes = 1024 * 1024;
inline constexpr std::int64_t kMaxBodyBytes = 1024LL * 1024 * 1024;
inline constexpr std::int64_t kMaxConnections = 100'000;
inline constexpr std::int64_t kMaxSessions = 1024;
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMaxGroupLength = 32;
/// Subjects per role in admin.tls_roles.
inline constexpr std::size_t kMaxRoleSubjects = 64;
inline constexpr std::int64_t kMinApprovalWindowS = 1;
inline constexpr std::int64_t kMaxApprovalWindowS = 86'400;
inline constexpr std::int64_t kMaxPendingProposals = 1024;
inline constexpr std::size_t kMaxGuardedRoutes = 64;
/// Keys, table headers and inline tables nest at most this deep per line
/// (our schema needs 3). toml++ recurses per level and a 1 MiB file of
/// "a.a.a..." would overflow the stack; this bound is checked before parsing.
inline constexpr std::size_t kMaxNestingPerLine = 64;

/// Refuses text whose key paths nest deeper than kMaxNestingPerLine on one
/// line (dots, '[' and '{' outside strings and comments), and a line that
/// opens with '[' (a table header) not followed by a key (toml++ 3.3.0
/// asserts on those instead of reporting them) or a non-ASCII character
/// outside one-line strings and comments (toml++ 3.3.0 reaches
/// __builtin_unreachable on some). malformed_input with the line number.
crypto::Result<void> check_nesting(std::string_view text);

/// Cross-field and format rules on a fully read Config (URIs, addresses,
/// listener clashes, socket mode, names, pin source, path lengths).
void validate(const Config& config, Problems& problems);

/// "0660" -> 0660; nullopt unless 3 or 4 octal digits.
std::optional<std::uint32_t> parse_octal_mode(std::string_view text);
/// 0660 -> "0660".
std::string format_octal_mode(std::uint32_t mode);

/// A key name from the file, safe to print: printable ASCII only, at most 64
/// characters, quoted when it is not a bare key.
std::string printable_key(std::string_view key);

/// The data directory as stored in Config: absolute, normalised, no trailing '/'.
std::filesystem::path normalise_data_dir(const std::filesystem::path& dir);

}  // namespace enclave::appliance::detail
