// SPDX-License-Identifier: Apache-2.0
// PskStore (appliance/include/appliance/psk_store.hpp): a real SQLCipher file
// under a software KEK. Lifecycle (add, rotate overlap, expiry, revoke),
// identities unique for ever, hostile input, reopening, and that no key is
// stored in plain: neither in the files nor in the decrypted rows.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <iterator>
#include <thread>

#include "appliance/psk_store.hpp"
#include "crypto/encoding.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/secret.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kDay = 86'400;

crypto::Secret key_of(std::uint8_t fill, std::size_t size = 32) {
    crypto::Secret k(size);
    for (std::size_t i = 0; i < size; ++i) k.data()[i] = static_cast<std::uint8_t>(fill + i);
    return k;
}

std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class PskStoreTest : public ::testing::Test {
protected:
    PskStoreTest() : kek_("test-kek", crypto::Secret::random(32)) {}

    std::unique_ptr<PskStore> open() {
        auto s = PskStore::open(db(), kek_);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    [[nodiscard]] std::filesystem::path db() const { return dir_.path() / "psks.db"; }

    testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_;
};

void expect_key(PskStore& s, std::string_view identity, const crypto::Secret& key,
                std::int64_t now) {
    auto m = s.find(identity, now);
    ASSERT_TRUE(m) << m.error().message();
    ASSERT_TRUE(m->has_value()) << identity << " should be usable";
    EXPECT_TRUE((*m)->key.equals(key));
    EXPECT_EQ((*m)->info.identity, identity);
}

void expect_unusable(PskStore& s, std::string_view identity, std::int64_t now) {
    auto m = s.find(identity, now);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_FALSE(m->has_value()) << identity << " should not be usable";
}

TEST_F(PskStoreTest, AddFindCurrentAndListShowInfoButNoValue) {
    auto s = open();
    ASSERT_TRUE(s);
    const auto k1 = key_of(1);
    const auto k2 = key_of(2, 64);
    const std::uint64_t g0 = s->generation();
    auto a = s->add("lea1", "lea1-psk-1", k1, 0, kNow);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_GT(s->generation(), g0);
    EXPECT_EQ(a->endpoint, "lea1");
    EXPECT_EQ(a->created, kNow);
    EXPECT_EQ(a->expires, 0);
    // First 16 hex digits of SHA-256 of the value.
    ASSERT_EQ(a->fingerprint.size(), 16u);
    EXPECT_EQ(a->fingerprint, "ae216c2ef5247a37");  // sha256(01 02 .. 20)
    ASSERT_TRUE(s->add("lea2", "lea2-psk-1", k2, kNow + kDay, kNow));
    expect_key(*s, "lea1-psk-1", k1, kNow);
    expect_key(*s, "lea2-psk-1", k2, kNow + 10);
    expect_unusable(*s, "no-such-identity", kNow);

    auto c = s->current("lea1", kNow);
    ASSERT_TRUE(c && c->has_value());
    EXPECT_EQ((*c)->info.identity, "lea1-psk-1");
    auto none = s->current("lea3", kNow);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());

    auto list = s->list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0], *a);
    EXPECT_EQ((*list)[1].identity, "lea2-psk-1");
    const std::string dumped = to_json((*list)[1]).dump();
    EXPECT_EQ(dumped.find(crypto::hex_encode(k2.view())), std::string::npos);
    EXPECT_EQ(to_json((*list)[1]).size(), 7u) << dumped;
}

