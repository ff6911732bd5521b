// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "crypto/sealed_db.hpp"
#include "outbox_test_util.hpp"

namespace enclave::delivery::test {
namespace {

using crypto::Errc;

bool is_uuid_v4(const std::string& s) {
    if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return false;
    if (s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '-' || (std::isxdigit(c) && !std::isupper(c)); });
}

using OutboxTest = OutboxFixture;

TEST_F(OutboxTest, EnqueueThenDeliverInOrderWithSequenceNumbers) {
    OutboxOptions o;
    o.max_delivery_items = 3;
    auto box = open(o);
    ASSERT_TRUE(box);
    auto r = box->enqueue("lea1", "LIID-1", std::nullopt, items("a", 5));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->duplicate);
    ASSERT_EQ(r->item_ids.size(), 5u);
    EXPECT_TRUE(std::is_sorted(r->item_ids.begin(), r->item_ids.end()));
    EXPECT_EQ(box->stats().pending_items, 5u);
    EXPECT_EQ(box->endpoints(), std::vector<std::string>{"lea1"});
    EXPECT_EQ(box->references("lea1"), std::vector<std::string>{"LIID-1"});

    Delivery d0 = next(*box, "lea1");
    EXPECT_TRUE(is_uuid_v4(d0.delivery_id)) << d0.delivery_id;
    EXPECT_EQ(d0.endpoint, "lea1");
    EXPECT_EQ(d0.reference, "LIID-1");
    EXPECT_EQ(d0.sequence_number, 0u);
    EXPECT_FALSE(d0.last_sequence);
    ASSERT_EQ(d0.items.size(), 3u);
    EXPECT_EQ(d0.items[0], "<handoverItem>a0</handoverItem>");
    EXPECT_EQ(d0.items[2], "<handoverItem>a2</handoverItem>");
    // Sequence 1 is not handed out while 0 is unacknowledged.
    auto none = box->next_delivery("lea1", Outbox::Clock::now());
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(box->stats().formed_deliveries, 1u);
    EXPECT_EQ(box->stats().pending_items, 2u);

    ASSERT_TRUE(box->delivered(d0.delivery_id));
    Delivery d1 = next(*box, "lea1");
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_NE(d1.delivery_id, d0.delivery_id);
    ASSERT_EQ(d1.items.size(), 2u);
    EXPECT_EQ(d1.items[1], "<handoverItem>a4</handoverItem>");
    ASSERT_TRUE(box->delivered(d1.delivery_id));
    EXPECT_EQ(box->stats().items, 0u);
    EXPECT_TRUE(box->endpoints().empty());
    EXPECT_FALSE(box->next_due("lea1").has_value());
    EXPECT_EQ(errc_of(box->delivered(d1.delivery_id)), Errc::not_found);
}

TEST_F(OutboxTest, ByteLimitSplitsDeliveriesButAnOversizedItemStillGoesAlone) {
    OutboxOptions o;
    o.max_delivery_bytes = 100;
    auto box = open(o);
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt,
                             {item(std::string(60, 'x')), item(std::string(60, 'y')), item(std::string(150, 'z'))}));
    Delivery a = next(*box, "e");
    ASSERT_EQ(a.items.size(), 1u);
    EXPECT_EQ(a.items[0], std::string(60, 'x'));
    ASSERT_TRUE(box->delivered(a.delivery_id));
    Delivery b = next(*box, "e");
    ASSERT_EQ(b.items.size(), 1u);
    EXPECT_EQ(b.items[0], std::string(60, 'y'));
    ASSERT_TRUE(box->delivered(b.delivery_id));
    Delivery c = next(*box, "e");
    ASSERT_EQ(c.items.size(), 1u);
    EXPECT_EQ(c.items[0], std::string(150, 'z'));
    EXPECT_EQ(c.sequence_number, 2u);
}

