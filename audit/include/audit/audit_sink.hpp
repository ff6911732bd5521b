// SPDX-License-Identifier: Apache-2.0
#pragma once
// The seam between the parts of the appliance that do things (tasks,
// re-verification, deliveries, key management) and the audit log that
// records them. The task store appends through this interface; the daemon
// passes the real AuditLog (audit/audit_log.hpp), tests may pass a log on a
// temporary database.
//
// An audit event is a flat JSON object of NON-sensitive facts. It never
// carries a value, a salt, a key, a PIN or a PSK: hashes, references, dates,
// counts, ids and the actor are fine. The log canonicalises it (RFC 8785)
// and adds the time; the caller sets "event" (e.g. "task.created") and the
// fields that event documents (docs/audit-events.md).
//
// append() returns only once the entry is durable (it survives kill -9 and
// power loss as far as fsync can promise). When it fails, the operation the
// entry records must fail too (fail closed) and report the error.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::audit {

class AuditSink {
public:
    virtual ~AuditSink() = default;
    /// Appends `event` durably; returns its index in the log (0-based).
    /// Errc::invalid_argument when the event is not an object with a string
    /// "event" member or holds a non-integer number; Errc::io_error (or the
    /// store's error) when it could not be made durable.
    [[nodiscard]] virtual crypto::Result<std::uint64_t> append(const nlohmann::json& event) = 0;
};

/// Who did something, as audit events record it.
///   {"kind":"local","uid":1000,"roles":["auditor"]}     admin Unix socket
///   {"kind":"certificate","listener":"lea","subject":"CN=...","sha256":"..."}
///   {"kind":"system"}                                   the daemon itself (expiry)
using Actor = nlohmann::json;

}  // namespace enclave::audit
