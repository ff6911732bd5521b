// SPDX-License-Identifier: Apache-2.0
// kill -9 of a process that is enqueueing or has just formed a delivery:
// everything it acknowledged is there after reopening, all or nothing per
// call, and a formed delivery comes back unchanged.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "outbox_test_util.hpp"
#include "support/in_child.hpp"

namespace enclave::delivery::test {
namespace {

using OutboxDurabilityTest = OutboxFixture;

void append_line(int fd, const std::string& line) {
    const std::string l = line + "\n";
    ASSERT_EQ(::write(fd, l.data(), l.size()), static_cast<ssize_t>(l.size()));
}

std::vector<std::string> read_lines(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

/// The payload of unit `key`, item `i`.
std::string payload(const std::string& key, int i) { return "<handoverItem>" + key + "/" + std::to_string(i) + "</handoverItem>"; }

/// In a child: 4 threads enqueue 3-item units under fresh keys, logging each
/// acknowledged key; the child kills itself (SIGKILL) after `ms`.
int enqueue_until_killed(const std::filesystem::path& db, crypto::KeyWrapper& kek, const std::filesystem::path& log,
                         int round, int ms) {
    auto box = Outbox::open(db, kek);
    if (!box) return 10;
    const int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return 11;
    std::thread killer([ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        std::raise(SIGKILL);
    });
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) {
        pool.emplace_back([&, t] {
            for (int n = 0;; ++n) {
                const std::string key = "r" + std::to_string(round) + "t" + std::to_string(t) + "n" + std::to_string(n);
                std::vector<OutboxItem> v;
                for (int i = 0; i < 3; ++i) v.push_back(item(payload(key, i)));
                auto r = (*box)->enqueue("e", "REF-" + std::to_string(t % 2), key, std::move(v));
                if (!r) continue;
                std::ostringstream line;
                line << key << ' ' << r->item_ids[0] << ' ' << r->item_ids[1] << ' ' << r->item_ids[2];
                const std::string l = line.str() + "\n";
                if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::abort();
            }
        });
    }
    killer.join();  // never returns: SIGKILL
    return 12;
}

TEST_F(OutboxDurabilityTest, AcknowledgedEnqueuesSurviveKill9AtRandomMoments) {
    const auto log = dir_.path() / "acked.log";
    std::mt19937 rng(std::random_device{}());
    for (int round = 0; round < 4; ++round) {
        const int ms = std::uniform_int_distribution<int>(80, 400)(rng);
        const int status = testing::in_child([&] { return enqueue_until_killed(db_path(), kek_, log, round, ms); });
        ASSERT_EQ(status, -1) << "the child should die by SIGKILL (status " << status << ")";
    }
    const auto acked = read_lines(log);
    ASSERT_FALSE(acked.empty()) << "the children acknowledged nothing: the test proves nothing";
    auto box = open();
    ASSERT_TRUE(box);
    // Every acknowledged key is remembered with the same ids.
    for (const std::string& line : acked) {
        std::istringstream in(line);
        std::string key;
        std::uint64_t a = 0, b = 0, c = 0;
        in >> key >> a >> b >> c;
        const int t = key[key.find('t') + 1] - '0';
        auto r = box->enqueue("e", "REF-" + std::to_string(t % 2), key, items("retry", 1));
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_TRUE(r->duplicate) << key;
        EXPECT_EQ(r->item_ids, (std::vector<std::uint64_t>{a, b, c})) << key;
    }
    // Drain: each acknowledged payload once; every unit whole (all 3 or none).
    std::map<std::string, std::set<int>> units;
    std::size_t total = 0;
    for (;;) {
        auto d = box->next_delivery("e", Outbox::Clock::now());
        ASSERT_TRUE(d) << d.error().message();
        if (!*d) break;
        for (const std::string& p : (*d)->items) {
            const std::string body = p.substr(14, p.size() - 14 - 15);
            const auto slash = body.find('/');
            EXPECT_TRUE(units[body.substr(0, slash)].insert(std::stoi(body.substr(slash + 1))).second) << p;
            ++total;
        }
        ASSERT_TRUE(box->delivered((*d)->delivery_id));
    }
    for (const std::string& line : acked) EXPECT_EQ(units[line.substr(0, line.find(' '))].size(), 3u) << line;
    for (const auto& [key, idx] : units) EXPECT_EQ(idx.size(), 3u) << key << " is not whole";
    EXPECT_EQ(total, 3 * units.size());
}

TEST_F(OutboxDurabilityTest, AFormedDeliveryComesBackUnchangedAfterKill9) {
    const auto log = dir_.path() / "formed.log";
    const int status = testing::in_child([&] {
        auto box = Outbox::open(db_path(), kek_);
        if (!box) return 10;
        if (!(*box)->enqueue("e", "R", std::nullopt, items("x", 4))) return 11;
        if (!(*box)->close_reference("e", "R")) return 12;
        auto d = (*box)->next_delivery("e", Outbox::Clock::now());
        if (!d || !*d) return 13;
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        append_line(fd, (*d)->delivery_id + " " + std::to_string((*d)->sequence_number) + " " +
                            std::to_string((*d)->items.size()) + " " + ((*d)->last_sequence ? "last" : "more"));
        std::raise(SIGKILL);
        return 14;
    });
    ASSERT_EQ(status, -1);
    const auto lines = read_lines(log);
    ASSERT_EQ(lines.size(), 1u);
    auto box = open();
    ASSERT_TRUE(box);
    Delivery d = next(*box, "e");
    EXPECT_EQ(d.delivery_id + " " + std::to_string(d.sequence_number) + " " + std::to_string(d.items.size()) + " " +
                  (d.last_sequence ? "last" : "more"),
              lines[0]);
    EXPECT_EQ(d.items.front(), "<handoverItem>x0</handoverItem>");
    EXPECT_TRUE(d.last_sequence);
    auto refused = box->enqueue("e", "R", std::nullopt, items("late", 1));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), crypto::Errc::invalid_state) << "the close survived too";
}

