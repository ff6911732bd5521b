// SPDX-License-Identifier: Apache-2.0
// The RFC 5424 syslog sink over TLS (RFC 5425: octet-counting framing,
// mutual TLS with the appliance's client key on the token). Blocking OpenSSL
// I/O on the sink's own thread; Asio stays out of this translation unit.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "appliance/monitoring_syslog.hpp"
#include "hsm/tls_context.hpp"
#include "monitoring_impl.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using crypto::fail;

constexpr int kConnectTimeoutMs = 5000;
constexpr int kIoTimeoutS = 10;
constexpr int kRefusalWaitMs = 500;

/// RFC 5424 PARAM-VALUE escaping: '"', '\' and ']' get a backslash.
std::string sd_escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '"' || c == '\\' || c == ']') out += '\\';
        out += c;
    }
    return out;
}

/// PRINTUSASCII, at most `max` characters; "-" (NILVALUE) when empty.
std::string header_field(std::string_view text, std::size_t max) {
    std::string out;
    for (const char c : text) {
        if (out.size() >= max) break;
        if (c >= 33 && c <= 126) out += c;
    }
    return out.empty() ? "-" : out;
}

int connect_with_timeout(const std::string& host, std::uint16_t port, std::string& why) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        why = std::string("resolving the host: ") + gai_strerror(rc);
        return -1;
    }
    int fd = -1;
    for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) continue;
        int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            rc = ::poll(&p, 1, kConnectTimeoutMs) == 1 ? 0 : -1;
            int err = 0;
            socklen_t len = sizeof err;
            if (rc == 0 && (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
                errno = err;
                rc = -1;
            } else if (rc != 0) {
                errno = ETIMEDOUT;
            }
        }
        if (rc != 0) {
            why = std::string("connecting: ") + std::strerror(errno);
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(res);
    if (fd < 0) return -1;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{kIoTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "TLS handshake failed";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

/// The sink's TLS context, replaced by a switch of its client identity.
struct IdentitySlot {
    std::mutex mu;
    hsm::SslCtxPtr ctx;             ///< guarded by mu
    std::atomic<std::uint64_t> generation{0};
};

class SyslogSink final : public MonitoringSink {
public:
    SyslogSink(SyslogSinkOptions options, std::shared_ptr<IdentitySlot> slot)
        : o_(std::move(options)), slot_(std::move(slot)) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        hostname_ = header_field(host, 255);
        app_ = header_field(o_.app_name, 48);
        procid_ = std::to_string(::getpid());
    }
    ~SyslogSink() override { disconnect(); }

    [[nodiscard]] std::string_view name() const noexcept override { return "syslog"; }
    [[nodiscard]] std::string_view failure_reason() const noexcept override { return reason_; }

    crypto::Result<std::size_t> deliver(const std::vector<EventRecord>& batch) override {
        if (ssl_ != nullptr && (peer_closed() || generation_ != slot_->generation.load())) disconnect();
        if (ssl_ == nullptr) {
            if (auto ok = connect(); !ok) return tl::unexpected(ok.error());
        }
        std::size_t done = 0;
        for (const EventRecord& r : batch) {
            const std::string msg = frame(r);
            const std::string out = std::to_string(msg.size()) + ' ' + msg;
            const int n = SSL_write(ssl_, out.data(), static_cast<int>(out.size()));
            if (n != static_cast<int>(out.size())) {
                reason_ = "write";
                const std::string why = openssl_reason();
                disconnect();
                if (done > 0) return done;
                return fail(Errc::io_error, "syslog: writing to the receiver: " + why);
            }
            ++done;
        }
        return done;
    }

    /// "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG" (RFC 5424).
    [[nodiscard]] std::string frame(const EventRecord& r) const {
        const unsigned pri = o_.facility * 8 + static_cast<unsigned>(r.severity);
        return "<" + std::to_string(pri) + ">1 " + rfc3339_ms(r.time) + ' ' + hostname_ + ' ' +
               app_ + ' ' + procid_ + ' ' + header_field(r.name, 32) + " [enclave@32473 seq=\"" +
               std::to_string(r.seq) + "\" instance=\"" + sd_escape(o_.instance) + "\"] " + r.json;
    }

private:
    crypto::Result<void> connect() {
        std::string why;
        const int fd = connect_with_timeout(o_.host, o_.port, why);
        if (fd < 0) {
            reason_ = "connect";
            return fail(Errc::unavailable, "syslog: " + why);
        }
        {
            // The SSL keeps its own reference: a later switch frees nothing it uses.
            std::lock_guard lock(slot_->mu);
            ssl_ = SSL_new(slot_->ctx.get());
            generation_ = slot_->generation.load();
        }
        if (ssl_ == nullptr) {
            ::close(fd);
            reason_ = "tls";
            return fail(Errc::internal, "syslog: SSL_new failed");
        }
        SSL_set_fd(ssl_, fd);
        fd_ = fd;
        const std::string& expected = o_.server_name.empty() ? o_.host : o_.server_name;
        if (auto ok = hsm::set_expected_host(ssl_, expected); !ok) {
            disconnect();
            reason_ = "tls";
            return ok;
        }
        ERR_clear_error();
        if (SSL_connect(ssl_) != 1) {
            const std::string why_tls = openssl_reason();
            disconnect();
            reason_ = "tls";
            return fail(Errc::unavailable, "syslog: TLS with the receiver failed: " + why_tls);
        }
        // With TLS 1.3 the receiver checks our certificate after our side of
        // the handshake is done: a refusal comes as an alert right after
        // (session tickets may come first and are fine). The first batch
        // would be lost in a refusal, so wait a moment for one.
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRefusalWaitMs);
        while (std::chrono::steady_clock::now() < until) {
            pollfd p{fd_, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) != 1) break;
            if (closed_by_peer()) {
                const std::string why_tls = openssl_reason();
                disconnect();
                reason_ = "tls";
                return fail(Errc::unavailable, "syslog: the receiver refused the connection: " + why_tls);
            }
        }
        return {};
    }

    /// The receiver closed (or reset) the connection: a TLS close_notify,
    /// an alert or EOF is readable. RFC 5425 receivers send no data, but a
    /// TLS 1.3 server sends session tickets: those are read and are not a
    /// close. Never blocks.
    bool peer_closed() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 0) != 1) return false;
        return closed_by_peer();
    }

    /// Something is readable: a non-blocking peek tells a close from tickets.
    bool closed_by_peer() {
        const int flags = ::fcntl(fd_, F_GETFL);
        ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
        char c;
        ERR_clear_error();
        const int n = SSL_peek(ssl_, &c, 1);
        const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
        ::fcntl(fd_, F_SETFL, flags);
        return n <= 0 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE;
    }

    void disconnect() noexcept {
        if (ssl_ != nullptr) {
            SSL_free(ssl_);
            ssl_ = nullptr;
        }
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    SyslogSinkOptions o_;
    std::shared_ptr<IdentitySlot> slot_;
    std::uint64_t generation_ = 0;  ///< of the context ssl_ was made with
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    std::string hostname_;
    std::string app_;
    std::string procid_;
    std::string_view reason_ = "connect";
};

}  // namespace

