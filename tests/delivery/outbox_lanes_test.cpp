// SPDX-License-Identifier: Apache-2.0
// The outbox's two lanes (no head-of-line blocking, docs/delivery.md): a
// reference's next DeliveryObject goes out once the previous one is
// acknowledged, while its binaries are still pending in the binary lane;
// the LastSequence delivery waits for every binary.
#include <unistd.h>

#include <csignal>
#include <thread>

#include "crypto/sealed_db.hpp"
#include "outbox_test_util.hpp"
#include "support/in_child.hpp"

namespace enclave::delivery::test {
namespace {

using crypto::Errc;
using OutboxLanesTest = OutboxFixture;

std::optional<BinaryJob> job_of(Outbox& box, const std::string& endpoint, Outbox::TimePoint now) {
    auto j = box.next_binary_job(endpoint, now);
    EXPECT_TRUE(j) << j.error().message();
    return j ? *j : std::nullopt;
}

bool nothing_to_send(Outbox& box, const std::string& endpoint, Outbox::TimePoint now) {
    auto d = box.next_delivery(endpoint, now);
    return d && !d->has_value();
}

TEST_F(OutboxLanesTest, TheNextDeliveryGoesOutOnceTheObjectIsAcknowledgedWhileABinaryIsPending) {
    auto box = open();
    ASSERT_TRUE(box);
    const auto t = Outbox::Clock::now();
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<big/>", {binary("https://lea/b/big/", 'c')})}));
    Delivery d0 = next(*box, "e", t);
    ASSERT_EQ(d0.binaries.size(), 1u);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<small/>")}));
    EXPECT_TRUE(nothing_to_send(*box, "e", t)) << "n+1 waits for n's object";
    EXPECT_FALSE(job_of(*box, "e", t)) << "no binary before its object is acknowledged";

    ASSERT_TRUE(box->object_delivered(d0.delivery_id));
    auto job = job_of(*box, "e", t);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->delivery_id, d0.delivery_id);
    EXPECT_EQ(job->binary.url, "https://lea/b/big/");
    EXPECT_EQ(job->sequence_number, 0u);
    EXPECT_FALSE(job_of(*box, "e", t)) << "a job handed out is not handed out twice";

    // The big binary is in flight; the small item's delivery goes out.
    Delivery d1 = next(*box, "e", t);
    EXPECT_EQ(d1.reference, "R");
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items, (std::vector<std::string>{"<small/>"}));
    ASSERT_TRUE(box->object_delivered(d1.delivery_id));
    ASSERT_TRUE(box->delivered(d1.delivery_id));
    EXPECT_EQ(box->stats().formed_deliveries, 1u);
    EXPECT_EQ(box->references("e"), (std::vector<std::string>{"R"})) << "d0 is not done";

    ASSERT_TRUE(box->binary_delivered(d0.delivery_id, "https://lea/b/big/"));
    Delivery done = next(*box, "e", t);  // complete: back through the object lane to be finished
    EXPECT_EQ(done.delivery_id, d0.delivery_id);
    EXPECT_TRUE(done.object_delivered);
    ASSERT_EQ(done.binaries.size(), 1u);
    EXPECT_TRUE(done.binaries[0].done);
    ASSERT_TRUE(box->delivered(d0.delivery_id));
    EXPECT_EQ(box->stats().formed_deliveries, 0u);
    EXPECT_EQ(box->stats().items, 0u);
    EXPECT_TRUE(box->references("e").empty());
    EXPECT_TRUE(nothing_to_send(*box, "e", t));
}

