// SPDX-License-Identifier: Apache-2.0
#pragma once
// The appliance configuration: one TOML file (DATA_DIR/enclave.toml by
// default). Every key has a default embedded here, so an instance made by
// `enclavectl init` runs without edits; every key is documented in
// docs/configuration.md. Relative paths are relative to the data directory.
//
// The configuration never holds a secret: the token PIN is named by
// `token.pin_source` (a file, an environment variable, stdin or a systemd
// credential) and read only when the daemon logs in.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.hpp"

namespace enclave::appliance {

/// Largest config file accepted (load_config, parse_config): too_large beyond.
inline constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
/// Default ports (docs/configuration.md).
inline constexpr std::uint16_t kDefaultLeaPort = 8443;
inline constexpr std::uint16_t kDefaultIngestPort = 9443;
inline constexpr std::uint16_t kDefaultAdminTlsPort = 9444;

/// Where the token PIN comes from. Never the PIN itself.
struct PinSource {
    enum class Kind { file, env, stdin_, credential };
    Kind kind = Kind::file;
    std::string value;  ///< file path, variable name, or credential name ("" for stdin)

    /// Parses the config form: "file:PATH", "env:NAME", "stdin" or
    /// "credential:NAME" (invalid_argument otherwise; the text is not echoed).
    static crypto::Result<PinSource> parse(std::string_view text);
    /// The config form, parse(to_string()) == *this.
    [[nodiscard]] std::string to_string() const;

    bool operator==(const PinSource&) const = default;
};

struct TokenConfig {
    std::string uri = "pkcs11:token=enclave";  ///< RFC 7512 token URI (no pin-value)
    std::string module_path;                   ///< explicit PKCS#11 module; "" = p11-kit config
    PinSource pin_source{PinSource::Kind::file, "token.pin"};
    std::size_t max_sessions = 16;

    bool operator==(const TokenConfig&) const = default;
};

/// TLS material of one endpoint. private_key is a pkcs11: URI of a token key;
/// the daemon refuses anything else for its own keys.
struct TlsConfig {
    std::filesystem::path certificate;    ///< PEM chain, leaf first
    std::string private_key;              ///< "pkcs11:object=...;type=private"
    std::filesystem::path trust_anchors;  ///< PEM bundle of CAs allowed to issue peer certificates
    std::filesystem::path crl;            ///< optional PEM CRL file ("" = none)
    std::string min_version = "1.2";      ///< "1.2" or "1.3"

