// SPDX-License-Identifier: Apache-2.0
#include "hsm/signer.hpp"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "attributes.hpp"
#include "crypto/c_handle.hpp"
#include "handle_cache.hpp"
#include "hsm/errors.hpp"
#include "hsm/public_key.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::HashAlg;
using crypto::Result;

namespace {

using EcdsaSigPtr = crypto::CHandle<ECDSA_SIG, ECDSA_SIG_free>;

std::size_t field_size(KeyType t) noexcept { return t == KeyType::ec_p384 ? 48 : 32; }

Result<std::pair<CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE>> pss_hash(HashAlg h) {
    switch (h) {
        case HashAlg::sha256: return std::pair{CKM_SHA256, CKG_MGF1_SHA256};
        case HashAlg::sha384: return std::pair{CKM_SHA384, CKG_MGF1_SHA384};
        case HashAlg::sha512: return std::pair{CKM_SHA512, CKG_MGF1_SHA512};
        default: return fail(Errc::unsupported_algorithm, "RSA-PSS needs SHA-256, SHA-384 or SHA-512");
    }
}

}  // namespace

Result<Bytes> ecdsa_raw_to_der(ByteView raw) {
    if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 264) {
        return fail(Errc::malformed_input, "an ECDSA r||s signature has an even, bounded length");
    }
    const int half = static_cast<int>(raw.size() / 2);
    BIGNUM* r = BN_bin2bn(raw.data(), half, nullptr);
    BIGNUM* s = BN_bin2bn(raw.data() + half, half, nullptr);
    EcdsaSigPtr sig(ECDSA_SIG_new());
    if (r == nullptr || s == nullptr || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return fail(Errc::crypto_failure, "building ECDSA_SIG failed");
    }
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return fail(Errc::crypto_failure, "i2d_ECDSA_SIG failed");
    Bytes out(der, der + len);
    OPENSSL_free(der);
    return out;
}

Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t field) {
    const unsigned char* p = der.data();
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig || p != der.data() + der.size() || field == 0 || field > 132) {
        return fail(Errc::malformed_input, "not a DER ECDSA-Sig-Value");
    }
    Bytes out(2 * field);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), static_cast<int>(field)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + field, static_cast<int>(field)) < 0) {
        return fail(Errc::malformed_input, "ECDSA signature values exceed the field size");
    }
    return out;
}

Signer::Signer(std::shared_ptr<SessionPool> pool, KeyRef key)
    : pool_(std::move(pool)),
      key_(std::move(key)),
      cache_(std::make_unique<detail::HandleCache>(key_.query())) {}

Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;
Signer::~Signer() = default;

Result<Signer> Signer::open(std::shared_ptr<SessionPool> pool, const KeyQuery& query) {
    if (!pool) return fail(Errc::invalid_argument, "Signer::open without a pool");
    if (query.type != ObjectType::private_key) {
        return fail(Errc::invalid_argument, "a Signer needs a private key, not a " +
                                                std::string(object_type_name(query.type)));
    }
    auto ref = find_key(*pool, query);
    if (!ref) return tl::unexpected(ref.error());
    if (ref->key_type == KeyType::aes) {
        return fail(Errc::invalid_argument, query.describe() + " is not a signing key");
    }
    Signer signer(pool, std::move(*ref));
    if (signer.key_type() == KeyType::rsa) {
        auto lease = pool->acquire();
        if (!lease) return tl::unexpected(lease.error());
        auto h = signer.cache_->get(lease->session(), *pool);
        if (!h) return tl::unexpected(h.error());
        // CKA_MODULUS_BITS belongs to public keys; private keys carry CKA_MODULUS.
        auto n = detail::get_attribute(lease->session(), *h, CKA_MODULUS);
        if (!n) return tl::unexpected(n.error().wrap("reading CKA_MODULUS"));
        std::size_t len = n->size();
        for (std::size_t i = 0; i < n->size() && (*n)[i] == 0; ++i) --len;
        signer.rsa_bytes_ = len;
    }
    return signer;
}

Result<Signer> Signer::open_uri(std::shared_ptr<SessionPool> pool, const Uri& uri) {
    auto q = KeyQuery::from_uri(uri, ObjectType::private_key);
    if (!q) return tl::unexpected(q.error());
    return open(std::move(pool), *q);
}

