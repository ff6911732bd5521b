// SPDX-License-Identifier: Apache-2.0
// Disk full on the state volume (issue #10, "Fault injection"): the
// instance's DIR/state (every database, the blob store) lives on a small
// tmpfs that the test fills with a filler file, real processes over loopback.
//
//   - an upload gets 507, an item submission 507 (both with Retry-After), and
//     nothing is half written: no temp, key or data file of the upload, no
//     idempotency record or item of the refused submission (sent again later
//     it is new, and delivered once);
//   - a task operation (its audit append) fails cleanly: an error, no task,
//     the daemon keeps running, and the log verifies afterwards;
//   - once the filler goes, uploads, items and tasks go through and
//     everything acknowledged is delivered.
//
// The tests run as root: mount(2) of a tmpfs needs CAP_SYS_ADMIN. Without it
// they fail and say so (they never skip).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "delivery_test_util.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kStateBytes = 24u << 20;

/// DIR/state on its own small tmpfs, with what `enclavectl init` put there
/// copied in. Unmounted in the destructor (also when the test fails).
class StateOnTmpfs {
public:
    StateOnTmpfs(const TestInstance& inst, std::size_t bytes) : dir_(inst.dir() / "state") {
        const fs::path saved = inst.scratch() / "state-before-mount";
        fs::copy(dir_, saved, fs::copy_options::recursive);
        const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
        if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    options.c_str()) != 0) {
            error_ = std::string("mount -t tmpfs on ") + dir_.string() + ": " + std::strerror(errno) +
                     " (this test needs root / CAP_SYS_ADMIN to mount a small filesystem)";
            return;
        }
        mounted_ = true;
        fs::copy(saved, dir_, fs::copy_options::recursive);
        fs::remove_all(saved);
    }
    ~StateOnTmpfs() {
        release();
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    StateOnTmpfs(const StateOnTmpfs&) = delete;
    StateOnTmpfs& operator=(const StateOnTmpfs&) = delete;

    [[nodiscard]] const std::string& error() const { return error_; }

    /// Writes a filler file until not one more byte fits. Returns its size.
    std::uint64_t fill() {
        const fs::path filler = dir_ / "filler";
        std::FILE* f = std::fopen(filler.c_str(), "wb");
        if (f == nullptr) return 0;
        std::setvbuf(f, nullptr, _IONBF, 0);
        const std::string block(1 << 20, 'F');
        std::uint64_t total = 0;
        for (std::size_t chunk = block.size(); chunk > 0; chunk /= 4) {
            while (std::fwrite(block.data(), 1, chunk, f) == chunk) total += chunk;
            std::clearerr(f);
        }
        std::fclose(f);
        return fs::file_size(filler);
    }
    void release() {
        std::error_code ec;
        if (mounted_) fs::remove(dir_ / "filler", ec);
    }
    [[nodiscard]] std::uint64_t free_bytes() const {
        struct statvfs st {};
        return ::statvfs(dir_.c_str(), &st) == 0 ? std::uint64_t{st.f_bavail} * st.f_frsize : 0;
    }

private:
    fs::path dir_;
    bool mounted_ = false;
    std::string error_;
};

std::size_t entries_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

/// An item of about 8 KiB (eight receivers with long identifiers).
json big_item(int n) {
    json j = item(n);
    j["receivers"] = json::array();
    for (int r = 0; r < 8; ++r) {
        j["receivers"].push_back({{"identifiers", {std::string(1000, static_cast<char>('a' + r))}}});
    }
    return j;
}

HttpReply put_blob(TlsConnection& c, const std::string& data) {
    c.send_all("PUT /ingest/v1/blobs HTTP/1.1\r\nHost: e\r\nContent-Type: application/octet-stream"
               "\r\nContent-Length: " + std::to_string(data.size()) + "\r\n\r\n" + data);
    return c.read_reply();
}

