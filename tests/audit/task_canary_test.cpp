// SPDX-License-Identifier: Apache-2.0
// Canary: a task whose values and salts are unique random strings goes
// through create, show, reveal and close. Afterwards no file under the data
// directory (database, WAL, shm, key file, audit log) holds any of them in
// plain, hex (lower or upper case) or base64 form, not even inside the
// database pages decrypted with the database key; no answer or error holds
// them; the hashes are still in the record and re-verification matches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "audit/reverify.hpp"
#include "audit/task_store.hpp"
#include "crypto/encoding.hpp"
#include "crypto/sealed_db_test_util.hpp"  // tests/crypto: PageDecryptor, read_all
#include "support/paths.hpp"
#include "task_test_util.hpp"

namespace enclave::audit {
namespace {

namespace fs = std::filesystem;
using crypto::Bytes;
using nlohmann::json;
using test::local_actor;

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

/// A needle and the forms it may take in a file.
struct Canary {
    std::string label;
    Bytes bytes;

    std::vector<std::pair<std::string, Bytes>> forms() const {
        const std::string hex = crypto::hex_encode(bytes);
        const std::string hex_upper = upper(hex);
        const std::string b64 = crypto::base64_encode(bytes);
        std::vector<std::pair<std::string, Bytes>> out = {
            {label + " (raw)", bytes},
            {label + " (hex)", Bytes(hex.begin(), hex.end())},
            {label + " (HEX)", Bytes(hex_upper.begin(), hex_upper.end())},
        };
        // base64 without its padding, so a longer encoding that starts with
        // the same bytes is found too.
        const std::string b64_core = b64.substr(0, b64.find('='));
        out.push_back({label + " (base64)", Bytes(b64_core.begin(), b64_core.end())});
        return out;
    }
};

class TaskCanaryTest : public ::testing::Test {
protected:
    enclave::testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-canary", crypto::Secret::random(32)};
    test::FakeClock clock_{test::at("2026-01-10T00:00:00Z")};
    fs::path db_ = dir_.path() / "tasks.db";
    test::FileAuditSink audit_{dir_.path() / "audit.jsonl"};
    std::vector<Canary> canaries_;

    /// Every regular file under the data directory, recursively.
    std::vector<fs::path> files() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
            if (e.is_regular_file()) out.push_back(e.path());
        }
        return out;
    }

    void expect_absent_from_files(const std::string& stage) {
        for (const fs::path& f : files()) {
            const Bytes content = crypto::test::read_all(f);
            for (const Canary& c : canaries_) {
                for (const auto& [what, needle] : c.forms()) {
                    EXPECT_FALSE(crypto::test::contains(content, needle))
                        << stage << ": " << what << " found in " << f.filename();
                }
            }
        }
    }

    void expect_absent_from_text(const std::string& text, const std::string& where) {
        for (const Canary& c : canaries_) {
            for (const auto& [what, needle] : c.forms()) {
                EXPECT_FALSE(crypto::test::contains(crypto::as_bytes(text), needle)) << where << ": " << what;
            }
        }
    }

    void expect_absent_from_pages(const std::vector<Bytes>& pages, const std::string& stage) {
        for (const Canary& c : canaries_) {
            for (const auto& [what, needle] : c.forms()) {
                for (const Bytes& p : pages) {
                    ASSERT_FALSE(crypto::test::contains(p, needle)) << stage << ": " << what << " in a decrypted page";
                }
            }
        }
    }
};