TEST_F(OutboxLanesTest, TheClosingDeliveryWaitsForEveryBinaryOfTheReference) {
    auto box = open();
    ASSERT_TRUE(box);
    const auto t = Outbox::Clock::now();
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<big/>", {binary("https://lea/b/1/")})}));
    Delivery d0 = next(*box, "e", t);
    ASSERT_TRUE(box->object_delivered(d0.delivery_id));
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<small/>")}));
    ASSERT_TRUE(box->close_reference("e", "R"));
    Delivery d1 = next(*box, "e", t);
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items.size(), 1u);
    EXPECT_FALSE(d1.last_sequence) << "d0's binary is still going out";
    ASSERT_TRUE(box->object_delivered(d1.delivery_id));
    ASSERT_TRUE(box->delivered(d1.delivery_id));
    EXPECT_TRUE(nothing_to_send(*box, "e", t)) << "the closing marker waits for d0's binary";
    EXPECT_FALSE(box->reference_finished("e", "R"));

    auto job = job_of(*box, "e", t);
    ASSERT_TRUE(job);
    ASSERT_TRUE(box->binary_delivered(job->delivery_id, job->binary.url));
    Delivery finish = next(*box, "e", t);
    EXPECT_EQ(finish.delivery_id, d0.delivery_id);
    EXPECT_TRUE(nothing_to_send(*box, "e", t)) << "still not: d0 is not delivered() yet";
    ASSERT_TRUE(box->delivered(d0.delivery_id));
    Delivery last = next(*box, "e", t);
    EXPECT_TRUE(last.last_sequence);
    EXPECT_EQ(last.sequence_number, 2u);
    EXPECT_TRUE(last.items.empty());
    ASSERT_TRUE(box->delivered(last.delivery_id));
    EXPECT_TRUE(box->reference_finished("e", "R"));
}

