// SPDX-License-Identifier: Apache-2.0
// RFC 4998 evidence records with our own verifier: shapes, renewals, and
// hostile input (truncation, oversize, limits, wrong data, swapped stamps,
// another TSA, flipped bytes).
#include "archive/evidence.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "ers_fixture.hpp"

namespace enclave::archive {
namespace {

using crypto::Bytes;
using crypto::Errc;
using crypto::HashAlg;
using test::digest_of;
using test::TsaOnToken;

// DER helpers for rebuilding records in tests (short form up to 2 length bytes).
Bytes tlv(std::uint8_t tag, const Bytes& content) {
    Bytes out{tag};
    const std::size_t n = content.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n < 0x100) {
        out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
    } else {
        out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Bytes cat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// A record from its layout, with the stamps given per chain.
Bytes rebuild(const EvidenceLayout& layout, const std::vector<std::vector<Bytes>>& chains) {
    std::vector<Bytes> algs;
    for (auto a : layout.digest_algs) {
        const Bytes oid = a == HashAlg::sha256
                              ? Bytes{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
                              : Bytes{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
        algs.push_back(tlv(0x30, oid));
    }
    std::vector<Bytes> encoded;
    for (const auto& c : chains) encoded.push_back(tlv(0x30, cat(c)));
    return tlv(0x30, cat({Bytes{0x02, 0x01, 0x01}, tlv(0x30, cat(algs)), tlv(0x30, cat(encoded))}));
}

TEST(EvidenceTest, BatchShapesAndVerification) {
    TsaOnToken t;
    std::cout << "seed 17\n";
    for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 8u, 100u}) {
        const auto objs = test::objects(n, 17 + static_cast<std::uint32_t>(n));
        auto records = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
        ASSERT_TRUE(records) << records.error().message();
        ASSERT_EQ(records->size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            auto layout = inspect_evidence_record((*records)[i]);
            ASSERT_TRUE(layout) << layout.error().message();
            ASSERT_EQ(layout->chains.size(), 1u);
            ASSERT_EQ(layout->chains[0].size(), 1u);
            const auto& widths = layout->chains[0][0].tree_widths;
            if (n == 1) {
                EXPECT_TRUE(widths.empty());  // the stamp covers the object's hash
            } else {
                ASSERT_FALSE(widths.empty());
                EXPECT_EQ(widths[0], 2u);
                EXPECT_TRUE(std::all_of(widths.begin() + 1, widths.end(), [](auto w) { return w == 1; }));
                EXPECT_LE(widths.size(), 8u);
            }
            auto check = verify_evidence_record((*records)[i], digest_of(objs[i]), {t.certificate});
            ASSERT_TRUE(check) << "n=" << n << " i=" << i << ": " << check.error().message();
            EXPECT_EQ(check->chains, 1u);
            EXPECT_EQ(check->stamps, 1u);
            EXPECT_EQ(check->first_stamp, check->last_stamp);
            EXPECT_EQ(check->current_alg, HashAlg::sha256);
        }
        // One time stamp per batch: every record carries the same token.
        auto first = inspect_evidence_record(records->front());
        auto last = inspect_evidence_record(records->back());
        EXPECT_EQ(first->chains[0][0].time_stamp, last->chains[0][0].time_stamp);
        // The last object's data does not verify with the first record
        // (for n >= 3 it is not in the first list).
        if (n >= 3) {
            auto wrong = verify_evidence_record(records->front(), digest_of(objs.back()), {t.certificate});
            ASSERT_FALSE(wrong);
            EXPECT_EQ(wrong.error().code(), Errc::integrity_failure);
        }
    }
}

TEST(EvidenceTest, DuplicateObjectsInOneBatch) {
    TsaOnToken t;
    auto objs = test::objects(2, 41);
    objs.insert(objs.begin() + 1, objs[0]);  // a, a, b
    auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0], (*r)[1]);  // one leaf, one path
    for (std::size_t i = 0; i < objs.size(); ++i) {
        auto check = verify_evidence_record((*r)[i], digest_of(objs[i]), {t.certificate});
        EXPECT_TRUE(check) << i << ": " << check.error().message();
    }
}

TEST(EvidenceTest, RenewalsGrowTheRecordAndStillVerify) {
    TsaOnToken t;
    const auto objs = test::objects(5, 99);
    auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r);
    auto ts1 = renew_timestamps(*r, *t.tsa);
    ASSERT_TRUE(ts1) << ts1.error().message();
    auto ts2 = renew_timestamps(*ts1, *t.tsa);
    ASSERT_TRUE(ts2) << ts2.error().message();
    auto ht = renew_hash_trees(*ts2, test::digests(HashAlg::sha512, objs), HashAlg::sha512, *t.tsa);
    ASSERT_TRUE(ht) << ht.error().message();
    for (std::size_t i = 0; i < objs.size(); ++i) {
        EXPECT_GT((*ts1)[i].size(), (*r)[i].size());
        EXPECT_GT((*ht)[i].size(), (*ts2)[i].size());
        auto c2 = verify_evidence_record((*ts2)[i], digest_of(objs[i]), {t.certificate});
        ASSERT_TRUE(c2) << c2.error().message();
        EXPECT_EQ(c2->stamps, 3u);
        EXPECT_LE(c2->first_stamp, c2->last_stamp);
        auto c3 = verify_evidence_record((*ht)[i], digest_of(objs[i]), {t.certificate});
        ASSERT_TRUE(c3) << c3.error().message();
        EXPECT_EQ(c3->chains, 2u);
        EXPECT_EQ(c3->stamps, 4u);
        EXPECT_EQ(c3->current_alg, HashAlg::sha512);
        auto layout = inspect_evidence_record((*ht)[i]);
        ASSERT_TRUE(layout);
        EXPECT_EQ(layout->digest_algs, (std::vector<HashAlg>{HashAlg::sha256, HashAlg::sha512}));
        EXPECT_EQ(layout->chains[0][2].tree_widths.front(), 2u);  // covers both earlier stamps
    }
    // A SHA-512 digest that is not the data's breaks only the new chain.
    auto bad = verify_evidence_record(
        (*ht)[0],
        [&](HashAlg a) {
            return a == HashAlg::sha512 ? crypto::digest(a, objs[1]) : crypto::digest(a, objs[0]);
        },
        {t.certificate});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::integrity_failure);
    EXPECT_NE(bad.error().context().find("chain 1 stamp 0"), std::string::npos) << bad.error().context();
    // Mixed chain algorithms cannot share one time-stamp renewal.
    auto mixed = renew_timestamps({(*r)[0], (*ht)[0]}, *t.tsa);
    ASSERT_FALSE(mixed);
    EXPECT_EQ(mixed.error().code(), Errc::invalid_argument);
}

