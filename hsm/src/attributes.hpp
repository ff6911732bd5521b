// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: building PKCS#11 templates and reading attributes.

#include <deque>
#include <string_view>
#include <vector>

#include <p11-kit/pkcs11.h>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"
#include "hsm/session.hpp"

namespace enclave::hsm::detail {

/// A CK_ATTRIBUTE array that owns copies of its (non-secret) values. Secret
/// values are referenced in place (add_secret), never copied.
class Template {
public:
    Template() = default;
    Template(const Template&) = delete;
    Template& operator=(const Template&) = delete;
    Template(Template&&) = default;
    Template& operator=(Template&&) = default;

    Template& add_bool(CK_ATTRIBUTE_TYPE type, bool value);
    Template& add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value);
    Template& add_bytes(CK_ATTRIBUTE_TYPE type, crypto::ByteView value);
    Template& add_string(CK_ATTRIBUTE_TYPE type, std::string_view value);
    /// References `value`'s memory; `value` must outlive the template's use.
    Template& add_secret(CK_ATTRIBUTE_TYPE type, const crypto::Secret& value);

    [[nodiscard]] CK_ATTRIBUTE* data() noexcept { return attrs_.data(); }
    [[nodiscard]] CK_ULONG size() const noexcept { return attrs_.size(); }

private:
    std::vector<CK_ATTRIBUTE> attrs_;
    std::deque<crypto::Bytes> storage_;  // deque: element addresses stay put
};

/// Reads one attribute. Errors carry the CKR name (e.g. CKR_ATTRIBUTE_SENSITIVE).
crypto::Result<crypto::Bytes> get_attribute(const Session& s, CK_OBJECT_HANDLE h,
                                            CK_ATTRIBUTE_TYPE type);
crypto::Result<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
crypto::Result<bool> get_bool(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

/// Destroys a (temporary) object when it goes out of scope; logs failures.
class ObjectGuard {
public:
    ObjectGuard(const Session& s, CK_OBJECT_HANDLE h) noexcept : session_(&s), handle_(h) {}
    ~ObjectGuard();
    ObjectGuard(const ObjectGuard&) = delete;
    ObjectGuard& operator=(const ObjectGuard&) = delete;

private:
    const Session* session_;
    CK_OBJECT_HANDLE handle_;
};

/// DER of the named curves and of edwards25519 (CKA_EC_PARAMS).
crypto::ByteView oid_p256() noexcept;
crypto::ByteView oid_p384() noexcept;
crypto::ByteView oid_ed25519() noexcept;
/// PKCS#11 3.0 also allows a PrintableString "edwards25519".
bool is_ed25519_params(crypto::ByteView params) noexcept;

}  // namespace enclave::hsm::detail