TEST_F(OutboxLanesTest, AFailingBinaryRetriesOnItsOwnWithoutHoldingTheObjectLane) {
    OutboxOptions o;
    o.backoff_initial = std::chrono::milliseconds(60'000);
    o.backoff_max = std::chrono::milliseconds(600'000);
    auto box = open(o);
    ASSERT_TRUE(box);
    const auto t0 = Outbox::Clock::now();
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt,
                             {item("<big/>", {binary("https://lea/b/1/", 'a'), binary("https://lea/b/2/", 'b')})}));
    Delivery d0 = next(*box, "e", t0);
    ASSERT_TRUE(box->object_delivered(d0.delivery_id));
    auto j1 = job_of(*box, "e", t0);
    auto j2 = job_of(*box, "e", t0);
    ASSERT_TRUE(j1 && j2) << "the binaries of one delivery can go out in parallel";
    EXPECT_NE(j1->binary.url, j2->binary.url);
    EXPECT_EQ(j1->attempts, 0u);
    auto due = box->retry_binary_later(d0.delivery_id, j1->binary.url, t0);
    ASSERT_TRUE(due) << due.error().message();
    EXPECT_GE(*due, t0);
    EXPECT_LE(*due, t0 + std::chrono::milliseconds(60'000));
    ASSERT_TRUE(box->binary_delivered(d0.delivery_id, j2->binary.url));
    if (*due > t0 + std::chrono::seconds(1)) {
        EXPECT_FALSE(job_of(*box, "e", t0)) << "not before it is due";
        EXPECT_FALSE(box->wait_for_work("e", t0, OutboxLane::binaries));
    }
    EXPECT_EQ(box->next_due("e"), std::optional<Outbox::TimePoint>(std::chrono::time_point_cast<std::chrono::milliseconds>(*due)));

    // Meanwhile the object lane goes on: the same reference and another.
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<r1/>")}));
    ASSERT_TRUE(box->enqueue("e", "S", std::nullopt, {item("<s0/>")}));
    EXPECT_TRUE(box->wait_for_work("e", t0, OutboxLane::objects));
    Delivery r1 = next(*box, "e", t0);
    Delivery s0 = next(*box, "e", t0);
    EXPECT_EQ(r1.reference, "R");
    EXPECT_EQ(r1.sequence_number, 1u);
    EXPECT_EQ(s0.reference, "S");
    EXPECT_EQ(r1.attempts, 0u);

    // Due: handed out again, counted apart from the object's attempts.
    auto again = job_of(*box, "e", *due);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->binary.url, j1->binary.url);
    EXPECT_EQ(again->attempts, 1u);
    auto due2 = box->retry_binary_later(d0.delivery_id, again->binary.url, *due);
    ASSERT_TRUE(due2);
    EXPECT_LE(*due2, *due + std::chrono::milliseconds(120'000)) << "the cap doubled";
    auto third = job_of(*box, "e", *due2);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->attempts, 2u);
}

TEST_F(OutboxLanesTest, AReopenInTheMiddleKeepsBothLanes) {
    std::string id0;
    std::string id1;
    const auto t = Outbox::Clock::now();
    {
        auto box = open();
        ASSERT_TRUE(box);
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt,
                                 {item("<big/>", {binary("https://lea/b/1/", 'a'), binary("https://lea/b/2/", 'b')})}));
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<n1/>")}));
        Delivery d0 = next(*box, "e", t);
        ASSERT_EQ(d0.items.size(), 2u) << "both items in one delivery";
        ASSERT_TRUE(box->object_delivered(d0.delivery_id));
        ASSERT_TRUE(box->binary_delivered(d0.delivery_id, "https://lea/b/1/"));
        auto job = job_of(*box, "e", t);
        ASSERT_TRUE(job);
        EXPECT_EQ(job->binary.url, "https://lea/b/2/");  // in flight when the process goes
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<n2/>")}));
        Delivery d1 = next(*box, "e", t);  // handed out, not acknowledged
        EXPECT_EQ(d1.sequence_number, 1u);
        id0 = d0.delivery_id;
        id1 = d1.delivery_id;
        ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<n3/>")}));
    }
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().formed_deliveries, 2u);
    EXPECT_EQ(box->stats().items, 4u);
    EXPECT_EQ(box->stats().pending_items, 1u);
    Delivery d1 = next(*box, "e", t);
    EXPECT_EQ(d1.delivery_id, id1) << "the unacknowledged object goes out again, same id";
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items, (std::vector<std::string>{"<n2/>"}));
    EXPECT_TRUE(nothing_to_send(*box, "e", t)) << "n3 waits for d1's object";
    auto job = job_of(*box, "e", t);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->delivery_id, id0);
    EXPECT_EQ(job->binary.url, "https://lea/b/2/") << "b/1 stays done";
    ASSERT_TRUE(box->object_delivered(id1));
    ASSERT_TRUE(box->delivered(id1));
    Delivery d2 = next(*box, "e", t);
    EXPECT_EQ(d2.sequence_number, 2u);
    EXPECT_EQ(d2.items, (std::vector<std::string>{"<n3/>"}));
}

TEST_F(OutboxLanesTest, AKill9WithBothLanesBusyLosesNothing) {
    const int status = testing::in_child([&] {
        auto box = Outbox::open(db_path(), kek_);
        if (!box) return 10;
        const auto t = Outbox::Clock::now();
        if (!(*box)->enqueue("e", "R", std::nullopt, {item("<big/>", {binary("https://lea/b/1/")})})) return 11;
        auto d0 = (*box)->next_delivery("e", t);
        if (!d0 || !*d0) return 12;
        if (!(*box)->object_delivered((*d0)->delivery_id)) return 13;
        if (!(*box)->enqueue("e", "R", std::nullopt, {item("<small/>")})) return 14;
        auto d1 = (*box)->next_delivery("e", t);  // its transaction writes d0's object ack
        if (!d1 || !*d1 || (*d1)->sequence_number != 1) return 15;
        if (!(*box)->binary_delivered((*d0)->delivery_id, "https://lea/b/1/")) return 16;  // not written
        std::raise(SIGKILL);
        return 17;
    });
    ASSERT_EQ(status, -1);
    auto box = open();
    ASSERT_TRUE(box);
    const auto t = Outbox::Clock::now();
    Delivery d1 = next(*box, "e", t);
    EXPECT_EQ(d1.sequence_number, 1u) << "d0's object is not resent: its ack was written with d1";
    auto job = job_of(*box, "e", t);
    ASSERT_TRUE(job) << "the unwritten binary ack is lost: the binary goes again (at-least-once)";
    EXPECT_EQ(job->sequence_number, 0u);
}

