// SPDX-License-Identifier: Apache-2.0
#include "attributes.hpp"

#include <algorithm>
#include <array>

#include "hsm/errors.hpp"

namespace enclave::hsm::detail {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Result;

Template& Template::add_bool(CK_ATTRIBUTE_TYPE type, bool value) {
    storage_.push_back(Bytes{static_cast<std::uint8_t>(value ? CK_TRUE : CK_FALSE)});
    attrs_.push_back({type, storage_.back().data(), 1});
    return *this;
}

Template& Template::add_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
    Bytes b(sizeof(CK_ULONG));
    std::copy_n(reinterpret_cast<const std::uint8_t*>(&value), sizeof value, b.begin());
    storage_.push_back(std::move(b));
    attrs_.push_back({type, storage_.back().data(), sizeof(CK_ULONG)});
    return *this;
}

Template& Template::add_bytes(CK_ATTRIBUTE_TYPE type, ByteView value) {
    storage_.emplace_back(value.begin(), value.end());
    attrs_.push_back({type, storage_.back().empty() ? nullptr : storage_.back().data(),
                      storage_.back().size()});
    return *this;
}

Template& Template::add_string(CK_ATTRIBUTE_TYPE type, std::string_view value) {
    return add_bytes(type, crypto::as_bytes(value));
}

Template& Template::add_secret(CK_ATTRIBUTE_TYPE type, const crypto::Secret& value) {
    // PKCS#11 templates are not const-correct; C_CreateObject only reads.
    attrs_.push_back({type, const_cast<std::uint8_t*>(value.data()), value.size()});
    return *this;
}

Result<Bytes> get_attribute(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue");
    }
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        return fail_ckr(CKR_ATTRIBUTE_TYPE_INVALID, "C_GetAttributeValue");
    }
    Bytes out(a.ulValueLen);
    a.pValue = out.empty() ? nullptr : out.data();
    if (out.empty()) return out;
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue");
    }
    out.resize(a.ulValueLen);
    return out;
}

Result<CK_ULONG> get_ulong(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_ULONG v = 0;
    CK_ATTRIBUTE a{type, &v, sizeof v};
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue");
    }
    return v;
}

Result<bool> get_bool(const Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a{type, &v, sizeof v};
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue");
    }
    return v == CK_TRUE;
}

ObjectGuard::~ObjectGuard() {
    if (handle_ == CK_INVALID_HANDLE || session_->handle() == CK_INVALID_HANDLE ||
        session_->stale()) {
        return;
    }
    if (CK_RV rv = session_->fn()->C_DestroyObject(session_->handle(), handle_); rv != CKR_OK) {
        log_ckr_failure(true, "C_DestroyObject of a temporary key object", rv);
    }
}

namespace {
constexpr std::array<std::uint8_t, 10> kP256{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr std::array<std::uint8_t, 7> kP384{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr std::array<std::uint8_t, 5> kEd25519{0x06, 0x03, 0x2b, 0x65, 0x70};
}  // namespace

ByteView oid_p256() noexcept { return kP256; }
ByteView oid_p384() noexcept { return kP384; }
ByteView oid_ed25519() noexcept { return kEd25519; }

bool is_ed25519_params(ByteView params) noexcept {
    static constexpr std::string_view kName = "edwards25519";
    if (std::equal(params.begin(), params.end(), kEd25519.begin(), kEd25519.end())) return true;
    // PrintableString (tag 0x13) "edwards25519".
    return params.size() == kName.size() + 2 && params[0] == 0x13 && params[1] == kName.size() &&
           std::equal(kName.begin(), kName.end(), params.begin() + 2);
}

}  // namespace enclave::hsm::detail
