// SPDX-License-Identifier: Apache-2.0
// Fault injection, the token (issue #10): the real enclaved on a real
// SoftHSM2 token.
//   At start: a module file that is not a PKCS#11 module, a URI naming
//   another token, the token's directory gone, a PIN changed on the token
//   since provisioning: each is a distinct exit code with a message naming
//   the cause, nothing listens, and nothing under the instance folder was
//   written (the token's own files aside).
//   While running: the token's directory moved away (SoftHSM's form of a
//   removed token): readiness drops, a token_unavailable event, ingest
//   answers 503 and stores nothing; moved back: recovered without a restart
//   (token_recovered, ready, ingest works). A PIN changed on the token while
//   running is refused at the re-login after a loss and never retried.
//   C_CloseAllSessions from another process does not touch ours.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "appliance/daemon.hpp"
#include "audit_test_util.hpp"
#include "harness/http_client.hpp"
#include "harness/instance.hpp"
#include "harness/tls_client.hpp"
#include "hsm/module.hpp"
#include "hsm/pin.hpp"
#include "hsm/session.hpp"

namespace enclave::daemon_test {
namespace {

namespace fs = std::filesystem;
using appliance::ExitCode;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCanary = "ENCLAVE-TOKEN-FAULT-CANARY-41c9";

/// The instance's one SoftHSM2 token directory (DIR/tokens/<uuid>).
fs::path token_dir(const TestInstance& inst) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(inst.dir() / "tokens")) {
        if (e.is_directory()) dirs.push_back(e.path());
    }
    if (dirs.size() != 1) throw std::runtime_error("expected one token directory");
    return dirs.front();
}

/// Every file under DIR except the token's own (SoftHSM counts failed
/// logins there), with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> snapshot(const fs::path& dir) {
    std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        if (it->path() == dir / "tokens") {
            it.disable_recursion_pending();
            continue;
        }
        out[it->path().string()] = {it->is_regular_file() ? it->file_size() : 0,
                                    it->last_write_time()};
    }
    return out;
}

/// The instance's module and token, opened in this test process (each test
/// runs in its own process, so this is the process's one Module).
struct OpenToken {
    std::shared_ptr<hsm::Module> module;
    hsm::TokenInfo info;
};

OpenToken open_token(TestInstance& inst) {
    ::setenv("SOFTHSM2_CONF", (inst.dir() / "softhsm2.conf").c_str(), 1);
    auto module = hsm::Module::load_path(inst.config().token.module_path);
    if (!module) throw std::runtime_error(module.error().message());
    auto uri = hsm::Uri::parse(inst.config().token.uri);
    auto info = (*module)->find_token(*uri);
    if (!info) throw std::runtime_error(info.error().message());
    return {std::move(*module), std::move(*info)};
}

/// Changes the token's user PIN with C_SetPIN (no PIN on any command line);
/// returns the new PIN as text (for the "not in the log" checks).
std::string change_user_pin(TestInstance& inst) {
    OpenToken t = open_token(inst);
    auto old_pin = hsm::read_pin_file(inst.dir() / "token.pin");
    if (!old_pin) throw std::runtime_error(old_pin.error().message());
    crypto::Secret fresh = crypto::Secret::random(16);
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        fresh.data()[i] = static_cast<std::uint8_t>('a' + fresh.data()[i] % 26);
    }
    auto s = hsm::Session::open(t.module, t.info.slot_id, true);
    if (!s) throw std::runtime_error(s.error().message());
    if (auto in = s->login(*old_pin); !in) throw std::runtime_error(in.error().message());
    const CK_RV rv = s->fn()->C_SetPIN(s->handle(), const_cast<std::uint8_t*>(old_pin->data()),
                                       old_pin->size(), fresh.data(),
                                       fresh.size());
    if (rv != CKR_OK) throw std::runtime_error("C_SetPIN failed: " + std::to_string(rv));
    return std::string(reinterpret_cast<const char*>(fresh.data()), fresh.size());
}

std::string current_pin(const TestInstance& inst) {
    std::string pin = read_file(inst.dir() / "token.pin");
    return pin.substr(0, pin.find('\n'));
}

