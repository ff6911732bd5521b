// SPDX-License-Identifier: Apache-2.0
// TaskStore: create, list/show, reveal, close and purge, expiry, deliveries,
// and fail-closed behaviour when the audit log refuses an entry.
#include "audit/task_store.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "audit/task_actor.hpp"
#include "crypto/encoding.hpp"
#include "task_store_fixture.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using nlohmann::json;
using test::field;
using test::local_actor;
using test::task;

class TaskStoreTest : public test::TaskStoreFixture {};

json two_fields() {
    return json::array({field("InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"),
                        field("EmailAddress", "alice@example.com", "00112233445566778899aabbccddeeff0011223344556677",
                              "hmac-sha256")});
}

TEST_F(TaskStoreTest, CreateStoresTheRecordAndAuditsEachFieldThenTheTask) {
    const json doc = task("LIID-0001", two_fields());
    const TaskRecord rec = create(doc);
    EXPECT_EQ(rec.reference, "LIID-0001");
    EXPECT_EQ(rec.task_id.size(), 32u);
    EXPECT_EQ(rec.kind, TaskKind::li);
    EXPECT_EQ(rec.state, TaskState::active);
    EXPECT_EQ(rec.endpoint, "lea1");
    EXPECT_EQ(format_utc_time(rec.start), "2026-01-01T00:00:00Z");
    EXPECT_EQ(format_utc_time(rec.end), "2026-02-01T00:00:00Z");
    EXPECT_EQ(rec.created_at, clock_.now());
    EXPECT_EQ(rec.created_by, local_actor(1000));
    ASSERT_EQ(rec.fields.size(), 2u);
    EXPECT_EQ(rec.fields[1].index, 1u);
    EXPECT_EQ(rec.fields[1].format_name, "EmailAddress");
    EXPECT_EQ(rec.fields[1].algorithm, crypto::SaltedHashAlg::hmac_sha256);
    EXPECT_EQ(crypto::hex_encode(rec.fields[1].hash), doc["fields"][1]["hash"].get<std::string>());
    EXPECT_FALSE(rec.closed_at || rec.closed_by || rec.close_reason || rec.purged_at);

    EXPECT_EQ(audit_.names(), (std::vector<std::string>{"hash.verified", "hash.verified", "task.created"}));
    const json& hv = audit_.events[1];
    EXPECT_EQ(hv["reference"], "LIID-0001");
    EXPECT_EQ(hv["task_id"], rec.task_id);
    EXPECT_EQ(hv["field"], 1);
    EXPECT_EQ(hv["formatName"], "EmailAddress");
    EXPECT_EQ(hv["algorithm"], "hmac-sha256");
    EXPECT_EQ(hv["hash"], doc["fields"][1]["hash"]);
    const json& tc = audit_.events[2];
    EXPECT_EQ(tc["kind"], "LI");
    EXPECT_EQ(tc["start"], "2026-01-01T00:00:00Z");
    EXPECT_EQ(tc["end"], "2026-02-01T00:00:00Z");
    EXPECT_EQ(tc["endpoint"], "lea1");
    EXPECT_EQ(tc["fields"], 2);
    EXPECT_EQ(tc["actor"], local_actor(1000));
    for (const char* secret : {"442079460223", "alice@example.com", "8f1c2a9b3d4e5f60718293a4b5c6d7e8",
                               "00112233445566778899aabbccddeeff0011223344556677"}) {
        EXPECT_EQ(audit_.text().find(secret), std::string::npos) << secret;
        EXPECT_EQ(to_json(rec).dump().find(secret), std::string::npos) << secret;
    }

    auto shown = store_->show("LIID-0001");
    ASSERT_TRUE(shown) << shown.error().message();
    EXPECT_EQ(to_json(*shown), to_json(rec));
    auto all = store_->list();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].reference, "LIID-0001");
}

TEST_F(TaskStoreTest, JsonRecordHasTheDocumentedShape) {
    json doc = task("LIID-J");
    doc.erase("endpoint");
    const json j = to_json(create(doc));
    EXPECT_EQ(j["reference"], "LIID-J");
    EXPECT_EQ(j["kind"], "LI");
    EXPECT_EQ(j["state"], "active");
    EXPECT_FALSE(j.contains("endpoint"));
    EXPECT_EQ(j["fields"][0]["formatName"], "InternationalE164");
    EXPECT_EQ(j["fields"][0]["algorithm"], "sha256");
    EXPECT_EQ(j["fields"][0]["hash"], doc["fields"][0]["hash"]);
    EXPECT_EQ(j["deliveries"]["count"], 0);
    EXPECT_EQ(j["created"], "2026-01-10T00:00:00Z");
    EXPECT_FALSE(j["fields"][0].contains("value"));
    EXPECT_FALSE(j["fields"][0].contains("salt"));
}

