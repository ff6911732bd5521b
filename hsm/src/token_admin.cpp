// SPDX-License-Identifier: Apache-2.0
#include "hsm/token_admin.hpp"

#include <algorithm>

#include "hsm/errors.hpp"
#include "hsm/pin.hpp"
#include "hsm/session.hpp"

namespace enclave::hsm {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

namespace {

Result<void> check_label(std::string_view label) {
    if (label.empty() || label.size() > 32) {
        return fail(Errc::invalid_argument, "a token label is 1..32 bytes");
    }
    for (unsigned char c : label) {
        if (c < 0x20 || c == 0x7f) {
            return fail(Errc::invalid_argument, "a token label must not contain control characters");
        }
    }
    return {};
}

Result<void> check_slot_free(const Module& module, CK_SLOT_ID slot, std::string_view label) {
    auto tokens = module.tokens();
    if (!tokens) return tl::unexpected(tokens.error());
    bool present = false;
    for (const auto& t : *tokens) {
        if (t.initialized() && t.label == label) {
            return fail(Errc::already_exists,
                        "a token labelled '" + std::string(label) + "' already exists");
        }
        if (t.slot_id == slot) {
            present = true;
            if (t.initialized()) {
                return fail(Errc::already_exists,
                            "the token in slot " + std::to_string(slot) + " ('" + t.label +
                                "') is initialised already; refusing to wipe it");
            }
        }
    }
    if (!present) {
        return fail(Errc::hsm_token_not_found, "no token present in slot " + std::to_string(slot));
    }
    return {};
}

}  // namespace

Result<TokenInfo> initialize_token(const std::shared_ptr<Module>& module, CK_SLOT_ID slot,
                                   std::string_view label, const Secret& so_pin,
                                   const Secret& user_pin) {
    if (!module) return fail(Errc::invalid_argument, "initialize_token without a module");
    if (auto ok = check_label(label); !ok) return tl::unexpected(ok.error());
    if (auto ok = validate_pin(so_pin); !ok) return tl::unexpected(ok.error().wrap("SO PIN"));
    if (auto ok = validate_pin(user_pin); !ok) return tl::unexpected(ok.error().wrap("user PIN"));
    if (auto ok = check_slot_free(*module, slot, label); !ok) return tl::unexpected(ok.error());

    CK_UTF8CHAR padded[32];
    std::fill(std::begin(padded), std::end(padded), ' ');
    std::copy(label.begin(), label.end(), padded);
    if (CK_RV rv = module->functions()->C_InitToken(slot, const_cast<CK_UTF8CHAR*>(so_pin.data()),
                                                   so_pin.size(), padded);
        rv != CKR_OK) {
        return fail_ckr(rv, "C_InitToken (slot " + std::to_string(slot) + ")");
    }
    Uri by_label;
    by_label.token = std::string(label);
    auto token = module->find_token(by_label);
    if (!token) return tl::unexpected(token.error().wrap("finding the new token"));

    auto session = Session::open(module, token->slot_id, true);
    if (!session) return tl::unexpected(session.error());
    if (auto ok = session->login_so(so_pin); !ok) return tl::unexpected(ok.error());
    if (CK_RV rv = session->fn()->C_InitPIN(session->handle(),
                                           const_cast<CK_UTF8CHAR*>(user_pin.data()),
                                           user_pin.size());
        rv != CKR_OK) {
        return fail_ckr(rv, "C_InitPIN (token '" + std::string(label) + "')");
    }
    if (auto ok = session->logout(); !ok) return tl::unexpected(ok.error());
    // Re-read: the flags now include CKF_USER_PIN_INITIALIZED.
    return module->find_token(by_label);
}

}  // namespace enclave::hsm