TEST_F(OutboxTest, ARetryResendsTheSameDeliveryAndSkipsRecordedProgress) {
    auto box = open();
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt,
                             {item("<i>1</i>", {binary("https://lea/b/1/", 'a'), binary("https://lea/b/2/", 'b')}),
                              item("<i>2</i>", {binary("https://lea/b/3/", 'c')})}));
    const auto t0 = Outbox::Clock::now();
    Delivery d = next(*box, "e", t0);
    ASSERT_EQ(d.binaries.size(), 3u);
    EXPECT_EQ(d.binaries[0].binary.url, "https://lea/b/1/");
    EXPECT_EQ(d.binaries[2].binary.url, "https://lea/b/3/");
    EXPECT_EQ(d.binaries[1].binary.sha256_hex, std::string(64, 'b'));
    EXPECT_EQ(d.attempts, 0u);
    // Binary progress before the object is acknowledged is refused.
    EXPECT_EQ(errc_of(box->binary_delivered(d.delivery_id, "https://lea/b/1/")), Errc::invalid_state);

    auto due = box->retry_later(d.delivery_id, t0);
    ASSERT_TRUE(due) << due.error().message();
    EXPECT_GE(*due, t0);
    EXPECT_LE(*due, t0 + 1s);
    EXPECT_EQ(box->next_due("e"), std::optional<Outbox::TimePoint>(*due));
    // Before it is due: nothing (and no new delivery for the same reference).
    if (*due > t0) {
        auto early = box->next_delivery("e", t0);
        ASSERT_TRUE(early);
        EXPECT_FALSE(early->has_value());
    }
    Delivery r = next(*box, "e", *due);
    EXPECT_EQ(r.delivery_id, d.delivery_id);
    EXPECT_EQ(r.sequence_number, d.sequence_number);
    EXPECT_EQ(r.items, d.items);
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_FALSE(r.object_delivered);
    // The object goes through; its binaries move to the binary lane, where
    // recorded progress is skipped.
    ASSERT_TRUE(box->object_delivered(d.delivery_id));
    ASSERT_TRUE(box->binary_delivered(d.delivery_id, "https://lea/b/1/"));
    EXPECT_EQ(errc_of(box->binary_delivered(d.delivery_id, "https://lea/b/9/")), Errc::not_found);
    auto j = box->next_binary_job("e", *due);
    ASSERT_TRUE(j && j->has_value());
    EXPECT_EQ((*j)->delivery_id, d.delivery_id);
    EXPECT_EQ((*j)->binary.url, "https://lea/b/2/") << "b/1 is done";
    EXPECT_EQ((*j)->binary.sha256_hex, std::string(64, 'b'));
    EXPECT_EQ((*j)->reference, "R");
    auto none = box->next_delivery("e", *due);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value()) << "the object is not resent";
}

