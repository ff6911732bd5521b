// SPDX-License-Identifier: Apache-2.0
#pragma once
// enclavectl's commands, as functions over parsed options (the CLI11 parsing
// stays in tools/enclavectl_main.cpp). Each returns the process exit code.
//
// Exit codes: 0 ok, 1 usage error (or, for `audit reverify`, a mismatch;
// for `audit verify`, a bundle that does not verify), 2 failure, 3 enclaved
// is not running. With --json, stdout carries exactly one JSON document (the
// result, or {"error":{"code","message"}}); without it, human text. Errors
// also go to stderr. Values and salts never come from argv: task files and
// re-verification input are read from a file or stdin, and wiped after use.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/result.hpp"

namespace enclave::appliance::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitMismatch = 1;  ///< audit reverify: no match; audit verify: bad bundle
inline constexpr int kExitFailure = 2;
inline constexpr int kExitNotRunning = 3;

struct Globals {
    std::string data_dir;  ///< --data-dir ("" = $ENCLAVE_DATA_DIR, else ./var)
    std::string config;    ///< --config ("" = DATA_DIR/enclave.toml)
    bool json = false;     ///< --json
};

std::filesystem::path data_dir_of(const Globals& g);

/// Prints the error (JSON on stdout with --json; always stderr) and returns
/// `exit_code`.
int report_error(const Globals& g, std::string_view code, const std::string& message,
                 int exit_code = kExitFailure);
int report_error(const Globals& g, const crypto::Error& e);

/// Printable ASCII only (text from the socket must not drive the terminal).
std::string printable(std::string_view s, std::size_t max = 256);

/// A member of an answer for human output: printable text (at most `max`
/// characters), a number or boolean as JSON, "-" when absent (or, with
/// `empty_as_dash`, an empty string).
std::string field_text(const nlohmann::json& j, const char* key, std::size_t max = 256,
                       bool empty_as_dash = false);

/// One admin API call: loads the config, connects to its socket, sends the
/// request and parses the JSON answer into `out`. Returns an exit code
/// (errors already reported).
int call(const Globals& g, std::string_view method, std::string_view target,
         std::string_view body, nlohmann::json& out);

/// "a=b&c=d" with percent-encoding of the values.
std::string query(std::initializer_list<std::pair<std::string_view, std::string>> params);

// ---- tasks (ctl_task.cpp)
/// task create --file F|- : the task JSON from a file or stdin.
int task_create(const Globals& g, const std::string& file);
int task_list(const Globals& g);
/// task show REF [--reveal]
int task_show(const Globals& g, const std::string& reference, bool reveal);
int task_close(const Globals& g, const std::string& reference);

// ---- audit (ctl_audit.cpp)
/// audit reverify REF --field N : {"value","salt"} from stdin (or --input F).
int audit_reverify(const Globals& g, const std::string& reference, std::uint64_t field,
                   const std::string& input);
int audit_review(const Globals& g, const std::string& review_id, bool discard);
int audit_checkpoint(const Globals& g, bool make_new);
int audit_key(const Globals& g);
int audit_proof_inclusion(const Globals& g, std::uint64_t index, std::optional<std::uint64_t> size);
int audit_proof_consistency(const Globals& g, std::uint64_t old_size,
                            std::optional<std::uint64_t> new_size);
/// audit export --out FILE [--force]
int audit_export(const Globals& g, const std::string& out, bool overwrite);
/// audit verify FILE [--key KEYFILE|KEY] [--since-checkpoint OLD] (offline).
int audit_verify(const Globals& g, const std::string& bundle, const std::string& key,
                 const std::string& since_checkpoint);

// ---- the long-term archive, offline (ctl_archive.cpp; docs/archive.md)
/// archive verify --data F --evidence F.ers [--tsa-cert C]: no daemon, no
/// token. `tsa_cert` "" = the instance's (archive.tsa_certificate, else
/// DATA_DIR/tsa.crt) when --data-dir or $ENCLAVE_DATA_DIR names one.
/// Exit 0 verified, 1 the record does not verify, 2 a file cannot be read.
int archive_verify(const Globals& g, const std::string& data, const std::string& evidence,
                   const std::string& tsa_cert);
