// SPDX-License-Identifier: Apache-2.0
#include "support/in_child.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace enclave::testing {

int in_child(const std::function<int()>& child) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 99;
        try {
            code = child();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace enclave::testing
