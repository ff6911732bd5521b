// SPDX-License-Identifier: Apache-2.0
#pragma once
// A strict, pull-style JSON reader (RFC 8259) for the small fixed-shape
// documents of task intake and re-verification. It exists instead of
// nlohmann::json because the documents carry secrets (values, salts): a DOM
// parser copies every string into std::string buffers that are freed without
// being wiped. This reader decodes a string either into a std::string (for
// non-secret members) or straight into a crypto::Secret, and keeps no other
// copy. Its own state is a position in the caller's buffer.
//
// Strict: UTF-8 only (no BOM), no control characters in strings, paired
// surrogate escapes only, whitespace = space, tab, LF, CR. Errors name a byte
// offset and what was expected, never the text found there.
//
// Holds: nothing. (The input buffer is the caller's; decoded secrets are
// returned in Secrets the caller owns.)

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.hpp"
#include "crypto/secret.hpp"

namespace enclave::audit::detail {

enum class JsonType { object, array, string, number, boolean, null, invalid, end };

/// "an object", "a number", ... for error messages.
std::string_view json_type_phrase(JsonType t) noexcept;

class JsonReader {
public:
    explicit JsonReader(std::string_view text) noexcept : text_(text) {}

    /// Type of the next value, from its first character (nothing consumed).
    JsonType peek() noexcept;

    /// Consumes '{' (malformed_input "must be an object (got ...)" otherwise).
    crypto::Result<void> begin_object();
    /// Next member name of the current object, or nullopt after its '}'.
    /// Names over `max_name` bytes come back as "" (an unknown name to the
    /// caller) without being stored.
    crypto::Result<std::optional<std::string>> next_member(std::size_t max_name = 64);
    /// Consumes '['.
    crypto::Result<void> begin_array();
    /// true when another element follows (after its ','), false after ']'.
    crypto::Result<bool> next_element();

    /// A string member value of at most `max_bytes` decoded bytes.
    crypto::Result<std::string> read_string(std::size_t max_bytes);
    /// The same, decoded straight into secure memory.
    crypto::Result<crypto::Secret> read_secret_string(std::size_t max_bytes);

    /// Only whitespace may follow the top-level value.
    crypto::Result<void> finish();

private:
    void skip_ws() noexcept;
    crypto::Result<void> expect_type(JsonType want);
    /// Decodes the string at pos_ (which is on the opening quote). With
    /// out == nullptr it only measures and validates; returns the decoded
    /// length and leaves pos_ unchanged (the second pass moves it).
    crypto::Result<std::size_t> decode(std::uint8_t* out, std::size_t max_bytes, bool advance);
    /// Decodes the escape at p (on the backslash) and moves p past it.
    crypto::Result<std::uint32_t> read_escape(std::size_t& p) const;
    crypto::Error error(std::string what) const;

    std::string_view text_;
    std::size_t pos_ = 0;
    bool first_in_container_ = false;
};

}  // namespace enclave::audit::detail
