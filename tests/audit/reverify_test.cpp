// SPDX-License-Identifier: Apache-2.0
// ReverifyService: match / mismatch against closed and active records, the
// review window and who may see the value, and fail-closed auditing.
#include "audit/reverify.hpp"

#include <gtest/gtest.h>

#include "crypto/encoding.hpp"
#include "support/paths.hpp"
#include "task_store_fixture.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Secret;
using nlohmann::json;
using test::cert_actor;
using test::field;
using test::local_actor;
using test::task;

const std::string kValue = "442079460223";
const std::string kSalt = "8f1c2a9b3d4e5f60718293a4b5c6d7e8";

Secret secret(const std::string& s) { return Secret::copy_of(crypto::as_bytes(s)); }

class ReverifyTest : public test::TaskStoreFixture {
protected:
    void SetUp() override {
        TaskStoreFixture::SetUp();
        service_ = std::make_unique<ReverifyService>(*store_, audit_, clock_.clock());
        create(task("LIID-RV", json::array({field("IMSI", "001010123456789", "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"),
                                            field("InternationalE164", kValue, kSalt, "sha3-256")})));
        ASSERT_TRUE(store_->close("LIID-RV", local_actor(1), CloseReason::operator_request));
        audit_.events.clear();
    }

    crypto::Result<ReverifyOutcome> ask(const json& who, const std::string& value = kValue,
                                        const std::string& salt = kSalt, std::size_t index = 1,
                                        const std::string& ref = "LIID-RV") {
        return service_->request(ref, index, secret(value), secret(salt), who);
    }

    const json auditor_ = local_actor(4000, "auditor");
    std::unique_ptr<ReverifyService> service_;
};

TEST_F(ReverifyTest, MatchOnAClosedTaskKeepsTheValueForTheRequesterOnly) {
    auto out = ask(auditor_);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_TRUE(out->matched);
    EXPECT_EQ(out->reference, "LIID-RV");
    EXPECT_EQ(out->field, 1u);
    ASSERT_TRUE(out->review_id);
    EXPECT_EQ(out->review_id->size(), 32u);
    EXPECT_EQ(*out->review_expires, clock_.now() + std::chrono::minutes(15));
    EXPECT_EQ(audit_.names(), (std::vector<std::string>{"reverify.requested", "reverify.matched"}));
    const json req = audit_.events[0];
    EXPECT_EQ(req["reference"], "LIID-RV");
    EXPECT_EQ(req["field"], 1);
    EXPECT_EQ(req["state"], "closed");
    EXPECT_EQ(req["algorithm"], "sha3-256");
    EXPECT_EQ(req["requester"], auditor_);
    EXPECT_EQ(audit_.events[1]["review_id"], *out->review_id);
    EXPECT_EQ(audit_.events[1]["expires"], format_utc_time(*out->review_expires));
    EXPECT_EQ(audit_.text().find(kValue), std::string::npos);
    EXPECT_EQ(audit_.text().find(kSalt), std::string::npos);
    EXPECT_EQ(service_->open_reviews(), 1u);

    // The same uid with other roles is the same requester.
    auto view = service_->review(*out->review_id, local_actor(4000, "security-officer"));
    ASSERT_TRUE(view) << view.error().message();
    EXPECT_EQ(secret_text(view->value), kValue);
    EXPECT_EQ(view->format_name, "InternationalE164");
    EXPECT_EQ(view->field, 1u);
    EXPECT_EQ(audit_.named("reverify.viewed").size(), 1u);

    auto other = service_->review(*out->review_id, local_actor(4001, "auditor"));
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code(), Errc::permission_denied);
    EXPECT_EQ(audit_.named("reverify.view_refused").size(), 1u);
    EXPECT_EQ(service_->review(*out->review_id, cert_actor(std::string(64, 'a'))).error().code(),
              Errc::permission_denied);
    EXPECT_EQ(service_->review(std::string(32, '0'), auditor_).error().code(), Errc::not_found);
    EXPECT_EQ(service_->review("not-an-id", auditor_).error().code(), Errc::not_found);
}

TEST_F(ReverifyTest, TheValueIsDestroyedWhenTheWindowEnds) {
    auto out = ask(auditor_);
    ASSERT_TRUE(out && out->matched);
    clock_.advance(std::chrono::minutes(14));
    EXPECT_TRUE(service_->review(*out->review_id, auditor_));
    clock_.advance(std::chrono::minutes(1));
    auto late = service_->review(*out->review_id, auditor_);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error().code(), Errc::expired);
    EXPECT_EQ(service_->open_reviews(), 0u);
    EXPECT_EQ(audit_.named("reverify.expired").size(), 1u);
    EXPECT_EQ(service_->review(*out->review_id, auditor_).error().code(), Errc::not_found);
}

