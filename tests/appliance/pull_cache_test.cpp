// SPDX-License-Identifier: Apache-2.0
// PullCache: an entry serves only its own client, only for its ttl after
// the full check (use never extends it), only before the URL expires, and
// goes when its object or every entry is dropped; the oldest goes first
// when it is full.
#include "../../appliance/src/pull_cache.hpp"

#include <gtest/gtest.h>

#include "crypto/blob_store.hpp"
#include "crypto/key_wrapper.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kUnixNow = 1'800'000'000;

class PullCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto store = crypto::BlobStore::open(dir_.path() / "blobs", kek_);
        ASSERT_TRUE(store) << store.error().message();
        auto w = store->create("obj", {});
        ASSERT_TRUE(w) << w.error().message();
        const std::uint8_t bytes[] = {1, 2, 3};
        ASSERT_TRUE(w->write(crypto::ByteView(bytes, sizeof bytes)));
        ASSERT_TRUE(w->commit());
        auto r = store->open_object("obj");
        ASSERT_TRUE(r) << r.error().message();
        reader_ = std::make_shared<const crypto::BlobReader>(std::move(*r));
    }

    static PullUrl url(std::uint8_t tag, std::string blob = "obj") {
        PullUrl u;
        u.token_hash = crypto::Bytes(32, tag);
        u.blob_id = std::move(blob);
        u.endpoint = "lea-1";
        u.expires = kUnixNow + 3600;
        return u;
    }

    testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-test", crypto::Secret::random(32)};
    std::shared_ptr<const crypto::BlobReader> reader_;
    Clock::time_point t0_ = Clock::now();
};

TEST_F(PullCacheTest, AnEntryServesOnlyTheClientTheFullCheckLetIn) {
    PullCache cache(5s, 8);
    cache.put(url(1), "cert aa", reader_, t0_);
    auto hit = cache.find(url(1).token_hash, "cert aa", t0_ + 1s, kUnixNow);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->url.blob_id, "obj");
    EXPECT_EQ(hit->reader, reader_);
    EXPECT_FALSE(cache.find(url(1).token_hash, "cert bb", t0_ + 1s, kUnixNow));
    EXPECT_FALSE(cache.find(url(1).token_hash, "psk lea-1 aa", t0_ + 1s, kUnixNow));
    EXPECT_FALSE(cache.find(url(1).token_hash, "", t0_ + 1s, kUnixNow));
    EXPECT_FALSE(cache.find(url(2).token_hash, "cert aa", t0_ + 1s, kUnixNow));
    // A peer with no certificate hash and no PSK is never cached.
    cache.put(url(3), "", reader_, t0_);
    EXPECT_FALSE(cache.find(url(3).token_hash, "", t0_, kUnixNow));
    EXPECT_EQ(cache.size(), 1u);
}

TEST_F(PullCacheTest, UseDoesNotExtendAnEntryPastItsTtl) {
    PullCache cache(5s, 8);
    cache.put(url(1), "cert aa", reader_, t0_);
    for (auto t = 0s; t < 5s; t += 1s) {
        EXPECT_TRUE(cache.find(url(1).token_hash, "cert aa", t0_ + t, kUnixNow)) << t.count();
    }
    EXPECT_FALSE(cache.find(url(1).token_hash, "cert aa", t0_ + 5s, kUnixNow));
    // A new full check makes a fresh entry.
    cache.put(url(1), "cert aa", reader_, t0_ + 6s);
    EXPECT_TRUE(cache.find(url(1).token_hash, "cert aa", t0_ + 7s, kUnixNow));
}

TEST_F(PullCacheTest, AnExpiredUrlIsNotServedEvenWithinTheTtl) {
    PullCache cache(5s, 8);
    PullUrl u = url(1);
    u.expires = kUnixNow + 1;
    cache.put(u, "cert aa", reader_, t0_);
    EXPECT_TRUE(cache.find(u.token_hash, "cert aa", t0_, kUnixNow));
    EXPECT_FALSE(cache.find(u.token_hash, "cert aa", t0_, kUnixNow + 1));
}

