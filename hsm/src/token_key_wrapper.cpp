// SPDX-License-Identifier: Apache-2.0
#include "hsm/token_key_wrapper.hpp"

#include <sodium.h>

#include "attributes.hpp"
#include "handle_cache.hpp"
#include "hsm/errors.hpp"

namespace enclave::hsm {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;
using crypto::Secret;

namespace {

// A temporary generic-secret session object with every usage off.
void add_temporary_key_attrs(detail::Template& t, bool sensitive) {
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY)
        .add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .add_bool(CKA_TOKEN, false)
        .add_bool(CKA_PRIVATE, true)
        .add_bool(CKA_SENSITIVE, sensitive)
        .add_bool(CKA_EXTRACTABLE, true)
        .add_bool(CKA_ENCRYPT, false)
        .add_bool(CKA_DECRYPT, false)
        .add_bool(CKA_SIGN, false)
        .add_bool(CKA_VERIFY, false)
        .add_bool(CKA_WRAP, false)
        .add_bool(CKA_UNWRAP, false)
        .add_bool(CKA_DERIVE, false);
}

// What a module answers when RFC 5649's integrity check or length check fails
// (SoftHSM 2.6 reports some of these as CKR_GENERAL_ERROR / FUNCTION_FAILED).
bool is_integrity_failure(CK_RV rv) noexcept {
    switch (rv) {
        case CKR_WRAPPED_KEY_INVALID:
        case CKR_WRAPPED_KEY_LEN_RANGE:
        case CKR_ENCRYPTED_DATA_INVALID:
        case CKR_ENCRYPTED_DATA_LEN_RANGE:
        case CKR_DATA_INVALID:
        case CKR_DATA_LEN_RANGE:
        case CKR_FUNCTION_FAILED:
        case CKR_GENERAL_ERROR: return true;
        default: return false;
    }
}

CK_MECHANISM kwp_mechanism() noexcept { return CK_MECHANISM{CKM_AES_KEY_WRAP_PAD, nullptr, 0}; }

// Reads the unwrapped value into secure memory and checks its length.
// SoftHSM 2.6 returns the RFC 5649 *padded* plaintext (its length rounded up
// to 8); the module has already verified the padding and the length
// indicator's range inside the token, so a value of round_up8(expected) bytes
// whose extra bytes are zero is accepted and trimmed. Everything else that
// differs from `expected` is an integrity failure.
// Limit: the true length is not visible, so an `expected` that is wrong but
// in the same 8-byte block as the real length passes when the real key's
// extra bytes happen to be zero (a 32-byte key ending in 0x00 read as 31
// bytes: 1 in 256). Callers pass the size they stored with the wrapped key,
// so this takes a wrong stored size, and its result is then a truncated
// copy of the genuine key (unusable), never a key anyone chose: the bytes
// themselves are authenticated by RFC 5649 inside the token.
Result<Secret> read_unwrapped(const Session& s, CK_OBJECT_HANDLE h, std::size_t expected) {
    CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue (unwrapped key length)");
    }
    const std::size_t padded = (expected + 7) / 8 * 8;
    if (a.ulValueLen != expected && a.ulValueLen != padded) {
        return fail(Errc::integrity_failure, "unwrapped key does not have the expected " +
                                                 std::to_string(expected) + " bytes");
    }
    Secret out(a.ulValueLen);
    a.pValue = out.data();
    if (CK_RV rv = s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1); rv != CKR_OK) {
        return fail_ckr(rv, "C_GetAttributeValue (unwrapped key)");
    }
    if (a.ulValueLen != out.size()) {
        return fail(Errc::integrity_failure, "unwrapped key changed length while being read");
    }
    if (out.size() != expected) {
        if (sodium_is_zero(out.data() + expected, out.size() - expected) != 1) {
            return fail(Errc::integrity_failure, "unwrapped key does not have the expected " +
                                                     std::to_string(expected) + " bytes");
        }
        out.truncate(expected);
    }
    return out;
}

}  // namespace

TokenKeyWrapper::TokenKeyWrapper(std::shared_ptr<SessionPool> pool, KeyRef kek)
    : pool_(std::move(pool)),
      kek_(std::move(kek)),
      cache_(std::make_unique<detail::HandleCache>(kek_.query())) {
    Uri id;
    id.object = kek_.label;
    id.id = kek_.id;
    key_id_ = id.to_string();
}

TokenKeyWrapper::~TokenKeyWrapper() = default;

