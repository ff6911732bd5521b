// SPDX-License-Identifier: Apache-2.0
#include "appliance/roles.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace enclave::appliance {
namespace {

long sysconf_or(int name, long fallback) {
    const long v = ::sysconf(name);
    return v > 0 ? v : fallback;
}

std::string group_name(gid_t gid) {
    std::vector<char> buf(static_cast<std::size_t>(sysconf_or(_SC_GETGR_R_SIZE_MAX, 16384)));
    for (int attempt = 0; attempt < 6; ++attempt) {
        group g{};
        group* out = nullptr;
        const int rc = ::getgrgid_r(gid, &g, buf.data(), buf.size(), &out);
        if (rc == ERANGE) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc != 0 || out == nullptr) return {};
        return out->gr_name;
    }
    return {};
}

}  // namespace

RoleSet roles_from_groups(const std::vector<std::string>& group_names, const RoleGroups& groups) {
    RoleSet roles;
    const auto member = [&](const std::string& name) {
        return !name.empty() &&
               std::find(group_names.begin(), group_names.end(), name) != group_names.end();
    };
    if (member(groups.security_officer)) roles.add(Role::security_officer);
    if (member(groups.auditor)) roles.add(Role::auditor);
    if (member(groups.operator_)) roles.add(Role::operator_);
    return roles;
}

std::vector<std::string> groups_of_uid(uid_t uid) {
    std::vector<char> buf(static_cast<std::size_t>(sysconf_or(_SC_GETPW_R_SIZE_MAX, 16384)));
    passwd pw{};
    passwd* found = nullptr;
    for (int attempt = 0; attempt < 6; ++attempt) {
        const int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found);
        if (rc != ERANGE) break;
        buf.resize(buf.size() * 2);
    }
    if (found == nullptr) return {};
    int count = 32;
    std::vector<gid_t> gids(static_cast<std::size_t>(count));
    while (::getgrouplist(found->pw_name, found->pw_gid, gids.data(), &count) < 0) {
        if (count <= static_cast<int>(gids.size()) || count > 65536) return {};
        gids.resize(static_cast<std::size_t>(count));
    }
    gids.resize(static_cast<std::size_t>(count));
    std::vector<std::string> names;
    for (const gid_t g : gids) {
        if (std::string n = group_name(g); !n.empty()) names.push_back(std::move(n));
    }
    return names;
}

RoleSet roles_for_uid(uid_t uid, uid_t self, const RoleGroups& groups) {
    if (uid == 0 || uid == self) return RoleSet::all();
    return roles_from_groups(groups_of_uid(uid), groups);
}

RoleSet roles_of_subject(const TlsRoleSubjects& map, const std::string& subject) {
    const auto listed = [&subject](const std::vector<std::string>& subjects) {
        return std::find(subjects.begin(), subjects.end(), subject) != subjects.end();
    };
    RoleSet roles;
    if (listed(map.security_officer)) roles.add(Role::security_officer);
    if (listed(map.auditor)) roles.add(Role::auditor);
    if (listed(map.operator_)) roles.add(Role::operator_);
    return roles;
}

}  // namespace enclave::appliance