crypto::Result<SyslogSinkParts> make_syslog_sink(SyslogSinkOptions options,
                                                 std::shared_ptr<hsm::PrivateKeyResolver> resolver) {
    hsm::TlsEndpoint endpoint;
    endpoint.certificate = options.certificate;
    endpoint.private_key = options.private_key;
    endpoint.trust_anchors = options.trust_anchors;
    endpoint.crl = options.crl;
    auto ctx = hsm::make_client_context(endpoint, *resolver);
    if (!ctx) {
        return fail(ctx.error().code(), "monitoring.syslog: " + ctx.error().message());
    }
    auto slot = std::make_shared<IdentitySlot>();
    slot->ctx = std::move(*ctx);
    SyslogSinkParts parts;
    parts.sink = std::unique_ptr<MonitoringSink>(new SyslogSink(std::move(options), slot));
    parts.switch_identity = [slot, endpoint, resolver](const std::filesystem::path& certificate,
                                                       const std::string& private_key)
        -> crypto::Result<void> {
        hsm::TlsEndpoint next = endpoint;
        next.certificate = certificate;
        next.private_key = private_key;
        auto built = hsm::make_client_context(next, *resolver);
        if (!built) return fail(built.error().code(), "monitoring.syslog: " + built.error().message());
        std::lock_guard lock(slot->mu);
        slot->ctx = std::move(*built);
        ++slot->generation;
        return {};
    };
    return parts;
}

}  // namespace enclave::appliance