TEST_F(TaskStoreTest, DuplicateReferenceIsRefusedWhetherActiveOrClosed) {
    create(task("LIID-DUP"));
    const std::size_t events = audit_.events.size();
    auto again = try_create(task("LIID-DUP"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    EXPECT_NE(again.error().message().find("LIID-DUP"), std::string::npos);
    EXPECT_EQ(audit_.events.size(), events) << "a refused create leaves no entry";
    ASSERT_TRUE(store_->close("LIID-DUP", local_actor(1000), CloseReason::operator_request));
    again = try_create(task("LIID-DUP"));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    EXPECT_EQ(store_->list()->size(), 1u);
}

TEST_F(TaskStoreTest, RefusesATaskThatHasAlreadyEndedAndABadActor) {
    clock_.set(test::at("2026-02-01T00:00:00Z"));
    auto r = try_create(task("LIID-OLD"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::invalid_argument);
    EXPECT_TRUE(r.error().context().starts_with("end:")) << r.error().message();
    clock_.set(test::at("2026-01-10T00:00:00Z"));
    for (const json& actor : {json("root"), json{{"kind", "local"}}, json{{"kind", "local"}, {"uid", -1}},
                              json{{"kind", "certificate"}, {"sha256", "AB"}}, json{{"kind", "robot"}},
                              json{{"kind", "local"}, {"uid", 1}, {"weight", 1.5}}}) {
        auto bad = try_create(task("LIID-ACT"), actor);
        ASSERT_FALSE(bad) << actor.dump();
        EXPECT_EQ(bad.error().code(), Errc::invalid_argument) << actor.dump();
    }
    EXPECT_TRUE(audit_.events.empty());
    EXPECT_TRUE(store_->list()->empty());
}

TEST_F(TaskStoreTest, CreateFailsClosedWhenTheAuditLogRefuses) {
    for (const char* failing : {"hash.verified", "task.created"}) {
        SCOPED_TRACE(failing);
        audit_.fail_on = failing;
        auto r = try_create(task("LIID-FC", two_fields()));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::io_error);
        EXPECT_NE(r.error().message().find("task not created: audit log"), std::string::npos) << r.error().message();
        auto shown = store_->show("LIID-FC");
        ASSERT_FALSE(shown);
        EXPECT_EQ(shown.error().code(), Errc::not_found);
        EXPECT_TRUE(store_->list()->empty());
        EXPECT_TRUE(audit_.named("task.created").empty());
    }
    // The rollback left nothing behind: the same reference can be created now.
    audit_.fail_on.reset();
    EXPECT_EQ(create(task("LIID-FC", two_fields())).fields.size(), 2u);
}

TEST_F(TaskStoreTest, CreateReChecksAHandBuiltIntake) {
    auto intake = parse_task(task("LIID-HB").dump());
    ASSERT_TRUE(intake);
    intake->fields[0].value = crypto::Secret::copy_of(crypto::as_bytes(std::string("442079460224")));
    auto r = store_->create(std::move(*intake), local_actor(1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hash_mismatch);
    EXPECT_TRUE(audit_.events.empty());
}

TEST_F(TaskStoreTest, RevealReturnsValuesAndSaltsAndIsAuditedFirst) {
    const json doc = task("LIID-RV", two_fields());
    const TaskRecord rec = create(doc);
    const json officer = local_actor(2000, "security-officer");
    auto revealed = store_->reveal("LIID-RV", officer);
    ASSERT_TRUE(revealed) << revealed.error().message();
    ASSERT_EQ(revealed->size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ((*revealed)[i].index, i);
        EXPECT_EQ(secret_text((*revealed)[i].value), doc["fields"][i]["value"].get<std::string>());
        EXPECT_EQ(crypto::hex_encode((*revealed)[i].salt.view()), doc["fields"][i]["salt"].get<std::string>());
        EXPECT_EQ((*revealed)[i].format_name, doc["fields"][i]["formatName"].get<std::string>());
    }
    const auto ev = audit_.named("task.revealed");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0]["actor"], officer);
    EXPECT_EQ(ev[0]["fields"], 2);
    EXPECT_EQ(ev[0]["task_id"], rec.task_id);

    audit_.fail_on = "task.revealed";
    auto refused = store_->reveal("LIID-RV", officer);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Errc::io_error);
    EXPECT_NE(refused.error().message().find("not revealed"), std::string::npos);
    audit_.fail_on.reset();

    auto missing = store_->reveal("LIID-NONE", officer);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
}

