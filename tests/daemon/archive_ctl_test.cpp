// SPDX-License-Identifier: Apache-2.0
// `enclavectl archive export` and `archive verify` offline (issue #8): an
// object archived and sealed through the real daemon, exported by the real
// enclavectl with the daemon stopped (it logs into the SoftHSM2 token
// itself), then verified with no daemon and no token; tampered data, a
// running daemon, unknown, pending and malformed references, and an --out
// that is a file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <iterator>

#include "archive/ltap.hpp"
#include "archive/object_id.hpp"
#include "audit_test_util.hpp"
#include "crypto/digest.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace enclave::archive;

std::string file_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
}

/// Archives `data` as the security officer over the admin API; the reference.
std::string archive_over_admin(const TestInstance& inst, const std::string& data) {
    Request r;
    r.info.service = ServiceType::archive;
    DataItem d;
    d.raw_data = crypto::Bytes(data.begin(), data.end());
    r.data.push_back(d);
    auto xml = render_request(r);
    EXPECT_TRUE(xml) << xml.error().message();
    if (!xml) return {};
    const HttpReply reply = unix_request(inst.socket(), "POST", "/v1/archive/ltap", *xml);
    EXPECT_EQ(reply.status, 200) << reply.body;
    auto parsed = parse_response(reply.body);
    EXPECT_TRUE(parsed && std::holds_alternative<OperationResponse>(*parsed)) << reply.body;
    if (!parsed || !std::holds_alternative<OperationResponse>(*parsed)) return {};
    const auto& op = std::get<OperationResponse>(*parsed);
    EXPECT_EQ(op.data.size(), 1u);
    return op.data.empty() ? std::string() : op.data[0].data_reference.value_or("");
}

void stop(Process& daemon) {
    daemon.signal(SIGTERM);
    const auto rc = daemon.wait_exit(std::chrono::seconds(60));
    ASSERT_TRUE(rc.has_value()) << "enclaved did not stop";
    EXPECT_EQ(*rc, 0);
}

RunResult export_object(const TestInstance& inst, const std::string& ref,
                        const std::filesystem::path& out, bool as_json = false) {
    std::vector<std::string> args{"archive", "export", "--object", ref, "--out", out.string()};
    if (as_json) args.push_back("--json");
    return ctl(inst, args);
}

std::filesystem::perms mode_of(const std::filesystem::path& p) {
    return std::filesystem::status(p).permissions() & std::filesystem::perms::mask;
}

