// SPDX-License-Identifier: Apache-2.0
// The simulated LEA's Model A/C fetcher against a real TLS server of our own
// (RangeServer): whole and ranged fetches into the store, fetched.jsonl,
// checksum and length checks, resume after drops and 5xx, servers that
// ignore Range, hostile answers, the worker pool and URL selection.
#include <gtest/gtest.h>

#include <thread>

#include "fetch_fixture.hpp"

namespace enclave::testing {
namespace {

using simulator::BinaryObjectFacts;

TEST(BinaryFetcherTest, ModelAFetchesTheWholeObjectIntoTheStore) {
    FetchFixture f;
    const std::string object = pattern_object(500'000, 1);
    const BinaryObjectFacts facts = f.serve("tok-a", object);
    auto fetcher = f.fetcher();
    const auto r = fetcher->fetch(facts);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.size, object.size());
    EXPECT_EQ(r.sha256, sha256_hex(object));
    EXPECT_EQ(r.attempts, 1u);
    EXPECT_EQ(r.ranges, 0u);
    EXPECT_EQ(f.stored(r), object);
    EXPECT_EQ(r.file.rfind("fetched/", 0), 0u);
    EXPECT_EQ(r.file.find("tok-a"), std::string::npos) << "no part of the URL in the file name";
    EXPECT_EQ(file_mode(f.store.path() / r.file), 0600u);
    EXPECT_EQ(file_mode(f.store.path() / "fetched.jsonl"), 0600u);
    EXPECT_EQ(file_mode(f.store.path() / "fetched"), 0700u);
    const auto reqs = f.server.requests();
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].header("range"), "");
    const auto recs = f.records();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].at("url"), facts.url);
    EXPECT_EQ(recs[0].at("ok"), true);
    EXPECT_EQ(recs[0].at("size"), object.size());
    EXPECT_EQ(recs[0].at("sha256"), sha256_hex(object));
    EXPECT_EQ(recs[0].at("error"), "");
    EXPECT_EQ(recs[0].at("attempts"), 1);
    EXPECT_EQ(recs[0].at("ranges"), 0);
    EXPECT_EQ(recs[0].at("file"), r.file);
    EXPECT_EQ(fetcher->counts().fetched, 1u);
}

TEST(BinaryFetcherTest, ModelCFetchesSuccessiveRangesWithIfRange) {
    FetchFixture f;
    const std::string object = pattern_object(300'000, 2);
    auto fetcher = f.fetcher(65'536);
    const auto r = fetcher->fetch(f.serve("tok-c", object));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(f.stored(r), object);
    EXPECT_EQ(r.ranges, 5u);
    const auto reqs = f.server.requests();
    ASSERT_EQ(reqs.size(), 5u);
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        const std::uint64_t first = i * 65'536;
        const std::uint64_t last = std::min<std::uint64_t>(first + 65'535, 299'999);
        EXPECT_EQ(reqs[i].header("range"),
                  "bytes=" + std::to_string(first) + "-" + std::to_string(last));
        // The ETag comes with the first answer; every later range is conditional.
        EXPECT_EQ(reqs[i].header("if-range"), i == 0 ? "" : "\"v1\"");
    }
    // Without contentLength the first 206 tells the length.
    BinaryObjectFacts unsized = f.serve("tok-c2", object);
    unsized.content_length.reset();
    const auto r2 = fetcher->fetch(unsized);
    ASSERT_TRUE(r2.ok) << r2.error;
    EXPECT_EQ(r2.size, object.size());
}

TEST(BinaryFetcherTest, AChecksumMismatchIsRecordedAsNotOkAndNothingKept) {
    FetchFixture f;
    const std::string object = pattern_object(100'000, 3);
    BinaryObjectFacts facts = f.serve("tok-bad", object);
    facts.checksum = sha256_hex("something else");
    auto fetcher = f.fetcher(40'000);
    const auto r = fetcher->fetch(facts);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("SHA-256"), std::string::npos) << r.error;
    EXPECT_EQ(r.sha256, sha256_hex(object)) << "what actually arrived";
    EXPECT_TRUE(r.file.empty());
    EXPECT_TRUE(std::filesystem::is_empty(f.store.path() / "fetched"));
    const auto recs = f.records();
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].at("ok"), false);
    EXPECT_EQ(recs[0].at("error").get<std::string>().find(object.substr(0, 8)), std::string::npos);
    EXPECT_EQ(fetcher->counts().failed, 1u);
    // An uppercase checksum is the same digest.
    BinaryObjectFacts upper = f.serve("tok-upper", object);
    for (auto& c : upper.checksum) c = static_cast<char>(std::toupper(c));
    EXPECT_TRUE(fetcher->fetch(upper).ok);
    // A checksum that is not SHA-256 hex, or a wrong contentLength: not ok.
    BinaryObjectFacts junk = f.serve("tok-junk", object);
    junk.checksum = "zz";
    EXPECT_FALSE(fetcher->fetch(junk).ok);
    BinaryObjectFacts longer = f.serve("tok-len", object);
    longer.content_length = object.size() + 1;
    const auto l = fetcher->fetch(longer);
    EXPECT_FALSE(l.ok);
    EXPECT_NE(l.error.find("length"), std::string::npos) << l.error;
}

