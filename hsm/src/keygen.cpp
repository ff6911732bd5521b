// SPDX-License-Identifier: Apache-2.0
#include "hsm/keygen.hpp"

#include <openssl/rand.h>

#include "hsm/errors.hpp"
#include "keygen_common.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace detail {

Result<KeySpec> checked_spec(const KeySpec& spec) {
    if (spec.label.empty() || spec.label.size() > 128) {
        return fail(Errc::invalid_argument, "a key label must be 1..128 bytes");
    }
    for (unsigned char c : spec.label) {
        if (c < 0x20 || c == 0x7f) {
            return fail(Errc::invalid_argument, "a key label must not contain control characters");
        }
    }
    if (spec.id.size() > 64) return fail(Errc::invalid_argument, "a key id must be at most 64 bytes");
    KeySpec out{spec.label, spec.id};
    if (out.id.empty()) {
        out.id.resize(16);
        if (RAND_bytes(out.id.data(), static_cast<int>(out.id.size())) != 1) {
            return fail(Errc::crypto_failure, "RAND_bytes failed while choosing a key id");
        }
    }
    return out;
}

Result<void> ensure_unused(const Session& s, const KeySpec& spec, const TokenInfo& token) {
    for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_SECRET_KEY}) {
        for (int by_id = 0; by_id < 2; ++by_id) {
            Template t;
            t.add_ulong(CKA_CLASS, cls);
            if (by_id) {
                t.add_bytes(CKA_ID, spec.id);
            } else {
                t.add_string(CKA_LABEL, spec.label);
            }
            auto found = find_objects(s, {t.data(), t.size()}, 1);
            if (!found) return tl::unexpected(found.error());
            if (!found->empty()) {
                return fail(Errc::already_exists,
                            std::string("a key with ") + (by_id ? "this id" : "label '" +
                            spec.label + "'") + " already exists on token '" + token.label + "'");
            }
        }
    }
    return {};
}

void add_private_key_attrs(Template& t, CK_KEY_TYPE type, const KeySpec& spec) {
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .add_ulong(CKA_KEY_TYPE, type)
        .add_bool(CKA_TOKEN, true)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, true)
        .add_bool(CKA_EXTRACTABLE, false)
        .add_bool(CKA_DECRYPT, false)
        .add_bool(CKA_UNWRAP, false)
        .add_bool(CKA_DERIVE, false)
        .add_string(CKA_LABEL, spec.label)
        .add_bytes(CKA_ID, spec.id);
}

void add_public_key_attrs(Template& t, CK_KEY_TYPE type, const KeySpec& spec) {
    t.add_ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .add_ulong(CKA_KEY_TYPE, type)
        .add_bool(CKA_TOKEN, true)
        .add_bool(CKA_PRIVATE, false)
        .add_bool(CKA_VERIFY, true)
        .add_bool(CKA_ENCRYPT, false)
        .add_bool(CKA_WRAP, false)
        .add_bool(CKA_DERIVE, false)
        .add_string(CKA_LABEL, spec.label)
        .add_bytes(CKA_ID, spec.id);
}

}  // namespace detail

namespace {

Result<KeyRef> make_ref(const KeySpec& spec, ObjectType type, KeyType key_type) {
    KeyRef ref;
    ref.label = spec.label;
    ref.id = spec.id;
    ref.type = type;
    ref.key_type = key_type;
    return ref;
}

Result<KeyRef> generate_pair_on(const Session& s, const TokenInfo& token, CK_MECHANISM_TYPE mech,
                                CK_KEY_TYPE ck_type, crypto::ByteView params, KeyType key_type,
                                const KeySpec& in) {
    auto spec = detail::checked_spec(in);
    if (!spec) return tl::unexpected(spec.error());
    if (auto ok = detail::ensure_unused(s, *spec, token); !ok) return tl::unexpected(ok.error());
    detail::Template pub;
    detail::add_public_key_attrs(pub, ck_type, *spec);
    pub.add_bytes(CKA_EC_PARAMS, params);
    detail::Template priv;
    detail::add_private_key_attrs(priv, ck_type, *spec);
    priv.add_bool(CKA_SIGN, true);
    CK_MECHANISM m{mech, nullptr, 0};
    CK_OBJECT_HANDLE hpub = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE;
    if (CK_RV rv = s.fn()->C_GenerateKeyPair(s.handle(), &m, pub.data(), pub.size(), priv.data(),
                                             priv.size(), &hpub, &hpriv);
        rv != CKR_OK) {
        return fail_ckr(rv, "C_GenerateKeyPair (" + std::string(key_type_name(key_type)) + ", '" +
                                spec->label + "')");
    }
    return make_ref(*spec, ObjectType::private_key, key_type);
}

Result<KeyRef> generate_pair(SessionPool& pool, CK_MECHANISM_TYPE mech, CK_KEY_TYPE ck_type,
                             crypto::ByteView params, KeyType key_type, const KeySpec& in) {
    auto spec = detail::checked_spec(in);
    if (!spec) return tl::unexpected(spec.error());
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    return generate_pair_on(lease->session(), pool.token(), mech, ck_type, params, key_type, *spec);
}

}  // namespace