TEST_F(TaskStoreTest, CloseDestroysSecretsKeepsTheHashOnlyRecordAndAudits) {
    const json doc = task("LIID-CL", two_fields());
    const TaskRecord before = create(doc);
    ASSERT_TRUE(store_->record_delivery("LIID-CL", "d-1", 1234, crypto::Bytes(32, 0xab)));
    clock_.advance(std::chrono::hours(1));
    const json op = local_actor(3000, "operator");
    auto closed = store_->close("LIID-CL", op, CloseReason::operator_request);
    ASSERT_TRUE(closed) << closed.error().message();
    EXPECT_EQ(closed->state, TaskState::closed);
    EXPECT_EQ(closed->closed_at, clock_.now());
    EXPECT_EQ(closed->closed_by, op);
    EXPECT_EQ(closed->close_reason, CloseReason::operator_request);
    EXPECT_EQ(closed->purged_at, clock_.now());
    ASSERT_EQ(closed->fields.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(closed->fields[i].hash, before.fields[i].hash);
        EXPECT_EQ(closed->fields[i].algorithm, before.fields[i].algorithm);
        EXPECT_EQ(closed->fields[i].format_name, before.fields[i].format_name);
    }
    EXPECT_EQ(closed->deliveries.size(), 1u);

    const auto names = audit_.names();
    ASSERT_GE(names.size(), 2u);
    EXPECT_EQ(names[names.size() - 2], "task.closed");
    EXPECT_EQ(names.back(), "task.purged");
    const json tc = audit_.named("task.closed")[0];
    EXPECT_EQ(tc["reason"], "operator");
    EXPECT_EQ(tc["actor"], op);
    EXPECT_EQ(tc["deliveries"], 1);
    const json tp = audit_.named("task.purged")[0];
    EXPECT_EQ(tp["values_destroyed"], 2);
    EXPECT_EQ(tp["salts_destroyed"], 2);
    EXPECT_EQ(tp["keys_destroyed"], 1);
    EXPECT_EQ(tp["wal_truncated"], true);
    EXPECT_EQ(std::filesystem::file_size(db_path().string() + "-wal"), 0u);

    auto revealed = store_->reveal("LIID-CL", local_actor(2000));
    ASSERT_FALSE(revealed);
    EXPECT_EQ(revealed.error().code(), Errc::invalid_state);
    auto again = store_->close("LIID-CL", op, CloseReason::operator_request);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::invalid_state);
    auto unknown = store_->close("LIID-NOPE", op, CloseReason::operator_request);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), Errc::not_found);
    EXPECT_EQ(store_->close("not a reference\n", op, CloseReason::operator_request).error().context(),
              "no task with that reference");
}

TEST_F(TaskStoreTest, CloseFailsClosedWhenTheAuditLogRefuses) {
    create(task("LIID-CF"));
    audit_.fail_on = "task.closed";
    auto r = store_->close("LIID-CF", local_actor(1), CloseReason::operator_request);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::io_error);
    EXPECT_NE(r.error().message().find("task not closed"), std::string::npos);
    EXPECT_EQ(store_->show("LIID-CF")->state, TaskState::active);
    audit_.fail_on.reset();
    auto revealed = store_->reveal("LIID-CF", local_actor(2));
    ASSERT_TRUE(revealed) << "values are intact after the refused close";
    EXPECT_EQ(secret_text((*revealed)[0].value), "442079460223");
}

