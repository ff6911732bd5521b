// SPDX-License-Identifier: Apache-2.0
// kill -9 of enclaved at seeded random moments during a mixed workload
// (issue #10, "Fault injection"), real processes over loopback:
//
//   2 item collectors + 1 binary collector --mTLS--> enclaved --mTLS--> enclave-lea-sim
//   1 operator (create / close canary tasks) --admin socket--^   (audit appends)
//
// The workload (kill9_workload.hpp) runs without pause for the whole test;
// the simulator keeps running across the restarts, so it sees every delivery.
// Each round: restart enclaved, wait for /readyz, check, then SIGKILL it after
// a seeded delay. The checks after each restart (what was acknowledged
// before the restart, plus what the workload got acknowledged meanwhile):
//   - every acknowledged item reaches the LEA (within 60 s), exactly once
//     (the outbox is at-least-once on the wire, the LEA stores a DeliveryID
//     once, and a resent keyed item is answered as a duplicate:
//     docs/outbox.md, docs/ingest.md), in gap-free sequence;
//   - every acknowledged binary reaches the LEA with its SHA-256 (the
//     simulator checks the checksum in the delivery against the bytes);
//   - every acknowledged task creation / close has its task.created /
//     task.closed entry in the log, and the log verifies offline
//     (enclavectl audit export + verify, consistent with the checkpoint the
//     test fetched before the previous kill);
//   - no closed task's value or salt is readable: not in any file of the data
//     directory (plain, hex, base64), not in the API's record, reveal refused.
//   - every acknowledged ARCHIVE (LTAP, issue #8) is in the archive: after
//     a seal, each object exports as granted with its data, and once granted
//     it stays granted in every later round (checked again at the end).
//
// Seeded: ENCLAVE_KILL_SEED=<n> (default kDefaultSeed, printed) fixes the
// kill delays, batch sizes, binary sizes and contents, canary values;
// ENCLAVE_KILL_ROUNDS=<n> (default 50). Thread scheduling still decides the
// exact instruction each kill hits.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdlib>
#include <sstream>

#include "kill9_workload.hpp"

namespace enclave::daemon_test::kill9 {
namespace {

constexpr std::uint64_t kDefaultSeed = 20261122;
constexpr int kDefaultRounds = 50;
constexpr const char* kItemRef = "LIID-KILL-ITEMS";

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* s = std::getenv(name);
    return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 0) : fallback;
}

/// The simulator's store, read incrementally (complete lines only).
class SimView {
public:
    explicit SimView(std::filesystem::path store) : store_(std::move(store)) {}

    void refresh() {
        for (const std::string& line : new_lines("deliveries.jsonl", deliveries_at_)) {
            const json d = json::parse(line);
            const std::string id = d["delivery_id"];
            if (!ids_.insert(id).second) failures.push_back("DeliveryID stored twice: " + id);
            if (d["sequence_number"] != next_seq_) {
                failures.push_back("delivery " + id + " has sequence " +
                                   d["sequence_number"].dump() + ", expected " +
                                   std::to_string(next_seq_));
            }
            next_seq_ = d["sequence_number"].get<std::uint64_t>() + 1;
            const auto senders = senders_in(read_file(store_ / "deliveries" / (id + ".xml")));
            if (senders.size() != d["items"].get<std::size_t>()) {
                failures.push_back("delivery " + id + ": item count differs from its XML");
            }
            for (int n : senders) {
                if (++seen[n] == 2) failures.push_back("item user-" + std::to_string(n) + " stored twice");
            }
        }
        for (const std::string& line : new_lines("binaries.jsonl", binaries_at_)) {
            shas.insert(json::parse(line)["sha256"].get<std::string>());
        }
    }

