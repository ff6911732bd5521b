// SPDX-License-Identifier: Apache-2.0
// The role matrix (issue #7): every admin operation x every role, allowed or
// refused as the one table in docs/security-officer-guide.md says.
//
// The table is the oracle twice over: the daemon's own route list
// (GET /v1/roles) must be exactly the table's rows, and each route is then
// called by a real caller (a child process running as uid nobody, whose
// group the config maps to one role at a time, or to none) on the admin
// socket: 403 exactly where the table says no.
#include <gtest/gtest.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "harness/http_client.hpp"
#include "harness/unix_user.hpp"
#include "harness/instance.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;

/// Columns of the table after method and path.
const std::vector<std::string> kColumns = {"security-officer", "auditor", "operator", "no role"};

struct Row {
    std::set<std::string> allowed;  ///< columns marked "yes"
    friend bool operator==(const Row&, const Row&) = default;
};
using Table = std::map<std::pair<std::string, std::string>, Row>;  // (method, path)

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" `");
    const auto e = s.find_last_not_of(" `");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// The rows between the role-table markers of the guide.
Table documented_table() {
    const auto path = std::filesystem::path(ENCLAVE_SOURCE_DIR) / "docs" / "security-officer-guide.md";
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    Table t;
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        if (line.find("<!-- role-table:begin -->") != std::string::npos) inside = true;
        if (line.find("<!-- role-table:end -->") != std::string::npos) inside = false;
        if (!inside || line.rfind("| `", 0) != 0) continue;
        std::vector<std::string> cells;
        std::stringstream ss(line.substr(1));
        for (std::string cell; std::getline(ss, cell, '|');) cells.push_back(trim(cell));
        EXPECT_GE(cells.size(), 2 + kColumns.size()) << line;
        if (cells.size() < 2 + kColumns.size()) continue;
        Row row;
        for (std::size_t i = 0; i < kColumns.size(); ++i) {
            EXPECT_TRUE(cells[2 + i] == "yes" || cells[2 + i] == "no") << line;
            if (cells[2 + i] == "yes") row.allowed.insert(kColumns[i]);
        }
        t[{cells[0], cells[1]}] = row;
    }
    return t;
}

/// The same, from the running daemon.
Table live_table(const TestInstance& inst) {
    const auto r = unix_get(inst.socket(), "/v1/roles");
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    Table t;
    const json doc = json::parse(r.body, nullptr, false);
    for (const auto& route : doc.value("routes", json::array())) {
        Row row;
        if (route.at("roles") == "any") {
            row.allowed = {kColumns.begin(), kColumns.end()};
        } else {
            for (const auto& name : route.at("roles")) row.allowed.insert(name.get<std::string>());
        }
        t[{route.at("method").get<std::string>(), route.at("path").get<std::string>()}] = row;
    }
    return t;
}

std::string as_markdown(const Table& t) {
    std::string out;
    for (const auto& [key, row] : t) {
        out += "| `" + key.first + "` | `" + key.second + "` |";
        for (const auto& c : kColumns) out += row.allowed.count(c) ? " yes |" : " no |";
        out += "\n";
    }
    return out;
}


/// An instance whose socket `who` can reach, `who`'s group mapped to `role`
/// ("no role": to none).
std::unique_ptr<Process> start_for(TestInstance& inst, const Nobody& who, const std::string& role) {
    EXPECT_EQ(::chmod(inst.scratch().c_str(), 0711), 0);
    EXPECT_EQ(::chmod(inst.dir().c_str(), 0711), 0);
    inst.config().admin.socket_group = who.group;
    // Every refusal here is expected: no lockout (auth_lockout_test.cpp has it).
    inst.config().admin.limits.auth_max_failures = 0;
    auto& roles = inst.config().admin.roles;
    if (role == "security-officer") roles.security_officer = who.group;
    if (role == "auditor") roles.auditor = who.group;
    if (role == "operator") roles.operator_ = who.group;
    inst.save_config();
    return inst.start_ready();
}

/// A concrete target for a route template: each {param} becomes "x".
std::string target_of(const std::string& path) {
    return std::regex_replace(path, std::regex("\\{[a-z_]+\\}"), "x");
}

TEST(RoleMatrixTest, TheDaemonsRoutesAreExactlyTheDocumentedTable) {
    const Table documented = documented_table();
    ASSERT_FALSE(documented.empty()) << "no role table between the markers of the guide";
    TestInstance inst;
    auto daemon = inst.start_ready();
    const Table live = live_table(inst);
    EXPECT_EQ(live, documented) << "the table the daemon serves:\n" << as_markdown(live);
}

TEST(RoleMatrixTest, EveryOperationTimesEveryRoleIsAllowedOrRefusedAsDocumented) {
    ASSERT_EQ(::geteuid(), 0u) << "this test switches to uid nobody and must run as root";
    const Table documented = documented_table();
    ASSERT_FALSE(documented.empty());
    const Nobody who = nobody();
    for (const std::string& role : kColumns) {
        TestInstance inst;
        auto daemon = start_for(inst, who, role);
        ASSERT_TRUE(daemon) << role;
        for (const auto& [key, row] : documented) {
            const auto& [method, path] = key;
            const auto r = unix_request_as(inst.socket(), method, target_of(path), "{}", who.uid, who.gid);
            ASSERT_NE(r.status, 0) << method << " " << path << " as " << role << ": " << r.error;
            if (row.allowed.count(role) != 0) {
                EXPECT_NE(r.status, 403) << method << " " << path << " as " << role << ": " << r.body;
            } else {
                EXPECT_EQ(r.status, 403) << method << " " << path << " as " << role << ": " << r.body;
            }
        }
        // The caller's own roles, as the daemon sees them.
        const auto mine = unix_get_as(inst.socket(), "/v1/roles", who.uid, who.gid);
        if (role == "no role") {
            EXPECT_EQ(mine.status, 403);
        } else {
            ASSERT_EQ(mine.status, 200) << mine.body;
            EXPECT_EQ(json::parse(mine.body).at("your_roles"), json::array({role}));
        }
    }
}

}  // namespace
}  // namespace enclave::daemon_test
