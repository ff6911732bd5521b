// SPDX-License-Identifier: Apache-2.0
// AuditLog refuses events that break the entry contract, before anything is
// written, and bad options.
#include "audit/audit_log.hpp"

#include "audit_log_test_util.hpp"

namespace enclave::audit::test {
namespace {

using crypto::Errc;

class AuditLogHostileTest : public AuditLogFixture {};

TEST_F(AuditLogHostileTest, RefusesEventsOutsideTheContract) {
    auto log = open_log();
    ASSERT_TRUE(log);
    json deep = json{{"event", "x"}};
    json* at = &deep;
    for (int i = 0; i < 80; ++i) at = &((*at)["d"] = json::object());
    const std::pair<json, const char*> cases[] = {
        {json::array({1}), "must be a JSON object"},
        {json("task.created"), "must be a JSON object"},
        {json(nullptr), "must be a JSON object"},
        {json::object(), "string \"event\" member"},
        {json{{"event", 1}}, "string \"event\" member"},
        {json{{"event", nullptr}}, "string \"event\" member"},
        {json{{"event", ""}}, "1-64 characters"},
        {json{{"event", "Task.Created"}}, "1-64 characters"},
        {json{{"event", "1task"}}, "1-64 characters"},
        {json{{"event", "task created"}}, "1-64 characters"},
        {json{{"event", "task\ncreated"}}, "1-64 characters"},
        {json{{"event", std::string(65, 'a')}}, "1-64 characters"},
        {json{{"event", "x"}, {"index", 5}}, "\"index\" is set by the audit log"},
        {json{{"event", "x"}, {"prev", ""}}, "\"prev\" is set by the audit log"},
        {json{{"event", "x"}, {"time", "2026-01-01T00:00:00.000Z"}}, "\"time\" is set by the audit log"},
        {json{{"event", "x"}, {"size", 1.5}}, "at /size: floating-point"},
        {json{{"event", "x"}, {"a", {{"b", json::array({1, 2.0})}}}}, "at /a/b/1: floating-point"},
        {json{{"event", "x"}, {"n", std::numeric_limits<double>::quiet_NaN()}}, "floating-point"},
        {json{{"event", "x"}, {"n", std::uint64_t{1} << 60}}, "2^53"},
        {json{{"event", "x"}, {"s", "\xED\xA0\x80"}}, "not valid UTF-8"},
        {json{{"event", "x"}, {"\xFF", 1}}, "member name is not valid UTF-8"},
        {json{{"event", "x"}, {"b", json::binary({1})}}, "binary"},
        {deep, "nesting deeper than 64"},
    };
    for (const auto& [ev, fragment] : cases) {
        auto r = log->append(ev);
        ASSERT_FALSE(r) << ev.dump();
        expect_error(r.error(), Errc::invalid_argument, fragment);
    }
    EXPECT_EQ(log->size(), 0u);
    EXPECT_TRUE(log->append(json{{"event", "a0._-z"}}));
}

TEST_F(AuditLogHostileTest, RefusesOversizedEntries) {
    AuditLogOptions o = options();
    o.max_entry_bytes = 1024;
    auto log = open_log(o);
    ASSERT_TRUE(log);
    auto big = log->append(json{{"event", "x"}, {"blob", std::string(1000, 'a')}});
    ASSERT_FALSE(big);
    expect_error(big.error(), Errc::too_large, "exceed 1024 bytes");
    // Escaping counts: 200 control characters become 1,200 bytes.
    auto escaped = log->append(json{{"event", "x"}, {"blob", std::string(200, '\x01')}});
    ASSERT_FALSE(escaped);
    EXPECT_EQ(escaped.error().code(), Errc::too_large);
    auto fits = log->append(json{{"event", "x"}, {"blob", std::string(800, 'a')}});
    ASSERT_TRUE(fits) << fits.error().message();
    EXPECT_LE(log->entry(0).value().size(), 1024u);
    EXPECT_EQ(log->size(), 1u);
}

TEST_F(AuditLogHostileTest, RefusesBadOptions) {
    AuditLogOptions o = options();
    o.max_batch = 0;
    expect_error(open_error(o), Errc::invalid_argument, "max_batch");
    o = options();
    o.max_entry_bytes = 10;
    expect_error(open_error(o), Errc::invalid_argument, "max_entry_bytes");
    o = options();
    o.checkpoint_interval = std::chrono::milliseconds(-1);
    expect_error(open_error(o), Errc::invalid_argument, "checkpoint_interval");
    o = options();
    o.origin = std::string(256, 'o');
    expect_error(open_error(o), Errc::invalid_argument, "origin");
}

TEST_F(AuditLogHostileTest, TablesAreAppendOnlyForOrdinarySql) {
    {
        auto log = open_log();
        ASSERT_TRUE(log);
        ASSERT_TRUE(log->append(event(1)));
        ASSERT_TRUE(log->checkpoint());
    }
    crypto::SealedDb db = raw_db();
    for (const char* sql : {"UPDATE entries SET entry = '{}' WHERE idx = 0", "DELETE FROM entries",
                            "UPDATE checkpoints SET note = ''", "DELETE FROM checkpoints"}) {
        auto r = db.exec(sql);
        ASSERT_FALSE(r) << sql;
        EXPECT_NE(r.error().message().find("append-only"), std::string::npos) << r.error().message();
    }
}

}  // namespace
}  // namespace enclave::audit::test
