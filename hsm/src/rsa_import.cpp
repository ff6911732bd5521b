// SPDX-License-Identifier: Apache-2.0
// Importing an RSA private key onto the token (for RSA-PSS TLS keys that were
// issued outside the appliance). Private components travel OpenSSL BIGNUM ->
// crypto::Secret -> C_CreateObject, and every buffer is wiped.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>

#include "crypto/c_handle.hpp"
#include "hsm/errors.hpp"
#include "hsm/keygen.hpp"
#include "keygen_common.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

namespace {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = crypto::CHandle<BIO, BIO_free>;
using BnPtr = crypto::CHandle<BIGNUM, BN_clear_free>;

// Refuses to prompt for a passphrase: encrypted keys are not accepted here.
int no_passphrase(char*, int, int, void*) { return 0; }

Result<EvpPkeyPtr> parse_private_key(const Secret& key) {
    if (key.empty() || key.size() > 64 * 1024) {
        return fail(Errc::invalid_argument, "RSA private key must be 1 byte..64 KiB");
    }
    static constexpr char kPem[] = "-----BEGIN";
    EvpPkeyPtr pkey;
    if (key.size() > sizeof kPem && std::memcmp(key.data(), kPem, sizeof kPem - 1) == 0) {
        BioPtr bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
        if (!bio) return fail(Errc::crypto_failure, "BIO_new_mem_buf failed");
        pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, &no_passphrase, nullptr));
    } else {
        const unsigned char* p = key.data();
        pkey.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(key.size())));
    }
    if (!pkey) {
        return fail(Errc::malformed_input,
                    "not an unencrypted RSA private key (PKCS#8 or PKCS#1, PEM or DER)");
    }
    const int id = EVP_PKEY_get_base_id(pkey.get());
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_RSA_PSS) {
        return fail(Errc::unsupported_algorithm, "the private key is not an RSA key");
    }
    const int bits = EVP_PKEY_get_bits(pkey.get());
    if (bits < 2048 || bits > 8192) {
        return fail(Errc::invalid_argument,
                    "RSA key of " + std::to_string(bits) + " bits: 2048..8192 are accepted");
    }
    return pkey;
}

Result<BnPtr> bn_param(const EVP_PKEY* pkey, const char* name) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1 || bn == nullptr) {
        return fail(Errc::malformed_input, std::string("RSA key lacks component ") + name);
    }
    return BnPtr(bn);
}

struct RsaParts {
    Bytes n, e;
    Secret d, p, q, dp, dq, qinv;
};

Result<RsaParts> split(const EVP_PKEY* pkey) {
    const char* names[] = {OSSL_PKEY_PARAM_RSA_N,        OSSL_PKEY_PARAM_RSA_E,
                           OSSL_PKEY_PARAM_RSA_D,        OSSL_PKEY_PARAM_RSA_FACTOR1,
                           OSSL_PKEY_PARAM_RSA_FACTOR2,  OSSL_PKEY_PARAM_RSA_EXPONENT1,
                           OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    RsaParts out;
    Secret* secrets[] = {&out.d, &out.p, &out.q, &out.dp, &out.dq, &out.qinv};
    for (int i = 0; i < 8; ++i) {
        auto bn = bn_param(pkey, names[i]);
        if (!bn) return tl::unexpected(bn.error());
        const auto len = static_cast<std::size_t>(BN_num_bytes(bn->get()));
        if (i < 2) {
            Bytes& b = i == 0 ? out.n : out.e;
            b.resize(len);
            BN_bn2bin(bn->get(), b.data());
        } else {
            Secret s(len);
            BN_bn2bin(bn->get(), s.data());
            *secrets[i - 2] = std::move(s);
        }
    }
    return out;
}

}  // namespace

Result<KeyRef> import_rsa_private_key(SessionPool& pool, const Secret& key, const KeySpec& in) {
    auto spec = detail::checked_spec(in);
    if (!spec) return tl::unexpected(spec.error());
    auto pkey = parse_private_key(key);
    if (!pkey) return tl::unexpected(pkey.error());
    auto parts = split(pkey->get());
    if (!parts) return tl::unexpected(parts.error());
    pkey->reset();
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    const Session& s = lease->session();
    if (auto ok = detail::ensure_unused(s, *spec, pool.token()); !ok) return tl::unexpected(ok.error());

    detail::Template priv;
    detail::add_private_key_attrs(priv, CKK_RSA, *spec);
    priv.add_bool(CKA_SIGN, true)
        .add_bytes(CKA_MODULUS, parts->n)
        .add_bytes(CKA_PUBLIC_EXPONENT, parts->e)
        .add_secret(CKA_PRIVATE_EXPONENT, parts->d)
        .add_secret(CKA_PRIME_1, parts->p)
        .add_secret(CKA_PRIME_2, parts->q)
        .add_secret(CKA_EXPONENT_1, parts->dp)
        .add_secret(CKA_EXPONENT_2, parts->dq)
        .add_secret(CKA_COEFFICIENT, parts->qinv);
    CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE;
    if (CK_RV rv = s.fn()->C_CreateObject(s.handle(), priv.data(), priv.size(), &hpriv);
        rv != CKR_OK) {
        return fail_ckr(rv, "C_CreateObject (RSA private key '" + spec->label + "')");
    }
    detail::Template pub;
    detail::add_public_key_attrs(pub, CKK_RSA, *spec);
    pub.add_bytes(CKA_MODULUS, parts->n).add_bytes(CKA_PUBLIC_EXPONENT, parts->e);
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
    if (CK_RV rv = s.fn()->C_CreateObject(s.handle(), pub.data(), pub.size(), &hpub);
        rv != CKR_OK) {
        s.fn()->C_DestroyObject(s.handle(), hpriv);  // no half-imported pair
        return fail_ckr(rv, "C_CreateObject (RSA public key '" + spec->label + "')");
    }
    KeyRef ref;
    ref.label = spec->label;
    ref.id = spec->id;
    ref.type = ObjectType::private_key;
    ref.key_type = KeyType::rsa;
    return ref;
}

}  // namespace enclave::hsm