TEST_F(PullCacheTest, AnotherClientsFullCheckReplacesTheEntry) {
    PullCache cache(5s, 8);
    cache.put(url(1), "cert aa", reader_, t0_);
    cache.put(url(1), "cert bb", reader_, t0_ + 1s);
    EXPECT_FALSE(cache.find(url(1).token_hash, "cert aa", t0_ + 1s, kUnixNow));
    EXPECT_TRUE(cache.find(url(1).token_hash, "cert bb", t0_ + 1s, kUnixNow));
    EXPECT_EQ(cache.size(), 1u);
}

TEST_F(PullCacheTest, TheFirstAccessIsRememberedOnce) {
    PullCache cache(5s, 8);
    cache.put(url(1), "cert aa", reader_, t0_);
    cache.set_accessed(url(1).token_hash, kUnixNow + 10);
    cache.set_accessed(url(1).token_hash, kUnixNow + 20);
    cache.set_accessed(url(9).token_hash, kUnixNow + 30);  // not cached: nothing happens
    auto hit = cache.find(url(1).token_hash, "cert aa", t0_, kUnixNow);
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->url.accessed, kUnixNow + 10);
}

TEST_F(PullCacheTest, DroppingAnObjectOrEverythingEmptiesIt) {
    PullCache cache(5s, 8);
    cache.put(url(1, "obj"), "cert aa", reader_, t0_);
    cache.put(url(2, "obj"), "cert aa", reader_, t0_);
    cache.put(url(3, "other"), "cert aa", reader_, t0_);
    cache.drop_blob("obj");
    EXPECT_FALSE(cache.find(url(1).token_hash, "cert aa", t0_, kUnixNow));
    EXPECT_FALSE(cache.find(url(2).token_hash, "cert aa", t0_, kUnixNow));
    EXPECT_TRUE(cache.find(url(3).token_hash, "cert aa", t0_, kUnixNow));
    cache.clear();
    EXPECT_EQ(cache.size(), 0u);
    // The reader outlives the cache's reference for as long as a response holds it.
    EXPECT_EQ(reader_.use_count(), 1);
}

TEST_F(PullCacheTest, AFullCacheDropsStaleEntriesThenTheOldest) {
    PullCache cache(5s, 3);
    cache.put(url(1), "cert aa", reader_, t0_);
    cache.put(url(2), "cert aa", reader_, t0_ + 1s);
    cache.put(url(3), "cert aa", reader_, t0_ + 2s);
    cache.put(url(4), "cert aa", reader_, t0_ + 3s);  // full: url 1 (oldest) goes
    EXPECT_EQ(cache.size(), 3u);
    EXPECT_FALSE(cache.find(url(1).token_hash, "cert aa", t0_ + 3s, kUnixNow));
    EXPECT_TRUE(cache.find(url(2).token_hash, "cert aa", t0_ + 3s, kUnixNow));
    cache.put(url(5), "cert aa", reader_, t0_ + 7s);  // 2 and 3 are stale by now
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_TRUE(cache.find(url(4).token_hash, "cert aa", t0_ + 7s, kUnixNow));
    EXPECT_TRUE(cache.find(url(5).token_hash, "cert aa", t0_ + 7s, kUnixNow));
}

TEST_F(PullCacheTest, ADisabledCacheKeepsNothing) {
    PullCache off(0ms, 8);
    off.put(url(1), "cert aa", reader_, t0_);
    EXPECT_EQ(off.size(), 0u);
    PullCache none(5s, 0);
    none.put(url(1), "cert aa", reader_, t0_);
    EXPECT_EQ(none.size(), 0u);
    EXPECT_FALSE(none.find(url(1).token_hash, "cert aa", t0_, kUnixNow));
}

TEST(PullClientKeyTest, NamesTheCertificateOrThePskWithItsEndpoint) {
    Peer cert;
    cert.cert_sha256 = "ab";
    cert.cert_subject = "CN=x";
    EXPECT_EQ(pull_client_key(cert), "cert ab");
    Peer psk;
    psk.psk_identity = "id1";
    psk.psk_endpoint = "lea-1";
    EXPECT_EQ(pull_client_key(psk), "psk lea-1 id1");
    EXPECT_EQ(pull_client_key(Peer{}), "");
}

}  // namespace
}  // namespace enclave::appliance
