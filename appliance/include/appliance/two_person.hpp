// SPDX-License-Identifier: Apache-2.0
#pragma once
// Two-person control (issue #7; docs/security-officer-guide.md, "Two-person
// control"; docs/design-decisions.md).
//
// A request to a guarded admin route (admin.two_person.routes) is not
// executed: it is kept as a proposal and answered 202 {"proposal": ID,
// "expires": ...}. A different officer (another uid on the admin socket,
// another certificate on the admin TLS port) runs it with
//   POST /v1/approvals/approve {"proposal": ID}    security-officer
// within admin.two_person.approval_window_s, and gets the guarded route's own
// answer (a revealed value or a generated PSK goes to the approver). The
// stored request runs as the proposer's, so the route's own audit record
// names the proposer and "approval.approved" names both.
//   GET  /v1/approvals                              security-officer
//   POST /v1/approvals/reject {"proposal": ID}      security-officer
// Audit records: approval.proposed, approval.approved, approval.rejected,
// approval.expired (proposal id, route, query, body size and SHA-256, the
// actors; never the body). A record that cannot be written refuses the step.
//
// Secrets held: the body of each pending proposal (it may carry a PSK or
// other sensitive input), in a crypto::Secret (locked memory, wiped when the
// proposal is approved, rejected, noticed expired, or the daemon stops).
// Proposals live in memory only: they die with the daemon.

#include <memory>
#include <string>

#include "appliance/config.hpp"
#include "appliance/http_types.hpp"
#include "audit/audit_sink.hpp"
#include "crypto/result.hpp"

namespace enclave::appliance {

/// Largest body a proposal keeps (the guarded routes' own limits are lower).
inline constexpr std::size_t kMaxProposalBodyBytes = 1024 * 1024;
/// How many finished proposal ids are remembered (so that a second approval
/// is told "already approved" rather than "unknown").
inline constexpr std::size_t kFinishedProposalsRemembered = 256;

/// Wraps every route of `config.routes` on `admin` (when `config.enabled`)
/// and adds the three approval routes (always: with the control off the list
/// is empty and every id unknown). `audit` must outlive the router.
/// invalid_argument naming the route when a listed route is not registered
/// on `admin` (or streams its body): a route an officer believes guarded
/// must be guarded, so the daemon refuses to start.
crypto::Result<void> install_two_person(Router& admin, const TwoPersonConfig& config,
                                        audit::AuditSink& audit);

}  // namespace enclave::appliance