Result<KeyRef> generate_aes_kek(SessionPool& pool, const KeySpec& in) {
    auto spec = detail::checked_spec(in);
    if (!spec) return tl::unexpected(spec.error());
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    const Session& s = lease->session();
    if (auto ok = detail::ensure_unused(s, *spec, pool.token()); !ok) return tl::unexpected(ok.error());
    detail::Template t;
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY)
        .add_ulong(CKA_KEY_TYPE, CKK_AES)
        .add_ulong(CKA_VALUE_LEN, 32)
        .add_bool(CKA_TOKEN, true)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, true)
        .add_bool(CKA_EXTRACTABLE, false)
        .add_bool(CKA_WRAP, true)
        .add_bool(CKA_UNWRAP, true)
        .add_bool(CKA_ENCRYPT, false)
        .add_bool(CKA_DECRYPT, false)
        .add_bool(CKA_SIGN, false)
        .add_bool(CKA_VERIFY, false)
        .add_bool(CKA_DERIVE, false)
        .add_string(CKA_LABEL, spec->label)
        .add_bytes(CKA_ID, spec->id);
    CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    if (CK_RV rv = s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &h); rv != CKR_OK) {
        return fail_ckr(rv, "C_GenerateKey (AES-256 KEK '" + spec->label + "')");
    }
    return make_ref(*spec, ObjectType::secret_key, KeyType::aes);
}

Result<KeyRef> generate_ec_key_pair(SessionPool& pool, EcCurve curve, const KeySpec& spec) {
    const bool p256 = curve == EcCurve::p256;
    return generate_pair(pool, CKM_EC_KEY_PAIR_GEN, CKK_EC,
                         p256 ? detail::oid_p256() : detail::oid_p384(),
                         p256 ? KeyType::ec_p256 : KeyType::ec_p384, spec);
}

Result<KeyRef> generate_ec_key_pair(const Session& session, const TokenInfo& token, EcCurve curve,
                                    const KeySpec& spec) {
    const bool p256 = curve == EcCurve::p256;
    return generate_pair_on(session, token, CKM_EC_KEY_PAIR_GEN, CKK_EC,
                            p256 ? detail::oid_p256() : detail::oid_p384(),
                            p256 ? KeyType::ec_p256 : KeyType::ec_p384, spec);
}

Result<KeyRef> generate_ed25519_key_pair(SessionPool& pool, const KeySpec& spec) {
    return generate_pair(pool, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, detail::oid_ed25519(),
                         KeyType::ed25519, spec);
}

Result<void> destroy_key(SessionPool& pool, const KeyRef& key, bool both_halves) {
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    return destroy_key(lease->session(), pool.token(), key, both_halves);
}

Result<void> destroy_key(const Session& s, const TokenInfo& token, const KeyRef& key,
                         bool both_halves) {
    std::vector<KeyQuery> queries{key.query()};
    if (both_halves && key.type != ObjectType::secret_key) {
        queries.push_back(key.query_as(key.type == ObjectType::private_key ? ObjectType::public_key
                                                                            : ObjectType::private_key));
    }
    bool any = false;
    for (const auto& q : queries) {
        auto h = find_key_handle(s, q, token);
        if (!h) {
            if (h.error().code() == Errc::hsm_object_not_found) continue;
            return tl::unexpected(h.error());
        }
        if (CK_RV rv = s.fn()->C_DestroyObject(s.handle(), *h); rv != CKR_OK) {
            return fail_ckr(rv, "C_DestroyObject (" + q.describe() + ")");
        }
        any = true;
    }
    if (!any) {
        return fail(Errc::hsm_object_not_found,
                    "no " + key.query().describe() + " on token '" + token.label + "'");
    }
    return {};
}

}  // namespace enclave::hsm
