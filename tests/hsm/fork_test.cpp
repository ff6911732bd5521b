// SPDX-License-Identifier: Apache-2.0
// PKCS#11 handles do not survive fork(). These tests fork for real: the child
// reports through its exit status (gtest assertions mean nothing there) and
// leaves with _exit so it runs no parent-owned destructors.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "support/in_child.hpp"
#include "hsm/keygen.hpp"
#include "hsm/signer.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "support/softhsm_token.hpp"
#include "verify.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

using enclave::testing::in_child;

const crypto::Bytes kMessage = {'f', 'o', 'r', 'k', 'e', 'd'};

TEST(ForkTest, StalePoolInTheChildGivesAClearErrorNotACrash) {
    SoftHsmToken token;
    auto ref = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"ec", {}});
    ASSERT_TRUE(ref);
    auto signer = Signer::open(token.pool(), ref->query());
    ASSERT_TRUE(signer);
    const int status = in_child([&] {
        auto lease = token.pool()->acquire();
        if (lease) return 1;
        if (lease.error().code() != Errc::unavailable) return 2;
        if (lease.error().message().find("fork") == std::string::npos) return 3;
        auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage);
        if (sig || sig.error().code() != Errc::unavailable) return 4;
        if (token.module()->check_usable()) return 5;
        if (token.module()->tokens()) return 6;
        auto session = Session::open(token.module(), token.token().slot_id);
        if (session || session.error().code() != Errc::unavailable) return 7;
        // Resetting the pool before the module is re-initialised is refused too.
        auto early = token.pool()->reset_after_fork();
        if (early || early.error().code() != Errc::unavailable) return 8;
        return 0;
    });
    EXPECT_EQ(status, 0);
    // The parent is untouched.
    auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage);
    EXPECT_TRUE(sig) << sig.error().message();
}

// reset_on_fork = true: SoftHSM forgets everything in the child, like a real
// HSM client library (new slot ids, no login). false: it keeps its state and
// answers CKR_CRYPTOKI_ALREADY_INITIALIZED / CKR_USER_ALREADY_LOGGED_IN.
void child_reinitialises_and_signs(bool reset_on_fork) {
    SoftHsmToken::Options options;
    options.reset_on_fork = reset_on_fork;
    SoftHsmToken token(options);
    auto ref = generate_ec_key_pair(*token.pool(), EcCurve::p256, {"ec", {}});
    ASSERT_TRUE(ref);
    auto signer = Signer::open(token.pool(), ref->query());
    ASSERT_TRUE(signer);
    ASSERT_TRUE(signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage));  // handle cached
    auto spki = signer->public_key_spki();
    ASSERT_TRUE(spki);
    const int status = in_child([&] {
        if (!token.module()->reinitialize_after_fork()) return 1;
        if (auto r = token.pool()->reset_after_fork(); !r) {
            std::fprintf(stderr, "child: %s\n", r.error().message().c_str());
            return 2;
        }
        // The same Signer works: it re-finds its key for the new generation.
        auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage);
        if (!sig) return 3;
        if (!testing::openssl_verify(*spki, EVP_sha256(), kMessage, sig->der)) return 4;
        // And brand-new objects work too.
        auto kek = generate_aes_kek(*token.pool(), {"child-kek", {}});
        if (!kek) return 5;
        auto wrapper = TokenKeyWrapper::open(token.pool(), kek->query());
        if (!wrapper) return 6;
        const auto key = crypto::Secret::random(32);
        auto wrapped = (*wrapper)->wrap(key);
        auto back = wrapped ? (*wrapper)->unwrap(*wrapped, 32) : crypto::Result<crypto::Secret>();
        if (!back || !back->equals(key)) return 7;
        return 0;
    });
    EXPECT_EQ(status, 0);
    // The parent keeps signing with its own sessions.
    auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage);
    ASSERT_TRUE(sig) << sig.error().message();
    EXPECT_TRUE(testing::openssl_verify(*spki, EVP_sha256(), kMessage, sig->der));
}

TEST(ForkTest, ChildReinitialisesAndSigns) { child_reinitialises_and_signs(true); }

TEST(ForkTest, ChildReinitialisesAndSignsWhenTheModuleKeepsItsState) {
    child_reinitialises_and_signs(false);
}

TEST(ForkTest, ReinitialiseIsANoOpWithoutAFork) {
    SoftHsmToken token;
    const auto generation = token.pool()->generation();
    EXPECT_TRUE(token.module()->reinitialize_after_fork());
    EXPECT_TRUE(token.pool()->reset_after_fork());
    EXPECT_EQ(token.pool()->generation(), generation);
    EXPECT_TRUE(token.pool()->acquire());
}

}  // namespace
}  // namespace enclave::hsm
