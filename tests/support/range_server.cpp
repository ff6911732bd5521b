// SPDX-License-Identifier: Apache-2.0
#include "support/range_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <algorithm>
#include <stdexcept>

namespace enclave::testing {
namespace {

using SslPtr = crypto::CHandle<SSL, SSL_free>;

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/// Reads one request header (up to the blank line, at most 16 KiB). Bytes
/// after it are dropped: the clients under test send no request bodies.
bool read_request(SSL* ssl, RecordedRequest& out) {
    std::string buf;
    char c[512];
    while (buf.find("\r\n\r\n") == std::string::npos) {
        if (buf.size() > 16 * 1024) return false;
        const int n = SSL_read(ssl, c, sizeof c);
        if (n <= 0) return false;
        buf.append(c, static_cast<std::size_t>(n));
    }
    buf.resize(buf.find("\r\n\r\n") + 2);
    std::size_t pos = buf.find("\r\n");
    const std::string line = buf.substr(0, pos);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return false;
    out.method = line.substr(0, sp1);
    out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    for (pos += 2; pos < buf.size();) {
        const auto end = buf.find("\r\n", pos);
        const std::string h = buf.substr(pos, end - pos);
        pos = end + 2;
        const auto colon = h.find(':');
        if (colon == std::string::npos) return false;
        std::string value = h.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        out.headers.emplace_back(h.substr(0, colon), value);
    }
    return true;
}

/// "bytes=a-b", "bytes=a-", "bytes=-n" against `size`: the inclusive range,
/// nullopt when absent or not parseable (ignored, as RFC 9110 allows), and
/// first >= size as {size, size} (unsatisfiable).
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(const std::string& v,
                                                                   std::uint64_t size) {
    if (v.rfind("bytes=", 0) != 0 || v.find(',') != std::string::npos) return std::nullopt;
    const std::string spec = v.substr(6);
    const auto dash = spec.find('-');
    if (dash == std::string::npos) return std::nullopt;
    const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    try {
        if (a.empty()) {
            if (b.empty()) return std::nullopt;
            const std::uint64_t n = std::min<std::uint64_t>(std::stoull(b), size);
            if (n == 0) return std::make_pair(size, size);
            return std::make_pair(size - n, size - 1);
        }
        const std::uint64_t first = std::stoull(a);
        if (first >= size) return std::make_pair(size, size);
        std::uint64_t last = b.empty() ? size - 1 : std::stoull(b);
        if (last < first) return std::nullopt;
        return std::make_pair(first, std::min(last, size - 1));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool write_all(SSL* ssl, std::string_view data, std::size_t piece) {
    while (!data.empty()) {
        const std::size_t n = std::min(data.size(), piece);
        if (SSL_write(ssl, data.data(), static_cast<int>(n)) != static_cast<int>(n)) return false;
        data.remove_prefix(n);
    }
    return true;
}

std::string chunked(std::string_view body) {
    std::string out;
    char size[32];
    for (std::size_t at = 0; at < body.size(); at += 1000) {
        const std::size_t n = std::min<std::size_t>(1000, body.size() - at);
        std::snprintf(size, sizeof size, "%zx\r\n", n);
        out += size;
        out.append(body.substr(at, n));
        out += "\r\n";
    }
    return out + "0\r\n\r\n";
}

}  // namespace

std::string RecordedRequest::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (iequal(n, name)) return v;
    }
    return {};
}

/// One answer: the head, the framed body, and whether it is cut short.
struct RangeServer::Plan {
    std::string head;
    std::string body;  ///< framed (chunked or raw), junk included
    std::optional<std::size_t> drop_after;
    std::size_t send_size = 16 * 1024;
    bool close = false;
};

RangeServer::RangeServer(hsm::SslCtxPtr ctx) : ctx_(std::move(ctx)) {
    ::signal(SIGPIPE, SIG_IGN);  // a client that gave up closes; writes then fail
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        if (listen_fd_ >= 0) ::close(listen_fd_);
        throw std::runtime_error("RangeServer: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

RangeServer::~RangeServer() {
    stop_ = true;
    acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // unblocks SSL_read
    }
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
}

void RangeServer::put(const std::string& path, std::string content) {
    std::lock_guard lock(mu_);
    objects_[path] = std::move(content);
}

void RangeServer::set(const RangeServerBehaviour& behaviour) {
    std::lock_guard lock(mu_);
    behaviour_ = behaviour;
}

std::string RangeServer::base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }

std::vector<RecordedRequest> RangeServer::requests() const {
    std::lock_guard lock(mu_);
    return requests_;
}

void RangeServer::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        timeval tv{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        std::lock_guard lock(mu_);
        open_fds_.push_back(fd);
        workers_.emplace_back([this, fd] { serve(fd); });
    }
}

