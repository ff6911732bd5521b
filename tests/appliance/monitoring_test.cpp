// SPDX-License-Identifier: Apache-2.0
// Protective monitoring (issue #7): typed fields, sequence numbers, the
// durable queue, the file sink's rotation, a sink that is down, the queue
// bound (events_lost), account behaviour monitoring and the audit-entry
// mapping. Real files in a temp dir; a scripted sink stands for a SIEM.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "../../appliance/src/monitoring_audit.hpp"
#include "../../appliance/src/monitoring_impl.hpp"
#include "appliance/config.hpp"
#include "appliance/monitoring.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

template <class Pred>
bool within(std::chrono::seconds limit, Pred pred) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

std::vector<json> read_lines(const std::filesystem::path& file) {
    std::vector<json> out;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
}

/// A sink the test switches on and off; keeps what it was given.
class ScriptedSink final : public MonitoringSink {
public:
    explicit ScriptedSink(std::string name, bool up = true) : name_(std::move(name)), up_(up) {}
    [[nodiscard]] std::string_view name() const noexcept override { return name_; }
    [[nodiscard]] std::string_view failure_reason() const noexcept override { return "connect"; }
    crypto::Result<std::size_t> deliver(const std::vector<EventRecord>& batch) override {
        if (!up_) return crypto::fail(crypto::Errc::unavailable, "down");
        std::lock_guard lock(mu_);
        for (const auto& r : batch) got_.push_back(json::parse(r.json));
        return batch.size();
    }
    void set_up(bool up) { up_ = up; }
    std::vector<json> got() const {
        std::lock_guard lock(mu_);
        return got_;
    }

private:
    std::string name_;
    std::atomic<bool> up_;
    mutable std::mutex mu_;
    std::vector<json> got_;
};

Config config_in(const std::filesystem::path& dir) {
    Config c = default_config(dir);
    c.instance_name = "mon-test";
    return c;
}

Event sample(int i) {
    return events::ConnectionLimitReached{"lea-" + std::to_string(i)};
}

TEST(MonitoringFieldsTest, FieldTypesHoldNoFreeText) {
    EXPECT_EQ(monitoring::Name("lea").str(), "lea");
    EXPECT_EQ(monitoring::Name("a b=\"c\"\n").str(), "a?b??c??");
    EXPECT_EQ(monitoring::Name(std::string(500, 'x')).str().size(), 64u);
    EXPECT_EQ(monitoring::Fingerprint("00ff").str(), "00ff");
    EXPECT_EQ(monitoring::Fingerprint("00FF").str(), "");
    EXPECT_EQ(monitoring::Fingerprint("secret value").str(), "");
    EXPECT_EQ(monitoring::Fingerprint(std::string(65, 'a')).str(), "");
    EXPECT_EQ(monitoring::Address("127.0.0.1:443").str(), "127.0.0.1:443");
    EXPECT_EQ(monitoring::Address("[::1]:443").str(), "[::1]:443");
    EXPECT_EQ(monitoring::Address("2001:db8::/64").str(), "2001:db8::/64");
    EXPECT_EQ(monitoring::Address("evil.example:443").str(), "");
    EXPECT_EQ(monitoring::Address("127.0.0.1:99999").str(), "");
    EXPECT_EQ(monitoring::Account::parse("uid 1001").str(), "uid:1001");
    EXPECT_EQ(monitoring::Account::parse("certificate abcd").str(), "cert:abcd");
    EXPECT_EQ(monitoring::Account::parse("address 10.0.0.1").str(), "address:10.0.0.1");
    EXPECT_EQ(monitoring::Account::parse("uid x").str(), "daemon");
    EXPECT_EQ(monitoring::Account::parse("garbage").str(), "daemon");
}