TEST_F(TaskStoreTest, AnInterruptedPurgeIsRetriedUntilTaskPurgedIsLogged) {
    create(task("LIID-PG"));
    audit_.fail_on = "task.purged";
    auto r = store_->close("LIID-PG", local_actor(1), CloseReason::operator_request);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("purge is not complete"), std::string::npos) << r.error().message();
    auto shown = store_->show("LIID-PG");
    ASSERT_TRUE(shown);
    EXPECT_EQ(shown->state, TaskState::closed);
    EXPECT_FALSE(shown->purged_at.has_value());
    EXPECT_EQ(store_->reveal("LIID-PG", local_actor(2)).error().code(), Errc::invalid_state);

    // Still failing: the retry reports it; then it succeeds once.
    EXPECT_FALSE(store_->retry_pending_purges());
    audit_.fail_on.reset();
    auto done = store_->retry_pending_purges();
    ASSERT_TRUE(done) << done.error().message();
    EXPECT_EQ(*done, 1u);
    EXPECT_TRUE(store_->show("LIID-PG")->purged_at.has_value());
    EXPECT_EQ(audit_.named("task.purged").size(), 1u);
    EXPECT_EQ(*store_->retry_pending_purges(), 0u);
}

TEST_F(TaskStoreTest, OpeningTheStoreCompletesAPendingPurge) {
    create(task("LIID-OP"));
    audit_.fail_on = "task.purged";
    ASSERT_FALSE(store_->close("LIID-OP", local_actor(1), CloseReason::operator_request));
    store_.reset();
    auto refused = TaskStore::open(db_path(), kek_, audit_, {crypto::SealedDbOptions{}, clock_.clock()});
    ASSERT_FALSE(refused) << "open must not hide a purge it could not complete";
    EXPECT_NE(refused.error().message().find("LIID-OP"), std::string::npos);
    audit_.fail_on.reset();
    store_ = open_store();
    ASSERT_TRUE(store_);
    EXPECT_TRUE(store_->show("LIID-OP")->purged_at.has_value());
    EXPECT_EQ(audit_.named("task.purged").size(), 1u);
}

TEST_F(TaskStoreTest, CloseExpiredClosesOnlyEndedTasksAsTheSystem) {
    create(task("LIID-E1", json(), "2026-01-11T00:00:00Z"));
    create(task("LIID-E3", json(), "2026-01-13T00:00:00Z"));
    create(task("LIID-E2", json(), "2026-01-12T00:00:00Z"));
    EXPECT_EQ(format_utc_time(**store_->next_end()), "2026-01-11T00:00:00Z");

    auto nothing = store_->close_expired(test::at("2026-01-10T23:59:59Z"));
    EXPECT_TRUE(nothing.closed.empty());
    EXPECT_TRUE(nothing.failed.empty());

    clock_.set(test::at("2026-01-12T00:00:30Z"));
    auto report = store_->close_expired(clock_.now());
    EXPECT_EQ(report.closed, (std::vector<std::string>{"LIID-E1", "LIID-E2"}));
    EXPECT_TRUE(report.failed.empty());
    for (const char* ref : {"LIID-E1", "LIID-E2"}) {
        auto rec = store_->show(ref);
        ASSERT_TRUE(rec);
        EXPECT_EQ(rec->state, TaskState::closed);
        EXPECT_EQ(rec->close_reason, CloseReason::expired);
        EXPECT_EQ(rec->closed_by, system_actor());
        EXPECT_TRUE(rec->purged_at.has_value());
    }
    EXPECT_EQ(store_->show("LIID-E3")->state, TaskState::active);
    EXPECT_EQ(format_utc_time(**store_->next_end()), "2026-01-13T00:00:00Z");
    const auto closed_events = audit_.named("task.closed");
    ASSERT_EQ(closed_events.size(), 2u);
    EXPECT_EQ(closed_events[0]["reason"], "expired");
    EXPECT_EQ(closed_events[0]["actor"], (json{{"kind", "system"}}));

    // An audit failure is reported per task and the task stays active.
    clock_.set(test::at("2026-01-14T00:00:00Z"));
    audit_.fail_on = "task.closed";
    report = store_->close_expired(clock_.now());
    EXPECT_TRUE(report.closed.empty());
    ASSERT_EQ(report.failed.size(), 1u);
    EXPECT_EQ(report.failed[0].first, "LIID-E3");
    EXPECT_EQ(store_->show("LIID-E3")->state, TaskState::active);
    audit_.fail_on.reset();
    report = store_->close_expired(clock_.now());
    EXPECT_EQ(report.closed, (std::vector<std::string>{"LIID-E3"}));
    EXPECT_FALSE(store_->next_end()->has_value());
}

