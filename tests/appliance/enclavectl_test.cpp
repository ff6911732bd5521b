// SPDX-License-Identifier: Apache-2.0
// enclavectl as a real process: exit codes, messages, --json, and the admin
// socket answered by a canned server standing in for enclaved.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "canned_server.hpp"
#include "support/paths.hpp"
#include "support/softhsm_token.hpp"

#ifndef ENCLAVECTL_PATH
#error "ENCLAVECTL_PATH must name the enclavectl binary (tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace enclave::appliance {
namespace {

namespace fs = std::filesystem;
using enclave::testing::TempDir;
using nlohmann::json;
using testing::CannedServer;

struct CtlRun {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs enclavectl with `args`, the test's environment plus `env` ("" value =
// unset), in `cwd`; collects stdout and stderr separately.
CtlRun enclavectl(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env = {}, const fs::path& cwd = {}) {
    int out_pipe[2], err_pipe[2];
    EXPECT_EQ(::pipe2(out_pipe, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err_pipe, O_CLOEXEC), 0);
    std::vector<std::string> storage;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string kv = *e;
        if (env.count(kv.substr(0, kv.find('='))) == 0) storage.push_back(kv);
    }
    for (const auto& [k, v] : env) {
        if (!v.empty()) storage.push_back(k + "=" + v);
    }
    std::vector<char*> envp, argv{const_cast<char*>(ENCLAVECTL_PATH)};
    for (auto& s : storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> arg_storage = args;
    for (auto& a : arg_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    CtlRun r;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0 && ::poll(fds, 2, -1) > 0) {
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buf[4096];
            const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

std::string http_json(const json& body, int status = 200) {
    const std::string text = body.dump();
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(text.size()) + "\r\n\r\n" + text;
}

TEST(EnclavectlTest, HelpWorksForEveryCommand) {
    const CtlRun top = enclavectl({"--help"});
    EXPECT_EQ(top.exit_code, 0) << top.err;
    for (const char* word : {"init", "status", "hsm", "--data-dir", "--json", "Exit codes"}) {
        EXPECT_TRUE(contains(top.out, word)) << word << "\n" << top.out;
    }
    const CtlRun init = enclavectl({"init", "--help"});
    EXPECT_EQ(init.exit_code, 0);
    EXPECT_TRUE(contains(init.out, "--pkcs11-uri"));
    EXPECT_TRUE(contains(init.out, "--pin-file"));
    const CtlRun hsm = enclavectl({"hsm", "status", "--help"});
    EXPECT_EQ(hsm.exit_code, 0);
    EXPECT_TRUE(contains(hsm.out, "keys")) << hsm.out;
}

TEST(EnclavectlTest, UsageErrorsExitWithOne) {
    TempDir tmp;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{},
          {"frobnicate"},
          {"hsm"},
          {"status", "--bogus"},
          {"init", "--pin-file", "x"},  // --pin-file needs --pkcs11-uri
          {"init", "--pin", "1234"},    // there is no way to pass a PIN on argv
          {"init", "--pkcs11-uri", "pkcs11:token=a", "--pin-file", "p", "--force-new-token-label",
           "l"}}) {
        const CtlRun r = enclavectl(args, {{"ENCLAVE_DATA_DIR", (tmp.path() / "var").string()}});
        EXPECT_EQ(r.exit_code, 1) << (args.empty() ? "" : args[0]) << ": " << r.err;
        EXPECT_FALSE(fs::exists(tmp.path() / "var"));
    }
}

TEST(EnclavectlTest, UsageErrorsWithJsonAreJsonToo) {
    const CtlRun r = enclavectl({"--json", "status", "--bogus"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(json::parse(r.out)["error"]["code"], "usage") << r.out;
}

TEST(EnclavectlTest, InitThenStatusWithoutADaemonExitsWithThree) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    const CtlRun init = enclavectl({"init", "--data-dir", dir.string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    EXPECT_TRUE(contains(init.out, "Provisioned an Enclave instance in " + dir.string()));
    EXPECT_TRUE(contains(init.out, "WARNING"));
    EXPECT_TRUE(fs::exists(dir / "enclave.toml"));
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"status"}, {"hsm", "status"}}) {
        std::vector<std::string> full = args;
        full.insert(full.end(), {"--data-dir", dir.string()});
        const CtlRun r = enclavectl(full);
        EXPECT_EQ(r.exit_code, 3) << r.err;
        EXPECT_TRUE(contains(r.err, "enclaved is not running: cannot connect to " +
                                        (dir / "run/admin.sock").string()))
            << r.err;
        EXPECT_TRUE(r.out.empty()) << r.out;
    }
    const CtlRun j = enclavectl({"--json", "status", "--data-dir", dir.string()});
    EXPECT_EQ(j.exit_code, 3);
    const json e = json::parse(j.out);
    EXPECT_EQ(e["error"]["code"], "daemon_not_running");
}

TEST(EnclavectlTest, InitJsonParsesAndASecondInitRefuses) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    const CtlRun init = enclavectl({"init", "--json"}, {{"ENCLAVE_DATA_DIR", dir.string()}});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    const json j = json::parse(init.out);
    EXPECT_EQ(j["data_dir"], dir.string());
    EXPECT_EQ(j["config"], (dir / "enclave.toml").string());
    EXPECT_EQ(j["token"]["label"], "enclave");
    ASSERT_EQ(j["keys"].size(), 7u);  // kTokenKeys and the archive's TSA key
    EXPECT_EQ(j["keys"][0]["label"], "kek");
    EXPECT_TRUE(j["own_softhsm"].get<bool>());
    EXPECT_GE(j["files"].size(), 20u);
    EXPECT_EQ(j["warnings"].size(), 2u);