TEST(MonitoringFieldsTest, EveryEventTypeIsInTheCatalogueWithItsFields) {
    const auto catalogue = event_catalogue();
    std::set<std::string_view> names;
    for (const auto& t : catalogue) {
        EXPECT_TRUE(names.insert(t.name).second) << "duplicate event name " << t.name;
        EXPECT_FALSE(t.fields.empty() && t.name != "") << t.name;
    }
    EXPECT_EQ(catalogue.size(), std::variant_size_v<Event>);
    EXPECT_TRUE(names.count("tls_handshake_failed") && names.count("sensitive_access") &&
                names.count("events_lost") && names.count("privilege_granted"));
    const Event e = events::TlsHandshakeFailed{"lea", HandshakeFailure::certificate_verify_failed,
                                               "127.0.0.1:5000", monitoring::Fingerprint("ab12")};
    EXPECT_EQ(describe_event(e),
              "listener=lea reason=certificate_verify_failed peer=127.0.0.1:5000 certificate=ab12");
    const json fields = json::parse(event_fields_json(e));
    EXPECT_EQ(fields["reason"], "certificate_verify_failed");
    EXPECT_EQ(fields["certificate"], "ab12");
    EXPECT_EQ(json::parse(event_fields_json(events::AuthLockout{
                  "admin", monitoring::Account::of_uid(7), 300}))["seconds"],
              300);
}

/// docs/monitoring.md's catalogue rows: "| `name` | severity | `f1`, `f2` | ..."
std::map<std::string, std::pair<std::string, std::vector<std::string>>> documented_catalogue() {
    std::ifstream in(std::filesystem::path(ENCLAVE_SOURCE_DIR) / "docs" / "monitoring.md");
    EXPECT_TRUE(in) << "docs/monitoring.md";
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> out;
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line.find("<!-- catalogue:begin -->") != std::string::npos) inside = true;
        if (line.find("<!-- catalogue:end -->") != std::string::npos) inside = false;
        if (!inside || line.rfind("| `", 0) != 0) continue;
        std::vector<std::string> cells;
        std::stringstream ss(line.substr(1));
        for (std::string cell; std::getline(ss, cell, '|');) cells.push_back(cell);
        if (cells.size() < 3) continue;
        auto ticked = [](const std::string& cell) {
            std::vector<std::string> names;
            for (auto a = cell.find('`'); a != std::string::npos; a = cell.find('`', a + 1)) {
                const auto b = cell.find('`', a + 1);
                if (b == std::string::npos) break;
                names.push_back(cell.substr(a + 1, b - a - 1));
                a = b;
            }
            return names;
        };
        const auto name = ticked(cells[0]);
        if (name.size() != 1) continue;
        std::string severity = cells[1];
        severity.erase(0, severity.find_first_not_of(' '));
        severity.erase(severity.find_last_not_of(' ') + 1);
        out[name[0]] = {severity, ticked(cells[2])};
    }
    return out;
}

TEST(MonitoringFieldsTest, TheDocumentedCatalogueIsExactlyTheCode) {
    auto documented = documented_catalogue();
    for (const auto& t : event_catalogue()) {
        const auto it = documented.find(std::string(t.name));
        if (it == documented.end()) {
            ADD_FAILURE() << "docs/monitoring.md does not list " << t.name;
            continue;
        }
        EXPECT_EQ(it->second.first, severity_name(t.severity)) << t.name;
        std::vector<std::string> fields(t.fields.begin(), t.fields.end());
        EXPECT_EQ(it->second.second, fields) << t.name;
        documented.erase(it);
    }
    for (const auto& [name, _] : documented) ADD_FAILURE() << "documented but not in the code: " << name;
}