// An outbox as schema version 2 left it (one delivery per reference, its
// object acknowledged, one binary of two sent): version 3 keeps all of it.
TEST_F(OutboxLanesTest, TheSchemaMigrationFromVersion2KeepsDeliveriesAndProgress) {
    constexpr std::string_view kV1 = R"sql(
CREATE TABLE refs(id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, reference TEXT NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 0, closing INTEGER NOT NULL DEFAULT 0,
  final_formed INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0, UNIQUE(endpoint, reference));
CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, ref_id INTEGER NOT NULL, size INTEGER NOT NULL,
  payload BLOB NOT NULL);
CREATE INDEX items_by_ref ON items(ref_id, id);
CREATE TABLE binaries(ref_id INTEGER NOT NULL, item_id INTEGER NOT NULL, ord INTEGER NOT NULL,
  blob_id TEXT NOT NULL, url TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL,
  sha256 TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(ref_id, item_id, ord)) WITHOUT ROWID;
CREATE TABLE deliveries(id TEXT PRIMARY KEY, ref_id INTEGER NOT NULL UNIQUE, seq INTEGER NOT NULL,
  last INTEGER NOT NULL, first_item INTEGER NOT NULL, last_item INTEGER NOT NULL, item_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_ms INTEGER NOT NULL DEFAULT 0,
  object_done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE idem(reference TEXT NOT NULL, key TEXT NOT NULL, created_ms INTEGER NOT NULL,
  item_ids BLOB NOT NULL, PRIMARY KEY(reference, key)) WITHOUT ROWID;
CREATE INDEX idem_by_age ON idem(created_ms);
)sql";
    constexpr std::string_view kV2 = "CREATE INDEX binaries_by_blob ON binaries(blob_id);";
    const std::string id = "0b9e5c1e-3c55-4f3a-9d0e-3a0c1f2b4d5e";
    {
        auto db = crypto::SealedDb::open_or_create(db_path(), kek_);
        ASSERT_TRUE(db) << db.error().message();
        const crypto::Migration steps[] = {{1, kV1}, {2, kV2}};
        ASSERT_TRUE(db->migrate(steps));
        const std::string sha_a(64, 'a'), sha_b(64, 'b');
        ASSERT_TRUE(db->exec(
            "INSERT INTO refs(id, endpoint, reference, next_seq) VALUES(1, 'e', 'R', 1);"
            "INSERT INTO items(id, ref_id, size, payload) VALUES(1, 1, 4, X'3c782f3e'), (2, 1, 4, X'3c792f3e');"
            "INSERT INTO binaries VALUES(1, 1, 0, 'bloba', 'https://lea/b/1/', 1024, 'image/jpeg', '" + sha_a + "', 1),"
            "(1, 1, 1, 'blobb', 'https://lea/b/2/', 1024, 'image/jpeg', '" + sha_b + "', 0);"
            "INSERT INTO deliveries(id, ref_id, seq, last, first_item, last_item, item_count, bytes, attempts, due_ms, "
            "object_done) VALUES('" + id + "', 1, 0, 0, 1, 1, 1, 4, 2, 0, 1);"));
    }
    auto box = open();
    ASSERT_TRUE(box);
    EXPECT_EQ(box->stats().items, 2u);
    EXPECT_EQ(box->stats().pending_items, 1u);
    EXPECT_EQ(box->stats().formed_deliveries, 1u);
    const auto t = Outbox::Clock::now();
    auto job = job_of(*box, "e", t);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->delivery_id, id);
    EXPECT_EQ(job->binary.url, "https://lea/b/2/") << "b/1 was done";
    EXPECT_EQ(job->attempts, 0u);
    Delivery d1 = next(*box, "e", t);  // the object was acknowledged: item 2 goes out now
    EXPECT_EQ(d1.sequence_number, 1u);
    EXPECT_EQ(d1.items.size(), 1u);
    ASSERT_TRUE(box->binary_delivered(id, "https://lea/b/2/"));
    ASSERT_TRUE(box->object_delivered(d1.delivery_id));
    ASSERT_TRUE(box->delivered(d1.delivery_id));
    Delivery d0 = next(*box, "e", t);
    EXPECT_EQ(d0.delivery_id, id);
    EXPECT_EQ(d0.attempts, 2u);
    ASSERT_TRUE(box->delivered(id));
    EXPECT_EQ(box->stats().items, 0u);
}