    const CtlRun again = enclavectl({"init", "--data-dir", dir.string()});
    EXPECT_EQ(again.exit_code, 2);
    EXPECT_TRUE(contains(again.err, "already holds an Enclave instance")) << again.err;
    const CtlRun again_json = enclavectl({"--json", "init", "--data-dir", dir.string()});
    EXPECT_EQ(again_json.exit_code, 2);
    EXPECT_EQ(json::parse(again_json.out)["error"]["code"], "already_exists");
}

TEST(EnclavectlTest, DataDirComesFromTheFlagThenTheEnvironmentThenDotVar) {
    TempDir tmp;
    const CtlRun from_env =
        enclavectl({"status"}, {{"ENCLAVE_DATA_DIR", (tmp.path() / "envdir").string()}});
    EXPECT_EQ(from_env.exit_code, 2);
    EXPECT_TRUE(contains(from_env.err, (tmp.path() / "envdir" / "enclave.toml").string()))
        << from_env.err;
    const CtlRun flag_wins = enclavectl({"status", "--data-dir", (tmp.path() / "flagdir").string()},
                                        {{"ENCLAVE_DATA_DIR", (tmp.path() / "envdir").string()}});
    EXPECT_TRUE(contains(flag_wins.err, "flagdir")) << flag_wins.err;
    const CtlRun dot_var = enclavectl({"status"}, {{"ENCLAVE_DATA_DIR", ""}}, tmp.path());
    EXPECT_EQ(dot_var.exit_code, 2);
    EXPECT_TRUE(contains(dot_var.err, "var/enclave.toml does not exist")) << dot_var.err;
    EXPECT_TRUE(contains(dot_var.err, "enclavectl init")) << dot_var.err;
}

TEST(EnclavectlTest, StatusAndHsmStatusTalkToTheAdminSocket) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    ASSERT_EQ(enclavectl({"init", "--data-dir", dir.string()}).exit_code, 0);
    const json status = {
        {"version", "0.1.0"},
        {"instance", "enclave"},
        {"ready", true},
        {"uptime_seconds", 12},
        {"listeners",
         {{{"name", "lea"}, {"address", "127.0.0.1:8443"}, {"active_connections", 0}}}},
        {"token", {{"label", "enclave"}, {"logged_in", true}}}};
    {
        CannedServer server(dir / "run/admin.sock", http_json(status));
        const CtlRun r = enclavectl({"status", "--data-dir", dir.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "instance 'enclave'")) << r.out;
        EXPECT_TRUE(contains(r.out, "127.0.0.1:8443")) << r.out;
        EXPECT_TRUE(contains(server.request(), "GET /v1/status HTTP/1.1\r\n"));
    }
    {
        CannedServer server(dir / "run/admin.sock", http_json(status));
        const CtlRun r = enclavectl({"status", "--json", "--data-dir", dir.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(json::parse(r.out), status);
    }
    const json hsm = {
        {"module", {{"path", "/usr/lib/softhsm/libsofthsm2.so"}, {"manufacturer", "SoftHSM"}}},
        {"token",
         {{"label", "enclave"},
          {"manufacturer", "SoftHSM project"},
          {"model", "SoftHSM v2"},
          {"serial", "42"},
          {"slot_id", 0}}},
        {"keys",
         {{{"label", "lea-tls"},
           {"id", "0102"},
           {"class", "private"},
           {"type", "ec-p256"},
           {"sensitive", true},
           {"extractable", false}}}}};
    {
        CannedServer server(dir / "run/admin.sock", http_json(hsm));
        const CtlRun r = enclavectl({"hsm", "status", "--data-dir", dir.string()});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(contains(r.out, "lea-tls")) << r.out;
        EXPECT_TRUE(contains(r.out, "ec-p256")) << r.out;
        EXPECT_TRUE(contains(server.request(), "GET /v1/hsm/status HTTP/1.1\r\n"));
    }
    {
        CannedServer server(
            dir / "run/admin.sock",
            http_json({{"error", {{"code", "invalid_argument"}, {"message", "no role"}}}}, 403));
        const CtlRun r = enclavectl({"--json", "hsm", "status", "--data-dir", dir.string()});
        EXPECT_EQ(r.exit_code, 2) << r.err;
        EXPECT_TRUE(contains(json::parse(r.out)["error"]["message"].get<std::string>(), "HTTP 403"))
            << r.out;
    }
}

TEST(EnclavectlTest, TextFromTheSocketCannotDriveTheTerminal) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    ASSERT_EQ(enclavectl({"init", "--data-dir", dir.string()}).exit_code, 0);
    CannedServer server(
        dir / "run/admin.sock",
        http_json({{"version", "\x1b]0;owned\x07"}, {"instance", "\x1b[2Jx"}, {"listeners", 5}}));
    const CtlRun r = enclavectl({"status", "--data-dir", dir.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
    EXPECT_TRUE(contains(r.out, "?[2Jx")) << r.out;
}

TEST(EnclavectlTest, InitWithAnExistingTokenAndPinFile) {
    enclave::testing::SoftHsmToken::Options o;
    o.label = "existing-hsm";
    o.open_pool = false;
    enclave::testing::SoftHsmToken token(o);  // SOFTHSM2_CONF is set for the child too
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    const CtlRun r = enclavectl({"--json", "init", "--data-dir", dir.string(), "--pkcs11-uri",
                                 token.uri(), "--pin-file", token.pin_file().string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_FALSE(j["own_softhsm"].get<bool>());
    EXPECT_EQ(j["token"]["label"], "existing-hsm");
    EXPECT_FALSE(fs::exists(dir / "token.pin"));
    EXPECT_TRUE(fs::exists(dir / "enclave.toml"));
}

}  // namespace
}  // namespace enclave::appliance