TEST(MonitoringHubTest, SequenceNumbersAreContiguousAndSurviveRestarts) {
    testing::TempDir dir;
    const Config cfg = config_in(dir.path());
    const auto file = dir.path() / "log" / "events.jsonl";
    {
        auto hub = MonitoringHub::open(cfg, nullptr);
        ASSERT_TRUE(hub) << hub.error().message();
        (*hub)->add_sink(make_file_sink(file, 1 << 20, 3));
        (*hub)->start();
        for (int i = 0; i < 50; ++i) (*hub)->emit(sample(i));
        (*hub)->stop();
    }
    {
        auto hub = MonitoringHub::open(cfg, nullptr);
        ASSERT_TRUE(hub) << hub.error().message();
        EXPECT_EQ((*hub)->next_seq(), 51u);
        (*hub)->add_sink(make_file_sink(file, 1 << 20, 3));
        (*hub)->start();
        (*hub)->emit(sample(99));
        (*hub)->stop();
    }
    const auto lines = read_lines(file);
    ASSERT_EQ(lines.size(), 51u);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        EXPECT_EQ(lines[i]["seq"], i + 1);
        EXPECT_EQ(lines[i]["event"], "connection_limit_reached");
        EXPECT_EQ(lines[i]["instance"], "mon-test");
        EXPECT_EQ(lines[i]["severity"], "warning");
        EXPECT_TRUE(lines[i]["time"].is_string());
    }
    EXPECT_EQ(lines[50]["fields"]["listener"], "lea-99");
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir.path() / "state" / "events").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(MonitoringHubTest, TheFileSinkRotatesBySizeKeepingWholeLines) {
    testing::TempDir dir;
    const auto file = dir.path() / "events.jsonl";
    auto hub = MonitoringHub::open(config_in(dir.path()), nullptr);
    ASSERT_TRUE(hub);
    (*hub)->add_sink(make_file_sink(file, 2048, 2));
    (*hub)->start();
    for (int i = 0; i < 200; ++i) (*hub)->emit(sample(i));
    (*hub)->stop();
    std::vector<std::uint64_t> seqs;
    for (const char* suffix : {".2", ".1", ""}) {
        const auto part = std::filesystem::path(file.string() + suffix);
        ASSERT_TRUE(std::filesystem::exists(part)) << part;
        EXPECT_LE(std::filesystem::file_size(part), 2048u);
        for (const auto& j : read_lines(part)) seqs.push_back(j["seq"].get<std::uint64_t>());
    }
    EXPECT_FALSE(std::filesystem::exists(file.string() + ".3"));
    // The newest 3 files hold a contiguous run ending with the last event.
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.back(), 200u);
    for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1);
}

TEST(MonitoringHubTest, ASinkThatIsDownGetsEverythingLaterWithFailureAndRecoveryEvents) {
    testing::TempDir dir;
    auto hub = MonitoringHub::open(config_in(dir.path()), nullptr);
    ASSERT_TRUE(hub);
    auto siem_owned = std::make_unique<ScriptedSink>("syslog", false);
    ScriptedSink* siem = siem_owned.get();
    auto file_owned = std::make_unique<ScriptedSink>("file");
    ScriptedSink* file = file_owned.get();
    (*hub)->add_sink(std::move(siem_owned));
    (*hub)->add_sink(std::move(file_owned));
    (*hub)->start();
    for (int i = 0; i < 20; ++i) (*hub)->emit(sample(i));
    // The other sink is not blocked, and it hears that the SIEM is down.
    ASSERT_TRUE(within(10s, [&] {
        for (const auto& j : file->got()) {
            if (j["event"] == "sink_failed" && j["fields"]["sink"] == "syslog") return true;
        }
        return false;
    }));
    EXPECT_TRUE(siem->got().empty());
    EXPECT_GE((*hub)->pending("syslog"), 20u);
    siem->set_up(true);
    ASSERT_TRUE(within(60s, [&] { return (*hub)->pending("syslog") == 0 && !siem->got().empty(); }));
    (*hub)->stop();
    const auto got = siem->got();
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["seq"], i + 1) << got[i];
    bool recovered = false;
    for (const auto& j : got) recovered = recovered || j["event"] == "sink_recovered";
    EXPECT_TRUE(recovered);
}

TEST(MonitoringHubTest, QueuedEventsSurviveARestartWhileTheSinkIsDown) {
    testing::TempDir dir;
    const Config cfg = config_in(dir.path());
    {
        auto hub = MonitoringHub::open(cfg, nullptr);
        ASSERT_TRUE(hub);
        (*hub)->add_sink(std::make_unique<ScriptedSink>("syslog", false));
        (*hub)->start();
        for (int i = 0; i < 30; ++i) (*hub)->emit(sample(i));
        (*hub)->stop(0ms);
    }
    auto hub = MonitoringHub::open(cfg, nullptr);
    ASSERT_TRUE(hub);
    auto owned = std::make_unique<ScriptedSink>("syslog");
    ScriptedSink* siem = owned.get();
    (*hub)->add_sink(std::move(owned));
    (*hub)->start();
    ASSERT_TRUE(within(20s, [&] { return (*hub)->pending("syslog") == 0 && siem->got().size() >= 30; }));
    (*hub)->stop();
    // Everything, in order (the first hub's sink_failed may sit among them).
    const auto got = siem->got();
    std::vector<std::string> listeners;
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i]["seq"], i + 1);
        if (got[i]["event"] == "connection_limit_reached") listeners.push_back(got[i]["fields"]["listener"]);
    }
    ASSERT_EQ(listeners.size(), 30u);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(listeners[i], "lea-" + std::to_string(i));
}