TEST(EvidenceTest, BadArgumentsAreRefused) {
    TsaOnToken t;
    auto empty = make_evidence_records(HashAlg::sha256, {}, *t.tsa);
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code(), Errc::invalid_argument);
    auto wrong_size = make_evidence_records(HashAlg::sha256, {Bytes(20, 1)}, *t.tsa);
    ASSERT_FALSE(wrong_size);
    EXPECT_EQ(wrong_size.error().code(), Errc::invalid_argument);
    auto garbage = renew_timestamps({Bytes{0x30, 0x00}}, *t.tsa);
    ASSERT_FALSE(garbage);
    EXPECT_EQ(garbage.error().code(), Errc::malformed_input);
    auto count = renew_hash_trees({Bytes{0x30, 0x00}}, {}, HashAlg::sha512, *t.tsa);
    ASSERT_FALSE(count);
    EXPECT_EQ(count.error().code(), Errc::invalid_argument);
}

TEST(EvidenceTest, HostileRecordsAreRejected) {
    TsaOnToken t;
    const auto objs = test::objects(4, 7);
    auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r);
    auto renewed = renew_timestamps(*r, *t.tsa);
    ASSERT_TRUE(renewed);
    const Bytes& record = (*renewed)[0];
    const auto data = digest_of(objs[0]);
    ASSERT_TRUE(verify_evidence_record(record, data, {t.certificate}));

    // Every truncation.
    for (std::size_t n = 0; n < record.size(); ++n) {
        auto cut = verify_evidence_record(
            crypto::ByteView(record.data(), n), data, {t.certificate});
        ASSERT_FALSE(cut) << "a prefix of " << n << " bytes verified";
        ASSERT_EQ(cut.error().code(), Errc::malformed_input) << n;
    }
    // Trailing bytes, and an outer length that lies.
    Bytes longer = record;
    longer.push_back(0);
    EXPECT_EQ(verify_evidence_record(longer, data, {t.certificate}).error().code(), Errc::malformed_input);
    // Oversized input is refused before parsing.
    EvidenceLimits small;
    small.max_bytes = record.size() - 1;
    EXPECT_EQ(verify_evidence_record(record, data, {t.certificate}, small).error().code(), Errc::too_large);
    EvidenceLimits one_stamp;
    one_stamp.max_stamps = 1;
    EXPECT_EQ(verify_evidence_record(record, data, {t.certificate}, one_stamp).error().code(),
              Errc::too_large);
    EvidenceLimits flat;
    flat.max_tree_levels = 1;
    EXPECT_EQ(verify_evidence_record(record, data, {t.certificate}, flat).error().code(), Errc::too_large);
    EvidenceLimits narrow;
    narrow.max_tree_width = 1;
    EXPECT_EQ(verify_evidence_record(record, data, {t.certificate}, narrow).error().code(),
              Errc::too_large);

}