TEST_F(PskStoreTest, RotationKeepsTheOldKeyUsableForTheOverlapOnly) {
    auto s = open();
    ASSERT_TRUE(s);
    const auto old_key = key_of(10);
    const auto new_key = key_of(20);
    ASSERT_TRUE(s->add("lea1", "old", old_key, 0, kNow));
    ASSERT_TRUE(s->add("lea2", "other-endpoint", key_of(30), 0, kNow));
    const std::uint64_t g = s->generation();
    auto r = s->rotate("lea1", "new", new_key, 0, 3600, kNow + 100);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_GT(s->generation(), g);

    auto list = s->list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 3u);
    EXPECT_EQ((*list)[0].retires, kNow + 100 + 3600);
    EXPECT_EQ((*list)[1].retires, 0) << "another endpoint's PSK is not touched";
    EXPECT_EQ((*list)[2].retires, 0);

    // During the overlap both work; current() is the new one.
    expect_key(*s, "old", old_key, kNow + 100 + 3599);
    expect_key(*s, "new", new_key, kNow + 100 + 3599);
    auto c = s->current("lea1", kNow + 200);
    ASSERT_TRUE(c && c->has_value());
    EXPECT_EQ((*c)->info.identity, "new");
    EXPECT_TRUE((*c)->key.equals(new_key));
    // After it, only the new one.
    expect_unusable(*s, "old", kNow + 100 + 3600);
    expect_key(*s, "new", new_key, kNow + 100 + 3600);
    EXPECT_TRUE(s->find("other-endpoint", kNow + 100 + 3600)->has_value());
}

TEST_F(PskStoreTest, RotationNeverExtendsAnEarlierEndAndBoundsTheOverlap) {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add("lea1", "expires-soon", key_of(1), kNow + 60, kNow));
    ASSERT_TRUE(s->add("lea1", "lives-long", key_of(2), 0, kNow));
    ASSERT_TRUE(s->rotate("lea1", "r1", key_of(3), 0, 7200, kNow));
    ASSERT_TRUE(s->rotate("lea1", "r2", key_of(4), 0, 30 * kDay, kNow + 10));
    auto list = s->list();
    ASSERT_TRUE(list);
    EXPECT_EQ((*list)[0].retires, 0) << "expires before the overlap ends: left alone";
    EXPECT_EQ((*list)[1].retires, kNow + 7200) << "the second rotation did not extend it";
    EXPECT_EQ((*list)[2].retires, kNow + 10 + 30 * kDay);

    // Overlap 0: the old one stops at once.
    ASSERT_TRUE(s->rotate("lea1", "r3", key_of(5), 0, 0, kNow + 20));
    expect_unusable(*s, "r2", kNow + 20);
    expect_key(*s, "r3", key_of(5), kNow + 20);

    for (const std::int64_t bad : {std::int64_t{-1}, 30 * kDay + 1, std::int64_t{1} << 60}) {
        auto r = s->rotate("lea1", "r-bad", key_of(6), 0, bad, kNow + 30);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    }
    expect_key(*s, "r3", key_of(5), kNow + 30);
}

TEST_F(PskStoreTest, ExpiryEndsAKeyAndAPastExpiryIsRefused) {
    auto s = open();
    ASSERT_TRUE(s);
    for (const std::int64_t bad : {kNow, kNow - 1, std::int64_t{-5}}) {
        auto r = s->add("lea1", "past", key_of(1), bad, kNow);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    }
    ASSERT_TRUE(s->add("lea1", "day", key_of(1), kNow + kDay, kNow));
    expect_key(*s, "day", key_of(1), kNow + kDay - 1);
    expect_unusable(*s, "day", kNow + kDay);
    auto c = s->current("lea1", kNow + kDay);
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->has_value());
}

