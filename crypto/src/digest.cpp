// SPDX-License-Identifier: Apache-2.0
#include "crypto/digest.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

#include "crypto/c_handle.hpp"

namespace enclave::crypto {
namespace {

using MdCtxPtr = CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;
using MacPtr = CHandle<EVP_MAC, EVP_MAC_free>;
using MacCtxPtr = CHandle<EVP_MAC_CTX, EVP_MAC_CTX_free>;

// The EVP_MD objects are fetched once: EVP_MD_fetch per call costs a lock and
// a lookup in OpenSSL 3.
const EVP_MD* md_for(HashAlg alg) {
    static const EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    static const EVP_MD* const kSha384 = EVP_MD_fetch(nullptr, "SHA2-384", nullptr);
    static const EVP_MD* const kSha512 = EVP_MD_fetch(nullptr, "SHA2-512", nullptr);
    static const EVP_MD* const kSha3_256 = EVP_MD_fetch(nullptr, "SHA3-256", nullptr);
    const EVP_MD* md = nullptr;
    switch (alg) {
        case HashAlg::sha256: md = kSha256; break;
        case HashAlg::sha384: md = kSha384; break;
        case HashAlg::sha512: md = kSha512; break;
        case HashAlg::sha3_256: md = kSha3_256; break;
    }
    if (md == nullptr) {
        // Only a broken OpenSSL installation gets here: an invariant, not input.
        throw std::runtime_error("OpenSSL digest unavailable");
    }
    return md;
}

void check(int ok, const char* what) {
    if (ok != 1) {
        throw std::runtime_error(what);
    }
}

}  // namespace

std::size_t digest_size(HashAlg alg) noexcept {
    switch (alg) {
        case HashAlg::sha256: return 32;
        case HashAlg::sha384: return 48;
        case HashAlg::sha512: return 64;
        case HashAlg::sha3_256: return 32;
    }
    return 0;
}

std::string_view hash_name(HashAlg alg) noexcept {
    switch (alg) {
        case HashAlg::sha256: return "sha256";
        case HashAlg::sha384: return "sha384";
        case HashAlg::sha512: return "sha512";
        case HashAlg::sha3_256: return "sha3-256";
    }
    return "";
}

std::optional<HashAlg> hash_from_name(std::string_view name) noexcept {
    for (HashAlg a : {HashAlg::sha256, HashAlg::sha384, HashAlg::sha512, HashAlg::sha3_256}) {
        if (hash_name(a) == name) return a;
    }
    return std::nullopt;
}

struct Hasher::Impl {
    HashAlg alg;
    MdCtxPtr ctx;
};

Hasher::Hasher(HashAlg alg) : impl_(std::make_unique<Impl>(Impl{alg, MdCtxPtr(EVP_MD_CTX_new())})) {
    if (!impl_->ctx) throw std::bad_alloc();
    check(EVP_DigestInit_ex2(impl_->ctx.get(), md_for(alg), nullptr), "EVP_DigestInit_ex2");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(ByteView data) {
    check(EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()), "EVP_DigestUpdate");
}

Bytes Hasher::finish() {
    Bytes out(digest_size(impl_->alg));
    unsigned int len = 0;
    check(EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len), "EVP_DigestFinal_ex");
    out.resize(len);
    check(EVP_DigestInit_ex2(impl_->ctx.get(), md_for(impl_->alg), nullptr), "EVP_DigestInit_ex2");
    return out;
}

Bytes digest(HashAlg alg, ByteView data) { return digest(alg, {data}); }

Bytes digest(HashAlg alg, std::initializer_list<ByteView> parts) {
    // One context per thread and algorithm: creating an EVP_MD_CTX per call is
    // measurable in Merkle appends.
    thread_local MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    check(EVP_DigestInit_ex2(ctx.get(), md_for(alg), nullptr), "EVP_DigestInit_ex2");
    for (ByteView p : parts) {
        check(EVP_DigestUpdate(ctx.get(), p.data(), p.size()), "EVP_DigestUpdate");
    }
    Bytes out(digest_size(alg));
    unsigned int len = 0;
    check(EVP_DigestFinal_ex(ctx.get(), out.data(), &len), "EVP_DigestFinal_ex");
    out.resize(len);
    return out;
}

Bytes hmac(HashAlg alg, ByteView key, ByteView data) {
    static EVP_MAC* const kHmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (kHmac == nullptr) throw std::runtime_error("OpenSSL HMAC unavailable");
    MacCtxPtr ctx(EVP_MAC_CTX_new(kHmac));
    if (!ctx) throw std::bad_alloc();
    const char* md_name = EVP_MD_get0_name(md_for(alg));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md_name), 0),
        OSSL_PARAM_construct_end(),
    };
    // EVP_MAC_init rejects a NULL key pointer even for length 0.
    static const std::uint8_t kEmpty = 0;
    const std::uint8_t* k = key.empty() ? &kEmpty : key.data();
    check(EVP_MAC_init(ctx.get(), k, key.size(), params), "EVP_MAC_init");
    check(EVP_MAC_update(ctx.get(), data.data(), data.size()), "EVP_MAC_update");
    Bytes out(EVP_MAC_CTX_get_mac_size(ctx.get()));
    std::size_t len = 0;
    check(EVP_MAC_final(ctx.get(), out.data(), &len, out.size()), "EVP_MAC_final");
    out.resize(len);
    return out;
}

}  // namespace enclave::crypto
