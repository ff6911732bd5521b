// SPDX-License-Identifier: Apache-2.0
#include "audit/reverify.hpp"

#include <sodium.h>

#include "audit/task_actor.hpp"
#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"

namespace enclave::audit {
namespace {

using crypto::Errc;
using crypto::Result;
using crypto::Secret;

constexpr std::size_t kReviewIdBytes = 16;

bool is_review_id(std::string_view id) noexcept {
    if (id.size() != 2 * kReviewIdBytes) return false;
    for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string new_review_id() {
    crypto::Bytes id(kReviewIdBytes);
    crypto::ensure_sodium();
    randombytes_buf(id.data(), id.size());
    return crypto::hex_encode(id);
}

nlohmann::json reverify_event(std::string_view name, const std::string& reference, const std::string& task_id,
                              std::size_t field) {
    return {{"event", name}, {"reference", reference}, {"task_id", task_id}, {"field", field}};
}

/// The checks verify_salted_hash would make on the value, made before
/// anything is recorded, so that after "reverify.requested" only the
/// comparison itself can decide.
Result<void> check_value(const Secret& value) {
    const std::string_view v = secret_text(value);
    if (v.empty()) return crypto::fail(Errc::invalid_argument, "value: empty");
    if (v.size() > crypto::kMaxSaltedValueBytes) {
        return crypto::fail(Errc::too_large,
                            "value: longer than " + std::to_string(crypto::kMaxSaltedValueBytes) + " bytes");
    }
    if (!crypto::is_valid_utf8(v)) return crypto::fail(Errc::malformed_input, "value: not valid UTF-8");
    return {};
}

Result<Secret> decode_salt(const Secret& salt_hex) {
    if (salt_hex.size() > 2 * crypto::kMaxSaltBytes) {
        return crypto::fail(Errc::too_large, "salt: longer than " + std::to_string(crypto::kMaxSaltBytes) + " bytes");
    }
    auto salt = crypto::hex_decode_secret(secret_text(salt_hex));
    if (!salt) return tl::unexpected(salt.error().wrap("salt"));
    if (salt->size() < crypto::kMinSaltBytes) {
        return crypto::fail(Errc::salt_too_short, "salt: " + std::to_string(salt->size()) + " bytes; at least " +
                                                      std::to_string(crypto::kMinSaltBytes) + " are required");
    }
    return salt;
}

}  // namespace

ReverifyService::ReverifyService(TaskStore& store, AuditSink& audit, Clock clock, ReverifyOptions options)
    : store_(store), audit_(audit), clock_(std::move(clock)), options_(options) {}

ReverifyService::~ReverifyService() = default;  // each Review's Secret wipes its value

Result<ReverifyOutcome> ReverifyService::request(std::string_view reference, std::size_t field,
                                                 ReverifyInput input, const Actor& requester) {
    return request(reference, field, std::move(input.value), input.salt_hex, requester);
}

Result<ReverifyOutcome> ReverifyService::request(std::string_view reference, std::size_t field, Secret value,
                                                 const Secret& salt_hex, const Actor& requester) {
    auto identity = actor_identity(requester);
    if (!identity) return tl::unexpected(identity.error());
    auto record = store_.show(reference);
    if (!record) return tl::unexpected(record.error());
    if (field >= record->fields.size()) {
        return crypto::fail(Errc::invalid_argument, "field " + std::to_string(field) + ": task \"" +
                                                        record->reference + "\" has " +
                                                        std::to_string(record->fields.size()) + " field(s)");
    }
    if (auto ok = check_value(value); !ok) return tl::unexpected(ok.error());
    auto salt = decode_salt(salt_hex);
    if (!salt) return tl::unexpected(salt.error());
    const FieldRecord& f = record->fields[field];

    std::lock_guard lock(mu_);
    const UtcTime now = clock_();
    (void)expire_locked(now);  // frees room; its own failures are reported by expire()
    if (reviews_.size() >= options_.max_open_reviews) {
        return crypto::fail(Errc::unavailable, "too many open reviews (" + std::to_string(reviews_.size()) +
                                                   "); try again when one ends");
    }
    auto ev = reverify_event("reverify.requested", record->reference, record->task_id, field);
    ev["state"] = task_state_name(record->state);
    ev["algorithm"] = crypto::salted_hash_name(f.algorithm);
    ev["requester"] = requester;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("not re-verified: audit log"));