class DiskFullTest : public ::testing::Test {
protected:
    void SetUp() override {
        state_ = std::make_unique<StateOnTmpfs>(inst_, kStateBytes);
        ASSERT_TRUE(state_->error().empty()) << state_->error();
        daemon_ = inst_.start_ready();
        ASSERT_TRUE(daemon_->running());
    }
    /// The bundle verifies offline with the instance's key (and extends
    /// `since`, when given).
    void expect_log_verifies(const fs::path& since = {}) {
        const auto key = inst_.scratch() / "audit.vkey";
        RunResult r = ctl(inst_, {"audit", "key"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        write_text(key, r.out);
        const auto bundle = inst_.scratch() / "audit.bundle";
        fs::remove(bundle);
        r = ctl(inst_, {"audit", "export", "--out", bundle.string()});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        std::vector<std::string> args{"audit", "verify", bundle.string(), "--key", key.string()};
        if (!since.empty()) args.insert(args.end(), {"--since-checkpoint", since.string()});
        r = ctl(inst_, args);
        EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    }

    // Destroyed in reverse: the daemon and the simulator stop before the
    // unmount, and the unmount comes before the temp dir is removed.
    TestInstance inst_;
    std::unique_ptr<StateOnTmpfs> state_;
    std::unique_ptr<Simulator> sim_;
    std::unique_ptr<Process> daemon_;
};

TEST_F(DiskFullTest, IngestAnswers507LeavesNothingHalfWrittenAndRecoversWhenSpaceReturns) {
    sim_ = std::make_unique<Simulator>(inst_);
    add_endpoint(inst_, sim_->port());
    create_task(inst_, "LIID-FULL");
    if (HasFatalFailure()) return;
    const std::string target = "/ingest/v1/tasks/LIID-FULL/items";
    TlsConnection c(inst_.ingest_port(), inst_.collector_client());
    ASSERT_TRUE(c.ok()) << c.error();
    std::set<int> acked;
    ASSERT_EQ(post_json(c, target, json::array({big_item(0)}).dump()).status, 202);
    acked.insert(0);
    ASSERT_TRUE(eventually([&] { return items_delivered(*sim_) == 1; })) << inst_.log();
    // The LEA away: items pile up in the outbox instead of leaving it.
    sim_->stop();

    const fs::path blobs = inst_.dir() / "state" / "blobs";
    const std::size_t data_files = entries_in(blobs / "data"), key_files = entries_in(blobs / "keys");
    ASSERT_GT(state_->fill(), 0u);
    EXPECT_LT(state_->free_bytes(), 4096u);

    // An upload: 507, and no file of it anywhere.
    const std::string binary(256 * 1024, 'b');
    TlsConnection up(inst_.ingest_port(), inst_.collector_client());
    const HttpReply refused_upload = put_blob(up, binary);
    EXPECT_EQ(refused_upload.status, 507) << refused_upload.body;
    EXPECT_NE(refused_upload.body.find("insufficient_storage"), std::string::npos) << refused_upload.body;
    EXPECT_EQ(refused_upload.headers.count("retry-after"), 1u);
    EXPECT_EQ(entries_in(blobs / "tmp"), 0u) << "a temp file of the refused upload is left";
    EXPECT_EQ(entries_in(blobs / "data"), data_files);
    EXPECT_EQ(entries_in(blobs / "keys"), key_files);

    // Items: accepted while the databases' free pages last, then 507.
    HttpReply refused;
    std::vector<json> refused_batch;
    for (int batch = 1; batch <= 100 && refused.status == 0; ++batch) {
        json arr = json::array();
        for (int i = 0; i < 100; ++i) arr.push_back(big_item(batch * 100 + i));
        TlsConnection ci(inst_.ingest_port(), inst_.collector_client());
        const HttpReply r = post_json(ci, target, arr.dump());
        if (r.status == 202) {
            for (int i = 0; i < 100; ++i) acked.insert(batch * 100 + i);
            continue;
        }
        refused = r;
        refused_batch.assign(arr.begin(), arr.end());
    }
    ASSERT_EQ(refused.status, 507) << refused.body << "\n" << inst_.log();
    EXPECT_NE(refused.body.find("insufficient_storage"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.headers.count("retry-after"), 1u);
    EXPECT_TRUE(daemon_->running());
    EXPECT_EQ(unix_get(inst_.socket(), "/v1/status").status, 200);

    // Space returns: everything goes through.
    state_->release();
    sim_->start(sim_->port());
    TlsConnection after(inst_.ingest_port(), inst_.collector_client());
    const HttpReply accepted_upload = put_blob(after, binary);
    ASSERT_EQ(accepted_upload.status, 201) << accepted_upload.body;
    const json blob = json::parse(accepted_upload.body);
    ASSERT_EQ(post_json(after, target, json::array({item(99999, {blob["id"]})}).dump()).status, 202);
    acked.insert(99999);
    // The refused batch again, with its keys: new to the outbox (nothing of
    // the first attempt was recorded).
    const HttpReply again = post_json(after, target, json(refused_batch).dump());
    ASSERT_EQ(again.status, 202) << again.body;
    const json answer = json::parse(again.body);
    EXPECT_EQ(answer["accepted"], refused_batch.size()) << "a unit of the refused batch was stored";
    for (const json& i : refused_batch) acked.insert(std::stoi(i["idempotencyKey"].get<std::string>().substr(2)));

    EXPECT_TRUE(eventually([&] { return items_delivered(*sim_) >= acked.size(); }, 60s))
        << items_delivered(*sim_) << " of " << acked.size() << " delivered\n" << inst_.log();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(items_delivered(*sim_), acked.size()) << "every acknowledged item once";
    const auto shas = sim_->binaries_sha256();
    ASSERT_EQ(shas.size(), 1u);
    EXPECT_EQ(shas.begin()->second, sha256_hex(binary));
    EXPECT_EQ(entries_in(blobs / "tmp"), 0u);
    EXPECT_TRUE(daemon_->running());
}

TEST_F(DiskFullTest, ATaskOperationFailsCleanlyAndTheLogVerifiesAfterwards) {
    const FieldSpec f{"InternationalE164", "442079460223", "8f1c2a9b3d4e5f60718293a4b5c6d7e8"};
    auto create = [&](const std::string& ref) {
        return unix_request(inst_.socket(), "POST", "/v1/tasks", task_json(ref, {f}).dump());
    };
    ASSERT_EQ(create("LIID-OPEN").status, 201);
    // Closing a task truncates the task database's WAL: the next task write
    // needs new pages.
    ASSERT_EQ(create("LIID-PRE").status, 201);
    ASSERT_EQ(unix_request(inst_.socket(), "POST", "/v1/task/close?reference=LIID-PRE").status, 200);
    const auto before = inst_.scratch() / "before.checkpoint";
    RunResult r = ctl(inst_, {"audit", "checkpoint", "--new"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    write_text(before, r.out);

    ASSERT_GT(state_->fill(), 0u);
    // Task creations until one fails, then on until the audit append itself
    // fails (each refused creation still appends task.create_failed while the
    // log's own pages last).
    std::vector<std::string> refused;
    bool audit_refused = false;
    for (int n = 0; n < 300 && !audit_refused; ++n) {
        const std::string ref = "LIID-F" + std::to_string(n);
        const HttpReply c = create(ref);
        if (c.status == 201) continue;
        EXPECT_EQ(c.status, 507) << c.body;
        EXPECT_NE(c.body.find("insufficient_storage"), std::string::npos) << c.body;
        EXPECT_EQ(c.body.find(f.value), std::string::npos) << "an error repeats the value";
        EXPECT_EQ(c.body.find(f.salt_hex), std::string::npos) << "an error repeats the salt";
        EXPECT_EQ(unix_get(inst_.socket(), "/v1/task?reference=" + ref).status, 404)
            << "a refused task exists: " << ref;
        refused.push_back(ref);
        audit_refused = c.body.find("audit log") != std::string::npos;
    }
    ASSERT_FALSE(refused.empty()) << "no task operation failed on a full disk";
    EXPECT_TRUE(audit_refused) << "no audit append failed; last refusal of " << refused.back();
    // A close on the full disk: refused with the task still active, or done.
    const HttpReply closing =
        unix_request(inst_.socket(), "POST", "/v1/task/close?reference=LIID-OPEN");
    const json open_task = json::parse(unix_get(inst_.socket(), "/v1/task?reference=LIID-OPEN").body);
    EXPECT_EQ(open_task["state"], closing.status == 200 ? "closed" : "active") << closing.body;
    EXPECT_TRUE(daemon_->running());

    state_->release();
    EXPECT_EQ(unix_get(inst_.socket(), "/readyz").status, 200);
    // Nothing of a refused task was kept: its reference is free.
    EXPECT_EQ(create(refused.front()).status, 201);
    if (closing.status != 200) {
        EXPECT_EQ(unix_request(inst_.socket(), "POST", "/v1/task/close?reference=LIID-OPEN").status, 200);
    }
    expect_log_verifies(before);
    // And again after a restart, which re-verifies the whole log at open.
    daemon_->signal(SIGTERM);
    ASSERT_EQ(daemon_->wait_exit(30s), 0) << inst_.log();
    daemon_ = inst_.start_ready();
    EXPECT_TRUE(daemon_->running());
    expect_log_verifies(before);
}

}  // namespace
}  // namespace enclave::daemon_test
