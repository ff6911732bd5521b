// SPDX-License-Identifier: Apache-2.0
// ArchiveService (archive/archive_service.hpp) over real stores and a real
// SoftHSM2 token for the TSA: the five operations, idempotency, ownership,
// batches, deletion by crypto-erasure, lifetimes, hostile requests.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "archive/archive_service.hpp"
#include "archive/evidence.hpp"
#include "archive/object_id.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/secret.hpp"
#include "support/paths.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::archive {
namespace {

using std::chrono::system_clock;
using testing::SoftHsmToken;
using testing::TempDir;

crypto::Bytes bytes_of(std::string_view s) { return crypto::Bytes(s.begin(), s.end()); }

class ArchiveServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto cert = TimeStampAuthority::provision(*token_.pool(), "test TSA", 30);
        ASSERT_TRUE(cert) << cert.error().message();
        auto tsa = TimeStampAuthority::open(token_.pool(), *cert);
        ASSERT_TRUE(tsa) << tsa.error().message();
        tsa_ = *tsa;
        reopen();
    }

    ArchiveOptions options() const {
        ArchiveOptions o;
        o.db_path = dir_.path() / "archive.db";
        o.blob_dir = dir_.path() / "blobs";
        o.batch_max_objects = batch_;
        o.batch_max_wait = std::chrono::seconds(60);
        return o;
    }

    void reopen() {
        svc_.reset();
        auto s = ArchiveService::open(options(), kek_, tsa_);
        ASSERT_TRUE(s) << s.error().message();
        svc_ = std::move(*s);
    }

    static Caller endpoint(std::string name) {
        Caller c;
        c.owner = "endpoint:" + name;
        c.readable = {c.owner};
        return c;
    }

    static Request archive_request(std::vector<std::string> payloads, std::optional<std::int64_t> serial) {
        Request r;
        r.info.service = ServiceType::archive;
        r.info.serial_number = serial;
        r.info.nonce = crypto::Bytes{1, 2, 3, 4};
        for (auto& p : payloads) {
            DataItem d;
            d.raw_data = bytes_of(p);
            d.metadata = {{"case", "X-1"}};
            r.data.push_back(std::move(d));
        }
        return r;
    }

    static Request lookup(ServiceType op, DataItem item) {
        Request r;
        r.info.service = op;
        r.data.push_back(std::move(item));
        return r;
    }

    static DataItem by_ref(const std::string& ref) {
        DataItem d;
        d.data_reference = ref;
        return d;
    }

    OperationResponse call(const Request& r, const Caller& c) {
        Response res = svc_->handle(r, c, system_clock::now());
        EXPECT_TRUE(std::holds_alternative<OperationResponse>(res));
        return std::get<OperationResponse>(res);
    }

    SoftHsmToken token_;
    TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-archive", crypto::Secret::random(32)};
    std::shared_ptr<TimeStampAuthority> tsa_;
    std::unique_ptr<ArchiveService> svc_;
    std::size_t batch_ = 1000;
};

std::string meta(const DataItem& d, std::string_view name) {
    for (const auto& m : d.metadata) {
        if (m.name == name) return m.value;
    }
    return {};
}

