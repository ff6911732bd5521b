// SPDX-License-Identifier: Apache-2.0
#pragma once
// The unprivileged caller of the role tests: uid `nobody` and its primary
// group, from the system's passwd and group files.
#include <grp.h>
#include <pwd.h>
#include <sys/types.h>

#include <stdexcept>
#include <string>

namespace enclave::daemon_test {

struct Nobody {
    uid_t uid;
    gid_t gid;
    std::string group;
};

inline Nobody nobody() {
    const passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) throw std::runtime_error("no user 'nobody' on this system");
    const group* gr = ::getgrgid(pw->pw_gid);
    if (gr == nullptr) throw std::runtime_error("no primary group for 'nobody'");
    return {pw->pw_uid, pw->pw_gid, gr->gr_name};
}

}  // namespace enclave::daemon_test