/// archive export --object REF --out DIR2: with enclaved stopped, logs into
/// the token and writes REF's data (0600), evidence record, metadata and the
/// TSA certificate into DIR2 (never overwriting a file).
int archive_export(const Globals& g, const std::string& reference, const std::string& out_dir);
// ---- the archive over the admin API (ctl_archive_admin.cpp)
/// archive status: counts by state and the TSA certificate's SHA-256 (any role).
int archive_status(const Globals& g);
/// archive seal: seal every waiting object now (security officer, operator).
int archive_seal(const Globals& g);
/// archive renew --kind timestamp|hash-tree [--digest sha512]: renew every
/// granted object's evidence (security officer).
int archive_renew(const Globals& g, const std::string& kind, const std::string& digest);

// ---- LEA endpoints (ctl_endpoint.cpp)
struct EndpointAddOptions {
    std::string name;
    std::string url;
    std::string ca_file;  ///< PEM trust anchors for the LEA's server certificate
    std::string crl_file;  ///< optional PEM CRLs for the LEA's chain
    std::string spki_sha256;
    std::string binary_url_scheme;
    std::string models = "B";
    std::string auth = "certificate";  ///< or "psk"
    std::string sender_country, sender_unique_id, receiver_country, receiver_unique_id;
    std::vector<std::string> client_subjects;
    std::string client_certificate, client_key;
    std::optional<std::uint32_t> max_connections, connect_timeout_ms, response_timeout_ms;
};
/// endpoint add NAME --url URL --ca FILE [options] (security officers).
int endpoint_add(const Globals& g, const EndpointAddOptions& o);
int endpoint_list(const Globals& g);
int endpoint_show(const Globals& g, const std::string& name);
int endpoint_remove(const Globals& g, const std::string& name);

// ---- TLS PSKs of LEA endpoints (ctl_psk.cpp; security officers)
struct PskOptions {
    std::string endpoint;
    std::string identity;
    std::optional<std::uint32_t> expires_days;   ///< absent or 0: never
    std::optional<std::uint32_t> overlap_hours;  ///< rotate only (default 24)
    std::string out;  ///< new/rotate: write the generated key here (0600, must not exist)
};
/// psk new: the daemon generates the key; printed once (or written to --out).
int psk_new(const Globals& g, const PskOptions& o);
/// psk import: the key as 64..128 hex digits from stdin (never argv).
int psk_import(const Globals& g, const PskOptions& o);
int psk_list(const Globals& g);
/// psk rotate: like new; the endpoint's other PSKs retire after the overlap.
int psk_rotate(const Globals& g, const PskOptions& o);
int psk_revoke(const Globals& g, const std::string& identity);

// ---- two-person control (ctl_approvals.cpp; security officers)
/// True when `out` is a guarded route's 202 answer (a proposal, not yet
/// executed); then prints it (the id, when it expires, that a different
/// officer must approve) and the caller prints nothing else.
bool print_if_proposed(const Globals& g, const nlohmann::json& out);
/// approvals list: the pending proposals (never a body).
int approvals_list(const Globals& g);
/// approvals approve ID: runs the proposal; prints the guarded route's own
/// answer (a revealed value or a generated PSK: shown once, to the approver).
int approvals_approve(const Globals& g, const std::string& id);
/// approvals reject ID: withdraws (the proposer) or refuses the proposal.
int approvals_reject(const Globals& g, const std::string& id);
// ---- the appliance's own certificates (ctl_cert.cpp; security officers)
struct CertOptions {
    std::string label;
    std::string subject;
    std::vector<std::string> sans;  ///< "DNS:name" / "IP:address"
    std::string listener;           ///< rotate: lea, ingest or admin-tls
    std::string out;                ///< new/rotate: write the CSR to this new file
    std::string file;               ///< import: the PEM chain (leaf first)
};
/// cert new: a P-256 key on the token and its CSR (stdout or --out).
int cert_new(const Globals& g, const CertOptions& o);
/// cert rotate: the same, staged for a listener (subject and SANs default to
/// the current certificate's).
int cert_rotate(const Globals& g, const CertOptions& o);
/// cert import --label L FILE: the listener using or waiting for L switches.
int cert_import(const Globals& g, const CertOptions& o);
int cert_list(const Globals& g);
/// cert retire --label L: destroys a key no listener uses.
int cert_retire(const Globals& g, const std::string& label);

}  // namespace enclave::appliance::ctl
