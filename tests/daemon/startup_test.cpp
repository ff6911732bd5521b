// SPDX-License-Identifier: Apache-2.0
// enclaved refuses to start, with a clear message and a distinct exit code,
// and with nothing listening: bad configuration, TLS material, missing token,
// unreadable or wrong PIN, a second daemon on the same instance.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "appliance/daemon.hpp"
#include "harness/instance.hpp"

namespace enclave::daemon_test {
namespace {

using appliance::ExitCode;

/// Sets `key = value` (value as raw TOML) in `[section]` of a rendered
/// config; adds the key after the section header when it is not there.
std::string set_toml(std::string text, const std::string& section, const std::string& key,
                     const std::string& value) {
    const auto header = text.find("\n[" + section + "]\n");
    if (header == std::string::npos) throw std::runtime_error("no section " + section);
    const auto body = header + section.size() + 4;
    auto next = text.find("\n[", body);
    if (next == std::string::npos) next = text.size();
    const auto at = text.find("\n" + key + " = ", body - 1);
    if (at != std::string::npos && at < next) {
        const auto eol = text.find('\n', at + 1);
        return text.replace(at + 1, eol - at - 1, key + " = " + value);
    }
    return text.insert(body, key + " = " + value + "\n");
}

class StartupTest : public ::testing::Test {
protected:
    void edit(const std::string& section, const std::string& key, const std::string& value) {
        const auto file = inst_.dir() / "enclave.toml";
        const std::string text = set_toml(read_file(file), section, key, value);
        std::ofstream(file, std::ios::trunc) << text;
    }

    /// Runs enclaved until it exits; returns the exit code (-1: still running).
    int run_to_exit() {
        auto p = inst_.start();
        const auto code = p->wait_exit(std::chrono::seconds(60));
        return code.value_or(-1);
    }

    void expect_nothing_listening() {
        for (const std::uint16_t port : {inst_.lea_port(), inst_.ingest_port()}) {
            const int fd = tcp_connect(port);
            EXPECT_LT(fd, 0) << "something listens on port " << port;
            if (fd >= 0) ::close(fd);
        }
        EXPECT_FALSE(std::filesystem::exists(inst_.socket()));
    }

    void expect_refused(ExitCode code, const std::vector<std::string>& in_message) {
        EXPECT_EQ(run_to_exit(), static_cast<int>(code)) << inst_.log();
        const std::string log = inst_.log();
        for (const auto& s : in_message)
            EXPECT_NE(log.find(s), std::string::npos) << "'" << s << "' not in:\n" << log;
        EXPECT_NE(log.find("error "), std::string::npos) << log;
        expect_nothing_listening();
    }