TEST_F(TaskStoreTest, RecordsDeliveriesIdempotentlyAndRefusesConflicts) {
    create(task("LIID-DL"));
    const crypto::Bytes sum(32, 0x11);
    ASSERT_TRUE(store_->record_delivery("LIID-DL", "5f0c3d5e-0000-4000-8000-000000000001", 10, sum));
    ASSERT_TRUE(store_->record_delivery("LIID-DL", "5f0c3d5e-0000-4000-8000-000000000001", 10, sum));
    EXPECT_EQ(audit_.named("delivery.recorded").size(), 1u) << "a repeat is not a new delivery";
    auto conflict = store_->record_delivery("LIID-DL", "5f0c3d5e-0000-4000-8000-000000000001", 11, sum);
    ASSERT_FALSE(conflict);
    EXPECT_EQ(conflict.error().code(), Errc::already_exists);
    EXPECT_EQ(store_->record_delivery("LIID-DL", "", 1, sum).error().code(), Errc::invalid_argument);
    EXPECT_EQ(store_->record_delivery("LIID-DL", "a b", 1, sum).error().code(), Errc::invalid_argument);
    EXPECT_EQ(store_->record_delivery("LIID-DL", std::string(129, 'x'), 1, sum).error().code(), Errc::invalid_argument);
    EXPECT_EQ(store_->record_delivery("LIID-DL", "d", 1, crypto::Bytes(31)).error().code(), Errc::invalid_argument);
    EXPECT_EQ(store_->record_delivery("LIID-DL", "d", ~0ull, sum).error().code(), Errc::invalid_argument);
    EXPECT_EQ(store_->record_delivery("LIID-NONE", "d", 1, sum).error().code(), Errc::not_found);
    audit_.fail_on = "delivery.recorded";
    EXPECT_EQ(store_->record_delivery("LIID-DL", "d-2", 2, sum).error().code(), Errc::io_error);
    audit_.fail_on.reset();
    ASSERT_TRUE(store_->close("LIID-DL", local_actor(1), CloseReason::operator_request));
    ASSERT_TRUE(store_->record_delivery("LIID-DL", "d-3", 3, crypto::Bytes(32, 0x33)));
    const auto rec = store_->show("LIID-DL");
    ASSERT_TRUE(rec);
    ASSERT_EQ(rec->deliveries.size(), 2u) << "d-2 was refused by the log, so it is not recorded";
    EXPECT_EQ(rec->deliveries[0].id, "5f0c3d5e-0000-4000-8000-000000000001");
    EXPECT_EQ(rec->deliveries[0].size, 10u);
    EXPECT_EQ(rec->deliveries[0].sha256, sum);
    const json j = to_json(*rec);
    EXPECT_EQ(j["deliveries"]["count"], 2);
    EXPECT_EQ(j["deliveries"]["items"][1]["sha256"], std::string(64, '3'));
    const json ev = audit_.named("delivery.recorded")[0];
    EXPECT_EQ(ev["delivery_id"], "5f0c3d5e-0000-4000-8000-000000000001");
    EXPECT_EQ(ev["size"], 10);
    EXPECT_EQ(ev["sha256"], std::string(64, '1'));
}

TEST_F(TaskStoreTest, OwnerEndpoint) {
    create(task("LIID-OW"));
    json no_endpoint = task("LIID-NE");
    no_endpoint.erase("endpoint");
    create(no_endpoint);
    EXPECT_EQ(*store_->owner_endpoint("LIID-OW"), std::optional<std::string>("lea1"));
    EXPECT_EQ(*store_->owner_endpoint("LIID-NE"), std::nullopt);
    EXPECT_EQ(store_->owner_endpoint("LIID-XX").error().code(), Errc::not_found);
}

TEST_F(TaskStoreTest, ClosedWithEndpointNamesOnlyClosedTasksThatHaveOne) {
    create(task("LIID-OPEN"));
    create(task("LIID-SHUT"));
    json no_endpoint = task("LIID-NOEP");
    no_endpoint.erase("endpoint");
    create(no_endpoint);
    for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(store_->record_delivery("LIID-SHUT", "d-" + std::to_string(i), 1,
                                            crypto::Bytes(32, 0x22)));
    }
    EXPECT_TRUE(store_->closed_with_endpoint()->empty());
    ASSERT_TRUE(store_->close("LIID-SHUT", local_actor(1), CloseReason::operator_request));
    ASSERT_TRUE(store_->close("LIID-NOEP", local_actor(1), CloseReason::operator_request));
    const auto closed = store_->closed_with_endpoint();
    ASSERT_TRUE(closed) << closed.error().message();
    ASSERT_EQ(closed->size(), 1u);
    EXPECT_EQ((*closed)[0].first, "LIID-SHUT");
    EXPECT_EQ((*closed)[0].second, "lea1");
}

