// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclave-bench-binary: the client side. A plain OpenSSL HTTPS/1.1 client
// (blocking socket, 256 KiB reads, keep-alive), the very same code against
// enclaved and against nginx; and the deterministic content both serve.
// Holds no secret: the client keys are the instance's demo files.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_tls_servers.hpp"
#include "crypto/c_handle.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"

namespace enclave::bench::binary {

using tls::die;
namespace fs = std::filesystem;
using SslCtxPtr = crypto::CHandle<SSL_CTX, SSL_CTX_free>;
using SslPtr = crypto::CHandle<SSL, SSL_free>;

/// The queued OpenSSL errors as one line (and clears the queue).
inline std::string ssl_errors() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += std::string(out.empty() ? "" : "; ") + buf;
    }
    return out.empty() ? "no OpenSSL error queued" : out;
}

/// What the client offers: a TLS version (0 = OpenSSL's range) and, for
/// that version, one cipher ("" = OpenSSL's default list).
struct TlsChoice {
    int version = 0;
    std::string cipher;
};

/// A client context with a demo identity `who` (`pki`/who.pem, .key),
/// verifying the server against pki/demo-ca.pem.
inline SslCtxPtr client_context(const fs::path& pki, const std::string& who, const TlsChoice& c) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) die("SSL_CTX_new: " + ssl_errors());
    const auto cert = pki / (who + ".pem"), key = pki / (who + ".key"), ca = pki / "demo-ca.pem";
    bool ok = SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) == 1 &&
              SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) == 1 &&
              SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) == 1;
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    // Large reads: OpenSSL fills a 256 KiB buffer per recv() (read-ahead)
    // and hands out the records from it, so the client's syscalls stay few.
    SSL_CTX_set_read_ahead(ctx.get(), 1);
    SSL_CTX_set_default_read_buffer_len(ctx.get(), 256 * 1024);
    if (ok && c.version != 0) {
        ok = SSL_CTX_set_min_proto_version(ctx.get(), c.version) == 1 &&
             SSL_CTX_set_max_proto_version(ctx.get(), c.version) == 1;
    }
    if (ok && !c.cipher.empty()) {
        ok = c.version == TLS1_3_VERSION
                 ? SSL_CTX_set_ciphersuites(ctx.get(), c.cipher.c_str()) == 1
                 : SSL_CTX_set_cipher_list(ctx.get(), c.cipher.c_str()) == 1;
    }
    if (!ok) die("client TLS context (" + who + "): " + ssl_errors());
    return ctx;
}

/// One response's status line and the header fields the bench reads.
struct Head {
    int status = 0;
    std::uint64_t content_length = 0;
    std::string content_range;
    std::string raw;  ///< the header block (for failure messages)
    /// Seconds from the request's last byte sent to the body's first byte
    /// read (get() only; 0 for an empty body).
    double first_byte_s = 0;
};

/// Called with each piece of a body as it arrives; false stops the read
/// (the connection is then unusable).
using BodySink = std::function<bool(const char*, std::size_t)>;

/// One keep-alive HTTPS connection to 127.0.0.1:port. Dies on any failure
/// (a failing server must not produce a figure).
class Connection {
public:
    static constexpr std::size_t kReadBytes = 256 * 1024;

