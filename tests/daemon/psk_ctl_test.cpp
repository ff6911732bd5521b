// SPDX-License-Identifier: Apache-2.0
// TLS PSKs of LEA endpoints through the real enclaved and enclavectl:
// `psk new|import|list|rotate|revoke`, the admin API's strict bodies, the
// audit records, roles, and that no key value reaches the daemon's log, the
// audit log, `psk list` or any file of the instance.
#include <gtest/gtest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "audit_test_util.hpp"
#include "crypto/encoding.hpp"
#include "harness/http_client.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

/// First 16 hex digits of SHA-256 of the key given as hex.
std::string fingerprint_of_hex(const std::string& hex) {
    auto bytes = crypto::hex_decode(hex);
    if (!bytes) return "bad hex";
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(bytes->data(), bytes->size(), md);
    return crypto::hex_encode(crypto::ByteView(md, 8));
}

bool is_lower_hex(const std::string& s, std::size_t n) {
    if (s.size() != n) return false;
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

void add_endpoint(const TestInstance& inst, const std::string& name) {
    RunResult r = ctl(inst, {"endpoint", "add", name, "--url", "https://127.0.0.1:7443/hi1", "--ca",
                             inst.pki("demo-ca.pem").string(), "--binary-url-scheme",
                             "https://127.0.0.1:7443/binaryData/{id}/"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
}

json psk_list(const TestInstance& inst) {
    RunResult r = ctl(inst, {"psk", "list", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out, nullptr, false);
    return j.is_object() && j.contains("psks") ? j["psks"] : json::array();
}

json find_psk(const json& list, const std::string& identity) {
    for (const json& p : list) {
        if (p.value("identity", "") == identity) return p;
    }
    return json{};
}

/// Every key value leaks nowhere in `text`, in any of its forms.
void expect_no_key(const std::string& where, const std::string& text,
                   const std::vector<std::string>& keys_hex) {
    for (const auto& hex : keys_hex) {
        auto bytes = crypto::hex_decode(hex);
        ASSERT_TRUE(bytes);
        for (const auto& form : leak_forms(std::string(bytes->begin(), bytes->end()))) {
            EXPECT_EQ(text.find(form), std::string::npos) << where << " holds a key";
        }
    }
}

TEST(PskCtlTest, OfficersManagePsksAndNoKeyLeaks) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-north");
    std::vector<std::string> keys;

    // new: printed once on stdout, a warning on stderr.
    RunResult made = ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "north-1",
                                "--expires-days", "30"});
    ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
    const std::string k1 = made.out.substr(0, made.out.find('\n'));
    ASSERT_TRUE(is_lower_hex(k1, 64)) << made.out;
    keys.push_back(k1);
    EXPECT_EQ(made.out.find(k1, 1), std::string::npos) << "shown once";
    EXPECT_NE(made.err.find("shown once"), std::string::npos) << made.err;
    EXPECT_NE(made.out.find(fingerprint_of_hex(k1)), std::string::npos) << made.out;

    // new --json: the key in the document, once.
    RunResult mj = ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "north-json",
                              "--json"});
    ASSERT_EQ(mj.exit_code, 0) << mj.err;
    const json mjo = json::parse(mj.out);
    const std::string kj = mjo.at("key_hex");
    ASSERT_TRUE(is_lower_hex(kj, 64));
    keys.push_back(kj);
    EXPECT_EQ(mjo.at("psk").at("fingerprint"), fingerprint_of_hex(kj));
    EXPECT_EQ(mjo.at("psk").at("expires"), 0);

    // new --out: a new 0600 file, nothing on stdout; an existing file is refused.
    const auto out_file = inst.scratch() / "north-2.key";
    RunResult mo = ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "north-file",
                              "--out", out_file.string()});
    ASSERT_EQ(mo.exit_code, 0) << mo.err;
    struct stat st {};
    ASSERT_EQ(::lstat(out_file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    const std::string file_text = read_file(out_file);
    ASSERT_EQ(file_text.size(), 65u);
    const std::string kf = file_text.substr(0, 64);
    ASSERT_TRUE(is_lower_hex(kf, 64));
    keys.push_back(kf);
    expect_no_key("new --out stdout/stderr", mo.out + mo.err, {kf});
    EXPECT_NE(mo.out.find(fingerprint_of_hex(kf)), std::string::npos) << mo.out;
    RunResult again = ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity",
                                 "north-refused", "--out", out_file.string()});
    EXPECT_EQ(again.exit_code, 2) << again.out << again.err;
    EXPECT_EQ(read_file(out_file), file_text) << "the existing file is untouched";
    EXPECT_TRUE(find_psk(psk_list(inst), "north-refused").is_null()) << "no key was made";

    // Unknown endpoint, reused identity.
    RunResult unknown = ctl(inst, {"psk", "new", "--endpoint", "lea-none", "--identity", "x-1"});
    EXPECT_EQ(unknown.exit_code, 2);
    EXPECT_NE(unknown.err.find("no endpoint named lea-none"), std::string::npos) << unknown.err;
    RunResult reused = ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "north-1"});
    EXPECT_EQ(reused.exit_code, 2);
    EXPECT_NE(reused.err.find("already"), std::string::npos) << reused.err;

    // import: from stdin, 48 bytes in upper case hex with surrounding whitespace.
    std::string ki;
    for (int i = 0; i < 48; ++i) ki += crypto::hex_encode(crypto::ByteView(
                                           std::vector<std::uint8_t>{static_cast<std::uint8_t>(0xa0 + i)}));
    keys.push_back(ki);
    std::string ki_upper = ki;
    for (char& c : ki_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    RunResult imp = ctl(inst, {"psk", "import", "--endpoint", "lea-north", "--identity",
                               "north-imported", "--json"},
                        "  \n" + ki_upper + "\n\n");
    ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
    EXPECT_EQ(json::parse(imp.out).at("psk").at("fingerprint"), fingerprint_of_hex(ki));
    EXPECT_FALSE(json::parse(imp.out).contains("key_hex"));
    expect_no_key("import output", imp.out + imp.err, {ki});
    for (const std::string& bad : {std::string(63, 'a'), std::string(62, 'a'),
                                   std::string(130, 'a'), std::string(64, 'g'),
                                   std::string(32, 'a') + " " + std::string(32, 'a')}) {
        RunResult r = ctl(inst, {"psk", "import", "--endpoint", "lea-north", "--identity",
                                 "bad-import"}, bad);
        EXPECT_EQ(r.exit_code, 1) << bad.size() << r.err;
        EXPECT_EQ(r.err.find(bad), std::string::npos) << "the input is not echoed";
    }
    RunResult empty = ctl(inst, {"psk", "import", "--endpoint", "lea-north", "--identity", "bad-import"});
    EXPECT_EQ(empty.exit_code, 1) << empty.err;
    EXPECT_TRUE(find_psk(psk_list(inst), "bad-import").is_null());

    // rotate: the endpoint's others retire after the overlap.
    const auto rot_file = inst.scratch() / "north-2.key.rotated";
    RunResult rot = ctl(inst, {"psk", "rotate", "--endpoint", "lea-north", "--identity", "north-2",
                               "--overlap-hours", "2", "--out", rot_file.string(), "--json"});
    ASSERT_EQ(rot.exit_code, 0) << rot.out << rot.err;
    const json rj = json::parse(rot.out);
    EXPECT_FALSE(rj.contains("key_hex")) << "written to --out, not printed";
    keys.push_back(read_file(rot_file).substr(0, 64));
    json list = psk_list(inst);
    ASSERT_EQ(list.size(), 5u) << list.dump();
    const std::int64_t rotated_at = rj.at("psk").at("created");
    for (const char* old : {"north-1", "north-json", "north-file", "north-imported"}) {
        const json p = find_psk(list, old);
        EXPECT_EQ(p.at("retires"), rotated_at + 7200) << old;
        EXPECT_EQ(p.at("state"), "retiring") << old;
    }
    EXPECT_EQ(find_psk(list, "north-2").at("state"), "active");

    // revoke: idempotent; unknown identity is 404.
    RunResult rev = ctl(inst, {"psk", "revoke", "--identity", "north-1"});
    ASSERT_EQ(rev.exit_code, 0) << rev.err;
    EXPECT_EQ(ctl(inst, {"psk", "revoke", "--identity", "north-1"}).exit_code, 0);
    EXPECT_EQ(ctl(inst, {"psk", "revoke", "--identity", "never"}).exit_code, 2);
    EXPECT_EQ(find_psk(psk_list(inst), "north-1").at("state"), "revoked");
    EXPECT_EQ(ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "north-1"}).exit_code,
              2)
        << "a revoked identity is never reused";

    // list, human and JSON: identities and states, never a key.
    RunResult human = ctl(inst, {"psk", "list"});
    ASSERT_EQ(human.exit_code, 0);
    EXPECT_NE(human.out.find("north-imported"), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("revoked"), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("retiring"), std::string::npos) << human.out;
    RunResult as_json = ctl(inst, {"psk", "list", "--json"});
    expect_no_key("psk list", human.out + human.err + as_json.out, keys);

    // The audit log: each change, with fingerprints, never a key.
    const std::string raw_entries =
        unix_get(inst.socket(), "/v1/audit/entries?first=0").body;
    const json entries = json::parse(raw_entries);
    int created = 0, rotated = 0, revoked = 0;
    for (const json& e : entries["entries"]) {
        const json entry = json::parse(e.get<std::string>());
        const std::string ev = entry["event"];
        if (ev.rfind("psk.", 0) == 0) {
            EXPECT_EQ(entry.at("endpoint"), "lea-north");
            EXPECT_EQ(entry.at("fingerprint").get<std::string>().size(), 16u);
            EXPECT_TRUE(entry.contains("actor"));
        }
        created += ev == "psk.created";
        rotated += ev == "psk.rotated";
        revoked += ev == "psk.revoked";
    }
    EXPECT_EQ(created, 4);
    EXPECT_EQ(rotated, 1);
    EXPECT_EQ(revoked, 1) << "the idempotent second revoke is not recorded again";
    expect_no_key("audit log", raw_entries, keys);

    daemon.reset();  // stop, so every file is complete
    expect_no_key("daemon log", inst.log(), keys);
    for (const auto& [path, bytes] : all_files(inst.dir())) expect_no_key(path.string(), bytes, keys);
}

