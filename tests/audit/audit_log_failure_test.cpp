// SPDX-License-Identifier: Apache-2.0
// AuditLog fails closed: when a commit cannot be made durable, every
// appender of that batch gets the error and the log does not grow.
//
// How the failure is made real: the tests run as root in a container, so
// chmod cannot stop writes, and no small filesystem can be mounted. Instead
// the test swaps the descriptors SQLite holds on "<db>-wal" for read-only
// descriptors of the same file (dup2 onto the same numbers), which is what a
// filesystem remounted read-only after an error looks like to SQLite:
// reads go on, every write fails (EBADF, SQLITE_IOERR_WRITE). Restoring the
// saved descriptors brings the disk "back".
#include <fcntl.h>
#include <unistd.h>

#include "audit/audit_log.hpp"
#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

using crypto::Errc;

/// Every descriptor of this process open on `file`, swapped for a read-only
/// one until restore() (or destruction).
class ReadOnlySwap {
public:
    explicit ReadOnlySwap(const fs::path& file) {
        const std::string target = fs::canonical(file).string();
        std::vector<int> fds;
        for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
            std::error_code ec;
            const fs::path link = fs::read_symlink(e.path(), ec);
            if (!ec && link == target) fds.push_back(std::stoi(e.path().filename().string()));
        }
        for (int fd : fds) {
            const int saved = ::dup(fd);
            const int ro = ::open(target.c_str(), O_RDONLY | O_CLOEXEC);
            if (saved < 0 || ro < 0 || ::dup2(ro, fd) < 0) {
                ADD_FAILURE() << "cannot swap descriptor " << fd;
                continue;
            }
            ::close(ro);
            swapped_.emplace_back(fd, saved);
        }
    }
    ~ReadOnlySwap() { restore(); }
    ReadOnlySwap(const ReadOnlySwap&) = delete;
    ReadOnlySwap& operator=(const ReadOnlySwap&) = delete;

    [[nodiscard]] std::size_t count() const { return swapped_.size(); }
    void restore() {
        for (auto [fd, saved] : swapped_) {
            ::dup2(saved, fd);
            ::close(saved);
        }
        swapped_.clear();
    }

private:
    std::vector<std::pair<int, int>> swapped_;
};

class AuditLogFailureTest : public AuditLogFixture {};

TEST_F(AuditLogFailureTest, FailedCommitFailsEveryAppenderAndTheTreeDoesNotGrow) {
    auto log = open_log();
    ASSERT_TRUE(log);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->append(event(i)));
    const crypto::Hash root = log->root();
    {
        ReadOnlySwap broken(fs::path(db_.string() + "-wal"));
        ASSERT_GE(broken.count(), 1u) << "SQLite holds no descriptor on the WAL";
        std::vector<std::thread> pool;
        std::atomic<int> refused{0};
        for (int t = 0; t < 8; ++t) {
            pool.emplace_back([&, t] {
                auto r = log->append(json{{"event", "test.lost"}, {"t", t}});
                if (r) {
                    ADD_FAILURE() << "append " << t << " succeeded with index " << *r;
                    return;
                }
                EXPECT_EQ(r.error().code(), Errc::db_error) << r.error().message();
                EXPECT_NE(r.error().message().find("audit entry not written"), std::string::npos)
                    << r.error().message();
                ++refused;
            });
        }
        for (auto& th : pool) th.join();
        EXPECT_EQ(refused, 8);
        EXPECT_EQ(log->size(), 3u);
        EXPECT_EQ(log->root(), root);
    }
    // The disk is back: the next append takes the next index.
    auto next = log->append(event(3));
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(*next, 3u);
    log.reset();

    auto reopened = open_log();
    ASSERT_TRUE(reopened);
    ASSERT_EQ(reopened->size(), 4u);
    for (std::uint64_t i = 0; i < 4; ++i) {
        EXPECT_EQ(reopened->entry(i).value().find("test.lost"), std::string::npos) << i;
    }
}

TEST_F(AuditLogFailureTest, CheckpointStoreFailureIsReportedNotHidden) {
    auto log = open_log();
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append(event(1)));
    {
        ReadOnlySwap broken(fs::path(db_.string() + "-wal"));
        auto cp = log->checkpoint();
        ASSERT_FALSE(cp);
        expect_error(cp.error(), Errc::db_error, "storing the checkpoint at size 1");
        EXPECT_FALSE(log->latest_checkpoint());
    }
    auto cp = log->checkpoint();
    ASSERT_TRUE(cp) << cp.error().message();
    EXPECT_EQ(cp->size, 1u);
}

}  // namespace
}  // namespace enclave::audit::test