/// Polls /readyz until it answers `status`; false after `timeout`.
bool wait_readyz(const TestInstance& inst, int status,
                 std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        if (unix_get(inst.socket(), "/readyz").status == status) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

/// Polls the daemon's log until it holds `text`.
bool wait_log(const TestInstance& inst, std::string_view text,
              std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        if (inst.log().find(text) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

std::string upload(std::size_t n) {
    std::string body(n, 'x');
    for (std::size_t at = 0; at + kCanary.size() < n; at += 4096) body.replace(at, kCanary.size(), kCanary);
    return "PUT /ingest/v1/blobs HTTP/1.1\r\nHost: enclave\r\nContent-Type: video/mp4\r\n"
           "Content-Length: " + std::to_string(n) + "\r\n\r\n" + body;
}

void expect_no_canary(const TestInstance& inst) {
    for (const auto& [path, content] : all_files(inst.dir())) {
        EXPECT_EQ(content.find(kCanary), std::string::npos) << path << " holds the upload in clear";
    }
}

// ---- at start -------------------------------------------------------------

class TokenStartupTest : public ::testing::Test {
protected:
    /// Starts enclaved, which must exit with `code` naming each of `words`,
    /// leave nothing listening and write nothing under DIR.
    void expect_refused(ExitCode code, const std::vector<std::string>& words) {
        const auto before = snapshot(inst_.dir());
        auto p = inst_.start();
        EXPECT_EQ(p->wait_exit(std::chrono::seconds(60)).value_or(-1), static_cast<int>(code))
            << inst_.log();
        const std::string log = inst_.log();
        for (const auto& w : words) EXPECT_NE(log.find(w), std::string::npos) << w << " not in:\n" << log;
        EXPECT_NE(log.find("error hsm:"), std::string::npos) << log;
        EXPECT_EQ(log.find(current_pin(inst_)), std::string::npos) << "the PIN reached the log";
        EXPECT_FALSE(fs::exists(inst_.socket()));
        const int fd = tcp_connect(inst_.ingest_port());
        EXPECT_LT(fd, 0) << "the ingest port listens";
        if (fd >= 0) ::close(fd);
        EXPECT_EQ(snapshot(inst_.dir()), before) << "enclaved wrote under the instance folder";
    }

    TestInstance inst_;
};

TEST_F(TokenStartupTest, AFileThatIsNotAModuleIsAModuleError) {
    const fs::path fake = inst_.scratch() / "not-a-module.so";
    std::ofstream(fake) << "this is not a shared object\n";
    ::chmod(fake.c_str(), 0644);
    inst_.config().token.module_path = fake.string();
    inst_.save_config();
    expect_refused(ExitCode::module, {"loading the PKCS#11 module", fake.string()});
}

TEST_F(TokenStartupTest, ASharedLibraryWithoutPkcs11IsAModuleError) {
    Dl_info info{};
    ASSERT_NE(::dladdr(reinterpret_cast<void*>(&SSL_CTX_new), &info), 0);
    ASSERT_NE(info.dli_fname, nullptr);
    const std::string lib = fs::canonical(info.dli_fname).string();  // libssl: no C_GetFunctionList
    inst_.config().token.module_path = lib;
    inst_.save_config();
    expect_refused(ExitCode::module, {"loading the PKCS#11 module", lib});
}

TEST_F(TokenStartupTest, AUriWithAnotherSerialIsTokenNotFound) {
    auto uri = hsm::Uri::parse(inst_.config().token.uri);
    ASSERT_TRUE(uri && uri->serial) << inst_.config().token.uri;
    uri->serial = "0000000000000000";
    inst_.config().token.uri = uri->to_string();
    inst_.save_config();
    expect_refused(ExitCode::token_not_found, {"token.uri", "no usable token"});
}

TEST_F(TokenStartupTest, TheTokenDirectoryGoneIsTokenNotFound) {
    fs::rename(token_dir(inst_), inst_.scratch() / "token-away");
    expect_refused(ExitCode::token_not_found, {"token.uri", "no usable token"});
}

TEST_F(TokenStartupTest, APinChangedOnTheTokenIsRejectedOnceAndNamed) {
    const std::string fresh = change_user_pin(inst_);
    expect_refused(ExitCode::pin_rejected, {"CKR_PIN_INCORRECT", "token_login_failed"});
    EXPECT_EQ(inst_.log().find(fresh), std::string::npos) << "the new PIN reached the log";
    // Not retried: one C_Login only (SoftHSM would lock after a few).
    const std::string log = inst_.log();
    EXPECT_EQ(log.find("CKR_PIN_INCORRECT"), log.rfind("CKR_PIN_INCORRECT")) << log;
}

// ---- while running --------------------------------------------------------

TEST(TokenRunningTest, RemovedTokenDropsReadinessRefusesIngestAndRecovers) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    // A connection made while the token was there (a new handshake needs it).
    TlsConnection kept(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(kept.ok()) << kept.error();
    ASSERT_EQ(kept.request("GET", "/v1/whoami").status, 200);
    TlsConnection kept_upload(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(kept_upload.ok()) << kept_upload.error();
    ASSERT_EQ(kept_upload.request("GET", "/v1/whoami").status, 200);

    const fs::path dir = token_dir(inst);
    const fs::path away = inst.scratch() / "token-away";
    fs::rename(dir, away);
    ASSERT_TRUE(wait_readyz(inst, 503)) << inst.log();
    EXPECT_TRUE(wait_log(inst, "token_unavailable token=")) << inst.log();
    const HttpReply metrics = unix_get(inst.socket(), "/metrics");
    EXPECT_NE(metrics.body.find("enclave_token_available 0"), std::string::npos) << metrics.body;

    EXPECT_EQ(unix_get(inst.socket(), "/v1/hsm/status").status, 503);  // needs the token
    const HttpReply refused = kept.request("POST", "/ingest/v1/tasks/ANY-REF/items", "[]");
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("token_unavailable"), std::string::npos) << refused.body;
    EXPECT_EQ(refused.headers.count("retry-after"), 1u);
    {
        TlsConnection c(inst.ingest_port(), inst.collector_client());
        // Without the token the listener cannot prove its identity: the
        // handshake fails (it must not hang: the client's timeouts bound it).
        const bool refused_new = !c.ok() || c.request("GET", "/v1/whoami").status != 200;
        EXPECT_TRUE(refused_new);
    }
    // The upload is refused once its header is read: the daemon answers 503
    // and closes without reading the body, so the body's send, or the read
    // of the answer, may meet the reset (the kernel resets a connection
    // closed with unread bytes). Either way nothing may be stored (below).
    const bool sent = kept_upload.send_all(upload(64 * 1024));
    const HttpReply put = kept_upload.read_reply();
    EXPECT_TRUE(put.status == 503 || put.status == 0)
        << "sent " << sent << ", status " << put.status << ": " << put.body;
    EXPECT_FALSE(fs::exists(inst.dir() / "state" / "blobs" / "data") &&
                 !fs::is_empty(inst.dir() / "state" / "blobs" / "data"));
    expect_no_canary(inst);
    EXPECT_TRUE(daemon->running());

    fs::rename(away, dir);
    ASSERT_TRUE(wait_readyz(inst, 200)) << inst.log();
    EXPECT_NE(inst.log().find("token_recovered token="), std::string::npos) << inst.log();
    TlsConnection after(inst.ingest_port(), inst.collector_client());
    ASSERT_TRUE(after.ok()) << after.error() << "\n" << inst.log();
    ASSERT_TRUE(after.send_all(upload(64 * 1024)));
    const HttpReply stored = after.read_reply();
    EXPECT_EQ(stored.status, 201) << stored.body << "\n" << inst.log();
    expect_no_canary(inst);
    EXPECT_EQ(inst.log().find(current_pin(inst)), std::string::npos) << "the PIN reached the log";
}

TEST(TokenRunningTest, APinChangedWhileRunningIsRefusedAtReloginAndNotRetried) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    const std::string old_pin = current_pin(inst);
    const std::string fresh = change_user_pin(inst);
    // The running daemon's login holds: it still serves.
    {
        TlsConnection c(inst.lea_port(), inst.lea_client());
        ASSERT_TRUE(c.ok()) << c.error();
        EXPECT_EQ(c.request("GET", "/v1/whoami").status, 200);
    }
    EXPECT_EQ(unix_get(inst.socket(), "/readyz").status, 200);
    // A loss forces a new login, which the token refuses.
    const fs::path dir = token_dir(inst);
    fs::rename(dir, inst.scratch() / "token-away");
    ASSERT_TRUE(wait_readyz(inst, 503)) << inst.log();
    fs::rename(inst.scratch() / "token-away", dir);
    ASSERT_TRUE(wait_log(inst, "token_login_failed token=")) << inst.log();
    EXPECT_EQ(unix_get(inst.socket(), "/readyz").status, 503);
    const std::string log = inst.log();
    EXPECT_NE(log.find("restart enclaved"), std::string::npos) << log;
    EXPECT_EQ(log.find("CKR_PIN_INCORRECT"), log.rfind("CKR_PIN_INCORRECT")) << "tried twice:\n" << log;
    EXPECT_EQ(log.find(old_pin), std::string::npos) << "the PIN reached the log";
    EXPECT_EQ(log.find(fresh), std::string::npos) << "the new PIN reached the log";
    EXPECT_TRUE(daemon->running());
}

TEST(TokenRunningTest, ClosingAllSessionsFromAnotherProcessLeavesOursAlone) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    OpenToken t = open_token(inst);
    ASSERT_EQ(t.module->functions()->C_CloseAllSessions(t.info.slot_id), static_cast<CK_RV>(CKR_OK));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past one probe of the supervisor
    EXPECT_EQ(unix_get(inst.socket(), "/readyz").status, 200) << inst.log();
    TlsConnection c(inst.lea_port(), inst.lea_client());  // a handshake signs on the token
    ASSERT_TRUE(c.ok()) << c.error() << "\n" << inst.log();
    EXPECT_EQ(c.request("GET", "/v1/whoami").status, 200);
    EXPECT_EQ(inst.log().find("token_unavailable"), std::string::npos) << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test
