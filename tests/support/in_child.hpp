// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs a function in a fork()ed child process (fork-safety tests).

#include <functional>

namespace enclave::testing {

/// Runs `child` in a fork()ed child and returns its exit status: the value
/// `child` returned, 98 if it threw, -1 if the child died by a signal, -2 if
/// fork or waitpid failed.
int in_child(const std::function<int()>& child);

}  // namespace enclave::testing