TEST_F(ArchiveServiceTest, ArchiveWaitsThenSealingGrantsAndExportGivesDataAndAVerifyingRecord) {
    const Caller lea = endpoint("lea-a");
    const auto first = call(archive_request({"alpha record", "beta record"}, 7), lea);
    ASSERT_EQ(first.status, StatusInfo::waiting);
    ASSERT_EQ(first.data.size(), 2u);
    EXPECT_EQ(first.info.nonce, (crypto::Bytes{1, 2, 3, 4}));  // the nonce is echoed
    ASSERT_TRUE(first.data[0].artifact && first.data[0].data_reference);
    EXPECT_TRUE(object_reference_ok(*first.data[0].data_reference));
    EXPECT_EQ(meta(first.data[0], "enclave:state"), "pending");
    EXPECT_EQ(meta(first.data[0], "case"), "X-1");

    auto sealed = svc_->seal_due(system_clock::now(), true);
    ASSERT_TRUE(sealed) << sealed.error().message();
    EXPECT_EQ(sealed->objects, 2u);
    EXPECT_EQ(sealed->batches, 1u);

    // STATUS by artifact: granted, both objects.
    DataItem art;
    art.artifact = first.data[0].artifact;
    const auto status = call(lookup(ServiceType::status, art), lea);
    EXPECT_EQ(status.status, StatusInfo::granted);
    ASSERT_EQ(status.data.size(), 2u);

    const auto exported = call(lookup(ServiceType::export_, by_ref(*first.data[1].data_reference)), lea);
    ASSERT_EQ(exported.status, StatusInfo::granted);
    ASSERT_EQ(exported.data.size(), 1u);
    EXPECT_EQ(exported.data[0].raw_data, bytes_of("beta record"));
    ASSERT_TRUE(exported.data[0].evidence_record);
    const crypto::Bytes data = bytes_of("beta record");
    auto check = verify_evidence_record(
        *exported.data[0].evidence_record, [&](crypto::HashAlg a) { return crypto::digest(a, data); },
        {tsa_->certificate_der()});
    ASSERT_TRUE(check) << check.error().message();
    // The record is for this batch's data only (its sibling "alpha record"
    // verifies too: RFC 4998 4.3, docs/evidence-records.md).
    const crypto::Bytes other = bytes_of("gamma record");
    EXPECT_FALSE(verify_evidence_record(
        *exported.data[0].evidence_record, [&](crypto::HashAlg a) { return crypto::digest(a, other); },
        {tsa_->certificate_der()}));

    const auto verified = call(lookup(ServiceType::verify, by_ref(*first.data[0].data_reference)), lea);
    EXPECT_EQ(verified.status, StatusInfo::granted);
    ASSERT_EQ(verified.data.size(), 1u);
    EXPECT_FALSE(meta(verified.data[0], "enclave:verified").empty());
}

TEST_F(ArchiveServiceTest, ARetryGetsTheSameArtifactAndReferencesWithDataOrImprintOnly) {
    const Caller lea = endpoint("lea-a");
    const auto first = call(archive_request({"retry me"}, 42), lea);
    const auto again = call(archive_request({"retry me"}, 42), lea);
    ASSERT_EQ(again.data.size(), 1u);
    EXPECT_EQ(again.data[0].artifact, first.data[0].artifact);
    EXPECT_EQ(again.data[0].data_reference, first.data[0].data_reference);

    // The retry carries only the imprint now.
    Request slim = archive_request({"retry me"}, 42);
    slim.data[0].imprint = first.data[0].imprint;
    slim.data[0].raw_data.reset();
    const auto third = call(slim, lea);
    ASSERT_EQ(third.data.size(), 1u);
    EXPECT_EQ(third.data[0].data_reference, first.data[0].data_reference);

    // Without a serial number the imprints identify the request.
    const auto a = call(archive_request({"no serial"}, std::nullopt), lea);
    const auto b = call(archive_request({"no serial"}, std::nullopt), lea);
    EXPECT_EQ(a.data[0].artifact, b.data[0].artifact);
    // The counts prove nothing was stored twice.
    auto counts = svc_->counts();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->pending, 2u);
}

TEST_F(ArchiveServiceTest, ASerialNumberReusedForOtherDataIsRejected) {
    const Caller lea = endpoint("lea-a");
    call(archive_request({"first"}, 9), lea);
    const auto clash = call(archive_request({"second"}, 9), lea);
    EXPECT_EQ(clash.status, StatusInfo::rejection);
    ASSERT_TRUE(clash.error);
    EXPECT_EQ(clash.error->id, static_cast<int>(Notice::serial_conflict));
}