    bool operator==(const TlsConfig&) const = default;
};

struct Limits {
    std::chrono::milliseconds handshake_timeout{10'000};
    std::chrono::milliseconds read_timeout{30'000};
    std::chrono::milliseconds write_timeout{30'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::size_t max_header_bytes = 16 * 1024;
    std::uint64_t max_body_bytes = 1024 * 1024;
    std::size_t max_connections = 512;
    /// Failed authentication (auth_guard.hpp): this many failures of one
    /// source within auth_failure_window lock it for auth_lockout; 0 = off.
    std::uint32_t auth_max_failures = 20;
    std::chrono::seconds auth_failure_window{60};
    std::chrono::seconds auth_lockout{300};

    bool operator==(const Limits&) const = default;
};

/// A mutual-TLS TCP listener (LEA, ingest, admin over TLS).
struct ListenerConfig {
    bool enabled = true;
    std::string address = "127.0.0.1";  ///< IPv4 or IPv6 literal
    std::uint16_t port = 0;
    TlsConfig tls;
    Limits limits;

    bool operator==(const ListenerConfig&) const = default;
};

/// Unix-group names that grant each admin role over the Unix socket.
/// uid 0 and the daemon's own uid hold every role.
struct RoleGroups {
    std::string security_officer = "enclave-so";
    std::string auditor = "enclave-audit";
    std::string operator_ = "enclave-ops";

    bool operator==(const RoleGroups&) const = default;
};

/// Two-person control (issue #7; docs/security-officer-guide.md,
/// "Two-person control"): a request to one of `routes` is stored as a
/// proposal and runs only once a different officer approves it within
/// `approval_window`.
struct TwoPersonConfig {
    bool enabled = true;
    std::chrono::seconds approval_window{900};
    /// Guarded admin routes, "METHOD /path" as the role table names them.
    std::vector<std::string> routes = {"POST /v1/task/reveal", "POST /v1/endpoints",
                                       "POST /v1/endpoint/remove", "POST /v1/psk/rotate",
                                       "POST /v1/psk/revoke", "POST /v1/cert/import",
                                       "POST /v1/cert/retire"};
    /// Proposals pending at most at once; more are refused (429).
    std::uint32_t max_pending = 64;

    bool operator==(const TwoPersonConfig&) const = default;
};

/// Roles of verified client certificates on the admin TLS port, by RFC 2253
/// subject (as /v1/whoami shows it). All empty (the default): every
/// verified client is an operator. Otherwise a client holds exactly the
/// roles whose lists name its subject, and none when it is not listed.
struct TlsRoleSubjects {
    std::vector<std::string> security_officer;
    std::vector<std::string> auditor;
    std::vector<std::string> operator_;
    [[nodiscard]] bool empty() const noexcept {
        return security_officer.empty() && auditor.empty() && operator_.empty();
    }
    bool operator==(const TlsRoleSubjects&) const = default;
};

struct AdminConfig {
    std::filesystem::path socket = "run/admin.sock";
    std::uint32_t socket_mode = 0660;
    std::string socket_group;  ///< "" = the daemon's primary group
    RoleGroups roles;
    ListenerConfig tls_listener;  ///< optional mTLS admin port (enabled = false by default)
    TlsRoleSubjects tls_roles;    ///< roles of its client certificates
    Limits limits;
    TwoPersonConfig two_person;

    bool operator==(const AdminConfig&) const = default;
};

/// The outbound client identity towards LEA endpoints (used from issue #5 on).
struct LeaClientConfig {
    std::filesystem::path certificate;
    std::string private_key;

    bool operator==(const LeaClientConfig&) const = default;
};

/// The audit log (issue #4; docs/audit-log.md).
struct AuditConfig {
    std::string origin;  ///< checkpoint origin line; "" = "<instance name>/audit"
    std::uint32_t checkpoint_every = 1000;                 ///< entries between checkpoints
    std::chrono::seconds checkpoint_interval{60};          ///< at most this long between them
    std::chrono::seconds review_window{15 * 60};           ///< re-verified value kept this long
    bool operator==(const AuditConfig&) const = default;
};

/// Tasks with salted hashes (issue #4; docs/tasks.md).
struct TasksConfig {
    std::chrono::seconds expiry_check_interval{30};  ///< how often ended tasks are closed
    bool operator==(const TasksConfig&) const = default;
};

/// Collector ingest (issue #5; docs/ingest.md).
struct IngestConfig {
    std::uint64_t max_blob_bytes = 4ULL << 30;      ///< largest binary upload
    std::chrono::seconds unattached_blob_ttl{24 * 3600};  ///< uploads no item names are removed after this
    bool operator==(const IngestConfig&) const = default;
};

/// The outbox and Model B delivery (issue #5; docs/delivery.md).
struct DeliveryConfig {
    std::uint64_t outbox_max_items = 1'000'000;  ///< beyond: ingest answers 429
    std::uint64_t outbox_max_bytes = 1ULL << 30;  ///< item payload bytes; beyond: 429
    std::chrono::milliseconds retry_initial{1000};   ///< first retry after a failed delivery
    std::chrono::milliseconds retry_max{300'000};    ///< backoff cap (equal jitter below it)
    std::uint32_t batch_items = 500;  ///< items of one task per DeliveryObject at most
    /// Models A/C: the https origin (and optional path prefix) the LEA
    /// reaches listeners.lea at; URLs are <this>/v1/binaries/<token>.
    /// "" = https://<listeners.lea address>:<port> (a wildcard address
    /// becomes "localhost").
    std::string binary_base_url;
    std::chrono::seconds binary_url_ttl{7 * 24 * 3600};  ///< a Model A/C URL's lifetime
    bool operator==(const DeliveryConfig&) const = default;
};

/// The long-term archive (issue #8; docs/archive.md).
struct ArchiveConfig {
    bool enabled = true;
    std::uint32_t batch_max_objects = 1000;         ///< seal a batch at this many objects
    std::chrono::seconds batch_max_wait{5};          ///< or when its oldest waited this long
    std::uint32_t lifetime_days = 3650;              ///< each object's lifetime
    std::uint64_t max_object_bytes = 6ULL << 20;     ///< RawData per object (the XSD caps it at 6 MiB)
    std::uint64_t max_request_bytes = 48ULL << 20;   ///< one LTAP request's XML
    std::string digest = "sha256";                   ///< when a request names none
    std::filesystem::path tsa_certificate = "tsa.crt";  ///< the TSA's certificate (DER)
    bool operator==(const ArchiveConfig&) const = default;
};

/// Protective monitoring (issue #7; docs/monitoring.md): the durable event
/// queue and its sinks, and account behaviour monitoring.
struct MonitoringConfig {
    std::uint64_t queue_max_bytes = 64ULL << 20;  ///< undelivered events kept per sink at most

    bool file_enabled = true;
    std::filesystem::path file_path = "log/events.jsonl";
    std::uint64_t file_max_bytes = 16ULL << 20;  ///< rotate beyond this size
    std::uint32_t file_keep = 10;                ///< rotated files kept (events.jsonl.1 ..)

    bool stdout_enabled = false;

    bool syslog_enabled = false;
    std::string syslog_host;                  ///< the SIEM's receiver (host name or address)
    std::uint16_t syslog_port = 6514;         ///< RFC 5425
    std::string syslog_server_name;           ///< name its certificate must carry; "" = host
    std::filesystem::path syslog_trust_anchors;  ///< CAs for the receiver's certificate
    std::filesystem::path syslog_crl;         ///< optional
    std::filesystem::path syslog_certificate;  ///< our client chain; "" = [lea_client]'s
    std::string syslog_private_key;            ///< pkcs11: URI; "" = [lea_client]'s
    std::uint32_t syslog_facility = 13;        ///< RFC 5424 facility (13 = log audit)
    std::string syslog_app_name = "enclave";

    std::string working_hours;  ///< "HH:MM-HH:MM" UTC; "" = no working-hours check
    std::string working_days = "mon-sun";  ///< "mon-fri", "mon,wed,fri", ...
    std::uint32_t max_reveals_per_hour = 10;        ///< per account; 0 = no check
    std::uint32_t max_reverifications_per_hour = 50;  ///< per account; 0 = no check

    bool operator==(const MonitoringConfig&) const = default;
};

/// One LEA endpoint, by the name tasks use in "endpoint". Issue #4 needs
/// only who the LEA is on our LEA listener (for re-verification of the
/// records of tasks it owns); delivery settings come with issue #5.
struct EndpointConfig {
    /// RFC 2253 subjects of the LEA's client certificates on listeners.lea.
    std::vector<std::string> client_subjects;
    bool operator==(const EndpointConfig&) const = default;
};

struct LogConfig {
    std::string level = "info";  ///< "debug", "info", "warning", "error"

    bool operator==(const LogConfig&) const = default;
};

struct Config {
    std::filesystem::path data_dir;  ///< set from --data-dir / the config file's folder
    std::string instance_name = "enclave";
    TokenConfig token;
    ListenerConfig lea;     ///< default port 8443
    ListenerConfig ingest;  ///< default port 9443
    AdminConfig admin;
    LeaClientConfig lea_client;
    LogConfig log;
    AuditConfig audit;
    TasksConfig tasks;
    IngestConfig ingest_limits;
    DeliveryConfig delivery;
    ArchiveConfig archive;
    MonitoringConfig monitoring;
    std::map<std::string, EndpointConfig> endpoints;  ///< by endpoint name
    std::chrono::milliseconds shutdown_grace{10'000};  ///< SIGTERM: in-flight requests get this long

    /// Resolves a configured path against data_dir (absolute paths unchanged).
    [[nodiscard]] std::filesystem::path resolve(const std::filesystem::path& p) const;
    /// audit.origin, or "<instance name>/audit" when it is empty.
    [[nodiscard]] std::string audit_origin() const;

    bool operator==(const Config&) const = default;
};

/// The defaults, for an instance in `data_dir` (made absolute and normalised,
/// as parse_config does; the TLS entries name init's pki/ files and token keys).
Config default_config(const std::filesystem::path& data_dir);

/// Parses TOML text. Unknown keys, wrong types and out-of-range values are
/// errors (Errc::invalid_argument) whose context names the key
/// ("listeners.lea.port: must be 1..65535") and never echoes a value that
/// could be sensitive. `data_dir` anchors relative paths (Config::data_dir
/// is set to it, made absolute and normalised). All problems of the text are
/// reported together, joined with "; ". TOML syntax errors (duplicate keys
/// included) are malformed_input with line and column; text over
/// kMaxConfigBytes is too_large.
crypto::Result<Config> parse_config(std::string_view toml_text, const std::filesystem::path& data_dir);

/// Reads and parses a file (size-limited, 1 MiB).
crypto::Result<Config> load_config(const std::filesystem::path& file,
                                   const std::filesystem::path& data_dir);

/// The commented TOML text that `enclavectl init` writes: every key present
/// with its default or provisioned value and a one-line comment.
std::string render_config(const Config& config);

}  // namespace enclave::appliance
