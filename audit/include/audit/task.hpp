// SPDX-License-Identifier: Apache-2.0
#pragma once
// Task intake: the JSON form of a task (issue #4, docs/tasks.md), parsed and
// validated in full before anything is stored.
//
//   {"reference": "LIID-0001", "kind": "LI",
//    "start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z",
//    "endpoint": "lea1",                                     (optional)
//    "fields": [{"formatName": "InternationalE164", "value": "442079460223",
//                "salt": "<hex>", "hash": "<hex>", "algorithm": "sha256"}]}
//
// Every rule (docs/tasks.md, "Validation"): size limit before parsing, strict
// JSON (RFC 8259, UTF-8, no duplicate or unknown members), the reference
// pattern of its kind (TS 103 280 LIID / LDID), RFC 3339 UTC times with
// end > start, the endpoint name pattern, 1..64 fields, a supported format
// type whose pattern the value matches (task_format.hpp), a supported
// algorithm, a salt of 16..1024 bytes, a hash of the algorithm's length, and
// the D.4 check itself (crypto::verify_salted_hash, constant time). The first
// failure refuses the whole task; the error names the member path
// ("fields[1].hash: does not match the salted hash of the value") and never
// contains a value, a salt or a hash.
//
// Holds: each field's value and salt in crypto::Secret (sodium_malloc'd,
// mlock'd, wiped on destruction). The parser decodes those two JSON strings
// straight into secure memory; no std::string copy of them is ever made. The
// request buffer itself belongs to the caller: parse_task_and_wipe() wipes it
// before returning, on every path.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/task_time.hpp"
#include "crypto/bytes.hpp"
#include "crypto/result.hpp"
#include "crypto/salted_hash.hpp"
#include "crypto/secret.hpp"

namespace enclave::audit {

/// Lawful interception (LIID reference) or lawful disclosure (LDID reference).
enum class TaskKind { li, ld };

/// "LI" / "LD".
std::string_view task_kind_name(TaskKind kind) noexcept;
std::optional<TaskKind> task_kind_from_name(std::string_view name) noexcept;

/// Limits applied by the intake (docs/tasks.md).
inline constexpr std::size_t kMaxTaskJsonBytes = 64 * 1024;
inline constexpr std::size_t kMaxTaskFields = 64;
inline constexpr std::size_t kMaxReferenceBytes = 255;  ///< LDID; an LIID is at most 50

/// One sensitive field as the LEA sent it, after every check passed.
/// Holds: `value` (UTF-8) and `salt` (raw bytes) in secure memory.
struct IntakeField {
    std::string format_name;
    crypto::SaltedHashAlg algorithm{};
    crypto::Secret value;
    crypto::Secret salt;
    crypto::Bytes hash;  ///< not secret: it is the record that remains after close
};

/// A task that passed intake. Move-only (it owns Secrets).
struct TaskIntake {
    std::string reference;
    TaskKind kind{};
    UtcTime start{};
    UtcTime end{};
    std::optional<std::string> endpoint;
    std::vector<IntakeField> fields;
};

/// Parses and checks a task. Errors (the context starts with the member path):
///   too_large             body over kMaxTaskJsonBytes, a string over its limit,
///                         more than kMaxTaskFields fields, salt over 1024 bytes
///   malformed_input       not strict JSON, wrong member type, duplicate or
///                         unknown member, bad hex
///   invalid_argument      a rule of docs/tasks.md (pattern, time order, unknown
///                         formatName, value not of its format, hash length)
///   unsupported_algorithm algorithm not in crypto::salted_hash_supported_names()
///   salt_too_short        salt under 16 bytes
///   hash_mismatch         the D.4 check failed
/// The caller's buffer is left as it is (see parse_task_and_wipe).
crypto::Result<TaskIntake> parse_task(std::string_view json);

/// Every rule parse_task() applies to the parsed content, re-applied to an
/// intake however it was built (TaskStore::create runs it, so a TaskIntake
/// built by another front end, e.g. HI1 XML, gets the same checks). Same
/// errors and paths as parse_task().
crypto::Result<void> check_intake(const TaskIntake& task);

/// parse_task(), then wipes `body` (the request buffer the caller owns and
/// hands over), whatever the outcome.
crypto::Result<TaskIntake> parse_task_and_wipe(crypto::MutableByteView body);

/// Reference syntax of a kind: LIID `([!-~]{1,25})|([0-9a-f]{26,50})`, LDID
/// `([A-Z]{2}-.+-.+)` (TS 103 280), the LDID additionally at most 255 bytes of
/// UTF-8 without control characters. The error context says which rule failed,
/// never echoes the reference.
crypto::Result<void> check_reference(TaskKind kind, std::string_view reference);

/// True when `reference` is a valid LIID or LDID (for lookups by reference,
/// where the kind is not known yet).
bool is_valid_reference(std::string_view reference) noexcept;

/// LEA endpoint name: `[a-z0-9][a-z0-9-]{0,62}`.
bool is_valid_endpoint_name(std::string_view name) noexcept;

/// The re-verification input `{"value": "...", "salt": "<hex>"}` (what the
/// LEA hands back; enclavectl reads it from stdin). Same strict JSON rules;
/// both members required, nothing else allowed.
/// Holds: the value and the salt's hex text in secure memory.
struct ReverifyInput {
    crypto::Secret value;
    crypto::Secret salt_hex;
};
crypto::Result<ReverifyInput> parse_reverify_input(std::string_view json);
/// parse_reverify_input(), then wipes `body` whatever the outcome.
crypto::Result<ReverifyInput> parse_reverify_input_and_wipe(crypto::MutableByteView body);

/// A view of a Secret's bytes as text (no copy). Valid while `s` lives.
inline std::string_view secret_text(const crypto::Secret& s) noexcept {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

}  // namespace enclave::audit
