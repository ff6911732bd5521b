// SPDX-License-Identifier: Apache-2.0
#include "hsm/object.hpp"

#include <algorithm>
#include <cstdio>

#include "attributes.hpp"
#include "hsm/errors.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::string_view key_type_name(KeyType t) noexcept {
    switch (t) {
        case KeyType::aes: return "aes";
        case KeyType::ec_p256: return "ec-p256";
        case KeyType::ec_p384: return "ec-p384";
        case KeyType::ed25519: return "ed25519";
        case KeyType::rsa: return "rsa";
    }
    return "unknown";
}

Result<KeyQuery> KeyQuery::from_uri(const Uri& uri, ObjectType default_type) {
    KeyQuery q;
    q.label = uri.object;
    q.id = uri.id;
    q.type = uri.type.value_or(default_type);
    if (!q.label && !q.id) {
        return fail(Errc::invalid_argument,
                    "pkcs11 URI " + uri.to_string() + " names no object (add object= or id=)");
    }
    if (q.type == ObjectType::certificate || q.type == ObjectType::data) {
        return fail(Errc::invalid_argument, "pkcs11 URI " + uri.to_string() +
                                                " names a " +
                                                std::string(object_type_name(q.type)) +
                                                " object, not a key");
    }
    return q;
}

KeyQuery KeyQuery::by_label(std::string label, ObjectType type) {
    KeyQuery q;
    q.label = std::move(label);
    q.type = type;
    return q;
}

KeyQuery KeyQuery::by_id(Bytes id, ObjectType type) {
    KeyQuery q;
    q.id = std::move(id);
    q.type = type;
    return q;
}

std::string KeyQuery::describe() const {
    std::string out;
    switch (type) {
        case ObjectType::private_key: out = "private key"; break;
        case ObjectType::public_key: out = "public key"; break;
        case ObjectType::secret_key: out = "secret key"; break;
        default: out = std::string(object_type_name(type)) + " object"; break;
    }
    if (label) out += " object='" + uri_percent_encode(crypto::as_bytes(*label)) + "'";
    if (id) out += " id=" + (id->empty() ? std::string("(empty)") : uri_percent_encode(*id));
    return out;
}

Uri KeyRef::uri(const TokenInfo& token) const {
    Uri u = token.uri();
    u.object = label;
    u.id = id;
    u.type = type;
    return u;
}

KeyQuery KeyRef::query() const {
    KeyQuery q;
    q.label = label;
    q.id = id;
    q.type = type;
    return q;
}

KeyQuery KeyRef::query_as(ObjectType t) const {
    KeyQuery q = query();
    if (type != ObjectType::secret_key) q.type = t;
    return q;
}

Result<std::vector<CK_OBJECT_HANDLE>> find_objects(const Session& s, std::span<CK_ATTRIBUTE> tmpl,
                                                   std::size_t max) {
    if (auto ok = s.check_usable(); !ok) return tl::unexpected(ok.error());
    if (CK_RV rv = s.fn()->C_FindObjectsInit(s.handle(), tmpl.data(), tmpl.size()); rv != CKR_OK) {
        return fail_ckr(rv, "C_FindObjectsInit");
    }
    std::vector<CK_OBJECT_HANDLE> out;
    CK_RV rv = CKR_OK;
    while (out.size() < max) {
        CK_OBJECT_HANDLE batch[64];
        CK_ULONG n = 0;
        const CK_ULONG want = static_cast<CK_ULONG>(std::min<std::size_t>(64, max - out.size()));
        rv = s.fn()->C_FindObjects(s.handle(), batch, want, &n);
        if (rv != CKR_OK || n == 0) break;
        out.insert(out.end(), batch, batch + n);
    }
    // Always end the find operation, or the session stays busy.
    const CK_RV final_rv = s.fn()->C_FindObjectsFinal(s.handle());
    if (rv != CKR_OK) return fail_ckr(rv, "C_FindObjects");
    if (final_rv != CKR_OK) return fail_ckr(final_rv, "C_FindObjectsFinal");
    return out;
}

Result<CK_OBJECT_HANDLE> find_key_handle(const Session& s, const KeyQuery& q,
                                         const TokenInfo& token) {
    if (!q.label && !q.id) {
        return fail(Errc::invalid_argument, "a key query needs a label or an id");
    }
    detail::Template t;
    t.add_ulong(CKA_CLASS, object_type_class(q.type));
    if (q.label) t.add_string(CKA_LABEL, *q.label);
    if (q.id) t.add_bytes(CKA_ID, *q.id);
    auto found = find_objects(s, {t.data(), t.size()}, 2);
    if (!found) return tl::unexpected(found.error().wrap("looking up " + q.describe()));
    if (found->empty()) {
        return fail(Errc::hsm_object_not_found,
                    "no " + q.describe() + " on token '" + token.label + "'");
    }
    if (found->size() > 1) {
        return fail(Errc::invalid_argument, "several objects match " + q.describe() +
                                                " on token '" + token.label +
                                                "': name the key by label and id");
    }
    return found->front();
}

Result<KeyType> key_type_of(const Session& s, CK_OBJECT_HANDLE h) {
    auto kt = detail::get_ulong(s, h, CKA_KEY_TYPE);
    if (!kt) return tl::unexpected(kt.error());
    switch (*kt) {
        case CKK_AES: return KeyType::aes;
        case CKK_RSA: return KeyType::rsa;
        case CKK_EC_EDWARDS: return KeyType::ed25519;
        case CKK_EC: {
            auto params = detail::get_attribute(s, h, CKA_EC_PARAMS);
            if (!params) return tl::unexpected(params.error());
            const crypto::ByteView p(*params);
            auto eq = [&](crypto::ByteView oid) {
                return std::equal(p.begin(), p.end(), oid.begin(), oid.end());
            };
            if (eq(detail::oid_p256())) return KeyType::ec_p256;
            if (eq(detail::oid_p384())) return KeyType::ec_p384;
            return fail(Errc::unsupported_algorithm, "EC key on an unsupported curve");
        }
        default: {
            char hex[24];
            std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(*kt));
            return fail(Errc::unsupported_algorithm,
                        std::string("key type ") + hex + " is not one Enclave uses");
        }
    }
}

Result<KeyRef> find_key(SessionPool& pool, const KeyQuery& q) {
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    auto h = find_key_handle(lease->session(), q, pool.token());
    if (!h) return tl::unexpected(h.error());
    auto type = key_type_of(lease->session(), *h);
    if (!type) return tl::unexpected(type.error().wrap(q.describe()));
    auto label = detail::get_attribute(lease->session(), *h, CKA_LABEL);
    auto id = detail::get_attribute(lease->session(), *h, CKA_ID);
    if (!label || !id) {
        return tl::unexpected((!label ? label.error() : id.error()).wrap(q.describe()));
    }
    KeyRef ref;
    ref.label.assign(label->begin(), label->end());
    ref.id = std::move(*id);
    ref.type = q.type;
    ref.key_type = *type;
    return ref;
}

}  // namespace enclave::hsm
