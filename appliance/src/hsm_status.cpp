// SPDX-License-Identifier: Apache-2.0
// /v1/hsm/status: what is on the token, read through the hsm layer. Only
// non-secret attributes are read (label, id, class, key type, the two flags);
// CKA_VALUE and the private components are never requested.
#include <algorithm>
#include <optional>

#include <p11-kit/pkcs11.h>
#include <nlohmann/json.hpp>

#include "appliance/admin_api.hpp"
#include "crypto/encoding.hpp"
#include "hsm/errors.hpp"
#include "hsm/object.hpp"

namespace enclave::appliance {
namespace {

// A variable-length, non-secret attribute (CKA_LABEL, CKA_ID).
crypto::Result<std::string> read_text(const hsm::Session& s, CK_OBJECT_HANDLE h,
                                      CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return hsm::fail_ckr(rv, "C_GetAttributeValue");
    }
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 4096) {
        return crypto::fail(crypto::Errc::hsm_error, "attribute length unavailable");
    }
    std::string out(a.ulValueLen, '\0');
    a.pValue = out.data();
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return hsm::fail_ckr(rv, "C_GetAttributeValue");
    }
    out.resize(a.ulValueLen);
    return out;
}

std::optional<bool> read_flag(const hsm::Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL value = CK_FALSE;
    CK_ATTRIBUTE a{type, &value, sizeof value};
    if (s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1) != CKR_OK) return std::nullopt;
    return value == CK_TRUE;
}

crypto::Result<TokenKeyInfo> describe_key(const hsm::Session& s, CK_OBJECT_HANDLE h,
                                          std::string_view cls) {
    TokenKeyInfo info;
    info.object_class = cls;
    auto label = read_text(s, h, CKA_LABEL);
    if (!label) return tl::unexpected(label.error().wrap("reading a key label"));
    info.label = std::move(*label);
    auto id = read_text(s, h, CKA_ID);
    if (!id) return tl::unexpected(id.error().wrap("reading the id of key '" + info.label + "'"));
    info.id_hex = crypto::hex_encode(crypto::as_bytes(*id));
    auto type = hsm::key_type_of(s, h);
    info.type = type ? std::string(hsm::key_type_name(*type)) : "other";
    // When the token does not answer, report the alarming values (not
    // sensitive, extractable) rather than claim a protection we could not
    // confirm.
    info.sensitive = read_flag(s, h, CKA_SENSITIVE).value_or(false);
    info.extractable = read_flag(s, h, CKA_EXTRACTABLE).value_or(true);
    return info;
}

}  // namespace

crypto::Result<std::vector<TokenKeyInfo>> list_token_keys(hsm::SessionPool& pool) {
    auto lease = pool.acquire();
    if (!lease) return tl::unexpected(lease.error());
    const hsm::Session& s = lease->session();
    std::vector<TokenKeyInfo> keys;
    const std::pair<CK_OBJECT_CLASS, std::string_view> classes[] = {{CKO_PRIVATE_KEY, "private"},
                                                                    {CKO_SECRET_KEY, "secret"}};
    for (const auto& [cls_value, cls_name] : classes) {
        CK_OBJECT_CLASS cls = cls_value;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}};
        auto handles = hsm::find_objects(s, tmpl);
        if (!handles) return tl::unexpected(handles.error());
        for (const CK_OBJECT_HANDLE h : *handles) {
            auto info = describe_key(s, h, cls_name);
            if (!info) return tl::unexpected(info.error());
            keys.push_back(std::move(*info));
        }
    }
    std::sort(keys.begin(), keys.end(), [](const TokenKeyInfo& a, const TokenKeyInfo& b) {
        return std::tie(a.label, a.object_class, a.id_hex) <
               std::tie(b.label, b.object_class, b.id_hex);
    });
    return keys;
}

crypto::Result<std::string> hsm_status_json(hsm::SessionPool& pool) {
    auto keys = list_token_keys(pool);
    if (!keys) return tl::unexpected(keys.error());
    const hsm::ModuleInfo& mi = pool.module().info();
    const hsm::TokenInfo& ti = pool.token();
    nlohmann::json doc;
    doc["module"] = {
        {"path", mi.path}, {"manufacturer", mi.manufacturer}, {"description", mi.description}};
    doc["token"] = {{"label", ti.label},
                    {"manufacturer", ti.manufacturer},
                    {"model", ti.model},
                    {"serial", ti.serial},
                    {"slot_id", ti.slot_id}};
    nlohmann::json list = nlohmann::json::array();
    for (const auto& k : *keys) {
        list.push_back({{"label", k.label},
                        {"id", k.id_hex},
                        {"class", k.object_class},
                        {"type", k.type},
                        {"sensitive", k.sensitive},
                        {"extractable", k.extractable}});
    }
    doc["keys"] = std::move(list);
    // Labels come from the token: replace invalid UTF-8 rather than throw.
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace enclave::appliance
