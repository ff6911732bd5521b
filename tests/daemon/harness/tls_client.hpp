// SPDX-License-Identifier: Apache-2.0
#pragma once
// An OpenSSL TLS client for the daemon tests, written here rather than with
// Beast so the tests meet the server the way an outside client does. Blocking
// sockets with 30 s receive/send timeouts, so a broken server fails a test
// instead of hanging it.

#include <openssl/ssl.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "crypto/c_handle.hpp"
#include "http_client.hpp"

namespace enclave::daemon_test {

using X509Ptr = crypto::CHandle<X509, X509_free>;

struct TlsClientConfig {
    std::filesystem::path certificate;  ///< client chain; "" = send no certificate
    std::filesystem::path key;
    std::filesystem::path trust_anchors;  ///< verify the server against this; "" = do not verify
    int min_version = TLS1_2_VERSION;
    int max_version = 0;       ///< 0 = highest
    std::string cipher_list;   ///< TLS 1.2 and below ("" = OpenSSL default)
    std::string ciphersuites;  ///< TLS 1.3 ("" = default)
    int security_level = -1;   ///< -1 = OpenSSL default
};

class TlsConnection {
public:
    /// TCP connect to 127.0.0.1:port and run the handshake. Never throws for
    /// a refused connection or failed handshake: see ok() / error().
    TlsConnection(std::uint16_t port, const TlsClientConfig& config);
    ~TlsConnection();
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    /// TCP connected and SSL_connect succeeded. (With TLS 1.3 the server may
    /// still reject the client certificate after this: use request().)
    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] bool tcp_connected() const noexcept { return fd_ >= 0; }
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    [[nodiscard]] int version() const;  ///< TLS1_3_VERSION, ...
    [[nodiscard]] std::string cipher() const;
    /// The server's leaf certificate (a new reference).
    [[nodiscard]] X509Ptr peer_certificate() const;

    bool send_all(std::string_view data);
    /// Reads until one complete response arrived (or the peer closed).
    HttpReply read_reply();
    /// One response exactly as it came off the wire (header block and body
    /// by Content-Length; `head`: the answer to HEAD, no body). "" on failure.
    std::string read_raw_reply(bool head = false);
    /// Reads up to `n` bytes (what is already buffered first); "" at EOF.
    std::string read_some(std::size_t n);
    /// send_all(request) + read_reply(); the connection stays open (keep-alive).
    HttpReply request(std::string_view method, std::string_view target, std::string_view body = {},
                      bool close = false);
    /// True when the server closed the connection (read returns EOF or an error)
    /// within the socket timeout.
    bool wait_closed_by_peer();

    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    bool ok_ = false;
    std::string error_;
    std::string pending_;  ///< bytes read past the last response
};

/// The queued OpenSSL errors as text (and clears the queue).
std::string openssl_errors();

/// TCP connect only (no TLS); -1 when refused.
int tcp_connect(std::uint16_t port);

/// A port that was free a moment ago on 127.0.0.1.
std::uint16_t free_port();

}  // namespace enclave::daemon_test