TEST_F(OutboxTest, BackoffGrowsExponentiallyWithEqualJitterUpToTheMaximum) {
    OutboxOptions o;
    o.backoff_initial = 1000ms;
    o.backoff_max = 8000ms;
    auto box = open(o);
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("x", 1)));
    const auto t0 = Outbox::TimePoint(std::chrono::seconds(1'800'000'000));
    Delivery d = next(*box, "e", t0);
    const std::int64_t caps[] = {1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000};
    std::int64_t max_seen_late = 0;
    std::uint32_t attempt = 0;
    for (std::int64_t cap : caps) {
        auto due = box->retry_later(d.delivery_id, t0);
        ASSERT_TRUE(due);
        const auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(*due - t0).count();
        EXPECT_GE(delay, cap / 2) << "equal jitter: never under half the step";
        EXPECT_LE(delay, cap);
        if (cap == 8000) max_seen_late = std::max(max_seen_late, delay);
        Delivery again = next(*box, "e", *due);
        EXPECT_EQ(again.delivery_id, d.delivery_id);
        EXPECT_EQ(again.attempts, ++attempt);
    }
    // Jitter spreads: five draws in [4 s, 8 s] are not all under 4.5 s
    // (probability 8^-5: a real failure, not noise).
    EXPECT_GT(max_seen_late, 4500);
}

TEST_F(OutboxTest, IdempotencyKeyReturnsTheFirstAnswerAndAddsNothing) {
    auto box = open();
    ASSERT_TRUE(box);
    auto first = box->enqueue("e", "R", "k-1", items("a", 2));
    ASSERT_TRUE(first);
    auto second = box->enqueue("e", "R", "k-1", items("different", 3));
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_TRUE(second->duplicate);
    EXPECT_EQ(second->item_ids, first->item_ids);
    EXPECT_EQ(box->stats().items, 2u);
    // Another reference, same key: independent.
    auto other = box->enqueue("e", "R2", "k-1", items("b", 1));
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->duplicate);
    // Still remembered after delivery (and after a reopen).
    Delivery d = next(*box, "e");
    ASSERT_TRUE(box->delivered(d.delivery_id));
    box.reset();
    box = open();
    ASSERT_TRUE(box);
    auto third = box->enqueue("e", "R", "k-1", items("a", 2));
    ASSERT_TRUE(third);
    EXPECT_TRUE(third->duplicate);
    EXPECT_EQ(third->item_ids, first->item_ids);
    // Forgotten after the window.
    auto kept = box->purge_idempotency(Outbox::Clock::now() + 23h);
    ASSERT_TRUE(kept);
    EXPECT_EQ(*kept, 0u);
    auto purged = box->purge_idempotency(Outbox::Clock::now() + 25h);
    ASSERT_TRUE(purged);
    EXPECT_EQ(*purged, 2u);
    auto fourth = box->enqueue("e", "R", "k-1", items("a", 1));
    ASSERT_TRUE(fourth);
    EXPECT_FALSE(fourth->duplicate);
}