    TestInstance inst_;
};

TEST_F(StartupTest, PortOutOfRangeNamesTheKey) {
    edit("listeners.lea", "port", "70000");
    expect_refused(ExitCode::config, {"listeners.lea.port"});
}

TEST_F(StartupTest, UnknownKeyNamesTheKey) {
    edit("listeners.ingest.limits", "max_conections", "10");
    expect_refused(ExitCode::config, {"max_conections"});
}

TEST_F(StartupTest, WrongTypeNamesTheKey) {
    edit("listeners.lea.limits", "idle_timeout_ms", "\"soon\"");
    expect_refused(ExitCode::config, {"listeners.lea.limits.idle_timeout_ms"});
}

TEST_F(StartupTest, TlsVersionBelowOneTwoNamesTheKey) {
    edit("listeners.lea", "min_version", "\"1.1\"");
    expect_refused(ExitCode::config, {"listeners.lea.min_version"});
}

TEST_F(StartupTest, SocketModeWiderThan0660NamesTheKey) {
    edit("admin", "socket_mode", "\"0777\"");
    expect_refused(ExitCode::config, {"admin.socket_mode"});
}

TEST_F(StartupTest, MissingConfigFileIsAConfigError) {
    std::filesystem::remove(inst_.dir() / "enclave.toml");
    expect_refused(ExitCode::config, {"enclave.toml"});
}

TEST_F(StartupTest, MissingCertificateFileNamesTheFile) {
    std::filesystem::remove(inst_.pki("ingest-server.pem"));
    expect_refused(ExitCode::tls, {"ingest", "ingest-server.pem"});
}

TEST_F(StartupTest, FileKeyIsRefusedForAListener) {
    edit("listeners.lea", "private_key", "\"pki/demo-lea.key\"");
    const int code = run_to_exit();
    // Either the config validator or the key resolver refuses it; both name it.
    EXPECT_TRUE(code == static_cast<int>(ExitCode::config) ||
                code == static_cast<int>(ExitCode::tls))
        << code;
    EXPECT_NE(inst_.log().find("pkcs11"), std::string::npos) << inst_.log();
    expect_nothing_listening();
}

TEST_F(StartupTest, MissingTokenIsReported) {
    inst_.config().token.uri = "pkcs11:token=no-such-token";
    inst_.save_config();
    expect_refused(ExitCode::token_not_found, {"token.uri", "no-such-token"});
}

TEST_F(StartupTest, MissingPinFileIsReported) {
    std::filesystem::remove(inst_.dir() / "token.pin");
    expect_refused(ExitCode::pin_unavailable, {"token.pin_source", "token.pin"});
}

TEST_F(StartupTest, PinFileReadableByOthersIsRefused) {
    ASSERT_EQ(::chmod((inst_.dir() / "token.pin").c_str(), 0644), 0);
    expect_refused(ExitCode::pin_unavailable, {"token.pin_source"});
}

TEST_F(StartupTest, WrongPinIsReportedAndNotRetried) {
    {
        std::ofstream pin(inst_.dir() / "token.pin", std::ios::trunc);
        pin << "000000000000\n";
    }
    expect_refused(ExitCode::pin_rejected, {"CKR_PIN_INCORRECT", "login to token"});
    const std::string log = inst_.log();
    EXPECT_EQ(log.find("000000000000"), std::string::npos) << "the PIN reached the log";
    EXPECT_NE(log.find("token_login_failed"), std::string::npos) << log;
}

TEST_F(StartupTest, PinFromTheEnvironmentWorksAndAMissingVariableIsReported) {
    const std::string pin = read_file(inst_.dir() / "token.pin");
    inst_.config().token.pin_source = {appliance::PinSource::Kind::env, "ENCLAVE_TEST_PIN"};
    inst_.save_config();
    expect_refused(ExitCode::pin_unavailable, {"ENCLAVE_TEST_PIN"});
    auto p = inst_.start({"ENCLAVE_TEST_PIN=" + pin.substr(0, pin.find('\n'))});
    EXPECT_TRUE(inst_.wait_ready(*p)) << inst_.log();
}

TEST_F(StartupTest, PinFromASystemdCredential) {
    const auto creds = inst_.scratch() / "credentials";
    std::filesystem::create_directory(creds);
    std::filesystem::copy_file(inst_.dir() / "token.pin", creds / "token-pin");
    inst_.config().token.pin_source = {appliance::PinSource::Kind::credential, "token-pin"};
    inst_.save_config();
    expect_refused(ExitCode::pin_unavailable, {"CREDENTIALS_DIRECTORY"});
    auto p = inst_.start({"CREDENTIALS_DIRECTORY=" + creds.string()});
    EXPECT_TRUE(inst_.wait_ready(*p)) << inst_.log();
}

TEST_F(StartupTest, PinFromStdin) {
    inst_.config().token.pin_source = {appliance::PinSource::Kind::stdin_, ""};
    inst_.save_config();
    expect_refused(ExitCode::pin_unavailable, {"token.pin_source"});  // /dev/null: no PIN
    inst_.set_stdin(inst_.dir() / "token.pin");
    auto p = inst_.start();
    EXPECT_TRUE(inst_.wait_ready(*p)) << inst_.log();
}

TEST_F(StartupTest, MissingModuleIsReported) {
    inst_.config().token.module_path = "/nonexistent/libpkcs11-module.so";
    inst_.save_config();
    const int code = run_to_exit();
    // The validator may refuse it (3) or the loader (4); either names the file.
    EXPECT_TRUE(code == static_cast<int>(ExitCode::config) ||
                code == static_cast<int>(ExitCode::module))
        << code << "\n"
        << inst_.log();
    EXPECT_NE(inst_.log().find("/nonexistent/libpkcs11-module.so"), std::string::npos)
        << inst_.log();
    expect_nothing_listening();
}

TEST_F(StartupTest, PortInUseIsReportedAndTheAdminSocketIsRemoved) {
    // Something else holds the ingest port.
    const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(inst_.ingest_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(holder, 1), 0);
    EXPECT_EQ(run_to_exit(), static_cast<int>(ExitCode::bind)) << inst_.log();
    EXPECT_NE(inst_.log().find("listener ingest: 127.0.0.1:" + std::to_string(inst_.ingest_port())),
              std::string::npos)
        << inst_.log();
    ::close(holder);
    expect_nothing_listening();
}

TEST_F(StartupTest, ASecondDaemonOnTheSameInstanceIsRefused) {
    auto first = inst_.start_ready();
    auto second = inst_.start();
    EXPECT_EQ(second->wait_exit(std::chrono::seconds(60)), static_cast<int>(ExitCode::bind));
    EXPECT_NE(inst_.log().find("already running"), std::string::npos) << inst_.log();
    EXPECT_TRUE(first->running());
    EXPECT_EQ(unix_get(inst_.socket(), "/readyz").status, 200)
        << "the first daemon lost its socket";
}

TEST_F(StartupTest, AStaleSocketFileIsReplaced) {
    {
        auto first = inst_.start_ready();
        first->signal(SIGKILL);  // dies without removing its socket
        first->wait_exit(std::chrono::seconds(30));
    }
    ASSERT_TRUE(std::filesystem::exists(inst_.socket()));
    auto second = inst_.start();
    EXPECT_TRUE(inst_.wait_ready(*second)) << inst_.log();
    EXPECT_NE(inst_.log().find("removed a stale socket"), std::string::npos) << inst_.log();
}

TEST_F(StartupTest, ConfigOptionAloneFindsTheInstanceInTheFilesFolder) {
    // Run from elsewhere, with only --config: relative paths in the file
    // resolve against its folder.
    auto p = inst_.start_with({"--config", (inst_.dir() / "enclave.toml").string()},
                              {"ENCLAVE_DATA_DIR=/nonexistent"});
    EXPECT_TRUE(inst_.wait_ready(*p)) << inst_.log();
    EXPECT_NE(inst_.log().find("data directory " + inst_.dir().string()), std::string::npos)
        << inst_.log();
}

TEST_F(StartupTest, UnderJournaldLinesCarryThePriorityAndNoTimestamp) {
    auto p = inst_.start({"JOURNAL_STREAM=8:1234"});
    ASSERT_TRUE(inst_.wait_ready(*p)) << inst_.log();
    const std::string log = inst_.log();
    EXPECT_EQ(log.rfind("<6>info daemon: enclaved ", 0), 0u) << log;
    std::size_t lines = 0;
    for (std::size_t pos = 0; pos < log.size(); pos = log.find('\n', pos) + 1, ++lines) {
        EXPECT_EQ(log[pos], '<') << log.substr(pos, 60);
    }
    EXPECT_GE(lines, 5u);
}

TEST_F(StartupTest, UnknownCommandLineOptionIsAUsageError) {
    auto p = inst_.start({}, {"--no-such-option"});
    EXPECT_EQ(p->wait_exit(std::chrono::seconds(30)), static_cast<int>(ExitCode::usage));
}

}  // namespace
}  // namespace enclave::daemon_test