TEST_F(PskStoreTest, RevokeIsImmediateIdempotentAndTheIdentityIsNeverReused) {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->add("lea1", "first", key_of(1), 0, kNow));
    ASSERT_TRUE(s->add("lea1", "second", key_of(2), 0, kNow));
    auto dup = s->add("lea2", "first", key_of(3), 0, kNow);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);

    const std::uint64_t g = s->generation();
    auto r = s->revoke("second", kNow + 5);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->revoked, kNow + 5);
    EXPECT_GT(s->generation(), g);
    expect_unusable(*s, "second", kNow + 5);
    auto c = s->current("lea1", kNow + 5);
    ASSERT_TRUE(c && c->has_value());
    EXPECT_EQ((*c)->info.identity, "first") << "current() skips the revoked newer one";

    auto again = s->revoke("second", kNow + 50);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->revoked, kNow + 5) << "idempotent: the first revocation time stays";
    for (auto* reuse : {"second", "first"}) {
        auto a = s->add("lea1", reuse, key_of(9), 0, kNow + 60);
        ASSERT_FALSE(a) << reuse;
        EXPECT_EQ(a.error().code(), Errc::already_exists);
        auto rot = s->rotate("lea1", reuse, key_of(9), 0, 60, kNow + 60);
        ASSERT_FALSE(rot) << reuse;
        EXPECT_EQ(rot.error().code(), Errc::already_exists);
    }
    auto unknown = s->revoke("never-made", kNow);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), Errc::not_found);
    // A failed rotation changed nothing (the transaction rolled back).
    EXPECT_EQ(s->list()->at(0).retires, 0);
    EXPECT_EQ(s->list()->size(), 2u);
}

TEST_F(PskStoreTest, HostileInputIsRefusedAndNeverEchoesTheKey) {
    auto s = open();
    ASSERT_TRUE(s);
    const auto k = key_of(0x41);
    const std::string khex = crypto::hex_encode(k.view());
    const std::vector<std::string> bad_identities{
        "",
        "with space",
        "tab\there",
        std::string("nul\0x", 5),
        "line\nbreak",
        "esc\x1b[31m",
        "del\x7f",
        "caf\xc3\xa9",
        std::string(kMaxPskIdentityChars + 1, 'a'),
        std::string(1 << 20, 'b')};
    for (const auto& id : bad_identities) {
        EXPECT_FALSE(valid_psk_identity(id));
        auto r = s->add("lea1", id, k, 0, kNow);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        EXPECT_EQ(r.error().message().find(khex), std::string::npos);
        auto f = s->find(id, kNow);
        ASSERT_TRUE(f);
        EXPECT_FALSE(f->has_value());
        EXPECT_FALSE(s->revoke(id, kNow));
    }
    EXPECT_TRUE(valid_psk_identity(std::string(kMaxPskIdentityChars, 'z')));
    for (const std::string& endpoint :
         std::vector<std::string>{"", "UPPER", "-lead", std::string(64, 'e'), "a b", "a/b"}) {
        auto r = s->add(endpoint, "ok-id", k, 0, kNow);
        ASSERT_FALSE(r) << endpoint;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        auto c = s->current(endpoint, kNow);
        ASSERT_TRUE(c);
        EXPECT_FALSE(c->has_value());
    }
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{65},
                                   std::size_t{4096}}) {
        auto r = s->add("lea1", "size-" + std::to_string(size), key_of(7, size), 0, kNow);
        ASSERT_FALSE(r) << size;
        EXPECT_EQ(r.error().code(), Errc::invalid_argument);
        auto rot = s->rotate("lea1", "rsize-" + std::to_string(size), key_of(7, size), 0, 0, kNow);
        ASSERT_FALSE(rot) << size;
    }
    EXPECT_EQ(s->list()->size(), 0u) << "nothing was stored";

    // SQL-looking identities are data (values are bound, never spliced).
    const std::vector<std::string> sqlish{"x');DROP--", "a'OR'1'='1", "\"%_*\\", "psks;--"};
    std::uint8_t fill = 1;
    for (const auto& id : sqlish) {
        ASSERT_TRUE(valid_psk_identity(id)) << id;
        ASSERT_TRUE(s->add("lea1", id, key_of(fill++), 0, kNow)) << id;
    }
    fill = 1;
    for (const auto& id : sqlish) expect_key(*s, id, key_of(fill++), kNow);
    expect_unusable(*s, "%", kNow);
    EXPECT_EQ(s->list()->size(), sqlish.size());
}

