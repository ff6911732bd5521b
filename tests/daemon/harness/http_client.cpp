// SPDX-License-Identifier: Apache-2.0
#include "http_client.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace enclave::daemon_test {
namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return s;
}

int connect_unix(const std::filesystem::path& socket, std::string& error) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = socket.string();
    if (p.size() >= sizeof addr.sun_path) {
        error = "socket path too long";
        return -1;
    }
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::strerror(errno);
        return -1;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string make_request(std::string_view method, std::string_view target, std::string_view body) {
    std::string req(method);
    req += ' ';
    req += target;
    req += " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
        req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    return req;
}

}  // namespace

std::optional<std::size_t> parse_reply(std::string_view raw, bool at_eof, HttpReply& out) {
    const auto end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view head = raw.substr(0, end);
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return std::nullopt;
    out = {};
    out.status = std::stoi(std::string(status_line.substr(9, 3)));
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        auto next = head.find("\r\n", pos);
        if (next == std::string_view::npos) next = head.size();
        const std::string_view line = head.substr(pos, next - pos);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos) {
            std::string value(line.substr(colon + 1));
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            out.headers[lower(std::string(line.substr(0, colon)))] = value;
        }
        pos = next + 2;
    }
    const std::size_t body_start = end + 4;
    if (out.status / 100 == 1 || out.status == 204 || out.status == 304) return body_start;  // no body
    if (auto it = out.headers.find("content-length"); it != out.headers.end()) {
        const std::size_t len = std::stoul(it->second);
        if (raw.size() < body_start + len) return std::nullopt;
        out.body = std::string(raw.substr(body_start, len));
        return body_start + len;
    }
    if (!at_eof) return std::nullopt;
    out.body = std::string(raw.substr(body_start));
    return raw.size();
}

HttpReply exchange_on_fd(int fd, std::string_view request) {
    HttpReply reply;
    timeval tv{30, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            reply.error = std::string("send: ") + std::strerror(errno);
            return reply;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string raw;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
    }
    if (!parse_reply(raw, true, reply))
        reply.error = "no complete HTTP response (" + std::to_string(raw.size()) + " bytes)";
    return reply;
}

HttpReply unix_request(const std::filesystem::path& socket, std::string_view method,
                       std::string_view target, std::string_view body) {
    HttpReply reply;
    const int fd = connect_unix(socket, reply.error);
    if (fd < 0) return reply;
    reply = exchange_on_fd(fd, make_request(method, target, body));
    ::close(fd);
    return reply;
}

HttpReply unix_get_as(const std::filesystem::path& socket, std::string_view target, uid_t uid,
                      gid_t gid) {
    return unix_request_as(socket, "GET", target, {}, uid, gid);
}

HttpReply unix_request_as(const std::filesystem::path& socket, std::string_view method,
                          std::string_view target, std::string_view body, uid_t uid, gid_t gid) {
    // Everything the child needs is prepared here: after fork() in a threaded
    // process it only makes system calls.
    const std::string request = make_request(method, target, body);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket.c_str(),
                std::min(socket.string().size(), sizeof addr.sun_path - 1));
    int pipefd[2];
    HttpReply reply;
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        reply.error = "pipe";
        return reply;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pipefd[0]);
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(10);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) ::_exit(11);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            ::_exit(errno == EACCES ? 12 : 13);
        }
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
            ::_exit(14);
        }
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (::write(pipefd[1], buf, static_cast<std::size_t>(n)) != n) ::_exit(15);
        }
        ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string raw;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code != 0) {
        reply.error =
            code == 12 ? "connect: permission denied" : "child failed with " + std::to_string(code);
        return reply;
    }
    if (!parse_reply(raw, true, reply)) reply.error = "no complete HTTP response";
    return reply;
}

}  // namespace enclave::daemon_test