Result<Bytes> Signer::sign_raw(CK_MECHANISM& mech, ByteView data, std::size_t expected) {
    for (int attempt = 0;; ++attempt) {
        auto lease = pool_->acquire();
        if (!lease) return tl::unexpected(lease.error());
        const Session& s = lease->session();
        auto h = cache_->get(s, *pool_);
        if (!h) return tl::unexpected(h.error());
        CK_RV rv = s.fn()->C_SignInit(s.handle(), &mech, *h);
        if (detail::is_stale_handle(rv) && attempt == 0) {
            cache_->invalidate();  // the object was re-created: look it up again
            continue;
        }
        if (rv != CKR_OK) {
            if (is_token_unavailable(rv)) lease->discard();  // a dead session: never reuse it
            return fail_ckr(rv, "C_SignInit with " + key_.query().describe());
        }
        Bytes sig(expected);
        CK_ULONG len = sig.size();
        rv = s.fn()->C_Sign(s.handle(), const_cast<CK_BYTE*>(data.data()), data.size(), sig.data(),
                            &len);
        if (rv == CKR_BUFFER_TOO_SMALL) {
            // The operation is still active; retry with the size the token asked for.
            sig.resize(len);
            rv = s.fn()->C_Sign(s.handle(), const_cast<CK_BYTE*>(data.data()), data.size(),
                                sig.data(), &len);
        }
        if (rv != CKR_OK) {
            // An operation left active, or a dead session: never reuse it.
            if (rv == CKR_BUFFER_TOO_SMALL || is_token_unavailable(rv)) lease->discard();
            return fail_ckr(rv, "C_Sign with " + key_.query().describe());
        }
        sig.resize(len);
        return sig;
    }
}

Result<Bytes> Signer::sign_ecdsa_digest(ByteView digest) {
    if (key_type() != KeyType::ec_p256 && key_type() != KeyType::ec_p384) {
        return fail(Errc::invalid_argument, "ECDSA needs an EC key; " + key_.query().describe() +
                                                " is " + std::string(key_type_name(key_type())));
    }
    if (digest.size() < 20 || digest.size() > 64) {
        return fail(Errc::invalid_argument, "an ECDSA digest is 20..64 bytes");
    }
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    auto raw = sign_raw(m, digest, 2 * field_size(key_type()));
    if (raw && raw->size() != 2 * field_size(key_type())) {
        return fail(Errc::hsm_error, "the token returned an ECDSA signature of the wrong length");
    }
    return raw;
}

Result<EcdsaSignature> Signer::sign_ecdsa(HashAlg hash, ByteView message) {
    if (hash == HashAlg::sha3_256) {
        return fail(Errc::unsupported_algorithm, "ECDSA here uses SHA-256, SHA-384 or SHA-512");
    }
    const Bytes digest = crypto::digest(hash, message);
    auto raw = sign_ecdsa_digest(digest);
    if (!raw) return tl::unexpected(raw.error());
    auto der = ecdsa_raw_to_der(*raw);
    if (!der) return tl::unexpected(der.error());
    return EcdsaSignature{std::move(*raw), std::move(*der)};
}

Result<Bytes> Signer::sign_ed25519(ByteView message) {
    if (key_type() != KeyType::ed25519) {
        return fail(Errc::invalid_argument, "EdDSA needs an Ed25519 key; " +
                                                key_.query().describe() + " is " +
                                                std::string(key_type_name(key_type())));
    }
    CK_MECHANISM m{CKM_EDDSA, nullptr, 0};
    return sign_raw(m, message, 64);
}

Result<Bytes> Signer::sign_rsa_pss_digest(HashAlg hash, ByteView digest, std::size_t salt) {
    if (key_type() != KeyType::rsa) {
        return fail(Errc::invalid_argument, "RSA-PSS needs an RSA key; " + key_.query().describe() +
                                                " is " + std::string(key_type_name(key_type())));
    }
    auto h = pss_hash(hash);
    if (!h) return tl::unexpected(h.error());
    if (digest.size() != crypto::digest_size(hash)) {
        return fail(Errc::invalid_argument, "the digest length does not match the hash");
    }
    CK_RSA_PKCS_PSS_PARAMS params{h->first, h->second, salt};
    CK_MECHANISM m{CKM_RSA_PKCS_PSS, &params, sizeof params};
    return sign_raw(m, digest, rsa_bytes_);
}

Result<Bytes> Signer::sign_rsa_pss(HashAlg hash, ByteView message) {
    const Bytes digest = crypto::digest(hash, message);
    return sign_rsa_pss_digest(hash, digest, crypto::digest_size(hash));
}

Result<Bytes> Signer::public_key_spki() { return export_public_key_spki(*pool_, key_); }

}  // namespace enclave::hsm