TEST_F(PskStoreTest, ReopeningKeepsEverythingAndNoKeyIsStoredInPlain) {
    std::vector<crypto::Secret> keys;
    for (std::uint8_t i = 0; i < 4; ++i) keys.push_back(crypto::Secret::random(32 + i * 8));
    std::vector<PskInfo> before;
    {
        auto s = open();
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->add("lea1", "k0", keys[0], 0, kNow));
        ASSERT_TRUE(s->add("lea1", "k1", keys[1], kNow + kDay, kNow));
        ASSERT_TRUE(s->rotate("lea1", "k2", keys[2], 0, 3600, kNow + 1));
        ASSERT_TRUE(s->add("lea2", "k3", keys[3], 0, kNow));
        ASSERT_TRUE(s->revoke("k3", kNow + 2));
        before = *s->list();
    }
    // The files: no key bytes, no hex (either case), in any file of the store.
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
        const std::string bytes = file_bytes(entry.path());
        for (const auto& k : keys) {
            const std::string raw(reinterpret_cast<const char*>(k.data()), k.size());
            std::string hex = crypto::hex_encode(k.view());
            EXPECT_EQ(bytes.find(raw), std::string::npos) << entry.path();
            EXPECT_EQ(bytes.find(hex), std::string::npos) << entry.path();
            for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            EXPECT_EQ(bytes.find(hex), std::string::npos) << entry.path();
        }
    }
    // The decrypted rows: the stored blob is the wrapped key, not the key.
    {
        auto raw_db = crypto::SealedDb::open(db(), kek_);
        ASSERT_TRUE(raw_db) << raw_db.error().message();
        auto st = raw_db->prepare("SELECT wrapped, size FROM psks ORDER BY id");
        ASSERT_TRUE(st);
        std::size_t i = 0;
        while (*st->step()) {
            const crypto::Bytes wrapped = st->column_blob(0);
            const auto& k = keys[i++];
            EXPECT_EQ(static_cast<std::size_t>(st->column_int64(1)), k.size());
            const std::string w(wrapped.begin(), wrapped.end());
            EXPECT_EQ(w.find(std::string(reinterpret_cast<const char*>(k.data()), k.size())),
                      std::string::npos);
            EXPECT_EQ(w.find(crypto::hex_encode(k.view())), std::string::npos);
            EXPECT_GT(wrapped.size(), k.size());
        }
        EXPECT_EQ(i, keys.size());
    }
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(*s->list(), before);
    expect_key(*s, "k0", keys[0], kNow + 2);
    expect_key(*s, "k1", keys[1], kNow + 2);
    expect_key(*s, "k2", keys[2], kNow + 2);
    expect_unusable(*s, "k3", kNow + 2);
    expect_unusable(*s, "k0", kNow + 1 + 3600);
    auto dup = s->add("lea1", "k3", keys[0], 0, kNow + 3);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists) << "unique across reopening";
}

TEST_F(PskStoreTest, AnotherKekCannotOpenTheStore) {
    {
        auto s = open();
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->add("lea1", "k", key_of(1), 0, kNow));
    }
    crypto::SecretKeyWrapper other("test-kek", crypto::Secret::random(32));
    auto s = PskStore::open(db(), other);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::integrity_failure) << s.error().message();
}

TEST_F(PskStoreTest, ConcurrentWritersAndReadersSeeConsistentKeys) {
    auto s = open();
    ASSERT_TRUE(s);
    constexpr int kThreads = 4;
    constexpr int kEach = 10;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                const auto k = key_of(static_cast<std::uint8_t>(t * kEach + i));
                auto r = i % 2 == 0 ? s->add("lea" + std::to_string(t), id, k, 0, kNow)
                                    : s->rotate("lea" + std::to_string(t), id, k, 0, 60, kNow);
                auto f = s->find(id, kNow);
                if (!r || !f || !f->has_value() || !(*f)->key.equals(k)) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(s->list()->size(), static_cast<std::size_t>(kThreads * kEach));
    EXPECT_EQ(s->generation(), static_cast<std::uint64_t>(kThreads * kEach));
}

}  // namespace
}  // namespace enclave::appliance