void RangeServer::serve(int fd) {
    SslPtr ssl(SSL_new(ctx_.get()));
    SSL_set_fd(ssl.get(), fd);
    bool clean = false;
    if (SSL_accept(ssl.get()) == 1) {
        ++connections_;
        RecordedRequest req;
        while (!stop_ && read_request(ssl.get(), req)) {
            const Plan p = plan(req);
            req = {};
            if (!write_all(ssl.get(), p.head, p.send_size)) break;
            if (p.drop_after) {
                const std::string_view part = std::string_view(p.body).substr(0, *p.drop_after);
                write_all(ssl.get(), part, p.send_size);
                break;  // abrupt: no close_notify
            }
            if (!write_all(ssl.get(), p.body, p.send_size)) break;
            if (p.close) {
                clean = true;
                break;
            }
        }
    }
    if (clean) SSL_shutdown(ssl.get());
    ::shutdown(fd, SHUT_RDWR);
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
}

RangeServer::Plan RangeServer::plan(const RecordedRequest& req) {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
    RangeServerBehaviour& b = behaviour_;
    Plan p;
    if (b.send_size != 0) p.send_size = b.send_size;
    p.close = iequal(req.header("connection"), "close");
    std::string head;
    const std::string path = req.target.substr(0, req.target.find('?'));
    const auto it = objects_.find(path);
    if (b.fail_5xx > 0 || it == objects_.end()) {
        const bool fail = b.fail_5xx > 0;
        if (fail) --b.fail_5xx;
        p.head = std::string("HTTP/1.1 ") + (fail ? "503 Service Unavailable" : "404 Not Found") +
                 "\r\nContent-Length: 0\r\n\r\n";
        return p;
    }
    const std::string& obj = it->second;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
    const std::string if_range = req.header("if-range");
    if (b.honour_range && (if_range.empty() || if_range == b.etag)) {
        range = parse_range(req.header("range"), obj.size());
    }
    std::string status = "200 OK";
    std::string body = obj;
    if (range && range->first >= obj.size()) {
        p.head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                 std::to_string(obj.size()) + "\r\nContent-Length: 0\r\n\r\n";
        return p;
    }
    if (range) {
        auto [first, last] = *range;
        if (b.wrong_ranges > 0) {
            --b.wrong_ranges;
            first = std::min<std::uint64_t>(first + b.shift, obj.size() - 1);
            last = std::min<std::uint64_t>(last + b.shift, obj.size() - 1);
        }
        status = "206 Partial Content";
        body = obj.substr(first, last - first + 1);
        head += "Content-Range: " +
                (b.content_range.empty() ? "bytes " + std::to_string(first) + "-" +
                                               std::to_string(last) + "/" +
                                               std::to_string(obj.size())
                                         : b.content_range) +
                "\r\n";
    }
    if (!b.etag.empty()) head += "ETag: " + b.etag + "\r\n";
    if (b.header_padding > 0) head += "X-Pad: " + std::string(b.header_padding, 'p') + "\r\n";
    head += "Accept-Ranges: bytes\r\n";
    if (b.chunked) {
        head += "Transfer-Encoding: chunked\r\n";
        if (req.method != "HEAD") body = chunked(body);
    } else {
        head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        if (b.extra_body > 0) body += std::string(b.extra_body, 'J');
    }
    if (p.close) head += "Connection: close\r\n";
    if (req.method == "HEAD") body.clear();
    if (b.drops > 0 && !body.empty()) {
        --b.drops;
        p.drop_after = std::min(b.drop_after, body.size());
    }
    p.head = "HTTP/1.1 " + status + "\r\n" + head + "\r\n";
    p.body = std::move(body);
    return p;
}

}  // namespace enclave::testing
