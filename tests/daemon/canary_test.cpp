// SPDX-License-Identifier: Apache-2.0
// The canary test (issue #7): unique random values planted in every
// sensitive input of a full lifecycle through the real enclaved and
// enclave-lea-sim (task selector values and salts, handover item payloads, a
// binary's content, an endpoint's PSK imported from stdin, the token PIN);
// afterwards none of them, in plain, lower/upper hex or base64 (standard and
// URL-safe, at every byte alignment), is in the daemon's log, the monitoring
// events (DIR/log/events.jsonl and rotations, DIR/state/events/*), GET
// /metrics, any error answer or error message, or any file under DIR
// (encrypted stores included: they must hold ciphertext only).
#include <gtest/gtest.h>

#include <csignal>
#include <random>

#include "crypto/encoding.hpp"
#include "delivery_test_util.hpp"
#include "harness/metrics_reader.hpp"
#include "support/loopback.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// A planted value: a name for messages and the bytes searched for.
struct Canary {
    std::string name;
    std::string bytes;
};

/// `n` random letters outside [a-fA-F], so the hex and base64 forms of a
/// canary differ from the canary itself.
std::string random_letters(std::size_t n) {
    static const std::string alphabet = "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ";
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rd() % alphabet.size()];
    return s;
}

std::string random_digits(std::size_t n) {
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rd() % 10);
    return s;
}

std::string random_bytes(std::size_t n) {
    std::random_device rd;
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(rd() & 0xff);
    return s;
}

crypto::ByteView view(const std::string& s) {
    return crypto::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

std::string hex_of(const std::string& s) { return crypto::hex_encode(view(s)); }

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

/// The base64 characters that depend on `s` alone when `s` starts at byte
/// offset k (0..2) of a longer encoded stream: the groups mixing `s` with
/// its neighbours are cut off. Standard and URL-safe alphabets.
std::vector<std::string> base64_cores(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t k = 0; k < 3; ++k) {
        const std::string enc = crypto::base64_encode(view(std::string(k, '\0') + s));
        const std::size_t start = k == 0 ? 0 : 4;
        const std::size_t end = 4 * ((k + s.size()) / 3);
        if (end <= start + 8) continue;
        std::string core = enc.substr(start, end - start);
        out.push_back(core);
        for (auto& c : core) c = c == '+' ? '-' : c == '/' ? '_' : c;
        out.push_back(core);
    }
    out.push_back(crypto::base64_encode(view(s)));  // with its padding, as sent alone
    return out;
}

/// Every form a canary could leak in.
std::vector<std::string> forms(const Canary& c) {
    std::vector<std::string> out = {c.bytes, hex_of(c.bytes), upper(hex_of(c.bytes))};
    for (auto& b : base64_cores(c.bytes)) out.push_back(std::move(b));
    return out;
}

/// "" when `text` holds no form of any canary; else what was found.
std::string leaks(const std::string& text, const std::vector<Canary>& canaries) {
    std::string found;
    for (const Canary& c : canaries) {
        for (const std::string& f : forms(c)) {
            if (text.find(f) != std::string::npos) found += c.name + " as \"" + f + "\"; ";
        }
    }
    return found;
}