TEST_F(ArchiveServiceTest, AnImprintThatDoesNotMatchTheDataIsRejected) {
    Request r = archive_request({"data"}, 1);
    r.data[0].imprint = MessageImprint{"http://www.w3.org/2001/04/xmlenc#sha256",
                                       crypto::digest(crypto::HashAlg::sha256, bytes_of("other"))};
    const auto res = call(r, endpoint("lea-a"));
    EXPECT_EQ(res.status, StatusInfo::rejection);
    EXPECT_EQ(res.error->id, static_cast<int>(Notice::imprint_mismatch));
    r.data[0].imprint->digest_algorithm = "urn:unknown-digest";
    EXPECT_EQ(call(r, endpoint("lea-a")).error->id, static_cast<int>(Notice::unsupported_algorithm));
    auto counts = svc_->counts();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->pending, 0u);
}

TEST_F(ArchiveServiceTest, AnotherOwnersObjectAnswersExactlyLikeAnUnknownOne) {
    const auto mine = call(archive_request({"private"}, 1), endpoint("lea-a"));
    const std::string ref = *mine.data[0].data_reference;
    const auto theirs = call(lookup(ServiceType::export_, by_ref(ref)), endpoint("lea-b"));
    const auto unknown = call(lookup(ServiceType::export_, by_ref(new_object_reference())), endpoint("lea-b"));
    EXPECT_EQ(theirs.status, StatusInfo::rejection);
    EXPECT_EQ(theirs.error, unknown.error);
    EXPECT_EQ(theirs.data, unknown.data);
    // Nor can they delete it, or use its artifact.
    EXPECT_EQ(call(lookup(ServiceType::delete_, by_ref(ref)), endpoint("lea-b")).status, StatusInfo::rejection);
    DataItem art;
    art.artifact = mine.data[0].artifact;
    EXPECT_EQ(call(lookup(ServiceType::status, art), endpoint("lea-b")).status, StatusInfo::rejection);
    // An administrative caller sees every owner's objects.
    Caller auditor;
    auditor.owner = "csp";
    auditor.all_owners = true;
    EXPECT_EQ(call(lookup(ServiceType::status, by_ref(ref)), auditor).status, StatusInfo::waiting);
}

TEST_F(ArchiveServiceTest, ReferencesWithBadCheckDigitsAndHostileItemsAreRejectedClearly) {
    std::string ref = new_object_reference();
    ref[ref.size() - 5] = ref[ref.size() - 5] == 'A' ? 'B' : 'A';
    const auto bad = call(lookup(ServiceType::status, by_ref(ref)), endpoint("lea-a"));
    EXPECT_EQ(bad.error->id, static_cast<int>(Notice::malformed_request));
    const auto swapped = call(lookup(ServiceType::status, by_ref("urn:x-enclave:ltap:obj:../../etc")),
                              endpoint("lea-a"));
    EXPECT_EQ(swapped.error->id, static_cast<int>(Notice::malformed_request));
    DataItem art;
    art.artifact = "art-' OR 1=1 --";
    EXPECT_EQ(call(lookup(ServiceType::status, art), endpoint("lea-a")).error->id,
              static_cast<int>(Notice::unknown_object));
    Request empty;
    empty.info.service = ServiceType::status;
    EXPECT_EQ(call(empty, endpoint("lea-a")).error->id, static_cast<int>(Notice::malformed_request));
    // ARCHIVE refuses a DataReference, and data over the per-object limit.
    Request ref_archive = archive_request({}, 3);
    ref_archive.data.push_back(by_ref(new_object_reference()));
    EXPECT_EQ(call(ref_archive, endpoint("lea-a")).error->id, static_cast<int>(Notice::malformed_request));
    Request big = archive_request({std::string((6u << 20) + 1, 'x')}, 4);
    EXPECT_EQ(call(big, endpoint("lea-a")).error->id, static_cast<int>(Notice::too_large));
}

