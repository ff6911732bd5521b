// SPDX-License-Identifier: Apache-2.0
#pragma once
// ReverifyService: the LEA-assisted re-verification of TS 103 707 Annex D.4.
//
// An auditor (or the LEA, over its mTLS listener, for a task it owns: that
// permission check is the caller's) supplies the value and the salt of one
// field of a task record, active or closed. The service recomputes the salted
// hash with the record's algorithm and compares it with the stored hash in
// constant time.
//
//   request  audit "reverify.requested" (fail closed), compare, then audit
//            "reverify.matched" or "reverify.mismatched". On a match the
//            value is kept for the review window under a random review id;
//            on a mismatch nothing is kept.
//   review   the value, to the same requester only (identity: uid for a
//            local actor, certificate SHA-256 for a TLS one), while the
//            window is open; audit "reverify.viewed" first.
//   discard  the requester ends the review early ("reverify.discarded").
//   expire   destroys every review whose window has passed
//            ("reverify.expired"); review() also expires lazily.
// No event carries the value or the salt.
//
// Holds: the values of matched requests, each in a crypto::Secret
// (sodium_malloc'd, mlock'd, wiped when destroyed), in memory only, for at
// most the review window (or until discard/expire/destruction of the
// service). The salt is never kept: it is wiped when request() returns.
//
// Thread-safety: every public member takes an internal mutex.

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_sink.hpp"
#include "audit/task.hpp"
#include "audit/task_store.hpp"
#include "audit/task_time.hpp"
#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::audit {

struct ReverifyOptions {
    /// How long a matched value stays visible to its requester.
    std::chrono::microseconds review_window = std::chrono::minutes(15);
    /// Open reviews at most (each holds a Secret in locked memory).
    std::size_t max_open_reviews = 64;
};

struct ReverifyOutcome {
    bool matched = false;
    std::string reference;
    std::size_t field = 0;
    std::optional<std::string> review_id;  ///< on a match: 32 lowercase hex, random
    std::optional<UtcTime> review_expires;  ///< on a match
};

/// What review() returns. Holds: a copy of the value in a Secret.
struct ReviewView {
    std::string review_id;
    std::string reference;
    std::size_t field = 0;
    std::string format_name;
    UtcTime expires{};
    crypto::Secret value;
};

class ReverifyService {
public:
    /// `store` and `audit` must outlive the service.
    ReverifyService(TaskStore& store, AuditSink& audit, Clock clock, ReverifyOptions options = {});
    ~ReverifyService();
    ReverifyService(const ReverifyService&) = delete;
    ReverifyService& operator=(const ReverifyService&) = delete;

    /// Checks `value` and the salt (lowercase or uppercase hex, in a Secret)
    /// against field `field` of task `reference`. Errors, before anything is
    /// recorded: invalid_argument (bad requester, field index out of range,
    /// empty value), not_found, malformed_input (salt not hex, value not
    /// UTF-8), salt_too_short, too_large, unavailable (max_open_reviews
    /// reached). After "reverify.requested": the audit sink's errors (fail
    /// closed: nothing kept). A mismatch is not an error: matched == false.
    crypto::Result<ReverifyOutcome> request(std::string_view reference, std::size_t field, crypto::Secret value,
                                            const crypto::Secret& salt_hex, const Actor& requester);
    /// The same with the parsed {"value","salt"} input.
    crypto::Result<ReverifyOutcome> request(std::string_view reference, std::size_t field, ReverifyInput input,
                                            const Actor& requester);

    /// The value of an open review. Errors: not_found (no such review, or
    /// not a review id), expired (the window has passed: the value is now
    /// destroyed), permission_denied (another requester; recorded as
    /// "reverify.view_refused"), the audit sink's errors (value not returned).
    crypto::Result<ReviewView> review(std::string_view review_id, const Actor& requester);

    /// Ends an open review now. not_found, permission_denied as review().
    crypto::Result<void> discard(std::string_view review_id, const Actor& requester);

    /// Destroys every review whose window ended at or before `now` and
    /// records "reverify.expired" for each. The values are destroyed even
    /// when the log refuses the entry (destruction is the safe direction);
    /// the error then says so. Returns how many were destroyed.
    crypto::Result<std::size_t> expire(UtcTime now);

    /// Reviews currently held.
    [[nodiscard]] std::size_t open_reviews();

private:
    struct Review {
        std::string requester_identity;
        Actor requester;
        std::string reference;
        std::string task_id;
        std::size_t field = 0;
        std::string format_name;
        UtcTime expires{};
        crypto::Secret value;
    };

    using ReviewMap = std::map<std::string, Review, std::less<>>;

    /// Records "reverify.expired" and destroys the review (even when the log refuses).
    crypto::Result<void> expire_one_locked(ReviewMap::iterator it);
    crypto::Result<std::size_t> expire_locked(UtcTime now);

    std::mutex mu_;
    TaskStore& store_;
    AuditSink& audit_;
    Clock clock_;
    ReverifyOptions options_;
    ReviewMap reviews_;
};

}  // namespace enclave::audit
