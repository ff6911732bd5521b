// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by the audit log suites: a log on a temporary SealedDb with a
// SecretKeyWrapper KEK, a settable clock, a stand-in checkpoint signer, and
// raw access to the database (with the database key, as an attacker holding
// the KEK would have) for tamper tests.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "crypto/digest.hpp"
#include "crypto/encoding.hpp"
#include "crypto/merkle.hpp"
#include "crypto/sealed_db.hpp"
#include "support/paths.hpp"

namespace enclave::audit::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// A clock the test sets; starts at 2026-11-21T10:00:00.123Z.
class FakeClock {
public:
    static constexpr std::int64_t kStartMs = 1795255200123;  // 2026-11-21T10:00:00.123Z

    [[nodiscard]] AuditClock function() {
        return [this] {
            return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
        };
    }
    void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

private:
    std::atomic<std::int64_t> ms_{kStartMs};
};

/// A stand-in for the Ed25519 signed-note signer (written elsewhere): the
/// body, a blank line and one signature-shaped line over a SHA-256 of it.
inline crypto::Result<std::string> fake_sign(std::string_view body) {
    const crypto::Bytes mac = crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(body));
    return std::string(body) + "\n\xE2\x80\x94 test-key " + crypto::base64_encode(mac) + "\n";
}

/// RFC 9162 leaf hash computed independently of LogHasher: SHA-256(0x00 || bytes).
inline crypto::Hash independent_leaf_hash(std::string_view entry) {
    const std::uint8_t zero = 0;
    const crypto::Bytes d = crypto::digest(crypto::HashAlg::sha256,
                                           {crypto::ByteView(&zero, 1), crypto::as_bytes(entry)});
    crypto::Hash h{};
    std::copy(d.begin(), d.end(), h.begin());
    return h;
}

class AuditLogFixture : public ::testing::Test {
protected:
    testing::TempDir dir_;
    crypto::SecretKeyWrapper kek_{"kek-audit", crypto::Secret::random(32)};
    fs::path db_ = dir_.path() / "audit.db";
    FakeClock clock_;

    [[nodiscard]] AuditLogOptions options() {
        AuditLogOptions o;
        o.origin = "enclave.test/audit";
        o.clock = clock_.function();
        o.signer = fake_sign;
        return o;
    }

    std::unique_ptr<AuditLog> open_log(AuditLogOptions o) {
        auto log = AuditLog::open(db_, kek_, std::move(o));
        EXPECT_TRUE(log) << log.error().message();
        return log ? std::move(*log) : nullptr;
    }
    std::unique_ptr<AuditLog> open_log() { return open_log(options()); }

    /// The error open() fails with; fails the test when it opens.
    crypto::Error open_error(AuditLogOptions o) {
        auto log = AuditLog::open(db_, kek_, std::move(o));
        EXPECT_FALSE(log) << "the log opened";
        return log ? crypto::Error(crypto::Errc::internal, "opened") : log.error();
    }
    crypto::Error open_error() { return open_error(options()); }

    static json event(std::int64_t n) {
        return json{{"event", "test.event"}, {"n", n}, {"actor", {{"kind", "system"}}}};
    }

    /// Appends `count` events from `threads` threads; fails the test on any error.
    static void append_many(AuditLog& log, int threads, int per_thread) {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                for (int k = 0; k < per_thread; ++k) {
                    auto r = log.append(event(t * 1000000 + k));
                    if (!r) ADD_FAILURE() << r.error().message();
                }
            });
        }
        for (auto& th : pool) th.join();
    }

    /// The database opened directly with the KEK (the log must be closed,
    /// or this is a second connection beside it).
    crypto::SealedDb raw_db() {
        auto db = crypto::SealedDb::open(db_, kek_);
        EXPECT_TRUE(db) << db.error().message();
        return std::move(*db);
    }

    /// Runs `sql` with the append-only triggers dropped (an attacker with
    /// the key can do that).
    void tamper(const std::string& sql, const std::string& text = {}, std::int64_t idx = -1) {
        crypto::SealedDb db = raw_db();
        ASSERT_TRUE(db.exec("DROP TRIGGER IF EXISTS entries_no_update;"
                            "DROP TRIGGER IF EXISTS entries_no_delete;"
                            "DROP TRIGGER IF EXISTS checkpoints_no_update;"
                            "DROP TRIGGER IF EXISTS checkpoints_no_delete;"));
        auto stmt = db.prepare(sql);
        ASSERT_TRUE(stmt) << stmt.error().message();
        int bind = 1;
        if (!text.empty()) {
            ASSERT_TRUE(stmt->bind_text(bind++, text));
        }
        if (idx >= 0) {
            ASSERT_TRUE(stmt->bind_int64(bind++, idx));
        }
        auto ok = stmt->run();
        ASSERT_TRUE(ok) << ok.error().message();
    }

    static void expect_error(const crypto::Error& e, crypto::Errc code, const std::string& fragment) {
        EXPECT_EQ(e.code(), code) << e.message();
        EXPECT_NE(e.message().find(fragment), std::string::npos)
            << "'" << fragment << "' not in: " << e.message();
    }
};

}  // namespace enclave::audit::test
