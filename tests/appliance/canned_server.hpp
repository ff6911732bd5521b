// SPDX-License-Identifier: Apache-2.0
#pragma once
// A real Unix-socket server in a thread that answers with canned bytes: the
// admin API stand-in for client and CLI tests (hostile answers included).

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

namespace enclave::appliance::testing {

inline int bound_socket(const std::filesystem::path& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return fd;
}

/// A real Unix-socket server in a thread that answers one connection with a
/// canned byte string (or not at all), then waits for the client to close.
class CannedServer {
public:
    enum class Mode { answer_and_close, answer_and_hold, never_answer };

    CannedServer(const std::filesystem::path& path, std::string response,
                 Mode mode = Mode::answer_and_close)
        : path_(path), fd_(bound_socket(path)), response_(std::move(response)), mode_(mode) {
        EXPECT_EQ(::listen(fd_, 4), 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~CannedServer() {
        thread_.join();
        ::close(fd_);
        ::unlink(path_.c_str());  // the next server may bind the same path
    }
    CannedServer(const CannedServer&) = delete;
    CannedServer& operator=(const CannedServer&) = delete;

    /// What the client sent (valid after the client returned).
    [[nodiscard]] const std::string& request() const { return request_; }

private:
    void serve() {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        char buf[4096];
        while (request_.find("\r\n\r\n") == std::string::npos && request_.size() < 65536) {
            const ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;
            request_.append(buf, static_cast<std::size_t>(n));
        }
        if (mode_ != Mode::never_answer) {
            std::string_view rest = response_;
            while (!rest.empty()) {  // the client may hang up early (oversized)
                const ssize_t n = ::send(c, rest.data(), rest.size(), MSG_NOSIGNAL);
                if (n <= 0) break;
                rest.remove_prefix(static_cast<std::size_t>(n));
            }
        }
        if (mode_ != Mode::answer_and_close) {
            while (::recv(c, buf, sizeof buf, 0) > 0) {
            }
        }
        ::close(c);
    }

    std::filesystem::path path_;
    int fd_;
    std::string response_;
    Mode mode_;
    std::string request_;
    std::thread thread_;
};

}  // namespace enclave::appliance::testing
