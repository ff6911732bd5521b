// SPDX-License-Identifier: Apache-2.0
// enclaved executes itself once with glibc's malloc tuned
// (appliance/allocator_tuning.hpp): the running daemon (same PID as the one
// started) has the setting in its environment and serves; an operator's own
// value wins; ENCLAVE_ALLOCATOR_TUNING=off leaves the environment alone.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "appliance/allocator_tuning.hpp"
#include "harness/instance.hpp"

namespace enclave::daemon_test {
namespace {

void stop(Process& daemon, TestInstance& inst) {
    daemon.signal(SIGTERM);
    EXPECT_EQ(daemon.wait_exit(std::chrono::seconds(60)), 0) << inst.log();
}

std::string raw_environ(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::optional<std::string> env_of(pid_t pid, const std::string& name) {
    const std::string all = raw_environ(pid);
    std::size_t at = 0;
    while (at < all.size()) {
        const auto end = all.find('\0', at);
        const std::string entry = all.substr(at, end == std::string::npos ? end : end - at);
        if (entry.rfind(name + "=", 0) == 0) return entry.substr(name.size() + 1);
        if (end == std::string::npos) break;
        at = end + 1;
    }
    return std::nullopt;
}

TEST(AllocatorTuningTest, TheDaemonRunsWithTheTunableAndStillServes) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    ASSERT_TRUE(daemon->running()) << inst.log();
    // glibc splits the variable in place while it parses it (a NUL where
    // each ':' was), so look for each setting in the raw environment block.
    const std::string raw = raw_environ(daemon->pid());
    EXPECT_NE(raw.find("GLIBC_TUNABLES=" + std::string(appliance::kAllocatorTunables[0])),
              std::string::npos);
    for (const auto t : appliance::kAllocatorTunables) {
        EXPECT_NE(raw.find(std::string(t)), std::string::npos) << t;
    }
    // Still called enclaved (not "exe"): ps, pgrep and the journal find it.
    std::ifstream comm("/proc/" + std::to_string(daemon->pid()) + "/comm");
    std::string name;
    std::getline(comm, name);
    EXPECT_EQ(name, "enclaved");
    TlsConnection c(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(c.request("GET", "/v1/whoami").status, 200);
    stop(*daemon, inst);
}

TEST(AllocatorTuningTest, OtherTunablesAreKeptAndTheOperatorsValueWins) {
    TestInstance inst;
    {
        auto daemon = inst.start_ready({"GLIBC_TUNABLES=glibc.malloc.check=0"});
        // glibc splits the variable in place while it parses it (a NUL
        // where the ':' was), so look at the raw environment block.
        const std::string raw = raw_environ(daemon->pid());
        EXPECT_NE(raw.find("GLIBC_TUNABLES=glibc.malloc.check=0"), std::string::npos);
        for (const auto t : appliance::kAllocatorTunables) {
            EXPECT_NE(raw.find(std::string(t)), std::string::npos) << t;
        }
        stop(*daemon, inst);
    }
    {
        // The operator's tcache_count stays; the other two are added.
        auto daemon = inst.start_ready({"GLIBC_TUNABLES=glibc.malloc.tcache_count=3"});
        const std::string raw = raw_environ(daemon->pid());
        EXPECT_NE(raw.find("GLIBC_TUNABLES=glibc.malloc.tcache_count=3"), std::string::npos);
        EXPECT_EQ(raw.find(std::string(appliance::kAllocatorTunables[0])), std::string::npos);
        EXPECT_NE(raw.find(std::string(appliance::kAllocatorTunables[1])), std::string::npos);
        EXPECT_NE(raw.find(std::string(appliance::kAllocatorTunables[2])), std::string::npos);
        stop(*daemon, inst);
    }
    {
        auto daemon = inst.start_ready({"ENCLAVE_ALLOCATOR_TUNING=off"});
        EXPECT_EQ(env_of(daemon->pid(), "GLIBC_TUNABLES"), std::nullopt);
        stop(*daemon, inst);
    }
}

}  // namespace
}  // namespace enclave::daemon_test