TEST_F(ReverifyTest, ExpireSweepsEndedReviewsAndRecordsEach) {
    auto a = ask(auditor_);
    clock_.advance(std::chrono::minutes(5));
    auto b = ask(local_actor(4001));
    ASSERT_TRUE(a && b && a->matched && b->matched);
    EXPECT_EQ(*service_->expire(clock_.now() + std::chrono::minutes(10)), 1u);
    EXPECT_EQ(service_->open_reviews(), 1u);
    const auto expired = audit_.named("reverify.expired");
    ASSERT_EQ(expired.size(), 1u);
    EXPECT_EQ(expired[0]["review_id"], *a->review_id);
    EXPECT_TRUE(service_->review(*b->review_id, local_actor(4001)));

    // Destroyed even when the log refuses the entry; the error says so.
    audit_.fail_all = true;
    auto r = service_->expire(clock_.now() + std::chrono::hours(1));
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("1 review(s) destroyed"), std::string::npos) << r.error().message();
    EXPECT_EQ(service_->open_reviews(), 0u);
}

TEST_F(ReverifyTest, CustomWindowAndDiscard) {
    ReverifyService short_window(*store_, audit_, clock_.clock(), {std::chrono::seconds(30), 64});
    auto out = short_window.request("LIID-RV", 1, secret(kValue), secret(kSalt), auditor_);
    ASSERT_TRUE(out && out->matched);
    EXPECT_EQ(*out->review_expires, clock_.now() + std::chrono::seconds(30));
    EXPECT_EQ(short_window.discard(*out->review_id, local_actor(9)).error().code(), Errc::permission_denied);
    ASSERT_TRUE(short_window.discard(*out->review_id, auditor_));
    EXPECT_EQ(audit_.named("reverify.discarded").size(), 1u);
    EXPECT_EQ(short_window.open_reviews(), 0u);
    EXPECT_EQ(short_window.review(*out->review_id, auditor_).error().code(), Errc::not_found);
}

TEST_F(ReverifyTest, MismatchKeepsNothing) {
    for (const auto& [value, salt] : std::vector<std::pair<std::string, std::string>>{
             {"442079460224", kSalt}, {kValue, "8f1c2a9b3d4e5f60718293a4b5c6d7e9"}, {"x", kSalt}}) {
        auto out = ask(auditor_, value, salt);
        ASSERT_TRUE(out) << out.error().message();
        EXPECT_FALSE(out->matched);
        EXPECT_FALSE(out->review_id);
    }
    EXPECT_EQ(service_->open_reviews(), 0u);
    EXPECT_EQ(audit_.named("reverify.mismatched").size(), 3u);
    EXPECT_TRUE(audit_.named("reverify.matched").empty());
    EXPECT_EQ(audit_.text().find("442079460224"), std::string::npos);
}

TEST_F(ReverifyTest, WorksOnActiveTasksAndForCertificateRequesters) {
    create(task("LIID-ACTIVE"));
    const json lea = cert_actor(std::string(64, 'b'), "CN=lea1");
    auto out = service_->request("LIID-ACTIVE", 0, secret(kValue), secret(kSalt), lea);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_TRUE(out->matched);
    EXPECT_EQ(audit_.named("reverify.requested").back()["state"], "active");
    // Identity is the certificate hash, not the subject.
    EXPECT_TRUE(service_->review(*out->review_id, cert_actor(std::string(64, 'b'), "CN=renamed")));
    EXPECT_EQ(service_->review(*out->review_id, cert_actor(std::string(64, 'c'), "CN=lea1")).error().code(),
              Errc::permission_denied);
    EXPECT_EQ(service_->review(*out->review_id, local_actor(0)).error().code(), Errc::permission_denied);
}