TEST(ArchiveCtlTest, ExportWithTheDaemonStoppedThenVerifyOfflineAndTamperedDataFails) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string canary = "CANARY-ARCHIVE-CTL-" + new_artifact();
    const std::string ref = archive_over_admin(inst, canary);
    ASSERT_TRUE(object_reference_ok(ref)) << ref;
    const HttpReply seal = unix_request(inst.socket(), "POST", "/v1/archive/seal");
    ASSERT_EQ(seal.status, 200) << seal.body;
    ASSERT_EQ(json::parse(seal.body)["objects"], 1);

    // While enclaved runs, export refuses and says what to do instead.
    const auto out = inst.scratch() / "export";
    const RunResult busy = export_object(inst, ref, out);
    EXPECT_EQ(busy.exit_code, 2) << busy.err;
    EXPECT_NE(busy.err.find("stop it first"), std::string::npos) << busy.err;
    EXPECT_NE(busy.err.find("POST /v1/archive/ltap"), std::string::npos) << busy.err;
    EXPECT_FALSE(std::filesystem::exists(out));

    // Even when the admin socket is not found (a config naming another
    // one), the blob store's flock stops the export.
    appliance::Config other = inst.config();
    other.admin.socket = inst.scratch() / "no-such.sock";
    const auto other_toml = inst.scratch() / "other.toml";
    write_text(other_toml, appliance::render_config(other));
    const RunResult locked = ctl(inst, {"--config", other_toml.string(), "archive", "export",
                                        "--object", ref, "--out", out.string()});
    EXPECT_EQ(locked.exit_code, 2) << locked.err;
    EXPECT_NE(locked.err.find("stop it first"), std::string::npos) << locked.err;
    EXPECT_FALSE(std::filesystem::exists(out));

    stop(*daemon);
    const RunResult exported = export_object(inst, ref, out, true);
    ASSERT_EQ(exported.exit_code, 0) << exported.err << exported.out;
    const json result = json::parse(exported.out);
    const std::string name = ref.substr(kObjectReferencePrefix.size());
    const auto data = out / (name + ".data");
    const auto ers = out / (name + ".ers");
    EXPECT_EQ(file_text(data), canary);
    EXPECT_EQ(mode_of(data), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_EQ(file_text(out / "tsa.crt"), file_text(inst.dir() / "tsa.crt"));
    EXPECT_GT(std::filesystem::file_size(ers), 100u);
    const json meta = json::parse(file_text(out / (name + ".json")));
    EXPECT_EQ(meta["reference"], ref);
    EXPECT_EQ(meta["state"], "granted");
    EXPECT_EQ(meta["owner"], "csp");
    EXPECT_EQ(meta["size"], canary.size());
    EXPECT_EQ(result["exported"], meta);
    // The metadata file names the data; it does not hold it.
    EXPECT_EQ(file_text(out / (name + ".json")).find(canary), std::string::npos);

    // A second export overwrites nothing.
    const RunResult again = export_object(inst, ref, out);
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_NE(again.err.find("not overwritten"), std::string::npos) << again.err;
    EXPECT_EQ(file_text(data), canary);

    // Verify: the instance's TSA certificate by default, JSON out.
    const RunResult ok = ctl(inst, {"archive", "verify", "--data", data.string(), "--evidence",
                                    ers.string(), "--json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.err << ok.out;
    const json v = json::parse(ok.out);
    EXPECT_EQ(v["verified"], true);
    EXPECT_EQ(v["evidence"]["stamps"], 1);
    EXPECT_EQ(v["evidence"]["chains"], 1);
    EXPECT_EQ(v["evidence"]["digest"],
              crypto::hex_encode(crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes(canary))));
    EXPECT_FALSE(v["evidence"]["existed_since"].get<std::string>().empty());

    // No instance at all: the exported folder is enough (human output).
    const std::vector<std::string> alone{enclavectl_path(), "archive", "verify", "--data",
                                         data.string(), "--evidence", ers.string(), "--tsa-cert",
                                         (out / "tsa.crt").string()};
    const RunResult offline = run_program(alone, {"ENCLAVE_DATA_DIR="});
    EXPECT_EQ(offline.exit_code, 0) << offline.err;
    EXPECT_NE(offline.out.find("existed unchanged since"), std::string::npos) << offline.out;

    // One changed byte of data: does not verify, exit 1.
    std::string changed = canary;
    changed[changed.size() / 2] ^= 0x01;
    const auto bad = inst.scratch() / "changed.data";
    write_text(bad, changed);
    const RunResult tampered =
        ctl(inst, {"archive", "verify", "--data", bad.string(), "--evidence", ers.string()});
    EXPECT_EQ(tampered.exit_code, 1) << tampered.err;
    EXPECT_NE(tampered.err.find("does not verify"), std::string::npos) << tampered.err;

    // A changed byte in the time stamp's signature: exit 1 as well.
    std::string record = file_text(ers);
    record[record.size() - 10] ^= 0x01;
    const auto bad_ers = inst.scratch() / "changed.ers";
    write_text(bad_ers, record);
    const RunResult bad_record =
        ctl(inst, {"archive", "verify", "--data", data.string(), "--evidence", bad_ers.string()});
    EXPECT_EQ(bad_record.exit_code, 1) << bad_record.err;
    EXPECT_NE(bad_record.err.find("does not verify"), std::string::npos) << bad_record.err;

    // No TSA certificate named and no instance: a usage problem, exit 2.
    const std::vector<std::string> no_cert{enclavectl_path(), "archive", "verify", "--data",
                                           data.string(), "--evidence", ers.string()};
    const RunResult missing = run_program(no_cert, {"ENCLAVE_DATA_DIR="});
    EXPECT_EQ(missing.exit_code, 2) << missing.err;
    EXPECT_NE(missing.err.find("--tsa-cert is required"), std::string::npos) << missing.err;
}

TEST(ArchiveCtlTest, UnknownPendingAndMalformedReferencesAndAFileAsOutAreRefused) {
    TestInstance inst;
    inst.config().archive.batch_max_wait = std::chrono::hours(1);  // stays pending
    inst.save_config();
    auto daemon = inst.start_ready();
    const std::string pending = archive_over_admin(inst, "PENDING-" + new_artifact());
    ASSERT_TRUE(object_reference_ok(pending)) << pending;
    stop(*daemon);
    const auto out = inst.scratch() / "out";

    const RunResult unknown = export_object(inst, new_object_reference(), out);
    EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
    EXPECT_NE(unknown.err.find("no object"), std::string::npos) << unknown.err;

    const RunResult waiting = export_object(inst, pending, out);
    EXPECT_EQ(waiting.exit_code, 2) << waiting.err;
    EXPECT_NE(waiting.err.find("is pending"), std::string::npos) << waiting.err;

    // Check digits that do not match: refused before any lookup (exit 1).
    std::string wrong = pending;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    const RunResult bad_digits = export_object(inst, wrong, out, true);
    EXPECT_EQ(bad_digits.exit_code, 1) << bad_digits.err;
    EXPECT_EQ(json::parse(bad_digits.out)["error"]["code"], "invalid_argument");
    const RunResult not_a_ref = export_object(inst, "../../etc/passwd", out);
    EXPECT_EQ(not_a_ref.exit_code, 1) << not_a_ref.err;

    // --out names a file: refused, the file untouched.
    const auto file = inst.scratch() / "a-file";
    write_text(file, "keep");
    const RunResult on_file = export_object(inst, pending, file);
    EXPECT_EQ(on_file.exit_code, 1) << on_file.err;
    EXPECT_NE(on_file.err.find("not a folder"), std::string::npos) << on_file.err;
    EXPECT_EQ(file_text(file), "keep");
    // Nothing was written anywhere for the refused exports.
    EXPECT_FALSE(std::filesystem::exists(out) && !std::filesystem::is_empty(out));
}

TEST(ArchiveCtlTest, SealRenewAndStatusOverTheAdminApiLengthenTheRecords) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string ref = archive_over_admin(inst, "renew me");
    ASSERT_FALSE(ref.empty());
    const RunResult seal = ctl(inst, {"archive", "seal"});
    ASSERT_EQ(seal.exit_code, 0) << seal.err;
    EXPECT_NE(seal.out.find("sealed: 1 objects"), std::string::npos) << seal.out;
    const RunResult ts = ctl(inst, {"archive", "renew", "--kind", "timestamp", "--json"});
    ASSERT_EQ(ts.exit_code, 0) << ts.err;
    EXPECT_EQ(json::parse(ts.out)["objects"], 1);
    const RunResult ht = ctl(inst, {"archive", "renew", "--kind", "hash-tree", "--digest", "sha512"});
    ASSERT_EQ(ht.exit_code, 0) << ht.err;
    const RunResult status = ctl(inst, {"archive", "status", "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    EXPECT_EQ(json::parse(status.out)["granted"], 1);
    // Usage errors are refused before anything is sent.
    EXPECT_NE(ctl(inst, {"archive", "renew", "--kind", "sideways"}).exit_code, 0);
    EXPECT_NE(ctl(inst, {"archive", "renew", "--kind", "hash-tree", "--digest", "md5"}).exit_code, 0);

    // The record now has two chains (SHA-256, then SHA-512) and three stamps.
    stop(*daemon);
    const auto out = inst.scratch() / "renewed";
    const RunResult exported = export_object(inst, ref, out);
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    const std::string id = ref.substr(kObjectReferencePrefix.size());
    const RunResult verified = ctl(inst, {"archive", "verify", "--data", (out / (id + ".data")).string(),
                                          "--evidence", (out / (id + ".ers")).string(), "--json"});
    ASSERT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    const json v = json::parse(verified.out);
    EXPECT_EQ(v["evidence"]["chains"], 2) << v.dump();
    EXPECT_EQ(v["evidence"]["stamps"], 3) << v.dump();
    EXPECT_EQ(v["evidence"]["digest_algorithm"], "sha512") << v.dump();
}

}  // namespace
}  // namespace enclave::daemon_test