    auto same = crypto::verify_salted_hash(f.algorithm, salt->view(), secret_text(value), f.hash);
    if (!same && same.error().code() != Errc::hash_mismatch) return tl::unexpected(same.error());
    ReverifyOutcome out;
    out.matched = same.has_value();
    out.reference = record->reference;
    out.field = field;
    if (!out.matched) {
        ev = reverify_event("reverify.mismatched", record->reference, record->task_id, field);
        ev["requester"] = requester;
        if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("audit log"));
        return out;  // `value` is wiped on return: nothing is kept
    }
    const std::string id = new_review_id();
    const UtcTime expires = now + options_.review_window;
    ev = reverify_event("reverify.matched", record->reference, record->task_id, field);
    ev["review_id"] = id;
    ev["expires"] = format_utc_time(expires);
    ev["requester"] = requester;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("value not kept: audit log"));
    reviews_.emplace(id, Review{*identity, requester, record->reference, record->task_id, field, f.format_name,
                                expires, std::move(value)});
    out.review_id = id;
    out.review_expires = expires;
    return out;
}

Result<ReviewView> ReverifyService::review(std::string_view review_id, const Actor& requester) {
    auto identity = actor_identity(requester);
    if (!identity) return tl::unexpected(identity.error());
    std::lock_guard lock(mu_);
    auto it = is_review_id(review_id) ? reviews_.find(review_id) : reviews_.end();
    if (it == reviews_.end()) return crypto::fail(Errc::not_found, "no open review with that id");
    Review& r = it->second;
    if (r.requester_identity != *identity) {
        auto ev = reverify_event("reverify.view_refused", r.reference, r.task_id, r.field);
        ev["review_id"] = it->first;
        ev["requester"] = requester;
        (void)audit_.append(ev);  // best effort: the refusal stands either way
        return crypto::fail(Errc::permission_denied, "the review belongs to another requester");
    }
    if (clock_() >= r.expires) {
        auto ok = expire_one_locked(it);
        return crypto::fail(Errc::expired, std::string("the review window has ended; the value is destroyed") +
                                               (ok ? "" : " (" + ok.error().message() + ")"));
    }
    auto ev = reverify_event("reverify.viewed", r.reference, r.task_id, r.field);
    ev["review_id"] = it->first;
    ev["requester"] = requester;
    if (auto ok = audit_.append(ev); !ok) return tl::unexpected(ok.error().wrap("value not shown: audit log"));
    return ReviewView{it->first, r.reference, r.field, r.format_name, r.expires, Secret::copy_of(r.value.view())};
}

Result<void> ReverifyService::discard(std::string_view review_id, const Actor& requester) {
    auto identity = actor_identity(requester);
    if (!identity) return tl::unexpected(identity.error());
    std::lock_guard lock(mu_);
    auto it = is_review_id(review_id) ? reviews_.find(review_id) : reviews_.end();
    if (it == reviews_.end()) return crypto::fail(Errc::not_found, "no open review with that id");
    if (it->second.requester_identity != *identity) {
        return crypto::fail(Errc::permission_denied, "the review belongs to another requester");
    }
    auto ev = reverify_event("reverify.discarded", it->second.reference, it->second.task_id, it->second.field);
    ev["review_id"] = it->first;
    ev["requester"] = requester;
    auto ok = audit_.append(ev);
    reviews_.erase(it);  // destroyed whatever the log says
    if (!ok) return tl::unexpected(ok.error().wrap("review destroyed, but the audit log refused the entry"));
    return {};
}

Result<void> ReverifyService::expire_one_locked(ReviewMap::iterator it) {
    auto ev = reverify_event("reverify.expired", it->second.reference, it->second.task_id, it->second.field);
    ev["review_id"] = it->first;
    ev["requester"] = it->second.requester;
    auto ok = audit_.append(ev);
    reviews_.erase(it);
    if (!ok) return tl::unexpected(ok.error().wrap("review destroyed, but the audit log refused the entry"));
    return {};
}

Result<std::size_t> ReverifyService::expire_locked(UtcTime now) {
    std::size_t destroyed = 0;
    std::optional<crypto::Error> first_error;
    for (auto it = reviews_.begin(); it != reviews_.end();) {
        auto next = std::next(it);
        if (it->second.expires <= now) {
            if (auto ok = expire_one_locked(it); !ok && !first_error) first_error = ok.error();
            ++destroyed;
        }
        it = next;
    }
    if (first_error) {
        return tl::unexpected(first_error->wrap(std::to_string(destroyed) + " review(s) destroyed"));
    }
    return destroyed;
}

Result<std::size_t> ReverifyService::expire(UtcTime now) {
    std::lock_guard lock(mu_);
    return expire_locked(now);
}

std::size_t ReverifyService::open_reviews() {
    std::lock_guard lock(mu_);
    return reviews_.size();
}

}  // namespace enclave::audit