TEST_F(TaskCanaryTest, NothingOfValuesOrSaltsSurvivesTheLifecycle) {
    const std::string v_user = "CANARY-USER-" + test::random_hex(12);
    const std::string v_mail = "canary." + test::random_hex(10) + "@example.org";
    std::string v_digits;
    const Bytes digit_source = *crypto::hex_decode(test::random_hex(15));
    for (std::uint8_t b : digit_source) v_digits += static_cast<char>('0' + b % 10);
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"Username", v_user}, {"EmailAddress", v_mail}, {"IMSI", v_digits}};
    json fjson = json::array();
    std::vector<std::string> salts;
    std::vector<std::string> hashes;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        salts.push_back(test::random_hex(32));
        const char* alg = i == 1 ? "hmac-sha256" : "sha512";
        fjson.push_back(test::field(fields[i].first, fields[i].second, salts[i], alg));
        hashes.push_back(fjson.back()["hash"]);
        canaries_.push_back({"value " + std::to_string(i), Bytes(fields[i].second.begin(), fields[i].second.end())});
        canaries_.push_back({"salt " + std::to_string(i), *crypto::hex_decode(salts[i])});
    }

    auto opened = TaskStore::open(db_, kek_, audit_, {crypto::SealedDbOptions{}, clock_.clock()});
    ASSERT_TRUE(opened) << opened.error().message();
    std::unique_ptr<TaskStore> store = std::move(*opened);
    {
        std::string body = test::task("LIID-CANARY", fjson).dump();
        auto intake = parse_task_and_wipe(crypto::MutableByteView(reinterpret_cast<std::uint8_t*>(body.data()), body.size()));
        ASSERT_TRUE(intake) << intake.error().message();
        auto rec = store->create(std::move(*intake), local_actor(1000));
        ASSERT_TRUE(rec) << rec.error().message();
        expect_absent_from_text(to_json(*rec).dump(), "create answer");
    }
    expect_absent_from_files("after create");
    expect_absent_from_text(to_json(*store->show("LIID-CANARY")).dump(), "show");
    expect_absent_from_text(to_json((*store->list())[0]).dump(), "list");

    // Reveal gives them back (so they really were stored)...
    auto revealed = store->reveal("LIID-CANARY", local_actor(2000));
    ASSERT_TRUE(revealed) << revealed.error().message();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        EXPECT_EQ(secret_text((*revealed)[i].value), fields[i].second);
        EXPECT_EQ(crypto::hex_encode((*revealed)[i].salt.view()), salts[i]);
    }
    revealed->clear();  // the Secrets wipe themselves
    expect_absent_from_files("after reveal");

    // ...and with the database key the pages hold only ciphertext under the
    // per-task key. Capture that ciphertext and the wrapped key to look for
    // them after close.
    std::vector<Bytes> sealed;
    {
        auto raw = crypto::SealedDb::open(db_, kek_);
        ASSERT_TRUE(raw) << raw.error().message();
        auto st = raw->prepare("SELECT value, salt FROM task_secrets");
        ASSERT_TRUE(st);
        while (*st->step()) {
            sealed.push_back(st->column_blob(0));
            sealed.push_back(st->column_blob(1));
        }
        auto key = raw->prepare("SELECT wrapped FROM task_keys");
        ASSERT_TRUE(key);
        ASSERT_TRUE(*key->step());
        sealed.push_back(key->column_blob(0));
    }
    ASSERT_EQ(sealed.size(), 2 * fields.size() + 1);
    const Bytes head = crypto::test::read_all(db_);
    const crypto::test::PageDecryptor dec(crypto::test::unwrap_db_key(db_, kek_), crypto::ByteView(head).first(16));
    {
        std::vector<Bytes> pages = dec.decrypt_db(head);
        const auto wal = dec.decrypt_wal(crypto::test::read_all(db_.string() + "-wal"));
        pages.insert(pages.end(), wal.begin(), wal.end());
        expect_absent_from_pages(pages, "active, decrypted with the database key");
        const bool ciphertext_seen = std::any_of(sealed.begin(), sealed.end(), [&](const Bytes& s) {
            return std::any_of(pages.begin(), pages.end(), [&](const Bytes& p) { return crypto::test::contains(p, s); });
        });
        EXPECT_TRUE(ciphertext_seen) << "the decryptor must see the sealed rows while the task is active";
    }

    auto closed = store->close("LIID-CANARY", local_actor(3000), CloseReason::operator_request);
    ASSERT_TRUE(closed) << closed.error().message();
    expect_absent_from_text(to_json(*closed).dump(), "close answer");
    EXPECT_EQ(fs::file_size(db_.string() + "-wal"), 0u);
    expect_absent_from_files("after close");
    {
        const std::vector<Bytes> pages = dec.decrypt_db(crypto::test::read_all(db_));
        expect_absent_from_pages(pages, "closed, decrypted with the database key");
        for (const Bytes& s : sealed) {
            for (const Bytes& p : pages) {
                ASSERT_FALSE(crypto::test::contains(p, s)) << "sealed value, salt or wrapped key survives close";
            }
        }
    }

    // Errors and answers after close carry none of them.
    for (const auto& e : {store->reveal("LIID-CANARY", local_actor(2000)).error(),
                          store->close("LIID-CANARY", local_actor(3000), CloseReason::operator_request).error()}) {
        expect_absent_from_text(e.message(), "error");
    }

    // What remains: the hashes, and re-verification against them.
    auto rec = store->show("LIID-CANARY");
    ASSERT_TRUE(rec);
    ASSERT_EQ(rec->fields.size(), fields.size());
    ReverifyService reverify(*store, audit_, clock_.clock());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        EXPECT_EQ(crypto::hex_encode(rec->fields[i].hash), hashes[i]);
        auto out = reverify.request("LIID-CANARY", i, crypto::Secret::copy_of(crypto::as_bytes(fields[i].second)),
                                    crypto::Secret::copy_of(crypto::as_bytes(salts[i])), local_actor(4000));
        ASSERT_TRUE(out) << out.error().message();
        EXPECT_TRUE(out->matched) << "field " << i;
        auto wrong = reverify.request("LIID-CANARY", i, crypto::Secret::copy_of(crypto::as_bytes(fields[i].second + "x")),
                                      crypto::Secret::copy_of(crypto::as_bytes(salts[i])), local_actor(4000));
        ASSERT_TRUE(wrong);
        EXPECT_FALSE(wrong->matched);
    }
    // The matched values are in memory only: the files still hold none.
    expect_absent_from_files("after re-verification");
    EXPECT_EQ(reverify.open_reviews(), fields.size());

    // And the log records the whole story, without the canaries.
    const auto names = test::FileAuditSink::names(dir_.path() / "audit.jsonl");
    for (const char* ev : {"hash.verified", "task.created", "task.revealed", "task.closed", "task.purged",
                           "reverify.requested", "reverify.matched", "reverify.mismatched"}) {
        EXPECT_NE(std::find(names.begin(), names.end(), ev), names.end()) << ev;
    }
    store.reset();
    expect_absent_from_files("after the store is closed");
}

}  // namespace
}  // namespace enclave::audit