std::string trimmed(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

/// A field whose salt is `salt` (random bytes), as hex in the intake.
FieldSpec field(std::string format, std::string value, const std::string& salt, std::string alg = "sha256") {
    return FieldSpec{std::move(format), std::move(value), hex_of(salt), std::move(alg)};
}

/// Everything the lifecycle plants (fresh random values per run).
struct Plant {
    std::vector<std::string> salts = {random_bytes(16), random_bytes(16), random_bytes(24)};
    std::vector<FieldSpec> fields = {
        field("InternationalE164", "4479" + random_digits(11), salts[0]),
        field("EmailAddress", "canary" + random_letters(24) + "@example.org", salts[1], "hmac-sha256"),
        field("Username", "CANARYUSER" + random_letters(24), salts[2])};
    std::string sender = "CANARYSENDER" + random_letters(24);
    std::string receiver = "CANARYRECEIVER" + random_letters(24);
    std::string binary_marker = "CANARYBINARY" + random_letters(24);
    std::string psk_bytes = random_bytes(32);
    std::string psk_hex = hex_of(psk_bytes);
    /// Planted in malformed requests only: their answers must not echo it.
    std::string bad_input = "CANARYBADINPUT" + random_letters(24);
    std::string wrong_value = "CANARYWRONGVALUE" + random_letters(24);

    [[nodiscard]] std::vector<Canary> canaries(const std::string& pin, const std::string& so_pin) const {
        std::vector<Canary> out;
        for (std::size_t i = 0; i < fields.size(); ++i) {
            const std::string n = "field " + std::to_string(i) + " (" + fields[i].format_name + ")";
            out.push_back({n + " value", fields[i].value});
            out.push_back({n + " salt as hex text", fields[i].salt_hex});
            out.push_back({n + " salt bytes", salts[i]});
        }
        out.push_back({"item sender identifier", sender});
        out.push_back({"item receiver identifier", receiver});
        out.push_back({"binary content", binary_marker});
        out.push_back({"PSK as hex text", psk_hex});
        out.push_back({"PSK bytes", psk_bytes});
        out.push_back({"malformed-request input", bad_input});
        out.push_back({"wrong re-verification value", wrong_value});
        out.push_back({"token user PIN", pin});
        if (!so_pin.empty()) out.push_back({"token SO PIN", so_pin});
        return out;
    }

    /// A binary holding the marker a few times, between random bytes.
    [[nodiscard]] std::string binary() const {
        std::string s;
        for (int i = 0; i < 4; ++i) s += random_bytes(1000 + i) + binary_marker;
        return s;
    }
};

/// Outputs collected during the lifecycle, each checked at the end.
using Outputs = std::vector<std::pair<std::string, std::string>>;

void add_psk_endpoint(const TestInstance& inst, std::uint16_t port) {
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    RunResult r = ctl(inst, {"endpoint", "add", "lea-sim", "--auth", "psk", "--url", base + "/hi1/delivery",
                             "--ca", inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                             base + "/binaryData/{id}/", "--receiver-country", "GB"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

/// Malformed intakes and requests carrying canaries; every answer is kept.
void error_paths(const TestInstance& inst, const Plant& p, Outputs& out) {
    const auto ingest = [&](const std::string& body) {
        TlsConnection c(inst.ingest_port(), inst.collector_client());  // a refusal may close it
        EXPECT_TRUE(c.ok()) << c.error();
        return post_json(c, "/ingest/v1/tasks/LIID-CANARY/items", body);
    };
    const auto keep = [&](const std::string& what, const HttpReply& r) {
        EXPECT_GE(r.status, 400) << what << ": " << r.body;
        out.emplace_back(what, r.body);
    };
    // A task intake whose hash does not match its (canary) value and salt.
    json bad = task_json("LIID-CANARY-BAD", {p.fields[2]}, 24h, "lea-sim");
    bad["fields"][0]["value"] = p.fields[2].value + p.bad_input;
    keep("task intake with a wrong hash", unix_request(inst.socket(), "POST", "/v1/tasks", bad.dump()));
    // A value its formatName refuses.
    bad = task_json("LIID-CANARY-BAD", {p.fields[1]}, 24h, "lea-sim");
    bad["fields"][0]["value"] = p.fields[1].value + " " + p.bad_input;
    keep("task intake with an invalid EmailAddress",
         unix_request(inst.socket(), "POST", "/v1/tasks", bad.dump()));
    bad = task_json("LIID-CANARY-BAD", {p.fields[2]}, 24h, "lea-sim");
    bad["fields"][0]["formatName"] = p.bad_input;
    keep("task intake with an unknown formatName",
         unix_request(inst.socket(), "POST", "/v1/tasks", bad.dump()));
    bad = task_json("LIID-CANARY-BAD", {p.fields[0]}, 24h, "lea-sim");
    bad["fields"][0]["salt"] = p.bad_input;
    keep("task intake with a non-hex salt", unix_request(inst.socket(), "POST", "/v1/tasks", bad.dump()));
    const std::string cut = task_json("LIID-CANARY-BAD", {p.fields[1]}, 24h, "lea-sim").dump();
    keep("truncated task intake",
         unix_request(inst.socket(), "POST", "/v1/tasks", cut.substr(0, cut.find(p.fields[1].value) + 20)));
    // Handover items with a canary where it does not belong.
    json it = item(90);
    it["timestamp"] = p.bad_input;
    it["sender"]["identifiers"] = {p.sender};
    keep("item with a bad timestamp", ingest(it.dump()));
    keep("item that is not JSON", ingest("{\"sender\":\"" + p.bad_input));
    // A malformed re-verification on the LEA listener.
    TlsConnection lea(inst.lea_port(), inst.lea_client());
    EXPECT_TRUE(lea.ok()) << lea.error();
    keep("LEA re-verification that is not JSON",
         lea.request("POST", "/v1/reverify?reference=LIID-CANARY&field=0", "{\"value\":\"" + p.bad_input));
    // A PSK that is not hex, from stdin.
    const RunResult r = ctl(inst, {"psk", "import", "--endpoint", "lea-sim", "--identity", "enclave-bad"},
                            p.bad_input + "\n");
    EXPECT_NE(r.exit_code, 0) << r.out;
    out.emplace_back("enclavectl psk import of a bad key", r.out + r.err);
}

/// Creates the task, ingests a binary and an item, waits for their delivery.
void deliver(const TestInstance& inst, TlsConnection& c, const Simulator& sim, const Plant& p) {
    const auto created = unix_request(inst.socket(), "POST", "/v1/tasks",
                                      task_json("LIID-CANARY", p.fields, 24h, "lea-sim").dump());
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string binary = p.binary();
    const json up = upload(c, binary, "application/octet-stream");
    ASSERT_TRUE(up.contains("id")) << up.dump();
    json it = item(1, {up["id"].get<std::string>()});
    it["sender"]["identifiers"] = {p.sender};
    it["receivers"] = json::array({{{"identifiers", {p.receiver}}}});
    const HttpReply r = post_json(c, "/ingest/v1/tasks/LIID-CANARY/items", it.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    ASSERT_TRUE(eventually([&] { return items_delivered(sim) == 1; }, 120s)) << inst.log();
    ASSERT_TRUE(eventually([&] { return sim.binaries_sha256().size() == 1; }, 120s)) << inst.log();
    // The binary with its canaries reached the LEA intact.
    EXPECT_EQ(sim.binaries_sha256().begin()->second, sha256_hex(binary));
}

/// Reveal (its answer legitimately holds the values: checked for them, not
/// against them), close, and re-verification by the auditor.
void reveal_close_reverify(const TestInstance& inst, const Plant& p, Outputs& out) {
    const HttpReply reveal = unix_request(inst.socket(), "POST", "/v1/task/reveal?reference=LIID-CANARY");
    ASSERT_EQ(reveal.status, 200) << reveal.body;
    for (const FieldSpec& f : p.fields) EXPECT_NE(reveal.body.find(f.value), std::string::npos);
    ASSERT_EQ(unix_request(inst.socket(), "POST", "/v1/task/close?reference=LIID-CANARY").status, 200);
    ASSERT_TRUE(eventually([&] {
        return unix_get(inst.socket(), "/v1/task?reference=LIID-CANARY").body.find("purged") != std::string::npos;
    }));
    out.emplace_back("task record after close", unix_get(inst.socket(), "/v1/task?reference=LIID-CANARY").body);
    const FieldSpec& f = p.fields[2];
    RunResult r = ctl(inst, {"audit", "reverify", "LIID-CANARY", "--field", "2", "--json"},
                      json{{"value", f.value}, {"salt", f.salt_hex}}.dump());
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    const json match = json::parse(r.out, nullptr, false);
    EXPECT_EQ(match.value("result", ""), "match") << r.out;
    out.emplace_back("enclavectl audit reverify match", r.out + r.err);
    // The review legitimately shows the value to the auditor; discard it.
    if (match.contains("review_id")) {
        EXPECT_EQ(ctl(inst, {"audit", "review", match["review_id"].get<std::string>(), "--discard"}).exit_code, 0);
    }
    r = ctl(inst, {"audit", "reverify", "LIID-CANARY", "--field", "2"},
            json{{"value", p.wrong_value}, {"salt", f.salt_hex}}.dump());
    EXPECT_EQ(r.exit_code, 1) << r.err << r.out;
    out.emplace_back("enclavectl audit reverify mismatch", r.out + r.err);
    const HttpReply again = unix_request(inst.socket(), "POST", "/v1/task/reveal?reference=LIID-CANARY");
    EXPECT_EQ(again.status, 409) << again.body;
    out.emplace_back("reveal of the closed task", again.body);
}

/// Every file under DIR but the PIN files, read whole. Excluded:
/// DIR/token.pin and DIR/token.so-pin hold the PINs by design (provisioning.md),
/// so they are the only files allowed to contain a canary (their own).
std::vector<std::pair<std::filesystem::path, std::string>> data_files(const TestInstance& inst) {
    auto files = all_files(inst.dir());
    std::erase_if(files, [&](const auto& f) {
        return f.first == inst.dir() / "token.pin" || f.first == inst.dir() / "token.so-pin";
    });
    return files;
}

TEST(CanaryTest, NoPlantedValueLeavesTheEncryptedStoresInAnyForm) {
    TestInstance inst;
    const std::string pin = trimmed(read_file(inst.dir() / "token.pin"));
    ASSERT_GE(pin.size(), 16u) << "the provisioned PIN file is empty";
    const auto so_pin_file = inst.dir() / "token.so-pin";
    const std::string so_pin = std::filesystem::exists(so_pin_file) ? trimmed(read_file(so_pin_file)) : "";
    const Plant p;
    const std::vector<Canary> canaries = p.canaries(pin, so_pin);
    // The scanner finds what it looks for (every form, at any alignment).
    for (const Canary& c : canaries) {
        EXPECT_FALSE(leaks("x" + crypto::base64_encode(view("yz" + c.bytes + "w")), {c}).empty()) << c.name;
        EXPECT_FALSE(leaks(upper(hex_of(c.bytes)), {c}).empty()) << c.name;
    }

    auto daemon = inst.start_ready();
    const std::uint16_t port = testing::free_loopback_port();
    add_psk_endpoint(inst, port);
    // The PSK from stdin (ctl() writes it to a scratch file outside DIR and
    // removes it); the simulator's PSK file is in scratch, outside DIR too.
    const RunResult imp =
        ctl(inst, {"psk", "import", "--endpoint", "lea-sim", "--identity", "enclave-1"}, p.psk_hex + "\n");
    ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
    Outputs out{{"enclavectl psk import", imp.out + imp.err}};
    const auto sim_psks = inst.scratch() / "sim-psks";
    write_text(sim_psks, "enclave-1 " + p.psk_hex + "\n");
    std::filesystem::permissions(sim_psks, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    Simulator sim(inst, port, {"--psk-file", sim_psks.string()});
    TlsConnection c(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();

    ASSERT_NO_FATAL_FAILURE(deliver(inst, c, sim, p));
    ASSERT_NO_FATAL_FAILURE(error_paths(inst, p, out));
    ASSERT_NO_FATAL_FAILURE(reveal_close_reverify(inst, p, out));
    const auto metrics = fetch_metrics(inst.socket());
    ASSERT_TRUE(metrics.has_value());
    out.emplace_back("GET /metrics", *metrics);
    sim.stop();
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait_exit(60s), 0) << inst.log();

    out.emplace_back("the daemon's log", inst.log());
    for (const auto& [what, text] : out) EXPECT_EQ(leaks(text, canaries), "") << what << ":\n" << text;
    // Every file under DIR: events (log/events.jsonl and its rotations,
    // state/events/*), the audit log, SQLCipher stores, blobs, the token.
    const auto files = data_files(inst);
    bool events = false, queue = false;
    for (const auto& [path, bytes] : files) {
        if (path.filename() == "events.jsonl" && !bytes.empty()) events = true;
        if (path.parent_path().filename() == "events" && !bytes.empty()) queue = true;
        EXPECT_EQ(leaks(bytes, canaries), "") << path;
    }
    EXPECT_TRUE(events) << "no monitoring events were written to check";
    EXPECT_TRUE(queue) << "no event queue (state/events/*) to check";
    EXPECT_GT(files.size(), 10u);
}

}  // namespace
}  // namespace enclave::daemon_test
