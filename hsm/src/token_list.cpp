// SPDX-License-Identifier: Apache-2.0
#include "token_list.hpp"

#include "hsm/errors.hpp"

namespace enclave::hsm::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

std::string trim_field(const unsigned char* field, std::size_t width) {
    std::size_t n = width;
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) --n;
    return std::string(reinterpret_cast<const char*>(field), n);
}

Result<ModuleInfo> module_info(CK_FUNCTION_LIST* fn) {
    CK_INFO info{};
    if (CK_RV rv = fn->C_GetInfo(&info); rv != CKR_OK) return fail_ckr(rv, "C_GetInfo");
    ModuleInfo out;
    out.manufacturer = trim_field(info.manufacturerID, sizeof info.manufacturerID);
    out.description = trim_field(info.libraryDescription, sizeof info.libraryDescription);
    out.library_version = info.libraryVersion;
    out.cryptoki_version = info.cryptokiVersion;
    return out;
}

Result<std::vector<TokenInfo>> list_tokens(CK_FUNCTION_LIST* fn) {
    std::vector<CK_SLOT_ID> slots;
    // The slot count can change between the two calls (hot-plug): retry.
    for (int attempt = 0;; ++attempt) {
        CK_ULONG count = 0;
        if (CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &count); rv != CKR_OK) {
            return fail_ckr(rv, "C_GetSlotList");
        }
        slots.resize(count);
        CK_RV rv = count == 0 ? CKR_OK : fn->C_GetSlotList(CK_TRUE, slots.data(), &count);
        if (rv == CKR_BUFFER_TOO_SMALL && attempt < 3) continue;
        if (rv != CKR_OK) return fail_ckr(rv, "C_GetSlotList");
        slots.resize(count);
        break;
    }
    std::vector<TokenInfo> out;
    for (CK_SLOT_ID slot : slots) {
        CK_SLOT_INFO si{};
        CK_TOKEN_INFO ti{};
        // A token removed between the calls is simply not listed.
        if (fn->C_GetSlotInfo(slot, &si) != CKR_OK || fn->C_GetTokenInfo(slot, &ti) != CKR_OK) {
            continue;
        }
        TokenInfo t;
        t.slot_id = slot;
        t.label = trim_field(ti.label, sizeof ti.label);
        t.manufacturer = trim_field(ti.manufacturerID, sizeof ti.manufacturerID);
        t.model = trim_field(ti.model, sizeof ti.model);
        t.serial = trim_field(ti.serialNumber, sizeof ti.serialNumber);
        t.slot_description = trim_field(si.slotDescription, sizeof si.slotDescription);
        t.slot_manufacturer = trim_field(si.manufacturerID, sizeof si.manufacturerID);
        t.flags = ti.flags;
        out.push_back(std::move(t));
    }
    return out;
}

bool library_matches(const Uri& uri, const ModuleInfo& info) noexcept {
    if (uri.library_manufacturer && *uri.library_manufacturer != info.manufacturer) return false;
    if (uri.library_description && *uri.library_description != info.description) return false;
    if (uri.library_version && (uri.library_version->major != info.library_version.major ||
                                uri.library_version->minor != info.library_version.minor)) {
        return false;
    }
    return true;
}

bool token_matches(const Uri& uri, const TokenInfo& t) noexcept {
    auto same = [](const std::optional<std::string>& want, const std::string& have) {
        return !want || *want == have;
    };
    return same(uri.token, t.label) && same(uri.manufacturer, t.manufacturer) &&
           same(uri.serial, t.serial) && same(uri.model, t.model) &&
           same(uri.slot_description, t.slot_description) &&
           same(uri.slot_manufacturer, t.slot_manufacturer) &&
           (!uri.slot_id || *uri.slot_id == t.slot_id);
}

namespace {

std::string token_selector(const Uri& uri) {
    Uri only = uri;
    only.object.reset();
    only.id.reset();
    only.type.reset();
    only.pin_source.reset();
    return only.to_string();
}

std::string label_list(const std::vector<TokenInfo>& tokens) {
    std::string out;
    std::size_t shown = 0;
    for (const auto& t : tokens) {
        if (!t.initialized()) continue;
        if (shown == 8) {
            out += ", ...";
            break;
        }
        out += (shown++ == 0 ? "'" : ", '") + t.label + "'";
    }
    return shown == 0 ? "none" : out;
}

}  // namespace

Result<TokenInfo> find_token(CK_FUNCTION_LIST* fn, const ModuleInfo& info, const Uri& uri) {
    auto tokens = list_tokens(fn);
    if (!tokens) return tl::unexpected(tokens.error());
    std::vector<const TokenInfo*> matches;
    if (library_matches(uri, info)) {
        for (const auto& t : *tokens) {
            if (t.initialized() && token_matches(uri, t)) matches.push_back(&t);
        }
    }
    if (matches.empty()) {
        return fail(Errc::hsm_token_not_found,
                    "no initialised token matches " + token_selector(uri) + " in module '" +
                        info.description + "' (tokens present: " + label_list(*tokens) + ")");
    }
    if (matches.size() > 1) {
        return fail(Errc::invalid_argument,
                    token_selector(uri) + " matches " + std::to_string(matches.size()) +
                        " tokens (" + label_list(*tokens) + "); add serial= or slot-id=");
    }
    return *matches.front();
}

}  // namespace enclave::hsm::detail