TEST_F(OutboxTest, FindKeyAnswersAKeyedRetryAndHoldsBlobTracksPendingUploads) {
    auto box = open();
    ASSERT_TRUE(box);
    auto none = box->find_key("R", "k-1");
    ASSERT_TRUE(none) << none.error().message();
    EXPECT_FALSE(none->has_value());
    auto first = box->enqueue("e", "R", "k-1", {item("<i>1</i>", {binary("https://lea/b/1/", 'a')})});
    ASSERT_TRUE(first);
    auto found = box->find_key("R", "k-1");
    ASSERT_TRUE(found && found->has_value());
    EXPECT_TRUE((*found)->duplicate);
    EXPECT_EQ((*found)->item_ids, first->item_ids);
    // Keys belong to their reference; hostile keys are just not found.
    EXPECT_FALSE(box->find_key("R2", "k-1")->has_value());
    EXPECT_FALSE(box->find_key("R", std::string(100'000, 'k'))->has_value());
    EXPECT_FALSE(box->find_key("R", "k-1' OR '1'='1")->has_value());

    EXPECT_TRUE(*box->holds_blob("bloba"));
    EXPECT_FALSE(*box->holds_blob("blobb"));
    Delivery d = next(*box, "e");
    EXPECT_TRUE(*box->holds_blob("bloba")) << "formed, not yet delivered";
    ASSERT_TRUE(box->delivered(d.delivery_id));
    ASSERT_TRUE(box->flush());
    EXPECT_FALSE(*box->holds_blob("bloba")) << "delivered: the bytes are no longer needed";
    // The key outlives the delivery (the window), and a reopen.
    box.reset();
    box = open();
    ASSERT_TRUE(box);
    auto again = box->find_key("R", "k-1");
    ASSERT_TRUE(again && again->has_value());
    EXPECT_EQ((*again)->item_ids, first->item_ids);
}

TEST_F(OutboxTest, EnqueueBatchIsAllOrNothingWithOneAnswerPerUnit) {
    OutboxOptions o;
    o.max_items = 5;
    auto box = open(o);
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", "k0", items("a", 1)));
    std::vector<EnqueueUnit> units{{"k0", items("a", 1)}, {"k1", items("b", 2)}, {std::nullopt, items("c", 1)}};
    auto r = box->enqueue_batch("e", "R", units);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_TRUE((*r)[0].duplicate);
    EXPECT_FALSE((*r)[1].duplicate);
    EXPECT_EQ((*r)[1].item_ids.size(), 2u);
    EXPECT_EQ(box->stats().items, 4u);
    // Two more would make 6 > 5: the whole call is refused, nothing stored.
    EXPECT_EQ(errc_of(box->enqueue_batch("e", "R", {{"k2", items("d", 1)}, {"k3", items("e", 1)}})),
              Errc::resource_exhausted);
    EXPECT_EQ(box->stats().items, 4u);
    auto k2 = box->enqueue("e", "R", "k2", items("d", 1));
    ASSERT_TRUE(k2);
    EXPECT_FALSE(k2->duplicate) << "the refused call left no key behind";
    EXPECT_EQ(errc_of(box->enqueue_batch("e", "R", {{"k9", items("a", 1)}, {"k9", items("b", 1)}})),
              Errc::invalid_argument);
}

TEST_F(OutboxTest, FullOutboxIsResourceExhaustedUntilDeliveriesFreeSpace) {
    OutboxOptions o;
    o.max_items = 10;
    o.max_bytes = 1000;
    auto box = open(o);
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("a", 10)));
    EXPECT_EQ(errc_of(box->enqueue("e", "R", std::nullopt, items("b", 1))), Errc::resource_exhausted);
    EXPECT_EQ(errc_of(box->enqueue("e", "R", std::nullopt, items("b", 11))), Errc::too_large) << "can never fit";
    Delivery d = next(*box, "e");
    ASSERT_TRUE(box->delivered(d.delivery_id));
    EXPECT_TRUE(box->enqueue("e", "R", std::nullopt, items("b", 1)));
    EXPECT_EQ(errc_of(box->enqueue("e", "R", std::nullopt, {item(std::string(999, 'x'))})), Errc::resource_exhausted);
}

TEST_F(OutboxTest, CloseReferenceMarksTheFinalDeliveryLast) {
    OutboxOptions o;
    o.max_delivery_items = 2;
    auto box = open(o);
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("a", 3)));
    ASSERT_TRUE(box->close_reference("e", "R"));
    ASSERT_TRUE(box->close_reference("e", "R")) << "idempotent";
    EXPECT_EQ(errc_of(box->enqueue("e", "R", std::nullopt, items("late", 1))), Errc::invalid_state);
    Delivery d0 = next(*box, "e");
    EXPECT_FALSE(d0.last_sequence);
    ASSERT_TRUE(box->delivered(d0.delivery_id));
    Delivery d1 = next(*box, "e");
    EXPECT_TRUE(d1.last_sequence);
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items.size(), 1u);
    EXPECT_FALSE(box->reference_finished("e", "R"));
    ASSERT_TRUE(box->delivered(d1.delivery_id));
    EXPECT_TRUE(box->reference_finished("e", "R"));
    auto nothing = box->next_delivery("e", Outbox::Clock::now());
    ASSERT_TRUE(nothing);
    EXPECT_FALSE(nothing->has_value());
}

TEST_F(OutboxTest, ClosingWithNothingPendingSendsAnEmptyLastDelivery) {
    auto box = open();
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("a", 1)));
    Delivery d0 = next(*box, "e");
    ASSERT_TRUE(box->delivered(d0.delivery_id));
    ASSERT_TRUE(box->close_reference("e", "R"));
    ASSERT_TRUE(box->close_reference("e", "NEVER-USED"));
    Delivery a = next(*box, "e");
    Delivery b = next(*box, "e");
    for (const Delivery* d : {&a, &b}) {
        EXPECT_TRUE(d->last_sequence);
        EXPECT_TRUE(d->items.empty());
        EXPECT_TRUE(d->binaries.empty());
    }
    EXPECT_EQ((a.reference == "R" ? a : b).sequence_number, 1u);
    EXPECT_EQ((a.reference == "R" ? b : a).sequence_number, 0u);
}