TEST_F(OutboxDurabilityTest, AnAcknowledgementIsDurableAfterFlushAndAtLeastOnceBefore) {
    const auto log = dir_.path() / "acks.log";
    const int status = testing::in_child([&] {
        auto box = Outbox::open(db_path(), kek_);
        if (!box) return 10;
        if (!(*box)->enqueue("e", "A", std::nullopt, items("a", 2))) return 11;
        if (!(*box)->enqueue("e", "B", std::nullopt, {item("<b/>", {binary("https://lea/b/1/")})})) return 12;
        auto a = (*box)->next_delivery("e", Outbox::Clock::now());
        auto b = (*box)->next_delivery("e", Outbox::Clock::now());
        if (!a || !*a || !b || !*b) return 13;
        // A: acknowledged and flushed. B: progress recorded, not flushed.
        if (!(*box)->delivered((*a)->delivery_id) || !(*box)->flush()) return 14;
        if (!(*box)->object_delivered((*b)->delivery_id)) return 15;
        if (!(*box)->binary_delivered((*b)->delivery_id, "https://lea/b/1/")) return 16;
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        append_line(fd, (*a)->delivery_id);
        append_line(fd, (*b)->delivery_id);
        std::raise(SIGKILL);
        return 17;
    });
    ASSERT_EQ(status, -1);
    const auto ids = read_lines(log);
    ASSERT_EQ(ids.size(), 2u);
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().items, 1u) << "A's items are gone for good";
    Delivery b = next(*box, "e");
    EXPECT_EQ(b.delivery_id, ids[1]) << "B goes out again with the same id";
    EXPECT_FALSE(b.object_delivered) << "its unflushed progress was lost: resent (at-least-once)";
    ASSERT_EQ(b.binaries.size(), 1u);
    EXPECT_FALSE(b.binaries[0].done);
    auto none = box->next_delivery("e", Outbox::Clock::now());
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value()) << "A is not resent";
}

TEST_F(OutboxDurabilityTest, ProgressAndAcknowledgementsSurviveACleanReopen) {
    std::string id;
    const auto t0 = Outbox::Clock::now();
    Outbox::TimePoint due;
    {
        auto box = open();
        ASSERT_TRUE(box);
        ASSERT_TRUE(box->enqueue("e", "A", std::nullopt, items("a", 1)));
        ASSERT_TRUE(box->enqueue("e", "B", std::nullopt, {item("<b/>", {binary("https://lea/b/1/"), binary("https://lea/b/2/")})}));
        Delivery a = next(*box, "e", t0);
        Delivery b = next(*box, "e", t0);
        ASSERT_TRUE(box->delivered(a.delivery_id));
        ASSERT_TRUE(box->object_delivered(b.delivery_id));
        ASSERT_TRUE(box->binary_delivered(b.delivery_id, "https://lea/b/2/"));
        auto job = box->next_binary_job("e", t0);
        ASSERT_TRUE(job && job->has_value());
        auto r = box->retry_binary_later(b.delivery_id, (*job)->binary.url, t0);
        ASSERT_TRUE(r);
        due = *r;
        id = b.delivery_id;
    }  // the destructor writes the acknowledgements
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().items, 1u);
    EXPECT_EQ(box->next_due("e"), std::optional<Outbox::TimePoint>(std::chrono::time_point_cast<std::chrono::milliseconds>(due)));
    auto none = box->next_delivery("e", due);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value()) << "B's object was acknowledged: not resent";
    auto job = box->next_binary_job("e", due);
    ASSERT_TRUE(job && job->has_value());
    EXPECT_EQ((*job)->delivery_id, id);
    EXPECT_EQ((*job)->attempts, 1u);
    EXPECT_EQ((*job)->binary.url, "https://lea/b/1/") << "b/2 was acknowledged";
    ASSERT_TRUE(box->binary_delivered(id, "https://lea/b/1/"));
    Delivery b = next(*box, "e", due);  // complete: back to be finished
    EXPECT_EQ(b.delivery_id, id);
    EXPECT_TRUE(b.object_delivered);
    ASSERT_EQ(b.binaries.size(), 2u);
    EXPECT_TRUE(b.binaries[0].done);
    EXPECT_TRUE(b.binaries[1].done);
}

}  // namespace
}  // namespace enclave::delivery::test
