// SPDX-License-Identifier: Apache-2.0
#pragma once
// Key objects on a token: how to name them (KeyQuery, from a label / id / URI)
// and what was found (KeyRef). Neither holds a secret: a key never leaves the
// token; these are locators.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "hsm/module.hpp"
#include "hsm/session.hpp"
#include "hsm/uri.hpp"

namespace enclave::hsm {

class SessionPool;

/// The key algorithms the project uses.
enum class KeyType { aes, ec_p256, ec_p384, ed25519, rsa };
std::string_view key_type_name(KeyType t) noexcept;  ///< "aes", "ec-p256", ...

/// Selects one key object. At least one of label and id must be set.
struct KeyQuery {
    std::optional<std::string> label;  ///< CKA_LABEL
    std::optional<crypto::Bytes> id;   ///< CKA_ID
    ObjectType type = ObjectType::private_key;

    /// From a URI's object/id/type; `default_type` when the URI has no type=.
    /// invalid_argument when the URI names neither object nor id, or names a
    /// type that is not a key.
    static crypto::Result<KeyQuery> from_uri(const Uri& uri, ObjectType default_type);
    static KeyQuery by_label(std::string label, ObjectType type);
    static KeyQuery by_id(crypto::Bytes id, ObjectType type);
    /// "private key object='x' id=%01%02" (for messages).
    [[nodiscard]] std::string describe() const;
};

/// A key found on the token (its handle is not kept: handles are per process
/// and do not survive fork; users re-find through a HandleCache).
struct KeyRef {
    std::string label;
    crypto::Bytes id;
    ObjectType type = ObjectType::private_key;
    KeyType key_type = KeyType::aes;

    /// pkcs11:token=..;manufacturer=..;serial=..;model=..;object=..;id=..;type=..
    [[nodiscard]] Uri uri(const TokenInfo& token) const;
    /// A query that finds this object again (label and id).
    [[nodiscard]] KeyQuery query() const;
    /// The same key pair's other half (private <-> public); secret keys map to themselves.
    [[nodiscard]] KeyQuery query_as(ObjectType type) const;
};

/// C_FindObjects with `tmpl` (may be empty: every object the session can see),
/// up to `max` handles. Exposed for tests and the OpenSSL provider.
crypto::Result<std::vector<CK_OBJECT_HANDLE>> find_objects(const Session& session,
                                                           std::span<CK_ATTRIBUTE> tmpl,
                                                           std::size_t max = 1024);

/// Finds exactly one key. hsm_object_not_found names the query and the token;
/// invalid_argument when several objects match.
crypto::Result<CK_OBJECT_HANDLE> find_key_handle(const Session& session, const KeyQuery& query,
                                                 const TokenInfo& token);
/// Finds the key and describes it (label, id, key type from its attributes).
crypto::Result<KeyRef> find_key(SessionPool& pool, const KeyQuery& query);
/// The KeyType of an object from CKA_KEY_TYPE (and CKA_EC_PARAMS for EC).
crypto::Result<KeyType> key_type_of(const Session& session, CK_OBJECT_HANDLE handle);

}  // namespace enclave::hsm
