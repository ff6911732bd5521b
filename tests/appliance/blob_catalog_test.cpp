// SPDX-License-Identifier: Apache-2.0
// The ingest catalogue's claims (appliance/src/delivery_services.cpp): an
// upload is claimed by one item before the item is enqueued, a keyed retry
// takes its own claim over, and claims no item holds are found for the
// orphan sweep. A real SQLCipher file under a software KEK.
#include <gtest/gtest.h>

#include "../../appliance/src/delivery_services_impl.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/secret.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using Claims = std::vector<std::pair<std::string, std::string>>;

class BlobCatalogTest : public ::testing::Test {
protected:
    BlobCatalogTest() : kek_("test-kek", crypto::Secret::random(32)) {}

    std::unique_ptr<BlobCatalog> open() {
        auto c = BlobCatalog::open(dir_.path() / "ingest.db", kek_);
        EXPECT_TRUE(c) << c.error().message();
        return c ? std::move(*c) : nullptr;
    }

    static void add(BlobCatalog& c, const std::string& id, std::int64_t created = 1000) {
        UploadedBlob b;
        b.id = id;
        b.content_type = "video/mp4";
        b.size = 4;
        b.sha256 = std::string(64, 'a');
        b.uploader = std::string(64, 'c');
        b.created = created;
        ASSERT_TRUE(c.insert(b));
    }

    testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_;
};

TEST_F(BlobCatalogTest, AClaimIsAllOrNothingAndOnlyTheSameKeyedSubmissionTakesItOver) {
    auto c = open();
    ASSERT_TRUE(c);
    add(*c, "b1");
    add(*c, "b2");
    ASSERT_TRUE(c->claim({{"b1", "R k-1"}}, 2000));
    auto b1 = c->find("b1");
    ASSERT_TRUE(b1 && b1->has_value());
    EXPECT_TRUE((*b1)->attached);
    EXPECT_EQ((*b1)->attached_by, "R k-1");

    // Another submission naming b1 (with a free b2): refused, b2 stays free.
    auto other = c->claim({{"b2", "R k-2"}, {"b1", "R k-2"}}, 2001);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code(), crypto::Errc::invalid_argument);
    EXPECT_EQ(other.error().message().find("R k-"), std::string::npos) << "no key in the error";
    EXPECT_FALSE((*c->find("b2"))->attached);
    // Unkeyed submissions never take a claim over, not even another unkeyed one's.
    ASSERT_TRUE(c->claim({{"b2", ""}}, 2002));
    EXPECT_FALSE(c->claim({{"b2", ""}}, 2003));
    // The same keyed submission again (a retry): allowed.
    EXPECT_TRUE(c->claim({{"b1", "R k-1"}}, 2004));
    // Unknown and erased uploads cannot be claimed.
    EXPECT_FALSE(c->claim({{"nope", "R k-3"}}, 2005));
    add(*c, "b3");
    ASSERT_TRUE(c->mark_erased("b3", 2006));
    EXPECT_FALSE(c->claim({{"b3", "R k-3"}}, 2007));
}

TEST_F(BlobCatalogTest, ReleaseFreesOnlyTheFailedSubmissionsClaims) {
    auto c = open();
    ASSERT_TRUE(c);
    add(*c, "b1");
    add(*c, "b2");
    ASSERT_TRUE(c->claim({{"b1", "R k-1"}}, 2000));
    ASSERT_TRUE(c->claim({{"b2", "R k-2"}}, 2000));
    ASSERT_TRUE(c->release({{"b1", "R k-1"}, {"b2", "R k-9"}}));
    EXPECT_FALSE((*c->find("b1"))->attached);
    EXPECT_TRUE((*c->find("b2"))->attached) << "held by another submission";
    EXPECT_TRUE(c->claim({{"b1", "R k-5"}}, 2001)) << "free again";
}

TEST_F(BlobCatalogTest, OldClaimsArePagedInIdOrderAndARecentReclaimSurvivesTheSweep) {
    auto c = open();
    ASSERT_TRUE(c);
    for (int i = 0; i < 7; ++i) add(*c, "b" + std::to_string(i));
    Claims old;
    for (int i = 0; i < 6; ++i) old.emplace_back("b" + std::to_string(i), "R k-" + std::to_string(i));
    ASSERT_TRUE(c->claim(old, 1000));
    ASSERT_TRUE(c->claim({{"b6", "R k-6"}}, 5000));  // recent
    ASSERT_TRUE(c->mark_erased("b5", 1500));          // delivered
    std::vector<std::string> seen;
    std::string after;
    for (;;) {
        auto page = c->claimed_before(3000, after, 2);
        ASSERT_TRUE(page) << page.error().message();
        seen.insert(seen.end(), page->begin(), page->end());
        if (page->size() < 2) break;
        after = page->back();
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"}));

    // A retry re-claimed b0 after the sweep listed it: the sweep keeps it.
    ASSERT_TRUE(c->claim({{"b0", "R k-0"}}, 4000));
    auto kept = c->forget_claimed_before("b0", 3000);
    ASSERT_TRUE(kept);
    EXPECT_FALSE(*kept);
    EXPECT_TRUE(c->find("b0")->has_value());
    auto gone = c->forget_claimed_before("b1", 3000);
    ASSERT_TRUE(gone);
    EXPECT_TRUE(*gone);
    EXPECT_FALSE(c->find("b1")->has_value());
    // Hostile ids are just not found.
    EXPECT_FALSE(*c->forget_claimed_before("b2' OR '1'='1", 3000));
    EXPECT_TRUE(c->find("b2")->has_value());
}

TEST_F(BlobCatalogTest, ClaimsSurviveAReopen) {
    {
        auto c = open();
        ASSERT_TRUE(c);
        add(*c, "b1");
        ASSERT_TRUE(c->claim({{"b1", "R k-1"}}, 1000));
    }
    auto c = open();
    ASSERT_TRUE(c);
    auto page = c->claimed_before(2000, "", 10);
    ASSERT_TRUE(page);
    EXPECT_EQ(*page, std::vector<std::string>{"b1"});
    EXPECT_FALSE(c->claim({{"b1", "R k-2"}}, 1001));
}

}  // namespace
}  // namespace enclave::appliance
