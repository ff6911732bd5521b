// SPDX-License-Identifier: Apache-2.0
#pragma once
// Reading ../shared/test-vectors/d4-salted-hash.json: which error each
// "must_reject" case must produce, decided from its "why" text in one place
// for every suite that runs the cases.
#include <gtest/gtest.h>

#include <string>

#include "crypto/result.hpp"

namespace enclave::testing {

/// The Errc a must_reject case names; a test failure (and Errc::internal)
/// for a "why" that matches no known rule, so a new case in the shared file
/// cannot pass unclassified.
inline crypto::Errc d4_must_reject_code(const std::string& why) {
    using crypto::Errc;
    if (why.find("shorter") != std::string::npos) return Errc::salt_too_short;
    if (why.find("does not match") != std::string::npos) return Errc::hash_mismatch;
    if (why.find("unknown algorithm") != std::string::npos) return Errc::unsupported_algorithm;
    ADD_FAILURE() << "unclassified must_reject case: " << why;
    return Errc::internal;
}

}  // namespace enclave::testing