TEST(BinaryFetcherTest, ADroppedModelATransferResumesWithARange) {
    FetchFixture f;
    const std::string object = pattern_object(400'000, 4);
    RangeServerBehaviour b;
    b.drops = 1;
    b.drop_after = 150'000;
    b.send_size = 4096;
    f.server.set(b);
    auto fetcher = f.fetcher();
    const auto r = fetcher->fetch(f.serve("tok-drop", object));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(f.stored(r), object);
    EXPECT_EQ(r.attempts, 2u);
    EXPECT_EQ(r.ranges, 1u);
    const auto reqs = f.server.requests();
    ASSERT_EQ(reqs.size(), 2u);
    const std::string range = reqs[1].header("range");
    ASSERT_EQ(range.rfind("bytes=", 0), 0u);
    const std::uint64_t from = std::stoull(range.substr(6));
    EXPECT_GT(from, 0u);
    EXPECT_LE(from, 150'000u);
    EXPECT_EQ(range, "bytes=" + std::to_string(from) + "-");
    EXPECT_EQ(reqs[1].header("if-range"), "\"v1\"");
}

TEST(BinaryFetcherTest, ModelCResumesAfterDropsAnd5xxWithinItsAttempts) {
    FetchFixture f;
    const std::string object = pattern_object(200'000, 5);
    RangeServerBehaviour b;
    b.drops = 2;
    b.drop_after = 10'000;
    b.fail_5xx = 1;
    f.server.set(b);
    auto fetcher = f.fetcher(50'000);
    const auto r = fetcher->fetch(f.serve("tok-5xx", object));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(f.stored(r), object);
    EXPECT_EQ(r.attempts, 4u);  // 503, two drops, then clean
    EXPECT_EQ(f.records().at(0).at("attempts"), 4);
}

TEST(BinaryFetcherTest, GivesUpAfterMaxAttempts) {
    FetchFixture f;
    RangeServerBehaviour b;
    b.fail_5xx = 100;
    f.server.set(b);
    auto o = f.options();
    o.max_attempts = 3;
    auto fetcher = must_ok(simulator::BinaryFetcher::create(o));
    const auto r = fetcher->fetch(f.serve("tok-down", pattern_object(1000)));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.attempts, 3u);
    EXPECT_NE(r.error.find("after 3 attempts"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("HTTP 503"), std::string::npos) << r.error;
    EXPECT_EQ(f.server.requests().size(), 3u);
    EXPECT_TRUE(std::filesystem::is_empty(f.store.path() / "fetched"));
    // A 404 (an expired URL) is final at once.
    f.server.set({});
    const auto missing = fetcher->fetch({f.server.base_url() + "/v1/binaries/none", 10, "", ""});
    EXPECT_FALSE(missing.ok);
    EXPECT_EQ(missing.attempts, 1u);
    EXPECT_NE(missing.error.find("HTTP 404"), std::string::npos) << missing.error;
}

TEST(BinaryFetcherTest, A200ToARangedRequestIsTheWholeObject) {
    FetchFixture f;
    const std::string object = pattern_object(150'000, 6);
    RangeServerBehaviour b;
    b.honour_range = false;
    f.server.set(b);
    auto fetcher = f.fetcher(32'768);
    const auto r = fetcher->fetch(f.serve("tok-200", object));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(f.stored(r), object);
    EXPECT_EQ(r.ranges, 1u);
    EXPECT_EQ(f.server.requests().size(), 1u);
    // After a drop, the resumed request is answered whole: the file restarts.
    b.drops = 1;
    b.drop_after = 60'000;
    f.server.set(b);
    auto model_a = f.fetcher();
    const auto again = model_a->fetch(f.serve("tok-200b", object));
    ASSERT_TRUE(again.ok) << again.error;
    EXPECT_EQ(again.attempts, 2u);
    EXPECT_EQ(f.stored(again), object);
}

TEST(BinaryFetcherTest, HostileRangeAnswersFailTheFetch) {
    FetchFixture f;
    const std::string object = pattern_object(100'000, 7);
    auto fetcher = f.fetcher(30'000);
    RangeServerBehaviour wrong;
    wrong.wrong_ranges = 1;
    wrong.shift = 3;
    f.server.set(wrong);
    const auto shifted = fetcher->fetch(f.serve("tok-shift", object));
    EXPECT_FALSE(shifted.ok);
    EXPECT_NE(shifted.error.find("not the range asked for"), std::string::npos) << shifted.error;
    EXPECT_EQ(shifted.attempts, 1u) << "a lying server is not retried";
    RangeServerBehaviour malformed;
    malformed.content_range = "bytes 0-29999/abc";
    f.server.set(malformed);
    const auto bad = fetcher->fetch(f.serve("tok-cr", object));
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("Content-Range"), std::string::npos) << bad.error;
    RangeServerBehaviour other_length;
    other_length.content_range = "bytes 0-29999/100001";
    f.server.set(other_length);
    EXPECT_FALSE(fetcher->fetch(f.serve("tok-len", object)).ok);
    // Without contentLength, an empty object answers the first range with 416.
    f.server.set({});
    BinaryObjectFacts empty = f.serve("tok-empty", "");
    const auto sized = fetcher->fetch(empty);  // contentLength 0: a plain GET
    EXPECT_TRUE(sized.ok) << sized.error;
    empty.content_length.reset();
    const auto unsized = f.fetcher(30'000)->fetch(empty);
    EXPECT_FALSE(unsized.ok);
    EXPECT_NE(unsized.error.find("416"), std::string::npos) << unsized.error;
    EXPECT_TRUE(std::filesystem::exists(f.store.path() / sized.file));
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(f.store.path() / "fetched"),
                            std::filesystem::directory_iterator{}),
              1);
}

TEST(BinaryFetcherTest, ChunkedAndOverlongAnswersAreHandled) {
    FetchFixture f;
    const std::string object = pattern_object(120'000, 8);
    RangeServerBehaviour chunked;
    chunked.chunked = true;
    f.server.set(chunked);
    const auto a = f.fetcher()->fetch(f.serve("tok-ch", object));
    ASSERT_TRUE(a.ok) << a.error;
    EXPECT_EQ(f.stored(a), object);
    const auto c = f.fetcher(50'000)->fetch(f.serve("tok-ch2", object));
    ASSERT_TRUE(c.ok) << c.error;
    // A 200 declaring another length than contentLength is refused up front.
    f.server.set({});
    BinaryObjectFacts mismatch = f.serve("tok-cl", object);
    mismatch.content_length = 1000;
    mismatch.checksum.clear();
    const auto m = f.fetcher()->fetch(mismatch);
    EXPECT_FALSE(m.ok);
    EXPECT_EQ(m.size, 0u) << "no byte was taken";
}

TEST(BinaryFetcherTest, WorkersFetchSubmittedBinariesOnceEach) {
    FetchFixture f;
    auto fetcher = f.fetcher(64 * 1024);
    std::vector<BinaryObjectFacts> objects;
    for (int i = 0; i < 6; ++i) {
        objects.push_back(f.serve("tok-w" + std::to_string(i), pattern_object(90'000 + i, i)));
    }
    simulator::DeliveryFacts delivery;
    delivery.binary_objects = objects;
    // The simulator's own Model B URLs and non-https URLs are not fetched.
    delivery.binary_objects.push_back(
        {f.server.base_url() + "/binaryData/6f1c1f2e-6c1a-4c57-9a57-2b8f0c1d2e3f/", 1, "", ""});
    delivery.binary_objects.push_back({"http://127.0.0.1/v1/binaries/x", 1, "", ""});
    fetcher->submit(delivery);
    EXPECT_FALSE(fetcher->submit(objects[0])) << "already queued";
    ASSERT_TRUE(fetcher->wait_idle(std::chrono::seconds(60)));
    const auto counts = fetcher->counts();
    EXPECT_EQ(counts.fetched, 6u);
    EXPECT_EQ(counts.failed, 0u);
    EXPECT_EQ(counts.pending, 0u);
    EXPECT_EQ(f.records().size(), 6u);
    // A new fetcher on the same store (a restarted simulator) skips what is there.
    auto restarted = f.fetcher();
    EXPECT_FALSE(restarted->submit(objects[1]));
    EXPECT_FALSE(simulator::is_fetchable_url("https://lea.example/binaryData/x/"));
    EXPECT_FALSE(simulator::is_fetchable_url("ftp://lea.example/v1/binaries/x"));
    EXPECT_FALSE(simulator::is_fetchable_url("https://user@lea.example/v1/binaries/x"));
    EXPECT_TRUE(simulator::is_fetchable_url("https://lea.example:8443/v1/binaries/x"));
}

TEST(BinaryFetcherTest, CreateChecksItsOptionsAndTlsFiles) {
    FetchFixture f;
    auto o = f.options();
    o.private_key = f.pki.pki.path("missing.key");
    EXPECT_FALSE(simulator::BinaryFetcher::create(o));
    o = f.options();
    o.threads = 0;
    EXPECT_FALSE(simulator::BinaryFetcher::create(o));
    o = f.options();
    o.trust_anchors.clear();
    EXPECT_FALSE(simulator::BinaryFetcher::create(o));
    o = f.options();
    o.max_attempts = 0;
    EXPECT_FALSE(simulator::BinaryFetcher::create(o));
}

TEST(BinaryFetcherTest, StopAbandonsATransferInProgress) {
    FetchFixture f;
    RangeServerBehaviour slow;
    slow.fail_5xx = 1000;
    f.server.set(slow);
    auto o = f.options();
    o.max_attempts = 100;
    o.backoff = std::chrono::milliseconds(200);
    o.max_backoff = std::chrono::milliseconds(200);
    auto fetcher = must_ok(simulator::BinaryFetcher::create(o));
    ASSERT_TRUE(fetcher->submit(f.serve("tok-stop", pattern_object(1000))));
    // Wait until the first attempt was made, then stop during the backoff.
    for (int i = 0; i < 500 && f.server.requests().empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_FALSE(f.server.requests().empty());
    fetcher->stop();
    EXPECT_EQ(fetcher->counts().pending, 0u);
    EXPECT_TRUE(f.records().empty()) << "an abandoned transfer is not a result";
    EXPECT_TRUE(std::filesystem::is_empty(f.store.path() / "fetched"));
    EXPECT_FALSE(fetcher->submit(f.serve("tok-late", "x")));
}

}  // namespace
}  // namespace enclave::testing
