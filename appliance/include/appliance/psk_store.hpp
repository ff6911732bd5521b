// SPDX-License-Identifier: Apache-2.0
#pragma once
// PskStore: TLS pre-shared keys of LEA endpoints (issue #7 "PSKs", issue #5
// "optional PSK per endpoint"), managed with `enclavectl psk
// new|import|list|rotate|revoke` (docs/security-officer-guide.md, "PSKs").
//
//   DIR/state/psks.db   SQLCipher, key wrapped by the token KEK
//
// Holds secrets: each PSK value is stored wrapped by the KEK on its own
// (KeyWrapper::wrap), inside the encrypted database, and is unwrapped into a
// crypto::Secret (sodium_malloc, wiped) only for a handshake. No API returns
// a stored value except find()/current() for the TLS callbacks; the admin
// API shows a generated value once, in the answer to its creation. Errors,
// logs and audit records name the identity and the fingerprint prefix,
// never the value.
//
// Identities are TLS PSK identities (RFC 4279 section 5.1; TLS 1.3
// external PSK identities): not secret, unique for ever in one store (a
// revoked identity is never reused), 1..128 printable ASCII characters
// without spaces. A PSK is 32..64 bytes.
//
// Lifecycle: usable from creation until it expires (`expires`, 0 = never),
// is revoked, or its retirement time passes (`retires`, set by a rotation
// of its endpoint: the overlap window during which old and new both work).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/key_wrapper.hpp"
#include "crypto/result.hpp"
#include "crypto/sealed_db.hpp"
#include "crypto/secret.hpp"

namespace enclave::appliance {

inline constexpr std::size_t kMinPskBytes = 32;
inline constexpr std::size_t kMaxPskBytes = 64;
inline constexpr std::size_t kMaxPskIdentityChars = 128;

/// What may be shown about a PSK (never its value).
struct PskInfo {
    std::string identity;
    std::string endpoint;     ///< the endpoint name it authenticates
    std::string fingerprint;  ///< first 16 hex digits of SHA-256(value)
    std::int64_t created = 0;  ///< Unix seconds
    std::int64_t expires = 0;  ///< Unix seconds, 0 = never
    std::int64_t retires = 0;  ///< Unix seconds, 0 = not superseded (set by rotate)
    std::int64_t revoked = 0;  ///< Unix seconds it was revoked, 0 = not

    /// Not revoked, not expired, not retired at `now`.
    [[nodiscard]] bool usable(std::int64_t now) const noexcept {
        return revoked == 0 && (expires == 0 || now < expires) && (retires == 0 || now < retires);
    }
    bool operator==(const PskInfo&) const = default;
};

/// JSON form for the admin API and `--json` (no value, ever).
nlohmann::json to_json(const PskInfo& info);

/// A usable PSK with its value (for a TLS callback; wipe by scope).
struct PskMatch {
    PskInfo info;
    crypto::Secret key;
};

/// True for a valid identity (see the header comment).
bool valid_psk_identity(std::string_view identity) noexcept;

class PskStore {
public:
    static crypto::Result<std::unique_ptr<PskStore>> open(const std::filesystem::path& db,
                                                          crypto::KeyWrapper& kek);

    /// Stores a new PSK for `endpoint` (the caller checked the endpoint
    /// exists). invalid_argument: bad identity, key size, expires <= now;
    /// already_exists: the identity was ever used in this store.
    crypto::Result<PskInfo> add(std::string_view endpoint, std::string_view identity,
                                const crypto::Secret& key, std::int64_t expires, std::int64_t now);
    /// add() of the new PSK, and every PSK of the endpoint usable now gets
    /// retires = now + overlap_s (unless it retires or expires sooner), in
    /// one transaction. overlap_s in 0..30 days.
    crypto::Result<PskInfo> rotate(std::string_view endpoint, std::string_view identity,
                                   const crypto::Secret& key, std::int64_t expires,
                                   std::int64_t overlap_s, std::int64_t now);
    /// not_found: no such identity; already revoked: succeeds (idempotent).
    crypto::Result<PskInfo> revoke(std::string_view identity, std::int64_t now);
    /// Every PSK, revoked and expired ones included, oldest first.
    crypto::Result<std::vector<PskInfo>> list();
    /// The PSK with this identity if usable at `now` (server side:
    /// a client offered the identity). nullopt for unknown or unusable.
    crypto::Result<std::optional<PskMatch>> find(std::string_view identity, std::int64_t now);
    /// The endpoint's newest PSK usable at `now` (client side), or nullopt.
    crypto::Result<std::optional<PskMatch>> current(std::string_view endpoint, std::int64_t now);
    /// Bumped by every change (add, rotate, revoke): caches compare it.
    [[nodiscard]] std::uint64_t generation() const noexcept;

private:
    PskStore(crypto::SealedDb db, crypto::KeyWrapper& kek) : db_(std::move(db)), kek_(kek) {}
    mutable std::mutex mu_;
    crypto::SealedDb db_;
    crypto::KeyWrapper& kek_;
    std::uint64_t generation_ = 0;
};

}  // namespace enclave::appliance
