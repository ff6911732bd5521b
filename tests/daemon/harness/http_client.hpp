// SPDX-License-Identifier: Apache-2.0
#pragma once
// A deliberately small HTTP/1.1 client for the tests (no Beast: the tests
// talk to the daemon the way an outside program would). Unix-socket requests
// for the admin API, and a parser for one response.

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace enclave::daemon_test {

struct HttpReply {
    int status = 0;                              ///< 0: no (complete) response
    std::map<std::string, std::string> headers;  ///< names lowercased
    std::string body;
    std::string error;  ///< why status is 0
};

/// Parses one complete response from `raw` (Content-Length or read-to-close).
/// Returns the number of bytes consumed, or nullopt when `raw` does not yet
/// hold a complete response. `at_eof`: the peer closed after `raw`.
std::optional<std::size_t> parse_reply(std::string_view raw, bool at_eof, HttpReply& out);

/// GET (or another method) on the admin socket with Connection: close.
HttpReply unix_request(const std::filesystem::path& socket, std::string_view method,
                       std::string_view target, std::string_view body = {});
inline HttpReply unix_get(const std::filesystem::path& socket, std::string_view target) {
    return unix_request(socket, "GET", target);
}

/// The same GET from a child process that dropped to `uid`/`gid` (no
/// supplementary groups) before connecting. status 0 with `error` set when
/// the child could not connect (e.g. EACCES).
HttpReply unix_get_as(const std::filesystem::path& socket, std::string_view target, uid_t uid,
                      gid_t gid);
/// Any method and body, from such a child.
HttpReply unix_request_as(const std::filesystem::path& socket, std::string_view method,
                          std::string_view target, std::string_view body, uid_t uid, gid_t gid);

/// A raw request over an already-connected stream socket fd, read to close.
HttpReply exchange_on_fd(int fd, std::string_view request);

}  // namespace enclave::daemon_test
