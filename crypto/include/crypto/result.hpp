// SPDX-License-Identifier: Apache-2.0
#pragma once
// Result<T> and Error: the error model of every Enclave API (STYLE.md section 3).
// Expected failures (bad input, wrong PIN, a tampered blob) are values, not
// exceptions. An Error never carries key bytes, PINs, selector values or salts:
// its context names *what* failed (a field, a file, an object label), never the
// secret content.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace enclave::crypto {

/// A closed set of error kinds. Callers branch on these; the context string is
/// for humans.
enum class Errc {
    invalid_argument,       ///< a caller passed a value outside the API's contract
    malformed_input,        ///< bytes from outside do not parse (hex, base64, JSON, headers)
    too_large,              ///< input exceeds a configured or structural limit
    unsupported_algorithm,  ///< an algorithm name we do not implement
    salt_too_short,         ///< D.4: salt under 16 bytes
    hash_mismatch,          ///< D.4: recomputed hash differs from the supplied one
    integrity_failure,      ///< authentication tag, Merkle proof or format check failed
    not_found,              ///< a file, row, object or token that does not exist
    already_exists,         ///< create refused because the thing exists
    io_error,               ///< the operating system refused a read or write
    crypto_failure,         ///< a primitive failed for a reason that is not the input's fault
    hsm_module,             ///< a PKCS#11 module could not be loaded or initialised
    hsm_token_not_found,    ///< no token matches the URI
    hsm_object_not_found,   ///< no key object matches the URI or label
    hsm_pin_incorrect,      ///< CKR_PIN_INCORRECT: stop, do not retry (token lock-out)
    hsm_pin_locked,         ///< CKR_PIN_LOCKED
    hsm_error,              ///< any other PKCS#11 failure (the CKR name is in the context)
    db_error,               ///< SQLCipher failure
    db_wrong_key,           ///< the database did not open with the unwrapped key
    unavailable,            ///< a dependency (token, module, disk) is not there now
    invalid_state,          ///< the object is not in a state that allows this (closing a closed task)
    expired,                ///< a time-bounded thing (review window, URL) has run out
    permission_denied,      ///< the caller lacks the role or ownership this needs
    resource_exhausted,     ///< a bounded queue or store is full now (retry later)
    internal,               ///< a broken invariant surfaced as a value
};

/// Stable lowercase name of an error kind, for logs and JSON.
std::string_view errc_name(Errc code) noexcept;

class Error {
public:
    Error(Errc code, std::string context) : code_(code), context_(std::move(context)) {}

    [[nodiscard]] Errc code() const noexcept { return code_; }
    [[nodiscard]] const std::string& context() const noexcept { return context_; }
    /// "<errc name>: <context>".
    [[nodiscard]] std::string message() const;

    /// Prefix more context ("opening blob 17: " + inner context), keeping the code.
    [[nodiscard]] Error wrap(std::string_view outer) const;

private:
    Errc code_;
    std::string context_;
};

template <class T>
using Result = tl::expected<T, Error>;

/// Shorthand for returning a failure: `return fail(Errc::too_large, "body over 1 MiB");`
inline tl::unexpected<Error> fail(Errc code, std::string context) {
    return tl::unexpected<Error>(Error(code, std::move(context)));
}

}  // namespace enclave::crypto