TEST_F(ArchiveServiceTest, DeleteCryptoErasesAndKeepsATraceUntilTheLifetimeEnds) {
    const Caller lea = endpoint("lea-a");
    const auto a = call(archive_request({"to be deleted"}, 1), lea);
    ASSERT_TRUE(svc_->seal_due(system_clock::now(), true));
    const std::string ref = *a.data[0].data_reference;
    const auto blobs_before = std::distance(std::filesystem::directory_iterator(dir_.path() / "blobs" / "data"),
                                            std::filesystem::directory_iterator());
    EXPECT_EQ(blobs_before, 1);

    DataItem del = by_ref(ref);
    del.metadata = {{"reason", "court order"}};
    const auto deleted = call(lookup(ServiceType::delete_, del), lea);
    EXPECT_EQ(deleted.status, StatusInfo::granted);
    EXPECT_EQ(meta(deleted.data[0], "enclave:state"), "deleted");
    EXPECT_FALSE(meta(deleted.data[0], "enclave:deleted").empty());
    EXPECT_EQ(meta(deleted.data[0], "case"), "");  // the original metadata is gone
    EXPECT_EQ(meta(deleted.data[0], "reason"), "court order");
    EXPECT_FALSE(deleted.data[0].imprint);          // and its digest
    // The data's key and file are gone.
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "blobs" / "data"));
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "blobs" / "keys"));

    const auto exported = call(lookup(ServiceType::export_, by_ref(ref)), lea);
    EXPECT_EQ(exported.error->id, static_cast<int>(Notice::object_deleted));
    EXPECT_EQ(call(lookup(ServiceType::status, by_ref(ref)), lea).status, StatusInfo::granted);
    // DELETE again: the same trace.
    EXPECT_EQ(call(lookup(ServiceType::delete_, by_ref(ref)), lea).status, StatusInfo::granted);

    // At the end of the lifetime the trace goes too.
    auto gone = svc_->expire(system_clock::now() + std::chrono::hours(24 * 3651));
    ASSERT_TRUE(gone);
    EXPECT_EQ(*gone, 1u);
    EXPECT_EQ(call(lookup(ServiceType::status, by_ref(ref)), lea).error->id,
              static_cast<int>(Notice::unknown_object));
}

TEST_F(ArchiveServiceTest, BatchesCloseByCountOrByAge) {
    batch_ = 3;
    reopen();
    const Caller lea = endpoint("lea-a");
    for (int i = 0; i < 7; ++i) call(archive_request({"object " + std::to_string(i)}, i), lea);
    auto sealed = svc_->seal_due(system_clock::now(), false);
    ASSERT_TRUE(sealed) << sealed.error().message();
    EXPECT_EQ(sealed->objects, 6u);  // two full batches; the seventh waits
    EXPECT_EQ(sealed->batches, 2u);
    auto counts = svc_->counts();
    ASSERT_TRUE(counts);
    EXPECT_EQ(counts->pending, 1u);
    EXPECT_EQ(counts->granted, 6u);
    // Not yet due by age either.
    EXPECT_EQ(svc_->seal_due(system_clock::now(), false)->objects, 0u);
    EXPECT_EQ(svc_->seal_due(system_clock::now() + std::chrono::seconds(61), false)->objects, 1u);
}

TEST_F(ArchiveServiceTest, RenewalsLengthenTheRecordsWhichStillVerify) {
    const Caller lea = endpoint("lea-a");
    const auto a = call(archive_request({"long lived", "and another"}, 1), lea);
    ASSERT_TRUE(svc_->seal_due(system_clock::now(), true));
    auto ts = svc_->renew(RenewalKind::timestamp, crypto::HashAlg::sha256);
    ASSERT_TRUE(ts) << ts.error().message();
    EXPECT_EQ(ts->objects, 2u);
    auto ht = svc_->renew(RenewalKind::hash_tree, crypto::HashAlg::sha512);
    ASSERT_TRUE(ht) << ht.error().message();
    auto exported = svc_->export_object(*a.data[0].data_reference);
    ASSERT_TRUE(exported) << exported.error().message();
    auto check = verify_evidence_record(
        exported->evidence_record, [&](crypto::HashAlg alg) { return crypto::digest(alg, exported->data); },
        {tsa_->certificate_der()});
    ASSERT_TRUE(check) << check.error().message();
    EXPECT_EQ(check->chains, 2u);
    EXPECT_EQ(check->stamps, 3u);
    EXPECT_EQ(check->current_alg, crypto::HashAlg::sha512);
}

