// SPDX-License-Identifier: Apache-2.0
// The audit promise end to end: the canary lifecycle (no value or salt left
// in any file, log line or API answer after close; hashes and
// re-verification still work), export and offline verification, and a
// tampered entry caught with its index (in a bundle, and in the database
// itself at the daemon's next start).
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "audit_test_util.hpp"
#include "crypto/sealed_db.hpp"
#include "harness/http_client.hpp"
#include "hsm/module.hpp"
#include "hsm/object.hpp"
#include "hsm/pin.hpp"
#include "hsm/session_pool.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "hsm/uri.hpp"
#include "sodium.h"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

std::string random_digits(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + randombytes_uniform(10));
    return s;
}

std::string random_hex(std::size_t bytes) {
    std::vector<std::uint8_t> b(bytes);
    randombytes_buf(b.data(), b.size());
    return crypto::hex_encode(b);
}

struct Canary {
    std::vector<FieldSpec> fields;
    std::vector<std::string> secrets() const {
        std::vector<std::string> out;
        for (const auto& f : fields) {
            out.push_back(f.value);
            out.push_back(f.salt_hex);
            // The raw salt bytes too.
            auto raw = crypto::hex_decode(f.salt_hex);
            out.emplace_back(raw->begin(), raw->end());
        }
        return out;
    }
};

Canary make_canary() {
    Canary c;
    // Unique random values of their formats, unique random salts.
    c.fields.push_back({"InternationalE164", "4479" + random_digits(11), random_hex(32)});
    c.fields.push_back({"IMSI", "00101" + random_digits(10), random_hex(24), "sha3-256"});
    c.fields.push_back(
        {"EmailAddress", "canary" + random_digits(12) + "@example.org", random_hex(16), "hmac-sha256"});
    return c;
}

void expect_nowhere(const std::string& where, const std::string& haystack, const Canary& c) {
    for (const auto& secret : c.secrets()) {
        for (const auto& form : leak_forms(secret)) {
            if (form.size() < 8) continue;
            EXPECT_EQ(haystack.find(form), std::string::npos)
                << where << " holds a canary value or salt (" << form.size() << " bytes)";
        }
    }
}

TEST(AuditE2eTest, CanaryLeavesNoTraceAfterCloseButHashesStillVerify) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const Canary c = make_canary();
    const json task = task_json("LIID-CANARY", c.fields);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks", task.dump()).status, 201);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-CANARY").status, 200);

    // API answers after close.
    std::string answers;
    for (const char* target : {"/v1/tasks", "/v1/task?reference=LIID-CANARY",
                               "/v1/audit/entries?first=0&count=10000", "/v1/audit/checkpoints",
                               "/v1/status"}) {
        const auto r = unix_get(inst.socket(), target);
        EXPECT_EQ(r.status, 200) << target << ": " << r.body;
        answers += r.body;
    }
    expect_nowhere("an API answer", answers, c);
    const json rec = json::parse(unix_get(inst.socket(), "/v1/task?reference=LIID-CANARY").body);
    ASSERT_EQ(rec["fields"].size(), c.fields.size());
    for (std::size_t i = 0; i < c.fields.size(); ++i) {
        EXPECT_EQ(rec["fields"][i]["hash"], salted_hash_hex(c.fields[i])) << "the hash remains";
    }
    // An exported bundle.
    const auto bundle = inst.scratch() / "canary.bundle";
    auto r = ctl(inst, {"audit", "export", "--out", bundle.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_nowhere("the bundle", read_file(bundle), c);
    expect_nowhere("enclavectl output", r.out + r.err, c);

    // Every file under the data directory, while running and after stop.
    for (const auto& [path, bytes] : all_files(inst.dir())) expect_nowhere(path.string(), bytes, c);
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(std::chrono::seconds(30)), 0) << inst.log();
    for (const auto& [path, bytes] : all_files(inst.dir())) expect_nowhere(path.string(), bytes, c);
    expect_nowhere("the daemon's log", inst.log(), c);

    // Re-verification still matches, with the values the LEA kept.
    daemon = inst.start_ready();
    for (std::size_t i = 0; i < c.fields.size(); ++i) {
        const std::string input =
            json{{"value", c.fields[i].value}, {"salt", c.fields[i].salt_hex}}.dump();
        const auto m = unix_request(inst.socket(), "POST",
                                    "/v1/audit/reverify?reference=LIID-CANARY&field=" +
                                        std::to_string(i),
                                    input);
        EXPECT_EQ(m.status, 200) << m.body;
        EXPECT_EQ(json::parse(m.body)["result"], "match") << m.body;
    }
}

