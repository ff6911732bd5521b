// SPDX-License-Identifier: Apache-2.0
#include "tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

namespace enclave::daemon_test {

std::string openssl_errors() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

int tcp_connect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        throw std::runtime_error("free_port: cannot bind");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

TlsConnection::TlsConnection(std::uint16_t port, const TlsClientConfig& c) {
    // OpenSSL writes to the socket with write(2): a server that closed the
    // connection must give an error here, not kill the test with SIGPIPE.
    static const bool sigpipe_ignored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    ERR_clear_error();
    fd_ = tcp_connect(port);
    if (fd_ < 0) {
        error_ = std::string("connect: ") + std::strerror(errno);
        return;
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (c.security_level >= 0) SSL_CTX_set_security_level(ctx_, c.security_level);
    SSL_CTX_set_min_proto_version(ctx_, c.min_version);
    if (c.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, c.max_version);
    bool setup = true;
    if (!c.cipher_list.empty())
        setup = setup && SSL_CTX_set_cipher_list(ctx_, c.cipher_list.c_str()) == 1;
    if (!c.ciphersuites.empty())
        setup = setup && SSL_CTX_set_ciphersuites(ctx_, c.ciphersuites.c_str()) == 1;
    if (!c.certificate.empty()) {
        setup = setup && SSL_CTX_use_certificate_chain_file(ctx_, c.certificate.c_str()) == 1 &&
                SSL_CTX_use_PrivateKey_file(ctx_, c.key.c_str(), SSL_FILETYPE_PEM) == 1;
    }
    if (!c.trust_anchors.empty()) {
        setup = setup && SSL_CTX_load_verify_locations(ctx_, c.trust_anchors.c_str(), nullptr) == 1;
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!setup) {
        error_ = "client set-up: " + openssl_errors();
        return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
        error_ = "handshake: " + openssl_errors();
        return;
    }
    ok_ = true;
}

TlsConnection::~TlsConnection() {
    if (ssl_ != nullptr) {
        if (ok_) SSL_shutdown(ssl_);
        SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
}

int TlsConnection::version() const { return ssl_ != nullptr ? SSL_version(ssl_) : 0; }

std::string TlsConnection::cipher() const {
    const char* name = ssl_ != nullptr ? SSL_get_cipher_name(ssl_) : nullptr;
    return name != nullptr ? name : "";
}

X509Ptr TlsConnection::peer_certificate() const {
    return X509Ptr(ssl_ != nullptr ? SSL_get1_peer_certificate(ssl_) : nullptr);
}

bool TlsConnection::send_all(std::string_view data) {
    if (!ok_) return false;
    std::size_t sent = 0;
    while (sent < data.size()) {
        const int n = SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent));
        if (n <= 0) {
            error_ = "write: " + openssl_errors();
            return false;
        }
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

HttpReply TlsConnection::read_reply() {
    HttpReply reply;
    if (!ok_) {
        reply.error = error_;
        return reply;
    }
    for (;;) {
        if (auto used = parse_reply(pending_, false, reply)) {
            pending_.erase(0, *used);
            return reply;
        }
        char buf[8192];
        const int n = SSL_read(ssl_, buf, sizeof buf);
        if (n <= 0) {
            const int err = SSL_get_error(ssl_, n);
            if (auto used = parse_reply(pending_, true, reply)) {
                pending_.erase(0, *used);
                return reply;
            }
            reply = {};
            reply.error =
                "read failed (SSL_get_error " + std::to_string(err) + "): " + openssl_errors();
            return reply;
        }
        pending_.append(buf, static_cast<std::size_t>(n));
    }
}

std::string TlsConnection::read_some(std::size_t n) {
    if (!pending_.empty()) {
        std::string out = pending_.substr(0, n);
        pending_.erase(0, out.size());
        return out;
    }
    std::string buf(std::min<std::size_t>(n, 256 * 1024), '\0');
    const int got = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
    if (got <= 0) return {};
    buf.resize(static_cast<std::size_t>(got));
    return buf;
}

std::string TlsConnection::read_raw_reply(bool head) {
    if (!ok_) return {};
    std::size_t end = std::string::npos;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
        const std::string more = read_some(64 * 1024);
        if (more.empty()) return {};
        pending_ += more;
    }
    end += 4;
    std::size_t length = 0;
    std::string lower = pending_.substr(0, end);
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (const auto at = lower.find("\r\ncontent-length:"); at != std::string::npos && !head) {
        length = std::stoull(lower.substr(at + 18));
    }
    while (pending_.size() < end + length) {
        char buf[65536];
        const int got = SSL_read(ssl_, buf, sizeof buf);
        if (got <= 0) return {};
        pending_.append(buf, static_cast<std::size_t>(got));
    }
    std::string out = pending_.substr(0, end + length);
    pending_.erase(0, end + length);
    return out;
}

HttpReply TlsConnection::request(std::string_view method, std::string_view target,
                                 std::string_view body, bool close) {
    std::string req(method);
    req += ' ';
    req += target;
    req += " HTTP/1.1\r\nHost: localhost\r\n";
    if (close) req += "Connection: close\r\n";
    if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    if (!send_all(req)) {
        HttpReply r;
        r.error = error_;
        return r;
    }
    return read_reply();
}

bool TlsConnection::wait_closed_by_peer() {
    if (!ok_) return true;
    char buf[256];
    for (;;) {
        const int n = SSL_read(ssl_, buf, sizeof buf);
        if (n > 0) continue;  // unexpected data; keep reading until close
        const int err = SSL_get_error(ssl_, n);
        ERR_clear_error();
        // SSL_ERROR_WANT_READ here means the receive timeout fired: still open.
        return err != SSL_ERROR_WANT_READ &&
               !(err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK));
    }
}

}  // namespace enclave::daemon_test
