// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by the TSA and evidence-record tests: a fresh SoftHSM2 token with a
// provisioned TSA, and seeded test objects.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "archive/evidence.hpp"
#include "archive/tsa.hpp"
#include "crypto/digest.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::archive::test {

/// A token with the TSA key and its certificate, opened.
struct TsaOnToken {
    testing::SoftHsmToken token;
    crypto::Bytes certificate;
    std::shared_ptr<TimeStampAuthority> tsa;

    explicit TsaOnToken(const std::string& cn = "Enclave test TSA") {
        auto cert = TimeStampAuthority::provision(*token.pool(), cn, 30);
        if (!cert) throw std::runtime_error(cert.error().message());
        certificate = *cert;
        auto opened = TimeStampAuthority::open(token.pool(), certificate);
        if (!opened) throw std::runtime_error(opened.error().message());
        tsa = *opened;
    }
};

/// `n` objects of `size` bytes from `seed` (printed by the callers).
inline std::vector<crypto::Bytes> objects(std::size_t n, std::uint32_t seed, std::size_t size = 64) {
    std::mt19937 rng(seed);
    std::vector<crypto::Bytes> out(n, crypto::Bytes(size));
    for (auto& o : out) {
        for (auto& b : o) b = static_cast<std::uint8_t>(rng());
    }
    return out;
}

inline std::vector<crypto::Bytes> digests(crypto::HashAlg alg, const std::vector<crypto::Bytes>& objs) {
    std::vector<crypto::Bytes> out;
    for (const auto& o : objs) out.push_back(crypto::digest(alg, o));
    return out;
}

/// The digest callback of verify_evidence_record for one object.
inline auto digest_of(const crypto::Bytes& object) {
    return [&object](crypto::HashAlg alg) { return crypto::digest(alg, object); };
}

}  // namespace enclave::archive::test