Result<std::unique_ptr<TokenKeyWrapper>> TokenKeyWrapper::open(std::shared_ptr<SessionPool> pool,
                                                               const KeyQuery& kek) {
    if (!pool) return fail(Errc::invalid_argument, "TokenKeyWrapper::open without a pool");
    if (kek.type != ObjectType::secret_key) {
        return fail(Errc::invalid_argument, "a KEK is a secret key (type=secret-key)");
    }
    auto ref = find_key(*pool, kek);
    if (!ref) return tl::unexpected(ref.error());
    if (ref->key_type != KeyType::aes) {
        return fail(Errc::invalid_argument, kek.describe() + " is not an AES key");
    }
    return std::unique_ptr<TokenKeyWrapper>(new TokenKeyWrapper(std::move(pool), std::move(*ref)));
}

Result<Bytes> TokenKeyWrapper::wrap(const Secret& key) {
    if (key.empty() || key.size() > kMaxKeySize) {
        return fail(Errc::invalid_argument,
                    "a data key to wrap is 1.." + std::to_string(kMaxKeySize) + " bytes");
    }
    for (int attempt = 0;; ++attempt) {
        auto lease = pool_->acquire();
        if (!lease) return tl::unexpected(lease.error());
        const Session& s = lease->session();
        auto kek = cache_->get(s, *pool_);
        if (!kek) return tl::unexpected(kek.error());
        detail::Template t;
        add_temporary_key_attrs(t, true);
        t.add_secret(CKA_VALUE, key);
        CK_OBJECT_HANDLE tmp = CK_INVALID_HANDLE;
        if (CK_RV rv = s.fn()->C_CreateObject(s.handle(), t.data(), t.size(), &tmp); rv != CKR_OK) {
            if (is_token_unavailable(rv)) lease->discard();  // a dead session: never reuse it
            return fail_ckr(rv, "C_CreateObject (temporary data key)");
        }
        detail::ObjectGuard guard(s, tmp);
        CK_MECHANISM m = kwp_mechanism();
        Bytes out(aes_kwp_wrapped_size(key.size()));
        CK_ULONG len = out.size();
        CK_RV rv = s.fn()->C_WrapKey(s.handle(), &m, *kek, tmp, out.data(), &len);
        if (detail::is_stale_handle(rv) && attempt == 0) {
            cache_->invalidate();
            continue;
        }
        if (rv != CKR_OK) {
            if (is_token_unavailable(rv)) lease->discard();
            return fail_ckr(rv, "C_WrapKey under KEK " + key_id_);
        }
        if (len != out.size()) {
            return fail(Errc::hsm_error, "C_WrapKey returned " + std::to_string(len) +
                                             " bytes, RFC 5649 needs " +
                                             std::to_string(out.size()));
        }
        return out;
    }
}

Result<Secret> TokenKeyWrapper::unwrap(ByteView wrapped, std::size_t expected_size) {
    if (expected_size == 0 || expected_size > kMaxKeySize) {
        return fail(Errc::invalid_argument,
                    "an unwrapped key is 1.." + std::to_string(kMaxKeySize) + " bytes");
    }
    if (wrapped.size() != aes_kwp_wrapped_size(expected_size)) {
        return fail(Errc::integrity_failure,
                    "wrapped key has " + std::to_string(wrapped.size()) + " bytes; a " +
                        std::to_string(expected_size) + "-byte key wrapped under " + key_id_ +
                        " has " + std::to_string(aes_kwp_wrapped_size(expected_size)));
    }
    for (int attempt = 0;; ++attempt) {
        auto lease = pool_->acquire();
        if (!lease) return tl::unexpected(lease.error());
        const Session& s = lease->session();
        auto kek = cache_->get(s, *pool_);
        if (!kek) return tl::unexpected(kek.error());
        detail::Template t;
        add_temporary_key_attrs(t, false);
        CK_MECHANISM m = kwp_mechanism();
        CK_OBJECT_HANDLE tmp = CK_INVALID_HANDLE;
        CK_RV rv = s.fn()->C_UnwrapKey(s.handle(), &m, *kek, const_cast<CK_BYTE*>(wrapped.data()),
                                       wrapped.size(), t.data(), t.size(), &tmp);
        detail::ObjectGuard guard(s, rv == CKR_OK ? tmp : CK_INVALID_HANDLE);
        if (detail::is_stale_handle(rv) && attempt == 0) {
            cache_->invalidate();
            continue;
        }
        if (is_integrity_failure(rv)) {
            return fail(Errc::integrity_failure,
                        "wrapped key does not unwrap under KEK " + key_id_ +
                            " (altered, or wrapped by another key): " +
                            std::string(ckr_name(rv)));
        }
        if (rv != CKR_OK) {
            if (is_token_unavailable(rv)) lease->discard();
            return fail_ckr(rv, "C_UnwrapKey under KEK " + key_id_);
        }
        return read_unwrapped(s, tmp, expected_size);
    }
}

}  // namespace enclave::hsm