TEST_F(OutboxLanesTest, HostileCallsAreRefusedClearly) {
    auto box = open();
    ASSERT_TRUE(box);
    const auto t = Outbox::Clock::now();
    EXPECT_FALSE(job_of(*box, "nowhere", t));
    EXPECT_EQ(errc_of(box->binary_delivered("no-such-id", "https://lea/b/1/")), Errc::not_found);
    EXPECT_EQ(errc_of(box->retry_binary_later("no-such-id", "https://lea/b/1/", t)), Errc::not_found);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<x/>", {binary("https://lea/b/1/")})}));
    ASSERT_TRUE(box->enqueue("e", "S", std::nullopt, {item("<y/>", {binary("https://lea/b/9/")})}));
    Delivery d = next(*box, "e", t);
    EXPECT_EQ(errc_of(box->binary_delivered(d.delivery_id, "https://lea/b/1/")), Errc::invalid_state)
        << "before its object";
    ASSERT_TRUE(box->object_delivered(d.delivery_id));
    ASSERT_TRUE(box->object_delivered(d.delivery_id)) << "idempotent";
    const auto foreign = d.reference == "R" ? "https://lea/b/9/" : "https://lea/b/1/";
    auto r = box->binary_delivered(d.delivery_id, foreign);
    ASSERT_FALSE(r) << "another delivery's binary";
    EXPECT_EQ(r.error().code(), Errc::not_found);
    EXPECT_NE(r.error().message().find(d.delivery_id), std::string::npos) << r.error().message();
    EXPECT_EQ(errc_of(box->retry_binary_later(d.delivery_id, foreign, t)), Errc::not_found);
    EXPECT_EQ(errc_of(box->binary_delivered(d.delivery_id, "")), Errc::not_found);
    const std::string own = d.binaries.at(0).binary.url;
    ASSERT_TRUE(box->binary_delivered(d.delivery_id, own));
    ASSERT_TRUE(box->binary_delivered(d.delivery_id, own)) << "a repeat is harmless";
    ASSERT_TRUE(box->delivered(d.delivery_id));
    EXPECT_EQ(errc_of(box->binary_delivered(d.delivery_id, own)), Errc::not_found) << "delivered: gone";
    EXPECT_EQ(errc_of(box->retry_binary_later(d.delivery_id, own, t)), Errc::not_found);
}

TEST_F(OutboxLanesTest, WaitForWorkWakesTheBinaryLaneOnAnObjectAcknowledgement) {
    auto box = open();
    ASSERT_TRUE(box);
    ASSERT_TRUE(box->enqueue("e", "R", std::nullopt, {item("<x/>", {binary("https://lea/b/1/")})}));
    Delivery d = next(*box, "e");
    EXPECT_FALSE(box->wait_for_work("e", Outbox::Clock::now(), OutboxLane::binaries));
    bool woke = false;
    std::thread waiter([&] {
        woke = box->wait_for_work("e", Outbox::Clock::now() + std::chrono::seconds(60), OutboxLane::binaries);
    });
    ASSERT_TRUE(box->object_delivered(d.delivery_id));
    waiter.join();
    EXPECT_TRUE(woke);
    EXPECT_TRUE(box->wait_for_work("e", Outbox::Clock::now(), OutboxLane::any));
}

}  // namespace
}  // namespace enclave::delivery::test
