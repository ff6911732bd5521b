// SPDX-License-Identifier: Apache-2.0
#pragma once
// RFC 7512 `pkcs11:` URIs: a strict parser and a canonical printer.
//
// Policy (fail closed, a URI selects which key signs and which KEK unwraps):
// - The scheme is matched case-insensitively; attribute names exactly.
// - Path attributes: token, manufacturer, serial, model, library-manufacturer,
//   library-description, library-version, slot-description, slot-manufacturer,
//   slot-id, object, id, type. Query attributes: module-name, module-path,
//   pin-source. Every other name, including vendor `x-` attributes, is refused:
//   ignoring an unknown constraint could select a different key than meant.
// - `pin-value` is refused (invalid_argument): secrets never live in URIs,
//   config files or argv. Read the PIN from a file, stdin or the environment
//   (hsm/pin.hpp).
// - An attribute may appear once; values must not be empty; percent escapes
//   must be `%` + two hex digits; characters outside RFC 7512's pchar/qchar
//   sets (spaces, controls, non-ASCII, `%` alone) are refused.
// - The whole URI is at most kMaxUriLength characters.
// - Error messages name the attribute and the offset, never echo values.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <p11-kit/pkcs11.h>

#include "crypto/bytes.hpp"
#include "crypto/result.hpp"

namespace enclave::hsm {

inline constexpr std::size_t kMaxUriLength = 4096;

/// The `type=` attribute.
enum class ObjectType { public_key, private_key, secret_key, certificate, data };

std::string_view object_type_name(ObjectType t) noexcept;  ///< "public", "private", "secret-key", "cert", "data"
CK_OBJECT_CLASS object_type_class(ObjectType t) noexcept;

/// A parsed URI. Absent attributes match anything. Values are decoded.
struct Uri {
    // Token (CK_TOKEN_INFO)
    std::optional<std::string> token;         ///< label
    std::optional<std::string> manufacturer;  ///< manufacturerID
    std::optional<std::string> serial;        ///< serialNumber
    std::optional<std::string> model;
    // Library (CK_INFO)
    std::optional<std::string> library_manufacturer;
    std::optional<std::string> library_description;
    std::optional<CK_VERSION> library_version;
    // Slot (CK_SLOT_INFO)
    std::optional<std::string> slot_description;
    std::optional<std::string> slot_manufacturer;
    std::optional<CK_SLOT_ID> slot_id;
    // Object
    std::optional<std::string> object;  ///< CKA_LABEL
    std::optional<crypto::Bytes> id;    ///< CKA_ID (raw bytes)
    std::optional<ObjectType> type;
    // Query
    std::optional<std::string> module_name;  ///< p11-kit configured module name
    std::optional<std::string> module_path;  ///< absolute path of a module
    std::optional<std::string> pin_source;   ///< kept for callers; never read implicitly

    /// Parses `text`. Errors: too_large (over kMaxUriLength), invalid_argument
    /// (pin-value), malformed_input (everything else).
    static crypto::Result<Uri> parse(std::string_view text);

    /// Canonical form: attributes in the order of the fields above, every byte
    /// outside the unreserved set percent-encoded. parse(to_string()) == *this.
    [[nodiscard]] std::string to_string() const;

    /// True when any token/slot/library attribute is set.
    [[nodiscard]] bool names_token() const noexcept;

    friend bool operator==(const Uri& a, const Uri& b);
};

/// Percent-encodes every byte that is not ALPHA / DIGIT / "-" / "." / "_" / "~".
std::string uri_percent_encode(crypto::ByteView bytes);

}  // namespace enclave::hsm
