// SPDX-License-Identifier: Apache-2.0
// The at-rest stores under the real token KEK: SealedDb and BlobStore keys are
// wrapped by an AES-256 key on a SoftHSM2 token (RFC 5649 through
// TokenKeyWrapper). Opening with the wrong KEK, after the KEK is destroyed, or
// without the token fails with a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "crypto/blob_store.hpp"
#include "crypto/sealed_db.hpp"
#include "hsm/keygen.hpp"
#include "hsm/module.hpp"
#include "hsm/object.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "hsm/uri.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::hsm {
namespace {

using crypto::BlobStore;
using crypto::Errc;
using crypto::SealedDb;
using testing::SoftHsmToken;
namespace fs = std::filesystem;

std::unique_ptr<TokenKeyWrapper> make_kek(SoftHsmToken& token, const std::string& label) {
    auto ref = generate_aes_kek(*token.pool(), KeySpec{label, {}});
    EXPECT_TRUE(ref) << (ref ? "" : ref.error().message());
    auto kek = TokenKeyWrapper::open(token.pool(), KeyQuery::by_label(label, ObjectType::secret_key));
    EXPECT_TRUE(kek) << (kek ? "" : kek.error().message());
    return kek ? std::move(*kek) : nullptr;
}

void write_row(SealedDb& db, const std::string& text) {
    ASSERT_TRUE(db.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)"));
    auto st = db.prepare("INSERT INTO t (v) VALUES (?)");
    ASSERT_TRUE(st);
    ASSERT_TRUE(st->bind_text(1, text));
    ASSERT_TRUE(st->run());
}

std::string read_row(SealedDb& db) {
    auto st = db.prepare("SELECT v FROM t");
    EXPECT_TRUE(st);
    auto row = st->step();
    EXPECT_TRUE(row && *row);
    return std::string(st->column_text(0));
}

void put_blob(BlobStore& store, const std::string& id, const std::string& data) {
    auto w = store.create(id);
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_TRUE(w->write(crypto::as_bytes(data)));
    ASSERT_TRUE(w->commit());
}

std::string get_blob(const BlobStore& store, const std::string& id) {
    auto r = store.open_object(id);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    std::string out;
    EXPECT_TRUE(r->read_all([&](crypto::ByteView b) -> crypto::Result<void> {
        out.append(reinterpret_cast<const char*>(b.data()), b.size());
        return {};
    }));
    return out;
}

TEST(TokenStoresTest, SealedDbAndBlobStoreRoundTripUnderTheTokenKek) {
    SoftHsmToken token;
    auto kek = make_kek(token, "kek");
    ASSERT_TRUE(kek);
    const fs::path db_path = token.dir() / "state.db";
    {
        auto db = SealedDb::create(db_path, *kek);
        ASSERT_TRUE(db) << db.error().message();
        write_row(*db, "row-under-token-kek");
        auto store = BlobStore::open(token.dir() / "blobs", *kek);
        ASSERT_TRUE(store) << store.error().message();
        put_blob(*store, "obj1", std::string(200000, 'x'));
    }
    auto db = SealedDb::open(db_path, *kek);
    ASSERT_TRUE(db) << db.error().message();
    EXPECT_EQ(read_row(*db), "row-under-token-kek");
    auto store = BlobStore::open(token.dir() / "blobs", *kek);
    ASSERT_TRUE(store) << store.error().message();
    EXPECT_EQ(get_blob(*store, "obj1"), std::string(200000, 'x'));
    // The key files name the token KEK, not a secret.
    EXPECT_NE(kek->key_id().find("pkcs11:"), std::string::npos);
}

TEST(TokenStoresTest, AnotherTokenKekIsRefusedByName) {
    SoftHsmToken token;
    auto kek = make_kek(token, "kek");
    auto other = make_kek(token, "kek-other");
    ASSERT_TRUE(kek && other);
    const fs::path db_path = token.dir() / "state.db";
    ASSERT_TRUE(SealedDb::create(db_path, *kek));
    ASSERT_TRUE(BlobStore::open(token.dir() / "blobs", *kek));

    auto db = SealedDb::open(db_path, *other);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code(), Errc::integrity_failure);
    EXPECT_NE(db.error().message().find("object=kek;"), std::string::npos) << db.error().message();

    auto store = BlobStore::open(token.dir() / "blobs", *other);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code(), Errc::integrity_failure);
    EXPECT_NE(store.error().message().find("object=kek;"), std::string::npos)
        << store.error().message();
}

TEST(TokenStoresTest, DestroyingTheKekErasesEverythingItWrapped) {
    SoftHsmToken token;
    auto kek = make_kek(token, "kek");
    ASSERT_TRUE(kek);
    const fs::path db_path = token.dir() / "state.db";
    {
        auto db = SealedDb::create(db_path, *kek);
        ASSERT_TRUE(db);
        write_row(*db, "gone-with-the-kek");
    }
    ASSERT_TRUE(destroy_key(*token.pool(), kek->kek()));
    // A wrapper made before the destruction can no longer unwrap...
    auto db = SealedDb::open(db_path, *kek);
    ASSERT_FALSE(db);
    // The error blames the KEK, not the key file.
    EXPECT_NE(db.error().code(), Errc::db_wrong_key) << db.error().message();
    EXPECT_NE(db.error().code(), Errc::integrity_failure) << db.error().message();
    EXPECT_NE(db.error().message().find("with KEK"), std::string::npos) << db.error().message();
    // ...and a new one cannot be had at all.
    auto again = TokenKeyWrapper::open(token.pool(), KeyQuery::by_label("kek", ObjectType::secret_key));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::hsm_object_not_found);
    EXPECT_NE(again.error().message().find("kek"), std::string::npos) << again.error().message();
}

TEST(TokenStoresTest, WithoutTheTokenNoKekCanBeHad) {
    SoftHsmToken token;
    auto kek = make_kek(token, "kek");
    ASSERT_TRUE(kek);
    ASSERT_TRUE(SealedDb::create(token.dir() / "state.db", *kek));
    const std::string uri = token.uri();
    kek.reset();
    token.release_module();
    // The token disappears (its files are moved away: a removed HSM or a
    // wrong SOFTHSM2_CONF look the same to the module).
    fs::rename(token.dir() / "tokens", token.dir() / "tokens-away");
    fs::create_directory(token.dir() / "tokens");

    auto parsed = Uri::parse(uri);
    ASSERT_TRUE(parsed) << parsed.error().message();
    auto module = Module::load_for_uri(*parsed);
    ASSERT_TRUE(module) << module.error().message();
    auto found = (*module)->find_token(*parsed);
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code(), Errc::hsm_token_not_found);
    EXPECT_NE(found.error().message().find(token.label()), std::string::npos)
        << found.error().message();
}

}  // namespace
}  // namespace enclave::hsm
