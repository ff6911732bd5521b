// SPDX-License-Identifier: Apache-2.0
#include "hsm/public_key.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "attributes.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = crypto::CHandle<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using ParamBldPtr = crypto::CHandle<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = crypto::CHandle<OSSL_PARAM, OSSL_PARAM_free>;
using BnPtr = crypto::CHandle<BIGNUM, BN_free>;

Result<Bytes> spki_der(const EVP_PKEY* pkey) {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(pkey, &der);
    if (len <= 0) return fail(Errc::crypto_failure, "i2d_PUBKEY failed");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Result<EvpPkeyPtr> from_params(const char* type, OSSL_PARAM_BLD* bld) {
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return fail(Errc::malformed_input, std::string("the token's ") + type +
                                               " public key does not form a valid key");
    }
    return EvpPkeyPtr(pkey);
}

// CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 2.40); some
// modules return the bare point. Tell them apart by length (an uncompressed
// point also starts with 0x04, the OCTET STRING tag), and refuse anything else.
Result<Bytes> unwrap_point(const Bytes& attr, KeyType type) {
    const std::size_t want = type == KeyType::ed25519 ? 32 : type == KeyType::ec_p256 ? 65 : 97;
    if (attr.size() == want) return attr;
    if (attr.size() == want + 2 && attr[0] == 0x04 && attr[1] == want) {
        return Bytes(attr.begin() + 2, attr.end());
    }
    return fail(Errc::malformed_input, "the token's CKA_EC_POINT has an unexpected encoding");
}

Result<Bytes> ec_spki(const Bytes& point_attr, KeyType type) {
    auto unwrapped = unwrap_point(point_attr, type);
    if (!unwrapped) return tl::unexpected(unwrapped.error());
    const Bytes& point = *unwrapped;
    if (type == KeyType::ed25519) {
        EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, point.data(),
                                                    point.size()));
        if (!pkey) return fail(Errc::malformed_input, "the token's Ed25519 public key is invalid");
        return spki_der(pkey.get());
    }
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    const char* group = type == KeyType::ec_p256 ? "P-256" : "P-384";
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
        return fail(Errc::crypto_failure, "OSSL_PARAM_BLD failed");
    }
    auto pkey = from_params("EC", bld.get());
    if (!pkey) return tl::unexpected(pkey.error());
    return spki_der(pkey->get());
}

Result<Bytes> rsa_spki(const Bytes& n, const Bytes& e) {
    BnPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
    BnPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        return fail(Errc::crypto_failure, "OSSL_PARAM_BLD failed");
    }
    auto pkey = from_params("RSA", bld.get());
    if (!pkey) return tl::unexpected(pkey.error());
    return spki_der(pkey->get());
}

}  // namespace

Result<Bytes> export_public_key_spki(const Session& s, const KeyRef& key, const TokenInfo& token) {
    if (key.key_type == KeyType::aes) {
        return fail(Errc::invalid_argument, "an AES key has no public key");
    }
    auto pub = find_key_handle(s, key.query_as(ObjectType::public_key), token);
    if (key.key_type == KeyType::rsa) {
        // The private object carries the modulus and exponent too.
        if (!pub && pub.error().code() == Errc::hsm_object_not_found) {
            pub = find_key_handle(s, key.query_as(ObjectType::private_key), token);
        }
        if (!pub) return tl::unexpected(pub.error());
        auto n = detail::get_attribute(s, *pub, CKA_MODULUS);
        auto e = detail::get_attribute(s, *pub, CKA_PUBLIC_EXPONENT);
        if (!n || !e) return tl::unexpected((!n ? n.error() : e.error()).wrap("reading RSA public key"));
        return rsa_spki(*n, *e);
    }
    if (!pub) return tl::unexpected(pub.error());
    auto point = detail::get_attribute(s, *pub, CKA_EC_POINT);
    if (!point) return tl::unexpected(point.error().wrap("reading CKA_EC_POINT"));
    return ec_spki(*point, key.key_type);
}

Result<Bytes> export_public_key_spki(SessionPool& pool, const KeyRef& key) {
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    return export_public_key_spki(lease->session(), key, pool.token());
}

}  // namespace enclave::hsm
