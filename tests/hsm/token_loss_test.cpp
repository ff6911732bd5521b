// SPDX-License-Identifier: Apache-2.0
// A token lost and found again, in one process, on a real SoftHSM2 token:
// SessionPool::probe() sees it, recover() suspends the pool (no waiting on a
// dead token), and brings signing and key wrapping back once the token's
// files return; a PIN changed meanwhile is refused once and never retried.
// SoftHSM 2.6 shows a removed token this way: its directory moved away.
#include <gtest/gtest.h>

#include <filesystem>

#include "hsm/keygen.hpp"
#include "hsm/signer.hpp"
#include "hsm/token_key_wrapper.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const crypto::Bytes kMessage = {'t', 'o', 'k', 'e', 'n'};

/// Moves the token's directory (tokens/<uuid>) away and back.
class TokenFiles {
public:
    explicit TokenFiles(const SoftHsmToken& token) : away_(token.dir() / "away") {
        for (const auto& e : fs::directory_iterator(token.dir() / "tokens")) {
            if (e.is_directory()) home_ = e.path();
        }
        if (home_.empty()) throw std::runtime_error("no token directory");
    }
    void remove() { fs::rename(home_, away_); }
    void restore() { fs::rename(away_, home_); }

private:
    fs::path away_;
    fs::path home_;
};

TEST(TokenLossTest, ProbeSeesTheTokenGoneAndRecoverBringsItBack) {
    SoftHsmToken token;
    auto& pool = token.pool();
    auto ec = generate_ec_key_pair(*pool, EcCurve::p256, {"sig", {}});
    ASSERT_TRUE(ec) << ec.error().message();
    auto kek = generate_aes_kek(*pool, {"kek", {}});
    ASSERT_TRUE(kek) << kek.error().message();
    auto signer = Signer::open(pool, ec->query());
    ASSERT_TRUE(signer) << signer.error().message();
    auto wrapper = TokenKeyWrapper::open(pool, kek->query());
    ASSERT_TRUE(wrapper) << wrapper.error().message();
    ASSERT_TRUE(signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage));
    ASSERT_TRUE(pool->probe());
    const auto generation = pool->generation();

    TokenFiles files(token);
    files.remove();
    auto probe = pool->probe();
    ASSERT_FALSE(probe);
    EXPECT_EQ(probe.error().code(), Errc::unavailable);
    EXPECT_NE(probe.error().context().find("C_GetTokenInfo"), std::string::npos)
        << probe.error().context();
    auto early = pool->recover(1s);  // not back yet: the pool stays suspended
    ASSERT_FALSE(early);
    EXPECT_NE(early.error().context().find("is not back"), std::string::npos)
        << early.error().context();
    auto lease = pool->acquire();
    ASSERT_FALSE(lease);
    EXPECT_EQ(lease.error().code(), Errc::unavailable);
    auto sig = signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage);
    ASSERT_FALSE(sig);
    EXPECT_EQ(sig.error().code(), Errc::unavailable);
    auto wrapped = (*wrapper)->wrap(crypto::Secret::random(32));
    ASSERT_FALSE(wrapped);
    EXPECT_EQ(wrapped.error().code(), Errc::unavailable);

    files.restore();
    auto back = pool->recover(1s);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_TRUE(pool->probe());
    EXPECT_NE(pool->generation(), generation);
    EXPECT_TRUE(signer->sign_ecdsa(crypto::HashAlg::sha256, kMessage));
    const crypto::Secret key = crypto::Secret::random(32);
    auto w = (*wrapper)->wrap(key);
    ASSERT_TRUE(w) << w.error().message();
    auto u = (*wrapper)->unwrap(*w, 32);
    ASSERT_TRUE(u) << u.error().message();
    EXPECT_TRUE(u->equals(key));
}

TEST(TokenLossTest, RecoverWaitsForLeasesAndGivesUpAfterTheDrainTimeout) {
    SoftHsmToken token;
    auto& pool = token.pool();
    {
        auto lease = pool->acquire();
        ASSERT_TRUE(lease);
        auto busy = pool->recover(50ms);
        ASSERT_FALSE(busy);
        EXPECT_EQ(busy.error().code(), Errc::unavailable);
        EXPECT_NE(busy.error().context().find("still in use"), std::string::npos);
        EXPECT_FALSE(pool->acquire()) << "a suspended pool handed out a session";
    }  // the lease goes back
    auto ok = pool->recover(1s);
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_TRUE(pool->acquire());
}

TEST(TokenLossTest, APinChangedMeanwhileIsRefusedOnceAndNeverRetried) {
    SoftHsmToken token;
    auto& pool = token.pool();
    {
        auto lease = pool->acquire();
        ASSERT_TRUE(lease);
        crypto::Secret fresh = crypto::Secret::random(12);
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            fresh.data()[i] = static_cast<std::uint8_t>('a' + fresh.data()[i] % 26);
        }
        Session& s = lease->session();
        ASSERT_EQ(s.fn()->C_SetPIN(s.handle(), const_cast<std::uint8_t*>(token.user_pin().data()),
                                   token.user_pin().size(), fresh.data(), fresh.size()),
                  static_cast<CK_RV>(CKR_OK));
    }
    auto first = pool->recover(1s);
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code(), Errc::hsm_pin_incorrect);
    EXPECT_NE(first.error().context().find("CKR_PIN_INCORRECT"), std::string::npos);
    auto second = pool->recover(1s);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Errc::hsm_pin_incorrect);
    EXPECT_NE(second.error().context().find("not trying it again"), std::string::npos)
        << second.error().context();
    EXPECT_FALSE(pool->acquire());
}

}  // namespace
}  // namespace enclave::hsm