    std::map<int, int> seen;          ///< item number -> times stored
    std::multiset<std::string> shas;  ///< SHA-256 of every binary stored
    std::vector<std::string> failures;

private:
    std::vector<std::string> new_lines(const char* file, std::size_t& at) {
        const std::string text = read_file(store_ / file);
        std::vector<std::string> out;
        for (std::size_t nl; at < text.size() && (nl = text.find('\n', at)) != std::string::npos;
             at = nl + 1) {
            if (nl > at) out.push_back(text.substr(at, nl - at));
        }
        return out;
    }

    static std::vector<int> senders_in(const std::string& xml) {
        std::vector<int> out;
        for (auto at = xml.find(">user-"); at != std::string::npos; at = xml.find(">user-", at + 1)) {
            std::size_t end = at + 6;
            while (end < xml.size() && xml[end] >= '0' && xml[end] <= '9') ++end;
            if (end > at + 6 && end < xml.size() && xml[end] == '<') {
                out.push_back(std::stoi(xml.substr(at + 6, end - at - 6)));
            }
        }
        return out;
    }

    std::filesystem::path store_;
    std::size_t deliveries_at_ = 0, binaries_at_ = 0;
    std::uint64_t next_seq_ = 0;
    std::set<std::string> ids_;
};

/// "event reference" of every audit entry, read incrementally over the admin API.
class AuditView {
public:
    explicit AuditView(const TestInstance& inst) : inst_(inst) {}
    bool refresh() {
        for (;;) {
            const auto r = unix_get(inst_.socket(), "/v1/audit/entries?first=" +
                                                        std::to_string(size_) + "&count=10000");
            if (r.status != 200) return false;
            const json page = json::parse(r.body, nullptr, false);
            if (!page.is_object() || !page["entries"].is_array()) return false;
            for (const json& e : page["entries"]) {
                const json entry = json::parse(e.get<std::string>());
                facts.insert(entry.value("event", "") + " " + entry.value("reference", ""));
                ++size_;
            }
            if (page["entries"].empty() || size_ >= page["size"].get<std::uint64_t>()) return true;
        }
    }
    std::set<std::string> facts;
    [[nodiscard]] std::uint64_t size() const { return size_; }

private:
    const TestInstance& inst_;
    std::uint64_t size_ = 0;
};

