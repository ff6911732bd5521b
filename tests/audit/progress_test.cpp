// SPDX-License-Identifier: Apache-2.0
// The progress bar draws on a terminal (a real pseudo-terminal here) and
// stays silent on a pipe or below the size threshold.
#include "audit/progress.hpp"

#include <fcntl.h>
#include <pty.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace enclave::audit {
namespace {

// Everything readable from `fd` now (non-blocking).
std::string drain(int fd) {
    (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

struct Pty {
    int master = -1;
    int slave = -1;
    Pty() {
        if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
            throw std::runtime_error("openpty failed");
        }
    }
    ~Pty() {
        ::close(master);
        ::close(slave);
    }
};

TEST(ProgressTest, DrawsOnATerminal) {
    Pty pty;
    {
        ProgressBar bar("verifying", 200, pty.slave);
        EXPECT_TRUE(bar.enabled());
        bar.update(50);
        bar.update(100);  // within 100 ms: throttled
        bar.update(200);  // the end is always drawn
        bar.finish();
    }
    const std::string out = drain(pty.master);
    EXPECT_NE(out.find("verifying ["), std::string::npos) << out;
    EXPECT_NE(out.find(" 25.0% 50/200"), std::string::npos) << out;
    EXPECT_EQ(out.find("100/200"), std::string::npos) << out;
    EXPECT_NE(out.find("100.0% 200/200"), std::string::npos) << out;
    EXPECT_NE(out.find("##############################"), std::string::npos) << out;
    EXPECT_NE(out.find('\n'), std::string::npos);
}

TEST(ProgressTest, SilentOnAPipe) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    {
        ProgressBar bar("verifying", 10, fds[1]);
        EXPECT_FALSE(bar.enabled());
        bar.update(5);
        bar.finish();
        auto fn = terminal_progress("verifying", 0, fds[1]);
        fn(5, 10);
        fn(10, 10);
    }
    EXPECT_EQ(drain(fds[0]), "");
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(ProgressTest, TerminalProgressHonoursTheThreshold) {
    Pty pty;
    {
        auto small = terminal_progress("small", 100000, pty.slave);
        small(50000, 100000);  // not over 100,000: nothing
        small(100000, 100000);
    }
    EXPECT_EQ(drain(pty.master), "");
    {
        auto big = terminal_progress("big", 100000, pty.slave);
        big(16384, 100001);
        big(100001, 100001);
    }
    const std::string out = drain(pty.master);
    EXPECT_NE(out.find("big ["), std::string::npos) << out;
    EXPECT_NE(out.find("100001/100001"), std::string::npos) << out;
}

}  // namespace
}  // namespace enclave::audit