TEST(AuditE2eTest, ExportVerifiesOfflineAndATamperedEntryIsNamed) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks",
                               task_json("LIID-E" + std::to_string(i), {f}).dump())
                      .status,
                  201);
    }
    const auto key_file = inst.scratch() / "audit.vkey";
    auto r = ctl(inst, {"audit", "key"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    write_text(key_file, r.out);
    const auto old_checkpoint = inst.scratch() / "old.checkpoint";
    r = ctl(inst, {"audit", "checkpoint", "--new"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    write_text(old_checkpoint, r.out);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-E0").status, 200);

    const auto bundle = inst.scratch() / "audit.bundle";
    r = ctl(inst, {"audit", "export", "--out", bundle.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(std::chrono::seconds(30)), 0);

    // Offline: no daemon running.
    r = ctl(inst, {"audit", "verify", bundle.string(), "--key", key_file.string(),
                   "--since-checkpoint", old_checkpoint.string(), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    const json report = json::parse(r.out);
    EXPECT_TRUE(report["key_pinned"].get<bool>());
    // The key string itself works as well as a file (it contains '/').
    std::string key_string = read_file(key_file);
    while (!key_string.empty() && key_string.back() == '\n') key_string.pop_back();
    r = ctl(inst, {"audit", "verify", bundle.string(), "--key", key_string});
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_GT(report["entries"].get<int>(), 10);

    // Modify one entry (its task.closed event) in a copy of the bundle.
    std::string text = read_file(bundle);
    const auto at = text.find("\"task.closed\"");
    ASSERT_NE(at, std::string::npos);
    const auto line_start = text.rfind('\n', at) + 1;
    const json entry = json::parse(text.substr(line_start, text.find('\n', at) - line_start));
    const auto index = entry["index"].get<std::uint64_t>();
    text.replace(at, 13, "\"task.opened\"");
    const auto tampered = inst.scratch() / "tampered.bundle";
    write_text(tampered, text);
    r = ctl(inst, {"audit", "verify", tampered.string(), "--key", key_file.string()});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("entry " + std::to_string(index)), std::string::npos) << r.err;

    // A forged key is refused too.
    r = ctl(inst, {"audit", "verify", bundle.string(), "--key",
                   "enclave/audit+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"});
    EXPECT_NE(r.exit_code, 0) << r.out;
}

/// Opens the instance's audit database with its key (unwrapped by the
/// instance's KEK on its SoftHSM token), as an attacker with the token PIN
/// could, and changes one stored entry.
void tamper_stored_entry(const TestInstance& inst, std::uint64_t index) {
    ::setenv("SOFTHSM2_CONF", (inst.dir() / "softhsm2.conf").c_str(), 1);
    auto cfg = appliance::load_config(inst.dir() / "enclave.toml", inst.dir());
    ASSERT_TRUE(cfg) << cfg.error().message();
    auto module = hsm::Module::load_path(cfg->token.module_path.empty()
                                             ? std::string("/usr/lib/softhsm/libsofthsm2.so")
                                             : cfg->token.module_path);
    ASSERT_TRUE(module) << module.error().message();
    auto uri = hsm::Uri::parse(cfg->token.uri);
    ASSERT_TRUE(uri);
    auto token = (*module)->find_token(*uri);
    ASSERT_TRUE(token) << token.error().message();
    auto pin = hsm::read_pin_file(inst.dir() / "token.pin");
    ASSERT_TRUE(pin) << pin.error().message();
    auto pool = hsm::SessionPool::open(*module, *token, std::move(*pin), {});
    ASSERT_TRUE(pool) << pool.error().message();
    auto kek = hsm::TokenKeyWrapper::open(*pool, hsm::KeyQuery::by_label("kek", hsm::ObjectType::secret_key));
    ASSERT_TRUE(kek) << kek.error().message();
    auto db = crypto::SealedDb::open(inst.dir() / "state" / "audit.db", **kek);
    ASSERT_TRUE(db) << db.error().message();
    // The append-only triggers are no obstacle to someone with the key.
    ASSERT_TRUE(db->exec("DROP TRIGGER entries_no_update"));
    ASSERT_TRUE(db->exec("UPDATE entries SET entry = replace(entry, 'task.created', 'task.created2') "
                         "WHERE idx = " + std::to_string(index)));
    ASSERT_EQ(db->changes(), 1);
}

TEST(AuditE2eTest, TamperedDatabaseStopsTheDaemonNamingTheIndex) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/tasks", task_json("LIID-T", {f}).dump()).status,
              201);
    const json entries = json::parse(unix_get(inst.socket(), "/v1/audit/entries?first=0").body);
    std::uint64_t index = 0;
    for (const json& e : entries["entries"]) {
        const json entry = json::parse(e.get<std::string>());
        if (entry["event"] == "task.created") index = entry["index"];
    }
    ASSERT_GT(index, 0u);
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(std::chrono::seconds(30)), 0);
    tamper_stored_entry(inst, index);
    auto again = inst.start();
    EXPECT_EQ(again->wait_exit(std::chrono::seconds(60)), 10) << inst.log();
    EXPECT_NE(inst.log().find(std::to_string(index)), std::string::npos) << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test

namespace enclave::daemon_test {
namespace {

TEST(AuditE2eTest, DaemonEventsAreRecorded) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    daemon->signal(SIGHUP);
    std::string all;
    for (int i = 0; i < 100 && all.find("certificates.reloaded") == std::string::npos; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        all = unix_get(inst.socket(), "/v1/audit/entries?first=0").body;
    }
    EXPECT_NE(all.find(R"(\"event\":\"daemon.started\")"), std::string::npos) << all;
    EXPECT_NE(all.find(R"(\"event\":\"certificates.reloaded\")"), std::string::npos) << all;
    EXPECT_NE(all.find(R"(\"listener\":\"lea\")"), std::string::npos) << all;
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(std::chrono::seconds(30)), 0);
    daemon = inst.start_ready();
    all = unix_get(inst.socket(), "/v1/audit/entries?first=0").body;
    EXPECT_NE(all.find(R"(\"event\":\"daemon.stopping\")"), std::string::npos) << all;
    // The clean stop left a checkpoint covering daemon.stopping.
    const auto cp = nlohmann::json::parse(unix_get(inst.socket(), "/v1/audit/checkpoint").body);
    EXPECT_GE(cp.value("size", 0), 3) << cp.dump();
}

}  // namespace
}  // namespace enclave::daemon_test