TEST(MonitoringHubTest, PassingTheQueueBoundDropsTheOldestAndSaysSo) {
    testing::TempDir dir;
    Config cfg = config_in(dir.path());
    cfg.monitoring.queue_max_bytes = 8 * 1024;  // about 40 records
    auto hub = MonitoringHub::open(cfg, nullptr);
    ASSERT_TRUE(hub);
    auto owned = std::make_unique<ScriptedSink>("syslog", false);
    ScriptedSink* siem = owned.get();
    (*hub)->add_sink(std::move(owned));
    (*hub)->start();
    for (int i = 0; i < 500; ++i) (*hub)->emit(sample(i));
    siem->set_up(true);
    ASSERT_TRUE(within(60s, [&] {
        for (const auto& j : siem->got()) {
            if (j["event"] == "events_lost") return (*hub)->pending("syslog") == 0;
        }
        return false;
    }));
    (*hub)->stop();
    // Every sequence number is accounted for: delivered, or in a reported gap.
    std::set<std::uint64_t> accounted;
    for (const auto& j : siem->got()) {
        accounted.insert(j["seq"].get<std::uint64_t>());
        if (j["event"] == "events_lost") {
            EXPECT_EQ(j["fields"]["sink"], "syslog");
            const auto first = j["fields"]["first_seq"].get<std::uint64_t>();
            const auto last = j["fields"]["last_seq"].get<std::uint64_t>();
            EXPECT_EQ(j["fields"]["count"].get<std::uint64_t>(), last - first + 1);
            for (auto s = first; s <= last; ++s) accounted.insert(s);
        }
    }
    ASSERT_FALSE(accounted.empty());
    EXPECT_EQ(*accounted.begin(), 1u);
    EXPECT_EQ(accounted.size(), *accounted.rbegin()) << "a gap nobody reported";
}

