// SPDX-License-Identifier: Apache-2.0
// Config -> commented TOML. Every key is written, each with a one-line
// comment, so the file `enclavectl init` leaves behind is its own reference.
// parse_config(render_config(c), c.data_dir) == c (tested).
#include <cstdio>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "config_detail.hpp"

namespace enclave::appliance {
namespace {

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

class Writer {
public:
    void section(std::string_view name, std::string_view comment) {
        out_ += "\n# " + std::string(comment) + "\n[" + std::string(name) + "]\n";
    }
    void str(std::string_view key, std::string_view value, std::string_view comment) {
        line(key, quoted(value), comment);
    }
    void num(std::string_view key, std::uint64_t value, std::string_view comment) {
        line(key, std::to_string(value), comment);
    }
    void strs(std::string_view key, const std::vector<std::string>& values,
              std::string_view comment) {
        std::string list = "[";
        for (const auto& v : values) {
            list += std::string(list.size() > 1 ? ", " : "") + appliance::quoted(std::string_view(v));
        }
        line(key, list + "]", comment);
    }
    void boolean(std::string_view key, bool value, std::string_view comment) {
        line(key, value ? "true" : "false", comment);
    }
    void raw(std::string_view text) { out_ += text; }
    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    void line(std::string_view key, const std::string& value, std::string_view comment) {
        out_ += "# " + std::string(comment) + "\n" + std::string(key) + " = " + value + "\n";
    }
    std::string out_;
};

void write_limits(Writer& w, std::string_view table, const Limits& l) {
    w.section(table, "Timeouts (milliseconds, 100..3600000) and size limits of this endpoint.");
    w.num("handshake_timeout_ms", static_cast<std::uint64_t>(l.handshake_timeout.count()),
          "Time allowed for the TLS handshake.");
    w.num("read_timeout_ms", static_cast<std::uint64_t>(l.read_timeout.count()),
          "Time allowed to receive one whole request once it has started.");
    w.num("write_timeout_ms", static_cast<std::uint64_t>(l.write_timeout.count()),
          "Time allowed to send one whole response.");
    w.num("idle_timeout_ms", static_cast<std::uint64_t>(l.idle_timeout.count()),
          "A kept-alive connection with no request for this long is closed.");
    w.num("max_header_bytes", l.max_header_bytes, "Largest request header block (1024..1048576).");
    w.num("max_body_bytes", l.max_body_bytes, "Largest request body (0..1073741824).");
    w.num("max_connections", l.max_connections,
          "Concurrent connections served at most (1..100000).");
    w.num("auth_max_failures", l.auth_max_failures,
          "Failed authentications of one source (address, uid, certificate) within the window "
          "that lock it (0..10000, 0 = never lock).");
    w.num("auth_failure_window_s", static_cast<std::uint64_t>(l.auth_failure_window.count()),
          "The window those failures are counted in, seconds (1..86400).");
    w.num("auth_lockout_s", static_cast<std::uint64_t>(l.auth_lockout.count()),
          "How long a locked source is refused, seconds (1..86400).");
}

void write_listener(Writer& w, std::string_view table, const ListenerConfig& l,
                    std::string_view what) {
    w.section(table, std::string(what));
    w.boolean("enabled", l.enabled, "Whether this listener is opened at all.");
    w.str("address", l.address, "IPv4 or IPv6 address literal to bind (0.0.0.0 / :: = all).");
    w.num("port", l.port, "TCP port (1..65535).");
    w.str("certificate", l.tls.certificate.string(), "PEM certificate chain, leaf first.");
    w.str("private_key", l.tls.private_key,
          "The leaf's private key: a pkcs11: URI of a token key (never a file).");
    w.str("trust_anchors", l.tls.trust_anchors.string(),
          "PEM bundle of the CAs whose client certificates are accepted.");
    w.str("crl", l.tls.crl.string(),
          "Optional PEM CRL checked for client certificates (\"\" = none).");
    w.str("min_version", l.tls.min_version, "Lowest TLS version accepted: \"1.2\" or \"1.3\".");
    write_limits(w, std::string(table) + ".limits", l.limits);
}

void write_admin(Writer& w, const AdminConfig& a) {
    w.section("admin", "The admin API on a Unix socket (enclavectl talks to it).");
    w.str("socket", a.socket.string(), "Path of the Unix socket enclaved creates.");
    w.str("socket_mode", detail::format_octal_mode(a.socket_mode),
          "Octal mode of the socket, at most \"0660\" (connecting needs write access).");
    w.str("socket_group", a.socket_group, "Group owning the socket (\"\" = the daemon's group).");
    w.section("admin.roles", "Unix groups whose members hold each admin role (\"\" = none).");
    w.str("security_officer", a.roles.security_officer, "Manages keys, certificates and accounts.");
    w.str("auditor", a.roles.auditor, "Inspects audit records and the audit log.");
    w.str("operator", a.roles.operator_, "Runs the appliance day to day (status, reloads).");
    write_limits(w, "admin.limits", a.limits);
    write_listener(w, "admin.tls", a.tls_listener,
                   "Optional mutual-TLS admin port (for remote administration).");
    w.section("admin.tls_roles",
              "Roles of client certificates on the admin TLS port, by RFC 2253 subject. All empty: "
              "every verified client is an operator; otherwise only the listed roles.");
    w.strs("security_officer", a.tls_roles.security_officer, "Subjects of security officers.");
    w.strs("auditor", a.tls_roles.auditor, "Subjects of auditors.");
    w.strs("operator", a.tls_roles.operator_, "Subjects of operators.");
    w.section("admin.two_person",
              "Two-person control: a guarded request runs only once a second officer approves it.");
    w.boolean("enabled", a.two_person.enabled,
              "Whether guarded routes need a second officer's approval.");
    w.num("approval_window_s", static_cast<std::uint64_t>(a.two_person.approval_window.count()),
          "How long a proposal waits for approval, seconds (1..86400).");
    w.strs("routes", a.two_person.routes,
           "The guarded admin routes, \"METHOD /path\" as in the role table (at most 64).");
    w.num("max_pending", a.two_person.max_pending,
          "Proposals pending at most at once (1..1024); more are refused.");
}

}  // namespace

void render_monitoring(Writer& w, const MonitoringConfig& m) {
    w.section("monitoring", "Protective-monitoring events: the durable queue, its sinks and account behaviour (docs/monitoring.md).");
    w.num("queue_max_bytes", m.queue_max_bytes,
          "Events a sink has not had are kept up to this size; beyond, the oldest are dropped and an events_lost event says which.");
    w.str("working_hours", m.working_hours,
          "Admin acts outside \"HH:MM-HH:MM\" (UTC) raise access_outside_hours; \"\" = no check.");
    w.str("working_days", m.working_days, "Working days, e.g. \"mon-fri\" or \"mon,wed,fri\".");
    w.num("max_reveals_per_hour", m.max_reveals_per_hour,
          "More reveals than this by one account in an hour raise unusual_volume (0 = no check).");
    w.num("max_reverifications_per_hour", m.max_reverifications_per_hour,
          "The same for re-verifications (0 = no check).");
    w.section("monitoring.file", "Events as JSON lines in a file, rotated by size.");
    w.boolean("enabled", m.file_enabled, "Whether events are written to the file.");
    w.str("path", m.file_path.string(), "The file; rotated ones are path.1 (newest) .. path.<keep>.");
    w.num("max_bytes", m.file_max_bytes, "Rotate before the file passes this size.");
    w.num("keep", m.file_keep, "Rotated files kept (1..1000).");
    w.section("monitoring.stdout", "Events as JSON lines on standard output.");
    w.boolean("enabled", m.stdout_enabled, "Whether events are written to stdout.");
    w.section("monitoring.syslog", "RFC 5424 syslog over mutual TLS (RFC 5425) to a SIEM.");
    w.boolean("enabled", m.syslog_enabled, "Whether events are sent to the receiver.");
    w.str("host", m.syslog_host, "The receiver's host name or address.");
    w.num("port", m.syslog_port, "Its port (6514: syslog over TLS).");
    w.str("server_name", m.syslog_server_name, "Name its certificate must carry; \"\" = host.");
    w.str("trust_anchors", m.syslog_trust_anchors.string(), "PEM CAs for the receiver's certificate.");
    w.str("crl", m.syslog_crl.string(), "Optional PEM CRL for it; \"\" = none.");
    w.str("certificate", m.syslog_certificate.string(), "Our client chain; \"\" = [lea_client]'s.");
    w.str("private_key", m.syslog_private_key, "Our client key (pkcs11: URI); \"\" = [lea_client]'s.");
    w.num("facility", m.syslog_facility, "RFC 5424 facility (0..23; 13 = log audit).");
    w.str("app_name", m.syslog_app_name, "RFC 5424 APP-NAME.");
}

std::string render_config(const Config& c) {
    Writer w;
    w.raw(
        "# Enclave configuration, read by enclaved and enclavectl.\n"
        "# Every key is documented in docs/configuration.md. Relative paths are\n"
        "# relative to the data directory. This file holds no secret: the token\n"
        "# PIN is named by token.pin_source and read at login.\n");
    w.section("instance", "This appliance instance.");
    w.str("name", c.instance_name, "Name shown by `enclavectl status` and in logs.");
    w.section("token", "The PKCS#11 token that holds every key.");
    w.str("uri", c.token.uri, "RFC 7512 URI of the token (never with pin-value).");
    w.str("module_path", c.token.module_path,
          "Absolute path of the PKCS#11 module (\"\" = p11-kit's configured modules).");
    w.str("pin_source", c.token.pin_source.to_string(),
          "Where the user PIN comes from: file:PATH, env:NAME, stdin or credential:NAME.");
    w.num("max_sessions", c.token.max_sessions, "PKCS#11 sessions in the pool (1..1024).");
    write_listener(w, "listeners.lea", c.lea, "The LEA listener (mutual TLS).");
    write_listener(w, "listeners.ingest", c.ingest,
                   "The ingest listener for collectors (mutual TLS).");
    write_admin(w, c.admin);
    w.section("lea_client", "Our client identity towards LEA endpoints (outbound deliveries).");
    w.str("certificate", c.lea_client.certificate.string(),
          "PEM client certificate chain, leaf first.");
    w.str("private_key", c.lea_client.private_key, "pkcs11: URI of the client key on the token.");
    w.section("audit", "The audit log: entries, signed checkpoints, re-verification.");
    w.str("origin", c.audit.origin,
          "Checkpoint origin and signing key name (\"\" = \"<instance name>/audit\").");
    w.num("checkpoint_every", c.audit.checkpoint_every,
          "A signed checkpoint at least every this many entries (1..1000000).");
    w.num("checkpoint_interval_s", static_cast<std::uint64_t>(c.audit.checkpoint_interval.count()),
          "...and at least this often while entries arrive (1..3600 s).");
    w.num("review_window_s", static_cast<std::uint64_t>(c.audit.review_window.count()),
          "A re-verified value stays visible to its auditor this long (60..86400 s).");
    w.section("tasks", "Tasks with salted hashes (TS 103 707 Annex D.4).");
    w.num("expiry_check_interval_s",
          static_cast<std::uint64_t>(c.tasks.expiry_check_interval.count()),
          "Tasks past their end time are closed within this many seconds (1..60).");
    w.section("ingest", "Collector ingest on listeners.ingest (docs/ingest.md).");
    w.num("max_blob_bytes", c.ingest_limits.max_blob_bytes,
          "Largest binary a collector may upload (1..2^40 bytes).");
    w.num("unattached_blob_ttl_s",
          static_cast<std::uint64_t>(c.ingest_limits.unattached_blob_ttl.count()),
          "An upload no item names within this long is erased (1..2592000 s).");
    w.section("delivery", "The durable outbox and delivery to LEA endpoints (docs/delivery.md).");
    w.num("outbox_max_items", c.delivery.outbox_max_items,
          "Items waiting at most; beyond, ingest answers 429 (1..100000000).");
    w.num("outbox_max_bytes", c.delivery.outbox_max_bytes,
          "Item bytes waiting at most; beyond, ingest answers 429.");
    w.num("retry_initial_ms", static_cast<std::uint64_t>(c.delivery.retry_initial.count()),
          "First retry of a failed delivery after about this long (10..3600000 ms).");
    w.num("retry_max_ms", static_cast<std::uint64_t>(c.delivery.retry_max.count()),
          "Retries back off exponentially, with jitter (each wait at least half its step), up to this (10..86400000 ms).");
    w.num("batch_items", c.delivery.batch_items,
          "Items of one task per DeliveryObject at most (1..10000; at most 8 MiB of XML).");
    w.str("binary_base_url", c.delivery.binary_base_url,
          "Models A/C: https://host[:port][/prefix] the LEA reaches listeners.lea at "
          "(\"\" = the listener's address).");
    w.num("binary_url_ttl_s", static_cast<std::uint64_t>(c.delivery.binary_url_ttl.count()),
          "A Model A/C URL works this long, then its binary is erased (1..7776000 s).");
    w.section("archive", "The long-term archive: LTAP with RFC 4998 evidence records (docs/archive.md).");
    w.boolean("enabled", c.archive.enabled, "Whether POST /ltap and the archive routes exist.");
    w.num("batch_max_objects", c.archive.batch_max_objects,
          "Objects are sealed (one hash tree, one time stamp) in batches of at most this many (1..100000)...");
    w.num("batch_max_wait_s", static_cast<std::uint64_t>(c.archive.batch_max_wait.count()),
          "...or once the oldest waited this long (1..86400 s).");
    w.num("lifetime_days", c.archive.lifetime_days,
          "An object (or the trace of a deleted one) is removed this long after archiving (1..36600).");
    w.num("max_object_bytes", c.archive.max_object_bytes, "Largest RawData of one object (1..6291456: the LTAP schema's cap).");
    w.num("max_request_bytes", c.archive.max_request_bytes,
          "Largest LTAP request (1024..2^31 bytes; base64 makes RawData 4/3 larger).");
    w.str("digest", c.archive.digest, "Digest when a request names none: sha256, sha384 or sha512.");
    w.str("tsa_certificate", c.archive.tsa_certificate.string(),
          "The TSA's certificate (DER), made by enclavectl init; missing: the archive answers 503.");
    render_monitoring(w, c.monitoring);
    for (const auto& [name, e] : c.endpoints) {
        w.section("endpoints." + name, "An LEA endpoint, named by tasks' \"endpoint\".");
        w.strs("client_subjects", e.client_subjects,
               "Subjects of its client certificates on listeners.lea (RFC 2253).");
    }
    w.raw(c.endpoints.empty()
              ? "\n# LEA endpoints, by the name tasks use (docs/configuration.md):\n"
                "# [endpoints.lea1]\n"
                "# client_subjects = [\"CN=demo-lea,O=Enclave demo\"]\n"
              : "");
    w.section("log", "Operational log lines on stderr.");
    w.str("level", c.log.level, "Lowest level logged: debug, info, warning or error.");
    w.section("shutdown", "SIGTERM handling.");
    w.num("grace_ms", static_cast<std::uint64_t>(c.shutdown_grace.count()),
          "In-flight requests get this long to finish (0..3600000 ms).");
    return w.take();
}

}  // namespace enclave::appliance
