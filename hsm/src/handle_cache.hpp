// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal: remembers the object handle of one key for one pool generation.
// Handles are valid for every session of this process, but not across fork()
// (the pool's generation changes) nor after the object is destroyed and
// re-created; users retry once with a fresh lookup on *_HANDLE_INVALID.

#include <cstdint>
#include <mutex>

#include "hsm/object.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::hsm::detail {

class HandleCache {
public:
    explicit HandleCache(KeyQuery query) : query_(std::move(query)) {}

    crypto::Result<CK_OBJECT_HANDLE> get(const Session& s, const SessionPool& pool) {
        const std::uint64_t gen = pool.generation();
        {
            std::lock_guard lk(mu_);
            if (valid_ && gen_ == gen) return handle_;
        }
        auto h = find_key_handle(s, query_, pool.token());
        if (!h) return h;
        std::lock_guard lk(mu_);
        handle_ = *h;
        gen_ = gen;
        valid_ = true;
        return h;
    }

    void invalidate() noexcept {
        std::lock_guard lk(mu_);
        valid_ = false;
    }

    [[nodiscard]] const KeyQuery& query() const noexcept { return query_; }

private:
    KeyQuery query_;
    std::mutex mu_;
    bool valid_ = false;
    std::uint64_t gen_ = 0;
    CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
};

inline bool is_stale_handle(CK_RV rv) noexcept {
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
           rv == CKR_WRAPPING_KEY_HANDLE_INVALID || rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID;
}

}  // namespace enclave::hsm::detail
