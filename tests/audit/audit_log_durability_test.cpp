// SPDX-License-Identifier: Apache-2.0
// An acknowledged audit entry survives kill -9.
//
// A forked child (forked before the parent opens anything: no token, no
// threads, no database) appends from several threads and, after each
// append() returns, writes (index, tag) to a pipe. The parent reads a few
// thousand acknowledgements, sends SIGKILL in the middle of the stream,
// drains what was acknowledged before the kill, then reopens the log (which
// verifies every leaf, the chain and the checkpoints) and checks that every
// acknowledged entry is there with its tag, with valid proofs.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "audit/audit_log.hpp"
#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

struct Ack {
    std::uint64_t index;
    std::int64_t tag;
};

constexpr int kChildThreads = 8;
constexpr std::size_t kAcksBeforeKill = 3000;

class AuditLogDurabilityTest : public AuditLogFixture {
protected:
    /// The child: appends until killed. Exit codes only on failure.
    [[noreturn]] void child(int ack_fd) {
        AuditLogOptions o = options();
        o.clock = {};  // the real clock: FakeClock lives in the parent's memory too, but be plain
        o.checkpoint_every = 500;
        auto log = AuditLog::open(db_, kek_, o);
        if (!log) ::_exit(3);
        std::vector<std::thread> pool;
        for (int t = 0; t < kChildThreads; ++t) {
            pool.emplace_back([&, t] {
                for (std::int64_t k = 0;; ++k) {
                    const std::int64_t tag = std::int64_t{t} * 100000000 + k;
                    auto index = (*log)->append(json{{"event", "test.durable"}, {"tag", tag}});
                    if (!index) ::_exit(4);
                    const Ack ack{*index, tag};
                    if (::write(ack_fd, &ack, sizeof ack) != sizeof ack) ::_exit(5);
                }
            });
        }
        for (auto& th : pool) th.join();
        ::_exit(6);
    }

    /// Reads one Ack; false at end of stream (or after 120 s without data,
    /// a guard against a hung child, not a timing assertion).
    static bool read_ack(int fd, Ack& ack) {
        auto* p = reinterpret_cast<char*>(&ack);
        std::size_t got = 0;
        while (got < sizeof ack) {
            pollfd pfd{fd, POLLIN, 0};
            if (::poll(&pfd, 1, 120000) <= 0) return false;
            const ssize_t n = ::read(fd, p + got, sizeof ack - got);
            if (n <= 0) return false;
            got += static_cast<std::size_t>(n);
        }
        return true;
    }
};

TEST_F(AuditLogDurabilityTest, AcknowledgedEntriesSurviveKill9) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        child(fds[1]);
    }
    ::close(fds[1]);
    std::map<std::uint64_t, std::int64_t> acked;
    Ack ack{};
    while (acked.size() < kAcksBeforeKill && read_ack(fds[0], ack)) acked[ack.index] = ack.tag;
    const std::size_t before_kill = acked.size();
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    // Everything written to the pipe before the kill was acknowledged first.
    while (read_ack(fds[0], ack)) acked[ack.index] = ack.tag;
    ::close(fds[0]);
    ASSERT_EQ(before_kill, kAcksBeforeKill)
        << "the child stopped early (exit status " << WEXITSTATUS(status) << ")";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    auto log = open_log();  // verifies every leaf, the chain and the checkpoints
    ASSERT_TRUE(log);
    ASSERT_GT(log->size(), acked.rbegin()->first);
    const crypto::LogHasher hasher;
    const crypto::Hash root = log->root();
    std::size_t checked = 0;
    for (const auto& [index, tag] : acked) {
        const std::string entry = log->entry(index).value();
        const json parsed = json::parse(entry);
        ASSERT_EQ(parsed["tag"], tag) << "index " << index;
        if (checked++ % 97 == 0) {
            auto proof = log->inclusion_proof(index, log->size());
            ASSERT_TRUE(proof);
            EXPECT_TRUE(crypto::verify_inclusion(hasher, index, log->size(),
                                                 independent_leaf_hash(entry), *proof, root));
        }
    }
    // The checkpoints the child made are consistent with what survived.
    auto cp = log->latest_checkpoint();
    ASSERT_TRUE(cp) << "the child made no checkpoint";
    auto proof = log->consistency_proof(cp->size, log->size());
    ASSERT_TRUE(proof);
    EXPECT_TRUE(crypto::verify_consistency(hasher, cp->size, log->size(), *proof, cp->root, root));
    EXPECT_TRUE(log->append(event(1)));
}

}  // namespace
}  // namespace enclave::audit::test