TEST_F(OutboxTest, ReferencesAreServedOldestItemFirstAndEndpointsAreSeparate) {
    auto box = open();
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "B", std::nullopt, items("b", 1)));
    ASSERT_TRUE(box->enqueue("e", "A", std::nullopt, items("a", 1)));
    ASSERT_TRUE(box->enqueue("other", "C", std::nullopt, items("c", 1)));
    EXPECT_EQ(box->references("e"), (std::vector<std::string>{"A", "B"}));
    EXPECT_EQ(box->endpoints(), (std::vector<std::string>{"e", "other"}));
    EXPECT_EQ(next(*box, "e").reference, "B");
    EXPECT_EQ(next(*box, "e").reference, "A") << "another reference is not blocked by B's outstanding delivery";
    auto none = box->next_delivery("e", Outbox::Clock::now());
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    EXPECT_EQ(next(*box, "other").reference, "C");
}

TEST_F(OutboxTest, StateSurvivesReopenAndAFormedDeliveryNeverChanges) {
    std::string id;
    {
        auto box = open();
        ASSERT_TRUE(box);
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("a", 3)));
        Delivery d = next(*box, "e");
        id = d.delivery_id;
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, items("b", 2)));
        // A second Outbox on the same file is refused while this one lives.
        EXPECT_EQ(errc_of(Outbox::open(db_path(), kek_)), Errc::unavailable);
    }
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().items, 5u);
    EXPECT_EQ(box->stats().pending_items, 2u);
    Delivery again = next(*box, "e");  // handed out before the "restart": out again at once
    EXPECT_EQ(again.delivery_id, id);
    EXPECT_EQ(again.sequence_number, 0u);
    ASSERT_EQ(again.items.size(), 3u);
    EXPECT_EQ(again.items[0], "<handoverItem>a0</handoverItem>");
    ASSERT_TRUE(box->delivered(id));
    Delivery d1 = next(*box, "e");
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items, (std::vector<std::string>{"<handoverItem>b0</handoverItem>", "<handoverItem>b1</handoverItem>"}));
}

TEST_F(OutboxTest, RefusesBadArguments) {
    OutboxOptions o;
    o.max_item_bytes = 100;
    o.max_binaries_per_item = 1;
    auto box = open(o);
    ASSERT_TRUE(box);
    const std::string long_ref(257, 'r');
    struct Case {
        std::string endpoint, reference;
        std::optional<std::string> key;
        std::vector<OutboxItem> items;
        Errc code;
    };
    const std::vector<Case> cases = {
        {"", "R", std::nullopt, items("a", 1), Errc::invalid_argument},
        {"e", "", std::nullopt, items("a", 1), Errc::invalid_argument},
        {"e", long_ref, std::nullopt, items("a", 1), Errc::invalid_argument},
        {"e", "R\n1", std::nullopt, items("a", 1), Errc::invalid_argument},
        {"e", "R", std::string(""), items("a", 1), Errc::invalid_argument},
        {"e", "R", std::string("k\x01"), items("a", 1), Errc::invalid_argument},
        {"e", "R", std::nullopt, {}, Errc::invalid_argument},
        {"e", "R", std::nullopt, {item("")}, Errc::invalid_argument},
        {"e", "R", std::nullopt, {item(std::string(101, 'x'))}, Errc::too_large},
        {"e", "R", std::nullopt, {item("x", {binary("u1"), binary("u2")})}, Errc::too_large},
        {"e", "R", std::nullopt, {item("x", {PendingBinary{"../x", "u", 1, "", std::string(64, 'a')}})},
         Errc::invalid_argument},
        {"e", "R", std::nullopt, {item("x", {PendingBinary{"b", "", 1, "", std::string(64, 'a')}})},
         Errc::invalid_argument},
        {"e", "R", std::nullopt, {item("x", {PendingBinary{"b", "u", 1, "", std::string(64, 'A')}})},
         Errc::invalid_argument},
        {"e", "R", std::nullopt, {item("x", {PendingBinary{"b", "u", 1, "a b", std::string(64, 'a')}})},
         Errc::invalid_argument},
    };
    for (const Case& c : cases) {
        auto r = box->enqueue(c.endpoint, c.reference, c.key, c.items);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), c.code) << r.error().message();
    }
    EXPECT_EQ(box->stats().items, 0u);
    EXPECT_EQ(box->stats().references, 0u);
    for (auto* fn : {+[](Outbox& b) { return b.delivered("nope"); }, +[](Outbox& b) { return b.object_delivered("x"); }}) {
        EXPECT_EQ(errc_of(fn(*box)), Errc::not_found);
    }
    EXPECT_EQ(errc_of(box->retry_later("nope", Outbox::Clock::now())), Errc::not_found);
}