    Connection(SSL_CTX* ctx, std::uint16_t port) : port_(port), buf_(kReadBytes) {
        fd_ = tls::connect_loopback(port);
        if (fd_ < 0) die("cannot connect to 127.0.0.1:" + std::to_string(port));
        timeval tv{60, 0};  // a 2 GiB body may pause for a sweep or a commit
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ssl_.reset(SSL_new(ctx));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 ||
            !hsm::set_expected_host(ssl_.get(), "127.0.0.1") || SSL_connect(ssl_.get()) != 1) {
            const std::string why = ssl_errors();
            ::close(fd_);
            die("TLS handshake with 127.0.0.1:" + std::to_string(port) + ": " + why);
        }
    }
    ~Connection() {
        if (ssl_) SSL_shutdown(ssl_.get());
        ERR_clear_error();
        ssl_.reset();
        if (fd_ >= 0) ::close(fd_);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    [[nodiscard]] std::string version() const { return SSL_get_version(ssl_.get()); }
    [[nodiscard]] int version_number() const { return SSL_version(ssl_.get()); }
    [[nodiscard]] std::string cipher() const { return SSL_get_cipher_name(ssl_.get()); }
    /// Wakes a read blocked in another thread (it then fails).
    void abort() { ::shutdown(fd_, SHUT_RDWR); }

    void send_all(std::string_view data) {
        while (!data.empty()) {
            std::size_t n = 0;
            if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &n) != 1) {
                die("TLS write to " + peer() + " failed: " + ssl_errors());
            }
            data.remove_prefix(n);
        }
    }

    /// Reads a response's header block (what follows it stays buffered).
    Head read_head() {
        std::string block;
        for (;;) {
            // A terminator may straddle two reads: search the last 3 bytes too.
            const std::size_t from = block.size() >= 3 ? block.size() - 3 : 0;
            block.append(buf_.data() + at_, have_ - at_);
            const auto end = block.find("\r\n\r\n", from);
            if (end != std::string::npos) {
                at_ = have_ - (block.size() - end - 4);  // the body's first bytes
                block.resize(end + 4);
                return parse_head(block);
            }
            if (block.size() > 64 * 1024) die("a response header block over 64 KiB");
            at_ = have_ = 0;
            if (!fill()) die(peer() + " closed the connection before a response");
        }
    }

    /// Reads `length` body bytes, each piece to `sink` (may be empty). False
    /// when the sink stopped early.
    bool read_body(std::uint64_t length, const BodySink& sink) {
        while (length > 0) {
            if (at_ == have_) {
                at_ = have_ = 0;
                if (!fill()) {
                    die("the connection to " + peer() + " ended " + std::to_string(length) +
                        " bytes early");
                }
            }
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(length, have_ - at_));
            if (sink && !sink(buf_.data() + at_, n)) return false;
            at_ += n;
            length -= n;
        }
        return true;
    }

    /// GET `target` with `extra` header lines; the body goes to `sink`.
    Head get(const std::string& target, const std::string& extra, const BodySink& sink) {
        send_all("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n");
        const auto sent = std::chrono::steady_clock::now();
        Head h = read_head();
        if (h.content_length > 0 && at_ == have_) {
            at_ = have_ = 0;
            if (!fill()) die("the connection to " + peer() + " ended before the body");
        }
        if (h.content_length > 0) {
            h.first_byte_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
        }
        if (!read_body(h.content_length, sink)) h.status = -1;
        return h;
    }

private:
    [[nodiscard]] std::string peer() const { return "127.0.0.1:" + std::to_string(port_); }

    /// Reads more into the (consumed) buffer; false at EOF / error.
    bool fill() {
        std::size_t n = 0;
        if (SSL_read_ex(ssl_.get(), buf_.data(), buf_.size(), &n) != 1) return false;
        have_ = n;
        return true;
    }

    static Head parse_head(const std::string& block) {
        Head h;
        h.raw = block;
        if (block.rfind("HTTP/1.1 ", 0) != 0 || block.size() < 12) die("not an HTTP/1.1 answer");
        h.status = std::stoi(block.substr(9, 3));
        std::size_t at = block.find("\r\n") + 2;
        while (at < block.size()) {
            const auto eol = block.find("\r\n", at);
            if (eol == std::string::npos || eol == at) break;
            const std::string line = block.substr(at, eol - at);
            at = eol + 2;
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            if (name == "content-length") h.content_length = std::stoull(value);
            if (name == "content-range") h.content_range = value;
        }
        return h;
    }

    std::uint16_t port_;
    int fd_ = -1;
    SslPtr ssl_;
    std::vector<char> buf_;
    std::size_t at_ = 0, have_ = 0;  ///< unread bytes are buf_[at_, have_)
};

/// The objects' content: pseudo-random bytes (xorshift64 per 8 bytes), a
/// function of (seed, offset) only, so the blob upload and nginx's file get
/// the same bytes without holding them in memory. Incompressible, like
/// media.
inline void fill_content(std::uint32_t seed, std::uint64_t offset, char* out, std::size_t n) {
    // Each 8-byte word i of the object is a hash of (seed, i): random access.
    std::uint64_t word = offset / 8;
    std::size_t skip = offset % 8, done = 0;
    while (done < n) {
        std::uint64_t x = (word++ + 1) * 0x9e3779b97f4a7c15ULL ^ (std::uint64_t{seed} << 32);
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ULL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebULL;
        x ^= x >> 31;
        char bytes[8];
        std::memcpy(bytes, &x, 8);
        const std::size_t take = std::min<std::size_t>(8 - skip, n - done);
        std::memcpy(out + done, bytes + skip, take);
        done += take;
        skip = 0;
    }
}

/// A sink that hashes what it is given (SHA-256).
class HashingSink {
public:
    HashingSink() : h_(crypto::HashAlg::sha256) {}
    BodySink sink() {
        return [this](const char* p, std::size_t n) {
            h_.update(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(p), n));
            bytes_ += n;
            return true;
        };
    }
    std::string hex() { return crypto::hex_encode(h_.finish()); }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }

private:
    crypto::Hasher h_;
    std::uint64_t bytes_ = 0;
};

/// SHA-256 (hex) of the first `size` bytes of content `seed`.
inline std::string content_sha256(std::uint32_t seed, std::uint64_t size) {
    HashingSink h;
    auto sink = h.sink();
    std::vector<char> piece(1 << 20);
    for (std::uint64_t at = 0; at < size; at += piece.size()) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece.size(), size - at));
        fill_content(seed, at, piece.data(), n);
        sink(piece.data(), n);
    }
    return h.hex();
}

}  // namespace enclave::bench::binary