TEST_F(TaskStoreTest, RecordsSurviveReopenAndTheWrongKekIsRefused) {
    const json doc = task("LD-like", two_fields());
    json ld = doc;
    ld["kind"] = "LD";
    ld["reference"] = "GB-ACME-0001";
    create(ld);
    create(task("LIID-RO"));
    ASSERT_TRUE(store_->close("LIID-RO", local_actor(1), CloseReason::operator_request));
    const json before = to_json(*store_->show("GB-ACME-0001"));
    store_.reset();
    store_ = open_store();
    ASSERT_TRUE(store_);
    EXPECT_EQ(to_json(*store_->show("GB-ACME-0001")), before);
    EXPECT_EQ(store_->show("GB-ACME-0001")->kind, TaskKind::ld);
    auto revealed = store_->reveal("GB-ACME-0001", local_actor(2));
    ASSERT_TRUE(revealed) << revealed.error().message();
    EXPECT_EQ(secret_text((*revealed)[1].value), "alice@example.com");
    store_.reset();

    crypto::SecretKeyWrapper other("kek-test", crypto::Secret::random(32));
    auto wrong = TaskStore::open(db_path(), other, audit_, {crypto::SealedDbOptions{}, clock_.clock()});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), Errc::integrity_failure) << wrong.error().message();
}

TEST_F(TaskStoreTest, SwappedOrAlteredCiphertextIsRefusedOnReveal) {
    create(task("LIID-TM", two_fields()));
    store_.reset();
    {
        // The attacker holds the database key (the KEK) but not the per-task
        // key: swapping sealed values between fields, or a value with its
        // salt, is caught by the AEAD's associated data.
        auto db = crypto::SealedDb::open(db_path(), kek_);
        ASSERT_TRUE(db) << db.error().message();
        ASSERT_TRUE(db->exec("UPDATE task_secrets SET value = salt WHERE idx = 0"));
    }
    store_ = open_store();
    auto r = store_->reveal("LIID-TM", local_actor(1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
    EXPECT_TRUE(audit_.named("task.revealed").empty()) << "nothing revealed, nothing recorded";
    store_.reset();
    {
        auto db = crypto::SealedDb::open(db_path(), kek_);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("UPDATE task_secrets SET value = (SELECT value FROM task_secrets WHERE idx = 1),"
                             " salt = (SELECT salt FROM task_secrets WHERE idx = 1) WHERE idx = 0"));
    }
    store_ = open_store();
    r = store_->reveal("LIID-TM", local_actor(1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::integrity_failure);
}

TEST_F(TaskStoreTest, AMissingSealedRowOrKeyIsAnIntegrityFailure) {
    create(task("LIID-MS", two_fields()));
    create(task("LIID-MK"));
    store_.reset();
    {
        auto db = crypto::SealedDb::open(db_path(), kek_);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->exec("DELETE FROM task_secrets WHERE idx = 1 AND task = (SELECT id FROM tasks WHERE reference = 'LIID-MS');"
                             "DELETE FROM task_keys WHERE task = (SELECT id FROM tasks WHERE reference = 'LIID-MK');"));
    }
    store_ = open_store();
    for (const char* ref : {"LIID-MS", "LIID-MK"}) {
        auto r = store_->reveal(ref, local_actor(1));
        ASSERT_FALSE(r) << ref;
        EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
    }
    EXPECT_TRUE(audit_.named("task.revealed").empty());
}

TEST_F(TaskStoreTest, ConcurrentCreatesAndReadsAreSerialised) {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                auto intake = parse_task(task("LIID-T" + std::to_string(t) + "-" + std::to_string(i)).dump());
                if (intake && store_->create(std::move(*intake), local_actor(t))) ++ok;
                (void)store_->list();
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 20);
    EXPECT_EQ(store_->list()->size(), 20u);
    EXPECT_EQ(audit_.named("task.created").size(), 20u);
}

}  // namespace
}  // namespace enclave::audit