TEST_F(ArchiveServiceTest, ALongerLifetimeThanThePolicysIsGrantedWithModifications) {
    const Caller lea = endpoint("lea-a");
    Request r = archive_request({"keep me long"}, 1);
    r.info.configuration = {{"lifetime-days", "99999"}};
    const auto first = call(r, lea);
    ASSERT_EQ(first.status, StatusInfo::waiting);
    ASSERT_TRUE(svc_->seal_due(system_clock::now(), true));
    const auto final_answer = call(lookup(ServiceType::status, by_ref(*first.data[0].data_reference)), lea);
    EXPECT_EQ(final_answer.status, StatusInfo::granted_with_mods);
    ASSERT_TRUE(final_answer.error);
    EXPECT_EQ(final_answer.error->id, static_cast<int>(Notice::modified));
    EXPECT_NE(final_answer.error->information.find("3650 granted"), std::string::npos);
    auto s = svc_->summary(*first.data[0].data_reference);
    ASSERT_TRUE(s);
    EXPECT_LE(s->expires - s->created, 3650LL * 86400);
    // A shorter one is granted as asked; nonsense and unknown items are refused.
    r = archive_request({"short"}, 2);
    r.info.configuration = {{"lifetime-days", "30"}};
    call(r, lea);
    ASSERT_TRUE(svc_->seal_due(system_clock::now(), true));
    EXPECT_EQ(call(r, lea).status, StatusInfo::granted);
    for (const auto& bad : std::vector<MetaEntry>{{"lifetime-days", "0"}, {"lifetime-days", "-5"},
                                                   {"lifetime-days", "1e9"}, {"colour", "blue"}}) {
        Request b = archive_request({"bad " + bad.value}, 3);
        b.info.configuration = {bad};
        EXPECT_EQ(call(b, lea).status, StatusInfo::rejection) << bad.name << "=" << bad.value;
    }
    // Nor may a client plant the archive's own metadata.
    Request planted = archive_request({"planted"}, 4);
    planted.data[0].metadata = {{"enclave:modified", "fake"}};
    EXPECT_EQ(call(planted, lea).error->id, static_cast<int>(Notice::malformed_request));
}

TEST_F(ArchiveServiceTest, ABlobNoCatalogueRowNamesIsErasedOnOpen) {
    // What a crash between storing the data and cataloguing it leaves.
    svc_.reset();
    {
        auto blobs = crypto::BlobStore::open(dir_.path() / "blobs", kek_);
        ASSERT_TRUE(blobs);
        auto w = blobs->create();
        ASSERT_TRUE(w);
        ASSERT_TRUE(w->write(bytes_of("orphan")));
        ASSERT_TRUE(w->commit());
    }
    reopen();
    EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "blobs" / "data"));
}

TEST_F(ArchiveServiceTest, InternalRecordsAreArchivedOncePerKey) {
    auto a = svc_->archive_internal("enclave", "task-close:17", bytes_of("{\"record\":1}"), {}, system_clock::now());
    auto b = svc_->archive_internal("enclave", "task-close:17", bytes_of("{\"record\":1}"), {}, system_clock::now());
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    auto s = svc_->summary(*a);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->owner, "enclave");
    // LEA callers do not see it.
    EXPECT_EQ(call(lookup(ServiceType::status, by_ref(*a)), endpoint("lea-a")).status, StatusInfo::rejection);
}

TEST_F(ArchiveServiceTest, CursorsStartAtZeroMoveAndSurviveAReopen) {
    // bookworm's SQLCipher is SQLite 3.15: an upsert would fail here.
    auto start = svc_->cursor("audit-trail");
    ASSERT_TRUE(start) << start.error().message();
    EXPECT_EQ(*start, 0u);
    ASSERT_TRUE(svc_->set_cursor("audit-trail", 17));
    auto moved = svc_->set_cursor("audit-trail", 42);
    ASSERT_TRUE(moved) << moved.error().message();
    ASSERT_TRUE(svc_->set_cursor("other", 5));
    reopen();
    EXPECT_EQ(svc_->cursor("audit-trail").value_or(0), 42u);
    EXPECT_EQ(svc_->cursor("other").value_or(0), 5u);
}

}  // namespace
}  // namespace enclave::archive