TEST(MonitoringHubTest, AQueueFileWithTornOrHostileLinesStillOpens) {
    testing::TempDir dir;
    const auto events_dir = dir.path() / "state" / "events";
    std::filesystem::create_directories(events_dir);
    {
        std::ofstream q(events_dir / "queue.jsonl");
        q << R"({"seq":5,"time":"x","time_ms":1,"instance":"i","event":"e","severity":"notice","fields":{}})"
          << "\n"
          << "not json at all\n"
          << std::string(100'000, '{') << "\n"
          << R"({"seq":3,"time_ms":1,"event":"older","severity":"info"})" << "\n"
          << R"({"seq":6,"time":"x","time_ms":2,"instance":"i","event":"e","severity":"warning","fields":{}})";
        std::ofstream c(events_dir / "cursors.json");
        c << "[1,2,3]";
    }
    auto hub = MonitoringHub::open(config_in(dir.path()), nullptr);
    ASSERT_TRUE(hub) << hub.error().message();
    EXPECT_EQ((*hub)->next_seq(), 7u);
}

TEST(AccountWatchTest, FirstUseRoleChangesHoursAndVolume) {
    AccountWatch w;
    auto time = parse_working_time("08:00-09:00", "mon");
    ASSERT_TRUE(time);
    w.configure(*time, 2, 0);
    // A Sunday, 12:00 UTC: outside.
    const auto sunday = std::chrono::system_clock::from_time_t(1'763'899'200);
    const AdminAct act{monitoring::Account::of_uid(1001), 1, "security-officer", "/v1/status"};
    auto ev = w.observe(act, sunday);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(event_name(ev[0]), "account_created");
    EXPECT_EQ(event_name(ev[1]), "access_outside_hours");
    // Outside hours again within the hour: no second warning.
    EXPECT_TRUE(w.observe(act, sunday + 1min).empty());
    AdminAct more = act;
    more.role_bits = 2;
    more.roles = "auditor";
    ev = w.observe(more, sunday + 2min);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(event_name(ev[0]), "privilege_revoked");
    EXPECT_EQ(describe_event(ev[0]), "account=uid:1001 role=security-officer");
    EXPECT_EQ(event_name(ev[1]), "privilege_granted");
    EXPECT_EQ(describe_event(ev[1]), "account=uid:1001 role=auditor");
    AdminAct reveal = more;
    reveal.route = "/v1/task/reveal";
    EXPECT_TRUE(w.observe(reveal, sunday + 3min).empty());
    EXPECT_TRUE(w.observe(reveal, sunday + 4min).empty());
    ev = w.observe(reveal, sunday + 5min);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(describe_event(ev[0]), "account=uid:1001 action=reveal count=3");
    // Re-verification has no limit here (0).
    reveal.route = "/v1/audit/reverify";
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(w.observe(reveal, sunday + 6min).empty());
}

TEST(AccountWatchTest, WorkingTimeParsesAndRefusesHostileText) {
    auto t = parse_working_time("22:00-06:00", "mon-fri");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->days, 0x1f);
    // Monday 23:00 UTC is inside; Saturday 03:00 (Friday night) too; Saturday 23:00 not.
    const auto monday_2300 = std::chrono::system_clock::from_time_t(1'764'025'200);
    EXPECT_TRUE(t->contains(monday_2300));
    const auto saturday_0300 = std::chrono::system_clock::from_time_t(1'763'780'400);
    EXPECT_TRUE(t->contains(saturday_0300));
    const auto saturday_2300 = std::chrono::system_clock::from_time_t(1'763'852'400);
    EXPECT_FALSE(t->contains(saturday_2300));
    EXPECT_TRUE(parse_working_time("", "mon-sun"));
    EXPECT_TRUE(parse_working_time("", "sat,sun"));
    for (const char* bad : {"7-19", "07:00", "25:00-26:00", "07:60-08:00", "07:00-07:00",
                            "07:00-19:00-20:00", "\n"}) {
        EXPECT_FALSE(parse_working_time(bad, "mon")) << bad;
    }
    for (const char* bad : {"", "monday", "mon,", "mon-", "xyz", "mon,,tue"}) {
        EXPECT_FALSE(parse_working_time("", bad)) << bad;
    }
    const auto err = parse_working_time(std::string(10000, '1'), "mon");
    ASSERT_FALSE(err);
    EXPECT_LT(err.error().context().size(), 200u) << "the text is not echoed";
}

TEST(MonitoringAuditTest, AuditedActsBecomeEventsWithoutReferencesOrValues) {
    const json created{{"event", "task.created"},
                       {"reference", "CANARY-REFERENCE-77"},
                       {"task_id", "0a1b2c3d"},
                       {"actor", {{"kind", "local"}, {"uid", 1001}, {"roles", {"operator"}}}}};
    auto e = monitoring_event_of(created);
    ASSERT_TRUE(e);
    EXPECT_EQ(event_name(*e), "sensitive_access");
    const std::string text = describe_event(*e) + event_fields_json(*e);
    EXPECT_EQ(describe_event(*e), "account=uid:1001 store=tasks action=create record=0a1b2c3d");
    EXPECT_EQ(text.find("CANARY"), std::string::npos);
    const json psk{{"event", "psk.rotated"},
                   {"endpoint", "lea-1"},
                   {"identity", "id-1"},
                   {"fingerprint", "0011223344556677"},
                   {"actor", {{"kind", "certificate"}, {"sha256", "abcd"}}}};
    e = monitoring_event_of(psk);
    ASSERT_TRUE(e);
    EXPECT_EQ(describe_event(*e),
              "account=cert:abcd kind=psk action=rotate subject=lea-1 fingerprint=0011223344556677");
    EXPECT_FALSE(monitoring_event_of(json{{"event", "daemon.started"}}));
    // Hostile shapes: no crash, no field from an unexpected type.
    for (const json& bad : {json(nullptr), json::array({1, 2}), json{{"event", 5}},
                            json{{"event", "task.closed"}, {"task_id", "NOT HEX"}, {"actor", "x"}},
                            json{{"event", "task.closed"}, {"actor", {{"kind", "local"}, {"uid", -1}}}}}) {
        const auto got = monitoring_event_of(bad);
        if (got) {
            EXPECT_EQ(describe_event(*got).find("NOT HEX"), std::string::npos);
        }
    }
}

}  // namespace
}  // namespace enclave::appliance