TEST_F(ReverifyTest, RefusesBadRequestsBeforeRecordingAnything) {
    EXPECT_EQ(ask(auditor_, kValue, kSalt, 1, "LIID-NONE").error().code(), Errc::not_found);
    auto idx = ask(auditor_, kValue, kSalt, 2);
    ASSERT_FALSE(idx);
    EXPECT_EQ(idx.error().code(), Errc::invalid_argument);
    EXPECT_NE(idx.error().message().find("has 2 field(s)"), std::string::npos);
    EXPECT_EQ(ask(auditor_, kValue, "zz").error().code(), Errc::malformed_input);
    EXPECT_EQ(ask(auditor_, kValue, std::string(30, 'a')).error().code(), Errc::salt_too_short);
    EXPECT_EQ(ask(auditor_, kValue, std::string(2050, 'a')).error().code(), Errc::too_large);
    EXPECT_EQ(ask(auditor_, "", kSalt).error().code(), Errc::invalid_argument);
    EXPECT_EQ(ask(auditor_, "\xFF", kSalt).error().code(), Errc::malformed_input);
    EXPECT_EQ(ask(auditor_, std::string(8193, '1'), kSalt).error().code(), Errc::too_large);
    EXPECT_EQ(ask(json{{"kind", "nobody"}}).error().code(), Errc::invalid_argument);
    EXPECT_TRUE(audit_.events.empty());
    for (const auto& e : {ask(auditor_, kValue, "zz"), ask(auditor_, "\xFF", kSalt)}) {
        EXPECT_EQ(e.error().message().find(kValue), std::string::npos);
        EXPECT_EQ(e.error().message().find(kSalt), std::string::npos);
    }
}

TEST_F(ReverifyTest, FailsClosedWhenTheAuditLogRefuses) {
    audit_.fail_on = "reverify.requested";
    auto r = ask(auditor_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io_error);
    EXPECT_EQ(service_->open_reviews(), 0u);

    audit_.fail_on = "reverify.matched";
    r = ask(auditor_);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("value not kept"), std::string::npos);
    EXPECT_EQ(service_->open_reviews(), 0u);

    audit_.fail_on = "reverify.mismatched";
    EXPECT_FALSE(ask(auditor_, "442079460224"));

    audit_.fail_on.reset();
    auto ok = ask(auditor_);
    ASSERT_TRUE(ok && ok->matched);
    audit_.fail_on = "reverify.viewed";
    auto view = service_->review(*ok->review_id, auditor_);
    ASSERT_FALSE(view);
    EXPECT_NE(view.error().message().find("value not shown"), std::string::npos);
}

TEST_F(ReverifyTest, BoundsTheNumberOfOpenReviews) {
    ReverifyService small(*store_, audit_, clock_.clock(), {std::chrono::minutes(15), 2});
    ASSERT_TRUE(small.request("LIID-RV", 1, secret(kValue), secret(kSalt), auditor_));
    ASSERT_TRUE(small.request("LIID-RV", 1, secret(kValue), secret(kSalt), auditor_));
    const std::size_t events = audit_.events.size();
    auto full = small.request("LIID-RV", 1, secret(kValue), secret(kSalt), auditor_);
    ASSERT_FALSE(full);
    EXPECT_EQ(full.error().code(), Errc::unavailable);
    EXPECT_EQ(audit_.events.size(), events);
    clock_.advance(std::chrono::minutes(16));  // the first two expire, making room
    EXPECT_TRUE(small.request("LIID-RV", 1, secret(kValue), secret(kSalt), auditor_));
    EXPECT_EQ(small.open_reviews(), 1u);
}

TEST_F(ReverifyTest, EverySharedVectorReverifiesAfterClose) {
    const auto doc = enclave::testing::load_shared_json("test-vectors/d4-salted-hash.json");
    const char* algs[] = {"sha256", "sha384", "sha512", "sha3-256", "hmac-sha256"};
    int checked = 0;
    for (std::size_t a = 0; a < 5; ++a) {
        json fields = json::array();
        for (const auto& v : doc.at("vectors")) {
            fields.push_back({{"formatName", v.at("formatName")}, {"value", v.at("value")}, {"salt", v.at("salt_hex")},
                              {"hash", v.at(algs[a])}, {"algorithm", algs[a]}});
        }
        const std::string ref = "LIID-VEC-" + std::to_string(a);
        create(task(ref, fields));
        ASSERT_TRUE(store_->close(ref, local_actor(1), CloseReason::operator_request));
        std::size_t i = 0;
        for (const auto& v : doc.at("vectors")) {
            auto out = service_->request(ref, i++, secret(v.at("value")), secret(v.at("salt_hex")), auditor_);
            ASSERT_TRUE(out) << out.error().message();
            EXPECT_TRUE(out->matched) << ref << " field " << i - 1;
            ++checked;
        }
    }
    EXPECT_EQ(checked, 5 * static_cast<int>(doc.at("vectors").size()));
}

TEST_F(ReverifyTest, AcceptsTheParsedStdinForm) {
    auto input = parse_reverify_input(R"({"value":")" + kValue + R"(","salt":")" + kSalt + R"("})");
    ASSERT_TRUE(input);
    auto out = service_->request("LIID-RV", 1, std::move(*input), auditor_);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_TRUE(out->matched);
}

}  // namespace
}  // namespace enclave::audit
