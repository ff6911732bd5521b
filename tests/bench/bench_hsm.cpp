// SPDX-License-Identifier: Apache-2.0
// enclave-bench-hsm: PKCS#11 ECDSA P-256 signatures per second through the
// session pool, beside a bare C_SignInit/C_Sign loop on one session measured
// in the same run, on a fresh SoftHSM2 token (tests/support/softhsm_token).
//
// Rows:
//   pool, 1 thread   vs bare loop, 1 session        goal >= 0.90x (pool overhead)
//   pool, 2 threads  vs pool, 1 thread              goal >= 1.60x (no global lock)
//   bare, 2 threads, one session each vs bare 1     (what the module itself allows)
//   bare, 2 threads, one session and one key each    (is the limit per key object?)
//   OpenSSL ECDSA in process, 2 threads vs 1          (what the machine allows now)
// Each figure is the median of several rounds (the machine is shared).
// ENCLAVE_BENCH_SOFTHSM_BACKEND=db switches SoftHSM's object store to SQLite.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "bench_util.hpp"
#include "crypto/digest.hpp"
#include "hsm/keygen.hpp"
#include "hsm/signer.hpp"
#include "support/softhsm_token.hpp"

namespace {

using namespace enclave;

constexpr int kRounds = 5;
constexpr double kSeconds = 1.0;

// A session of its own with the key handle found once: the bare reference.
struct BareSigner {
    hsm::Session session;
    CK_OBJECT_HANDLE key;

    void sign(const crypto::Bytes& digest) {
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        CK_BYTE sig[64];
        CK_ULONG len = sizeof sig;
        CK_FUNCTION_LIST* fn = session.fn();
        if (fn->C_SignInit(session.handle(), &m, key) != CKR_OK ||
            fn->C_Sign(session.handle(), const_cast<CK_BYTE*>(digest.data()), digest.size(), sig,
                       &len) != CKR_OK) {
            throw std::runtime_error("bare C_Sign failed");
        }
    }
};

BareSigner bare_signer(const testing::SoftHsmToken& token, const hsm::KeyRef& key) {
    auto s = hsm::Session::open(token.module(), token.pool()->token().slot_id);
    if (!s) throw std::runtime_error(s.error().message());
    // The pool's login session keeps the token logged in for every session.
    auto h = hsm::find_key_handle(*s, key.query(), token.token());
    if (!h) throw std::runtime_error(h.error().message());
    return BareSigner{std::move(*s), *h};
}

// Plain OpenSSL ECDSA P-256 over the same digest: the machine's own scaling
// at this moment (the benchmark host is shared).
double openssl_rate(int threads, const crypto::Bytes& digest) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    std::vector<EVP_PKEY_CTX*> ctx;
    for (int t = 0; t < threads; ++t) {
        ctx.push_back(EVP_PKEY_CTX_new(key, nullptr));
        EVP_PKEY_sign_init(ctx.back());
    }
    const double rate = bench::measure_threads(threads, [&](int t) {
        unsigned char sig[80];
        size_t len = sizeof sig;
        if (EVP_PKEY_sign(ctx[t], sig, &len, digest.data(), digest.size()) != 1) {
            throw std::runtime_error("EVP_PKEY_sign failed");
        }
    }, kSeconds).per_second;
    for (auto* c : ctx) EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(key);
    return rate;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main() {
    try {
        testing::SoftHsmToken::Options options;
        options.label = "bench";
        options.pool.max_sessions = 4;
        if (const char* b = std::getenv("ENCLAVE_BENCH_SOFTHSM_BACKEND"); b != nullptr) {
            options.backend = b;
        }
        testing::SoftHsmToken token(options);
        auto key = hsm::generate_ec_key_pair(*token.pool(), hsm::EcCurve::p256, {"bench-p256", {}});
        if (!key) throw std::runtime_error(key.error().message());
        auto signer = hsm::Signer::open(token.pool(), key->query());
        if (!signer) throw std::runtime_error(signer.error().message());
        const crypto::Bytes digest =
            crypto::digest(crypto::HashAlg::sha256, crypto::as_bytes("tree head 4242"));
        auto key2 = hsm::generate_ec_key_pair(*token.pool(), hsm::EcCurve::p256, {"bench-2", {}});
        if (!key2) throw std::runtime_error(key2.error().message());
        std::vector<BareSigner> bare;
        bare.push_back(bare_signer(token, *key));
        bare.push_back(bare_signer(token, *key));
        bare.push_back(bare_signer(token, *key2));  // thread 1's own key

        auto pool_op = [&](int) {
            if (!signer->sign_ecdsa_digest(digest)) throw std::runtime_error("pool sign failed");
        };
        std::vector<double> bare1, bare2, bare2k, pool1, pool2, ossl1, ossl2;
        for (int r = 0; r < kRounds; ++r) {
            // Same harness for both, and alternate which goes first: the host is
            // shared, so load drifts between consecutive measurements.
            auto bare_one = [&] {
                bare1.push_back(
                    bench::measure_threads(1, [&](int) { bare[0].sign(digest); }, kSeconds)
                        .per_second);
            };
            auto pool_one = [&] {
                pool1.push_back(bench::measure_threads(1, pool_op, kSeconds).per_second);
            };
            if (r % 2 == 0) {
                bare_one();
                pool_one();
            } else {
                pool_one();
                bare_one();
            }
            pool2.push_back(bench::measure_threads(2, pool_op, kSeconds).per_second);
            bare2.push_back(
                bench::measure_threads(2, [&](int t) { bare[t].sign(digest); }, kSeconds).per_second);
            bare2k.push_back(
                bench::measure_threads(2, [&](int t) { bare[t == 0 ? 0 : 2].sign(digest); }, kSeconds)
                    .per_second);
            ossl1.push_back(openssl_rate(1, digest));
            ossl2.push_back(openssl_rate(2, digest));
        }
        const auto stats = token.pool()->stats();
        bench::print_header("hsm: PKCS#11 ECDSA P-256 (SoftHSM2 via p11-kit)");
        bench::print_row("sign, pool, 1 thread  vs bare C_Sign loop", median(pool1), median(bare1),
                         "ops/s", ">= 0.90x");
        bench::print_row("sign, pool, 2 threads vs pool, 1 thread", median(pool2), median(pool1),
                         "ops/s", ">= 1.60x");
        bench::print_row("bare, 2 threads (own session) vs bare 1", median(bare2), median(bare1),
                         "ops/s", "(module ceiling)");
        bench::print_row("bare, 2 threads, own session + key vs bare 1", median(bare2k),
                         median(bare1), "ops/s", "(per-object limit?)");
        bench::print_row("OpenSSL in process, 2 threads vs 1 thread", median(ossl2), median(ossl1),
                         "ops/s", "(machine now)");
        std::printf("median of %d rounds x %.1f s; %u hardware threads; SoftHSM backend %s; pool "
                    "opened %llu sessions, peak %zu in use\n",
                    kRounds, kSeconds, std::thread::hardware_concurrency(), options.backend.c_str(),
                    static_cast<unsigned long long>(stats.sessions_opened), stats.peak_in_use);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-hsm: %s\n", e.what());
        return 1;
    }
}