TEST(PskCtlTest, AdminApiRefusesMalformedAndHostileBodies) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-north");
    const std::string k32(64, 'a');
    const std::vector<std::pair<std::string, std::string>> bad{
        {"/v1/psks", "not json"},
        {"/v1/psks", "[]"},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"extra", 1}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", 7}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "has space"}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "ctl\x01"}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", std::string(129, 'i')}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"expires_days", -1}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"expires_days", 1.5}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"key_hex", std::string(62, 'a')}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"key_hex", std::string(130, 'a')}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"key_hex", "zz" + k32}}.dump()},
        {"/v1/psks", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"overlap_hours", 1}}.dump()},
        {"/v1/psk/rotate", json{{"endpoint", "lea-north"}, {"identity", "a"}, {"overlap_hours", 721}}.dump()},
        {"/v1/psk/revoke", json{{"identity", "a"}, {"why", "x"}}.dump()},
        {"/v1/psk/revoke", json{{"identity", "a b"}}.dump()},
    };
    for (const auto& [target, body] : bad) {
        const auto r = unix_request(inst.socket(), "POST", target, body);
        EXPECT_EQ(r.status, 400) << target << " " << body << " -> " << r.body;
        EXPECT_EQ(r.body.find(k32), std::string::npos);
    }
    const auto big = unix_request(inst.socket(), "POST", "/v1/psks",
                                  json{{"endpoint", "lea-north"}, {"identity", std::string(5000, 'a')}}.dump());
    EXPECT_EQ(big.status, 413) << big.body;
    const auto nobody_ep = unix_request(inst.socket(), "POST", "/v1/psks",
                                        json{{"endpoint", "lea-none"}, {"identity", "a"}}.dump());
    EXPECT_EQ(nobody_ep.status, 404) << nobody_ep.body;
    // An import answers without the key.
    const auto imp = unix_request(inst.socket(), "POST", "/v1/psks",
                                  json{{"endpoint", "lea-north"}, {"identity", "imp"}, {"key_hex", k32}}.dump());
    ASSERT_EQ(imp.status, 201) << imp.body;
    EXPECT_EQ(imp.body.find(k32), std::string::npos);
    EXPECT_EQ(json::parse(imp.body).at("psk").at("fingerprint"), fingerprint_of_hex(k32));
    EXPECT_EQ(psk_list(inst).size(), 1u) << "nothing but the import was stored";
    EXPECT_EQ(inst.log().find(k32), std::string::npos);
}

