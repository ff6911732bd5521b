// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading the daemon's Prometheus text from the admin socket.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace enclave::daemon_test {

/// The value of the sample written exactly as `series` (name plus labels, as
/// the daemon prints them, e.g. `enclave_tls_handshakes_total{listener="lea"}`).
std::optional<std::uint64_t> sample_value(std::string_view metrics_text, std::string_view series);

/// Fetches /metrics; nullopt when the socket does not answer 200.
std::optional<std::string> fetch_metrics(const std::filesystem::path& socket);

/// Polls /metrics until `series` is at least `at_least` (the server counts a
/// failed handshake just after the client saw it fail); returns the last value
/// seen (0 when absent). Gives up after `limit` (not a timing assertion: the
/// caller asserts the value).
std::uint64_t wait_for_sample(const std::filesystem::path& socket, std::string_view series,
                              std::uint64_t at_least,
                              std::chrono::milliseconds limit = std::chrono::seconds(20));

/// The same, until the value is exactly `value` (a gauge that moves both ways).
std::uint64_t wait_for_sample_eq(const std::filesystem::path& socket, std::string_view series,
                                 std::uint64_t value,
                                 std::chrono::milliseconds limit = std::chrono::seconds(20));

/// The same, until the value is at most `at_most` (a gauge going down).
std::uint64_t wait_for_sample_at_most(const std::filesystem::path& socket, std::string_view series,
                                      std::uint64_t at_most,
                                      std::chrono::milliseconds limit = std::chrono::seconds(20));

}  // namespace enclave::daemon_test