TEST_F(OutboxTest, ConcurrentEnqueuesAreAllDurableWithDistinctIds) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 40;
    std::vector<std::vector<std::uint64_t>> ids(kThreads);
    {
        auto box = open();
        ASSERT_TRUE(box);
        std::vector<std::thread> pool;
        for (int t = 0; t < kThreads; ++t) {
            pool.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    auto r = box->enqueue("e", "R" + std::to_string(t % 3), "t" + std::to_string(t) + "-" + std::to_string(i),
                                          items("t" + std::to_string(t) + "-" + std::to_string(i) + "-", 2));
                    if (r) ids[t].insert(ids[t].end(), r->item_ids.begin(), r->item_ids.end());
                }
            });
        }
        for (auto& th : pool) th.join();
    }
    std::set<std::uint64_t> all;
    for (const auto& v : ids) {
        EXPECT_EQ(v.size(), 2u * kPerThread);
        all.insert(v.begin(), v.end());
    }
    EXPECT_EQ(all.size(), 2u * kThreads * kPerThread);
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().items, 2u * kThreads * kPerThread);
    // Per reference, each thread's items come out in the order it enqueued them.
    std::map<std::string, int> last_seen;
    std::size_t delivered = 0;
    for (;;) {
        auto d = box->next_delivery("e", Outbox::Clock::now());
        ASSERT_TRUE(d);
        if (!*d) break;
        for (const std::string& p : (*d)->items) {
            const auto dash1 = p.find('-');
            const auto dash2 = p.find('-', dash1 + 1);
            const std::string thread = p.substr(0, dash1);
            const int n = std::stoi(p.substr(dash1 + 1, dash2 - dash1 - 1)) * 2 + std::stoi(p.substr(dash2 + 1));
            auto [it, fresh] = last_seen.emplace(thread, n);
            if (!fresh) {
                EXPECT_GT(n, it->second) << p;
                it->second = n;
            }
            ++delivered;
        }
        ASSERT_TRUE(box->delivered((*d)->delivery_id));
    }
    EXPECT_EQ(delivered, 2u * kThreads * kPerThread);
}

TEST_F(OutboxTest, WaitForWorkWakesOnEnqueueAndOnInterrupt) {
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_FALSE(box->wait_for_work("e", Outbox::Clock::now() + 10ms));
    std::thread producer([&] {
        std::this_thread::sleep_for(20ms);
        EXPECT_TRUE(box->enqueue("e", "R", std::nullopt, items("a", 1)));
    });
    EXPECT_TRUE(box->wait_for_work("e", Outbox::Clock::now() + 60s));
    producer.join();
    EXPECT_LE(box->next_due("e").value(), Outbox::Clock::now());
    std::thread stopper([&] {
        std::this_thread::sleep_for(20ms);
        box->interrupt_waits();
    });
    EXPECT_FALSE(box->wait_for_work("nothing-here", Outbox::Clock::now() + 60s));
    stopper.join();
}

TEST_F(OutboxTest, PayloadsAreNotInTheFilesInClear) {
    const std::string marker = "SENSITIVE-CONTENT-7c1e";
    {
        auto box = open();
        ASSERT_TRUE(box);
        ASSERT_TRUE(box->enqueue("e", "R", "idem-marker-key", {item("<i>" + marker + "</i>")}));
    }
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
        std::ifstream in(e.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(bytes.find(marker), std::string::npos) << e.path();
        EXPECT_EQ(bytes.find("idem-marker-key"), std::string::npos) << e.path();
    }
}

}  // namespace
}  // namespace enclave::delivery::test