TEST(PskCtlTest, OperatorsAndAuditorsMayListButNotChangePsks) {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to uid nobody and must run as root";
    const passwd* pw = ::getpwnam("nobody");
    ASSERT_NE(pw, nullptr) << "no user 'nobody'";
    const group* gr = ::getgrgid(pw->pw_gid);
    ASSERT_NE(gr, nullptr);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    TestInstance inst;
    // Let nobody reach DIR/run/admin.sock and read the config.
    ASSERT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    ASSERT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    inst.config().admin.socket_group = gr->gr_name;
    inst.config().admin.roles.operator_ = gr->gr_name;
    inst.config().admin.roles.auditor = gr->gr_name;
    inst.save_config();
    auto daemon = inst.start_ready();
    add_endpoint(inst, "lea-north");
    ASSERT_EQ(ctl(inst, {"psk", "new", "--endpoint", "lea-north", "--identity", "so-made"}).exit_code, 0);

    auto as_nobody = [&](std::vector<std::string> args, const std::string& in = "") {
        std::vector<std::string> argv{"/usr/bin/setpriv", "--reuid=" + std::to_string(uid),
                                      "--regid=" + std::to_string(gid), "--clear-groups",
                                      enclavectl_path(), "--data-dir", inst.dir().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::filesystem::path stdin_file;
        if (!in.empty()) {
            stdin_file = inst.scratch() / "nobody-stdin";
            write_text(stdin_file, in);
            ::chmod(stdin_file.c_str(), 0644);
        }
        return run_program(argv, {}, std::chrono::seconds(60), stdin_file);
    };
    RunResult list = as_nobody({"psk", "list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.out << list.err;
    EXPECT_EQ(json::parse(list.out).at("psks").size(), 1u);
    for (const std::vector<std::string>& change :
         {std::vector<std::string>{"psk", "new", "--endpoint", "lea-north", "--identity", "op-1"},
          std::vector<std::string>{"psk", "rotate", "--endpoint", "lea-north", "--identity", "op-2"},
          std::vector<std::string>{"psk", "revoke", "--identity", "so-made"}}) {
        RunResult r = as_nobody(change);
        EXPECT_EQ(r.exit_code, 2) << change[1] << r.out << r.err;
        EXPECT_NE(r.err.find("403"), std::string::npos) << r.err;
    }
    RunResult imp = as_nobody({"psk", "import", "--endpoint", "lea-north", "--identity", "op-3"},
                              std::string(64, 'b'));
    EXPECT_EQ(imp.exit_code, 2) << imp.err;
    EXPECT_NE(imp.err.find("403"), std::string::npos) << imp.err;
    const json after = psk_list(inst);
    ASSERT_EQ(after.size(), 1u) << after.dump();
    EXPECT_EQ(after[0].at("state"), "active");
}

}  // namespace
}  // namespace enclave::daemon_test
