// SPDX-License-Identifier: Apache-2.0
#pragma once
// The raw SHA-256 reference of the Merkle and audit-log drivers: EVP with a
// reused context, the fastest plain use of the library, which is what our
// hashing should get close to. (bench_hashing.cpp has its own two-part
// variant for salt || value.) Holds no secret.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>

namespace enclave::bench {

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

    /// SHA-256 of data[0, len) into out[0, 32).
    void hash(const std::uint8_t* data, std::size_t len, std::uint8_t* out) {
        unsigned int n = 0;
        EVP_DigestInit_ex2(ctx_, md_, nullptr);
        EVP_DigestUpdate(ctx_, data, len);
        EVP_DigestFinal_ex(ctx_, out, &n);
    }

private:
    EVP_MD* md_;
    EVP_MD_CTX* ctx_;
};

}  // namespace enclave::bench