/// Round checks and the state they carry from round to round.
class Checker {
public:
    Checker(TestInstance& inst, Ledger& ledger)
        : inst_(inst), ledger_(ledger), sim_(inst.scratch() / "lea-store"), audit_(inst) {
        const RunResult r = ctl(inst, {"audit", "key"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        write_text(key_file(), r.out);
    }

    void check(int round) {
        const LedgerData snap = snapshot();
        check_delivered(round, snap);
        check_audit(round, snap);
        check_canaries(round, snap);
        check_archive(round, snap, false);
    }
    SimView& sim() { return sim_; }
    [[nodiscard]] std::uint64_t audit_size() const { return audit_.size(); }
    std::size_t canaries_checked = 0;

    /// Every acknowledged item (and binary) at the LEA within `limit`.
    void check_delivered(int round, const LedgerData& snap, std::chrono::seconds limit = 60s) {
        std::vector<int> missing;
        const bool all = eventually([&] {
            sim_.refresh();
            missing.clear();
            for (int n : snap.items) {
                if (sim_.seen.count(n) == 0) missing.push_back(n);
            }
            // A Model B binary follows its item's DeliveryObject in the bulk lane.
            for (const auto& [n, sha] : snap.item_sha) {
                if (sim_.shas.count(sha) == 0) missing.push_back(n);
            }
            return missing.empty();
        }, limit);
        EXPECT_TRUE(all) << "round " << round << ": " << missing.size()
                         << " acknowledged items or their binaries not delivered, e.g. user-"
                         << missing.front();
        for (const auto& [n, sha] : snap.item_sha) {
            EXPECT_EQ(sim_.shas.count(sha), 1u) << "round " << round << ": binary of item user-"
                                                << n << " not stored once with its SHA-256";
        }
        for (const auto& sha : sim_.shas) {
            EXPECT_EQ(snap.uploaded_sha.count(sha), 1u) << "round " << round
                                                        << ": the LEA stored a binary nobody sent";
        }
        for (const auto& f : sim_.failures) ADD_FAILURE() << "round " << round << ": " << f;
        sim_.failures.clear();
    }

private:
    std::filesystem::path key_file() const { return inst_.scratch() / "audit.vkey"; }

    LedgerData snapshot() const {
        std::lock_guard lock(ledger_.mu);
        return static_cast<const LedgerData&>(ledger_);
    }

    void check_audit(int round, const LedgerData& snap) {
        ASSERT_TRUE(audit_.refresh()) << "round " << round << ": /v1/audit/entries failed";
        for (const auto& ref : snap.created) {
            EXPECT_GE(audit_.facts.count("task.created " + ref), 1u)
                << "round " << round << ": acknowledged creation of " << ref << " not in the log";
        }
        for (const auto& t : snap.closed) {
            EXPECT_GE(audit_.facts.count("task.closed " + t.reference), 1u)
                << "round " << round << ": acknowledged close of " << t.reference << " not in the log";
        }
        // The whole log verifies offline, and extends the checkpoint taken
        // before the previous kill (nothing acknowledged was rolled back).
        const auto bundle = inst_.scratch() / "audit.bundle";
        std::filesystem::remove(bundle);
        RunResult r = ctl(inst_, {"audit", "export", "--out", bundle.string()});
        ASSERT_EQ(r.exit_code, 0) << "round " << round << ": export: " << r.err;
        std::vector<std::string> verify = {"audit", "verify", bundle.string(), "--key",
                                           key_file().string()};
        const auto previous = inst_.scratch() / "previous.checkpoint";
        if (std::filesystem::exists(previous)) {
            verify.insert(verify.end(), {"--since-checkpoint", previous.string()});
        }
        r = ctl(inst_, verify);
        EXPECT_EQ(r.exit_code, 0) << "round " << round << ": the log does not verify: " << r.err << r.out;
        r = ctl(inst_, {"audit", "checkpoint", "--new"});
        ASSERT_EQ(r.exit_code, 0) << "round " << round << ": checkpoint: " << r.err;
        write_text(previous, r.out);
    }

    /// Tasks closed since the last round: no value or salt in any file, in
    /// the API's record, or from reveal.
    void check_canaries(int round, const LedgerData& snap) {
        if (canaries_checked == snap.closed.size()) return;
        const auto files = all_files(inst_.dir());
        for (std::size_t i = canaries_checked; i < snap.closed.size(); ++i) {
            const CanaryTask& t = snap.closed[i];
            const HttpReply rec = unix_get(inst_.socket(), "/v1/task?reference=" + t.reference);
            EXPECT_EQ(rec.status, 200) << rec.body;
            EXPECT_NE(rec.body.find("\"closed\""), std::string::npos) << t.reference << ": " << rec.body;
            const HttpReply reveal =
                unix_request(inst_.socket(), "POST", "/v1/task/reveal?reference=" + t.reference);
            EXPECT_EQ(reveal.status, 409) << "round " << round << ": reveal of closed " << t.reference;
            for (const auto& secret : t.secrets()) {
                for (const auto& form : leak_forms(secret)) {
                    if (form.size() < 8) continue;
                    EXPECT_EQ(rec.body.find(form), std::string::npos) << t.reference << " record";
                    EXPECT_EQ(reveal.body.find(form), std::string::npos) << t.reference << " reveal";
                    for (const auto& [path, bytes] : files) {
                        EXPECT_EQ(bytes.find(form), std::string::npos)
                            << "round " << round << ": " << path << " holds a value or salt of closed "
                            << t.reference;
                    }
                }
            }
        }
        canaries_checked = snap.closed.size();
    }

public:
    /// Objects acknowledged since the last round (or all of them, `all`):
    /// sealed, then exported over the admin API as granted with their data.
    void check_archive(int round, const LedgerData& snap, bool all) {
        const HttpReply seal = unix_request(inst_.socket(), "POST", "/v1/archive/seal");
        EXPECT_EQ(seal.status, 200) << "round " << round << ": seal: " << seal.body;
        std::vector<std::pair<std::string, std::string>> todo;
        for (const auto& [ref, data] : snap.archived) {
            if (all || archive_checked_.count(ref) == 0) todo.emplace_back(ref, data);
        }
        for (std::size_t at = 0; at < todo.size(); at += 64) {
            archive::Request req;
            req.info.service = archive::ServiceType::export_;
            const std::size_t end = std::min(todo.size(), at + 64);
            for (std::size_t i = at; i < end; ++i) {
                archive::DataItem d;
                d.data_reference = todo[i].first;
                req.data.push_back(std::move(d));
            }
            const auto xml = archive::render_request(req);
            ASSERT_TRUE(xml) << xml.error().message();
            const HttpReply r = unix_request(inst_.socket(), "POST", "/v1/archive/ltap", *xml);
            auto parsed = archive::parse_response(r.body);
            ASSERT_TRUE(r.status == 200 && parsed && std::holds_alternative<archive::OperationResponse>(*parsed))
                << "round " << round << ": " << r.status << " " << r.body.substr(0, 2000);
            const auto& op = std::get<archive::OperationResponse>(*parsed);
            EXPECT_EQ(op.status, archive::StatusInfo::granted)
                << "round " << round << ": an acknowledged object is not granted after a seal: "
                << r.body.substr(0, 2000);
            ASSERT_EQ(op.data.size(), end - at) << "round " << round;
            for (std::size_t i = at; i < end; ++i) {
                const auto& d = op.data[i - at];
                EXPECT_EQ(d.data_reference, todo[i].first) << "round " << round;
                EXPECT_EQ(d.raw_data, crypto::Bytes(todo[i].second.begin(), todo[i].second.end()))
                    << "round " << round << ": " << todo[i].first;
                archive_checked_.insert(todo[i].first);
            }
        }
    }

private:

    TestInstance& inst_;
    Ledger& ledger_;
    std::set<std::string> archive_checked_;
    SimView sim_;
    AuditView audit_;
};

/// An endpoint for the demo LEA client, so it may use the archive on
/// listeners.lea (the simulator's endpoint names no client certificate).
void add_archive_endpoint(TestInstance& inst) {
    TlsConnection c(inst.lea_port(), inst.lea_client());
    const std::string subject = json::parse(c.request("GET", "/v1/whoami").body)["subject"];
    const RunResult r = ctl(inst, {"endpoint", "add", "lea-archive", "--url", "https://127.0.0.1:9/hi1",
                                   "--ca", inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                                   "https://127.0.0.1:9/b/{id}/", "--client-subject", subject});
    ASSERT_EQ(r.exit_code, 0) << r.err;
}

void expect_clean_log(const std::string& log, int round) {
    for (const char* bad : {"panic", "terminate called", "Sanitizer", "runtime error",
                            "Segmentation", "core dumped", "Assertion"}) {
        EXPECT_EQ(log.find(bad), std::string::npos) << "run " << round << "'s log holds \"" << bad
                                                    << "\":\n" << log.substr(0, 4000);
    }
}

std::string tail(const std::string& log, std::size_t bytes = 6000) {
    return log.size() <= bytes ? log : log.substr(log.size() - bytes);
}

TEST(Kill9Test, RandomKillsDuringAMixedWorkloadLoseNothingAcknowledged) {
    const std::uint64_t seed = env_number("ENCLAVE_KILL_SEED", kDefaultSeed);
    const int rounds = static_cast<int>(env_number("ENCLAVE_KILL_ROUNDS", kDefaultRounds));
    std::printf("[ seed     ] ENCLAVE_KILL_SEED=%" PRIu64 " ENCLAVE_KILL_ROUNDS=%d\n", seed, rounds);
    RecordProperty("seed", std::to_string(seed));
    SCOPED_TRACE("replay with ENCLAVE_KILL_SEED=" + std::to_string(seed));
    const auto started = Clock::now();

    TestInstance inst;
    // Short backoff: a delivery cut by a kill goes again soon after the restart.
    inst.config().delivery.retry_initial = std::chrono::milliseconds(200);
    inst.config().delivery.retry_max = std::chrono::milliseconds(2000);
    inst.save_config();
    auto daemon = inst.start_ready();
    Simulator sim(inst);
    add_endpoint(inst, sim.port());
    add_archive_endpoint(inst);
    create_task(inst, kItemRef);
    if (HasFatalFailure()) return;

    Workload work(inst, kItemRef, seed);
    Checker checker(inst, work.ledger());
    Rng rng{seed};
    bool logs_shown = false;
    work.start();
    for (int round = 1; round <= rounds && !HasFatalFailure(); ++round) {
        const auto delay = std::chrono::milliseconds(rng.between(200, 3000));
        std::this_thread::sleep_for(delay);
        daemon->signal(SIGKILL);
        EXPECT_EQ(daemon->wait_exit(20s), 128 + SIGKILL) << "round " << round << ": it had died by itself";
        const std::string killed_log = inst.log();
        expect_clean_log(killed_log, round);
        const auto down = Clock::now();
        daemon = inst.start();
        ASSERT_TRUE(inst.wait_ready(*daemon, 90s)) << "round " << round << " not ready:\n" << inst.log();
        const double restart_s = std::chrono::duration<double>(Clock::now() - down).count();
        checker.check(round);
        if (HasFailure() && !logs_shown) {
            logs_shown = true;
            std::printf("[ round %2d ] FAILED; the killed run's log (tail):\n%s\n", round,
                        tail(killed_log).c_str());
        }
        std::size_t items = 0;
        {
            std::lock_guard lock(work.ledger().mu);
            items = work.ledger().items.size();
        }
        std::printf("[ round %2d ] killed after %4lld ms, ready again in %.2f s; %zu items acknowledged "
                    "and delivered, %zu binaries at the LEA, %" PRIu64 " audit entries, %zu tasks "
                    "closed and checked; %.0f s so far\n",
                    round, static_cast<long long>(delay.count()), restart_s, items,
                    checker.sim().shas.size(), checker.audit_size(), checker.canaries_checked,
                    std::chrono::duration<double>(Clock::now() - started).count());
        std::fflush(stdout);
    }
    work.stop();
    Ledger& l = work.ledger();
    for (const auto& f : l.failures) ADD_FAILURE() << "client: " << f;

    // The end: everything acknowledged delivered once, and nothing else.
    checker.check(rounds + 1);
    checker.check_delivered(rounds + 1, l);
    checker.check_archive(rounds + 1, l, true);
    EXPECT_EQ(checker.sim().seen.size(), l.items.size()) << "items at the LEA nobody got acknowledged";
    std::printf("[ kill -9  ] seed %" PRIu64 ": %d rounds, %zu items (%zu with a binary), %zu tasks "
                "created, %zu closed, %zu objects archived; %d requests resent, %d duplicate answers, %d re-uploads, %d task "
                "operations confirmed by 409; %.1f s\n",
                seed, rounds, l.items.size(), l.item_sha.size(), l.created.size(), l.closed.size(),
                l.archived.size(), l.resent, l.duplicates, l.reuploads, l.confirmed,
                std::chrono::duration<double>(Clock::now() - started).count());
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait_exit(30s), 0) << inst.log();
    expect_clean_log(inst.log(), rounds + 1);
}

}  // namespace
}  // namespace enclave::daemon_test::kill9
