// SPDX-License-Identifier: Apache-2.0
// enclave-bench-hashing: TS 103 707 Annex D.4 salted-hash checks against the
// raw primitive.
//
// "ours" is crypto::verify_salted_hash as the HI1 intake calls it: algorithm
// name, salt and hash in lowercase hex as they arrive from the wire, plus the
// UTF-8 value. The reference is the bare primitive on the already-decoded
// bytes in the same run: one SHA-256 of salt || value through EVP with a
// reused context, or one HMAC-SHA-256 (key = salt) through a reused
// EVP_MAC_CTX. The ratio is therefore the cost of everything around the
// hash: hex decoding, the secure (sodium_malloc) copy of the salt, input
// checks, the constant-time compare. A second row with decoded inputs
// separates the hex/Secret part from the rest.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>

#include "bench/bench_util.hpp"
#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"
#include "crypto/secret.hpp"

namespace {

using namespace enclave;

// A typical selector (an MSISDN) and a 32-byte salt, as an LEA would send them.
constexpr const char* kValue = "+447700900123";
constexpr std::size_t kSaltBytes = 32;


volatile std::uint8_t g_sink = 0;

using bench::best_of;
using bench::Pair;

// Raw SHA-256(salt || value): EVP with a reused context.
class RawSha256 {
public:
    RawSha256() : md_(EVP_MD_fetch(nullptr, "SHA2-256", nullptr)), ctx_(EVP_MD_CTX_new()) {
        if (md_ == nullptr || ctx_ == nullptr) throw std::runtime_error("OpenSSL SHA-256");
    }
    ~RawSha256() {
        EVP_MD_CTX_free(ctx_);
        EVP_MD_free(md_);
    }
    RawSha256(const RawSha256&) = delete;
    RawSha256& operator=(const RawSha256&) = delete;

    crypto::Bytes operator()(crypto::ByteView salt, crypto::ByteView value) {
        crypto::Bytes out(32);
        unsigned int n = 0;
        EVP_DigestInit_ex2(ctx_, md_, nullptr);
        EVP_DigestUpdate(ctx_, salt.data(), salt.size());
        EVP_DigestUpdate(ctx_, value.data(), value.size());
        EVP_DigestFinal_ex(ctx_, out.data(), &n);
        return out;
    }

private:
    EVP_MD* md_;
    EVP_MD_CTX* ctx_;
};

// Raw HMAC-SHA-256(key = salt, value): one EVP_MAC_CTX, re-keyed per message.
class RawHmac {
public:
    RawHmac() : mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)) {
        if (mac_ == nullptr) throw std::runtime_error("OpenSSL HMAC");
        ctx_ = EVP_MAC_CTX_new(mac_);
        char digest[] = "SHA2-256";
        const OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (ctx_ == nullptr || EVP_MAC_CTX_set_params(ctx_, params) != 1) {
            throw std::runtime_error("OpenSSL HMAC context");
        }
    }
    ~RawHmac() {
        EVP_MAC_CTX_free(ctx_);
        EVP_MAC_free(mac_);
    }
    RawHmac(const RawHmac&) = delete;
    RawHmac& operator=(const RawHmac&) = delete;

    crypto::Bytes operator()(crypto::ByteView key, crypto::ByteView value) {
        crypto::Bytes out(32);
        std::size_t n = 0;
        EVP_MAC_init(ctx_, key.data(), key.size(), nullptr);
        EVP_MAC_update(ctx_, value.data(), value.size());
        EVP_MAC_final(ctx_, out.data(), &n, out.size());
        return out;
    }

private:
    EVP_MAC* mac_;
    EVP_MAC_CTX* ctx_ = nullptr;
};

template <class Raw>
void bench_one(const char* name, crypto::SaltedHashAlg alg, Raw& raw) {
    const crypto::Secret salt = crypto::Secret::random(kSaltBytes);
    const std::string salt_hex = crypto::hex_encode(salt.view());
    auto expected = crypto::compute_salted_hash(alg, salt.view(), kValue);
    if (!expected) throw std::runtime_error(expected.error().message());
    const std::string hash_hex = crypto::hex_encode(*expected);
    // The reference must compute the very same hash.
    if (raw(salt.view(), crypto::as_bytes(kValue)) != *expected) {
        throw std::runtime_error(std::string(name) + ": raw reference disagrees");
    }

    const Pair wire = best_of(
        [&] {
            auto ok = crypto::verify_salted_hash(name, salt_hex, kValue, hash_hex);
            if (!ok) throw std::runtime_error(ok.error().message());
        },
        [&] {
            auto h = raw(salt.view(), crypto::as_bytes(kValue));
            g_sink = g_sink + h[0];
        });
    const double decoded = best_of([&] {
        auto ok = crypto::verify_salted_hash(alg, salt.view(), kValue, *expected);
        if (!ok) throw std::runtime_error(ok.error().message());
    });

    const std::string what = std::string("verify_salted_hash ") + name + " (hex from wire)";
    bench::print_row(what, wire.ours, wire.reference, "ops/s", "raw primitive on decoded bytes");
    bench::print_row(std::string("  same, inputs already decoded"), decoded, wire.reference,
                     "ops/s", "");
}

}  // namespace

int main() {
    try {
        crypto::ensure_sodium();
        std::printf("D.4 salted-hash verification: %zu-byte salt, %zu-byte value\n", kSaltBytes,
                    std::string(kValue).size());
        bench::print_header("D.4 salted hashes (TS 103 707 Annex D.4)");
        RawSha256 sha;
        bench_one("sha256", crypto::SaltedHashAlg::sha256, sha);
        RawHmac hmac;
        bench_one("hmac-sha256", crypto::SaltedHashAlg::hmac_sha256, hmac);
        // The hex path decodes the salt into a Secret (sodium_malloc: its own
        // pages, guard pages, mlock); this is that cost alone.
        const std::string salt_hex(2 * kSaltBytes, 'a');
        bench::print_figure("  for scale: hex_decode_secret of the salt", best_of([&] {
                                auto s = crypto::hex_decode_secret(salt_hex);
                                g_sink = g_sink + s->data()[0];
                            }),
                            "ops/s");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "enclave-bench-hashing: %s\n", e.what());
        return 1;
    }
    return 0;
}