TEST(EvidenceTest, SwappedAndSplicedStampsAreRejected) {
    TsaOnToken t;
    const auto objs = test::objects(4, 7);
    auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r);
    auto renewed = renew_timestamps(*r, *t.tsa);
    ASSERT_TRUE(renewed);
    const Bytes& record = (*renewed)[0];
    const auto data = digest_of(objs[0]);
    // Swapped stamps: the renewal stamp first.
    auto layout = inspect_evidence_record(record);
    ASSERT_TRUE(layout);
    const auto& chain = layout->chains[0];
    ASSERT_EQ(chain.size(), 2u);
    const Bytes same = rebuild(*layout, {{chain[0].der, chain[1].der}});
    EXPECT_EQ(same, record);  // the rebuild helper itself is faithful
    auto swapped = verify_evidence_record(rebuild(*layout, {{chain[1].der, chain[0].der}}), data,
                                          {t.certificate});
    ASSERT_FALSE(swapped);
    EXPECT_EQ(swapped.error().code(), Errc::integrity_failure);
    // A renewal stamp of another batch spliced in.
    auto other_batch = make_evidence_records(
        HashAlg::sha256, test::digests(HashAlg::sha256, test::objects(2, 8)), *t.tsa);
    ASSERT_TRUE(other_batch);
    auto other_renewed = renew_timestamps(*other_batch, *t.tsa);
    ASSERT_TRUE(other_renewed);
    auto other = inspect_evidence_record((*other_renewed)[0]);
    ASSERT_TRUE(other);
    auto spliced = verify_evidence_record(
        rebuild(*layout, {{chain[0].der, other->chains[0][1].der}}), data, {t.certificate});
    ASSERT_FALSE(spliced);
    EXPECT_EQ(spliced.error().code(), Errc::integrity_failure);
    // The renewal stamp dropped: still a valid (shorter) record.
    EXPECT_TRUE(verify_evidence_record(rebuild(*layout, {{chain[0].der}}), data, {t.certificate}));
    // No chains at all.
    EXPECT_EQ(verify_evidence_record(rebuild(*layout, {}), data, {t.certificate}).error().code(),
              Errc::malformed_input);
}

TEST(EvidenceTest, FlippedBytesNeverVerify) {
    TsaOnToken t;
    const auto objs = test::objects(3, 23);
    auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *t.tsa);
    ASSERT_TRUE(r);
    const Bytes& record = (*r)[2];
    // The embedded certificate is information only (the verifier trusts the
    // certificates it is given), so bytes inside it are not flipped.
    const auto at = std::search(record.begin(), record.end(), t.certificate.begin(), t.certificate.end());
    ASSERT_NE(at, record.end());
    const auto cert_start = static_cast<std::size_t>(at - record.begin());
    const auto cert_end = cert_start + t.certificate.size();
    std::size_t flipped = 0;
    for (std::size_t i = 0; i < record.size(); ++i) {
        if (i >= cert_start && i < cert_end) continue;
        Bytes changed = record;
        changed[i] ^= 0x01;
        auto check = verify_evidence_record(changed, digest_of(objs[2]), {t.certificate});
        EXPECT_FALSE(check) << "flipping byte " << i << " still verified";
        ++flipped;
    }
    EXPECT_GT(flipped, 300u);
}

TEST(EvidenceTest, ARecordOfAnotherTsaIsRejected) {
    Bytes foreign_record;
    Bytes foreign_cert;
    const auto objs = test::objects(2, 31);
    {
        TsaOnToken other("Another TSA");
        auto r = make_evidence_records(HashAlg::sha256, test::digests(HashAlg::sha256, objs), *other.tsa);
        ASSERT_TRUE(r);
        foreign_record = (*r)[0];
        foreign_cert = other.certificate;
    }
    TsaOnToken t;
    auto check = verify_evidence_record(foreign_record, digest_of(objs[0]), {t.certificate});
    ASSERT_FALSE(check);
    EXPECT_EQ(check.error().code(), Errc::integrity_failure);
    EXPECT_NE(check.error().context().find("chain 0 stamp 0"), std::string::npos);
    // With that TSA's certificate among the trusted ones it verifies.
    EXPECT_TRUE(verify_evidence_record(foreign_record, digest_of(objs[0]), {t.certificate, foreign_cert}));
    // Renewing it here appends our stamp; verifying needs both certificates.
    auto renewed = renew_timestamps({foreign_record}, *t.tsa);
    ASSERT_TRUE(renewed);
    EXPECT_TRUE(verify_evidence_record((*renewed)[0], digest_of(objs[0]), {foreign_cert, t.certificate}));
    EXPECT_FALSE(verify_evidence_record((*renewed)[0], digest_of(objs[0]), {t.certificate}));
}

}  // namespace
}  // namespace enclave::archive
