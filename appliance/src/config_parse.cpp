// SPDX-License-Identifier: Apache-2.0
// TOML text -> Config. Every key is read through a Section that remembers
// which keys it consumed, so anything left over (a typo, a key from a newer
// version, a misplaced section) is reported instead of silently ignored.
#include <set>
#include <string>

// No exceptions from toml++: parse() returns a parse_result we inspect.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "appliance/config.hpp"
#include "config_detail.hpp"

namespace enclave::appliance {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
using detail::Problems;

namespace {

// One table of the file and the key path that leads to it. A Section for an
// absent table reads nothing (the defaults stay).
class Section {
public:
    Section(const toml::table* table, std::string path, Problems& problems)
        : table_(table), path_(std::move(path)), problems_(&problems) {}

    void string(std::string_view key, std::string& out) {
        const toml::node* n = take(key);
        if (n == nullptr) return;
        if (const auto* s = n->as_string()) {
            out = s->get();
        } else {
            problems_->add(key_path(key), "must be a string");
        }
    }

    void path(std::string_view key, std::filesystem::path& out) {
        std::string s = out.string();
        string(key, s);
        out = s;
    }

    void boolean(std::string_view key, bool& out) {
        const toml::node* n = take(key);
        if (n == nullptr) return;
        if (const auto* b = n->as_boolean()) {
            out = b->get();
        } else {
            problems_->add(key_path(key), "must be true or false");
        }
    }

    // An integer in [lo, hi]; the range is part of the message.
    template <class T>
    void integer(std::string_view key, T& out, std::int64_t lo, std::int64_t hi) {
        if (auto v = read_integer(key, lo, hi)) out = static_cast<T>(*v);
    }

    void millis(std::string_view key, std::chrono::milliseconds& out, std::int64_t lo,
                std::int64_t hi) {
        if (auto v = read_integer(key, lo, hi)) out = std::chrono::milliseconds(*v);
    }

    void seconds(std::string_view key, std::chrono::seconds& out, std::int64_t lo,
                 std::int64_t hi) {
        if (auto v = read_integer(key, lo, hi)) out = std::chrono::seconds(*v);
    }

    // An array of strings, at most `max_items`.
    void strings(std::string_view key, std::vector<std::string>& out, std::size_t max_items) {
        const toml::node* n = take(key);
        if (n == nullptr) return;
        const auto* a = n->as_array();
        if (a == nullptr) {
            problems_->add(key_path(key), "must be an array of strings");
            return;
        }
        if (a->size() > max_items) {
            problems_->add(key_path(key), "at most " + std::to_string(max_items) + " items");
            return;
        }
        std::vector<std::string> items;
        for (const auto& item : *a) {
            const auto* str = item.as_string();
            if (str == nullptr) {
                problems_->add(key_path(key), "must be an array of strings");
                return;
            }
            items.push_back(str->get());
        }
        out = std::move(items);
    }

    // The names of the sub-tables of this table (for tables keyed by a
    // user-chosen name, such as [endpoints.<name>]); a non-table value is
    // reported.
    std::vector<std::string> table_names() {
        std::vector<std::string> names;
        if (table_ == nullptr) return names;
        for (auto&& [k, v] : *table_) {
            if (v.is_table()) {
                names.emplace_back(k.str());
            } else {
                used_.emplace(k.str());
                problems_->add(key_path(detail::printable_key(k.str())), "must be a table");
            }
        }
        return names;
    }

    // The sub-table `key` (absent: a Section that reads nothing).
    Section sub(std::string_view key) {
        const toml::node* n = take(key);
        if (n != nullptr && !n->is_table()) {
            problems_->add(key_path(key), "must be a table ([" + key_path(key) + "])");
            n = nullptr;
        }
        return Section(n == nullptr ? nullptr : n->as_table(), key_path(key), *problems_);
    }

    // Reports every key of this table that no reader asked for.
    void finish() {
        if (table_ == nullptr) return;
        for (auto&& [k, v] : *table_) {
            if (used_.count(k.str()) != 0) continue;
            const std::string where = path_.empty() ? detail::printable_key(k.str())
                                                    : path_ + "." + detail::printable_key(k.str());
            problems_->add(where, v.is_table() ? "unknown section" : "unknown key");
        }
    }

    [[nodiscard]] std::string key_path(std::string_view key) const {
        return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    }

private:
    const toml::node* take(std::string_view key) {
        if (table_ == nullptr) return nullptr;
        used_.emplace(key);
        return table_->get(key);
    }

    std::optional<std::int64_t> read_integer(std::string_view key, std::int64_t lo,
                                             std::int64_t hi) {
        const toml::node* n = take(key);
        if (n == nullptr) return std::nullopt;
        const auto* i = n->as_integer();
        if (i == nullptr) {
            problems_->add(key_path(key), "must be an integer");
            return std::nullopt;
        }
        const std::int64_t v = i->get();
        if (v < lo || v > hi) {
            problems_->add(key_path(key), "must be " + std::to_string(lo) + ".." +
                                              std::to_string(hi) + " (got " + std::to_string(v) +
                                              ")");
            return std::nullopt;
        }
        return v;
    }

    const toml::table* table_;
    std::string path_;
    Problems* problems_;
    std::set<std::string, std::less<>> used_;
};

void read_limits(Section s, Limits& l) {
    using namespace detail;
    s.millis("handshake_timeout_ms", l.handshake_timeout, kMinTimeoutMs, kMaxTimeoutMs);
    s.millis("read_timeout_ms", l.read_timeout, kMinTimeoutMs, kMaxTimeoutMs);
    s.millis("write_timeout_ms", l.write_timeout, kMinTimeoutMs, kMaxTimeoutMs);
    s.millis("idle_timeout_ms", l.idle_timeout, kMinTimeoutMs, kMaxTimeoutMs);
    s.integer("max_header_bytes", l.max_header_bytes, kMinHeaderBytes, kMaxHeaderBytes);
    s.integer("max_body_bytes", l.max_body_bytes, 0, kMaxBodyBytes);
    s.integer("max_connections", l.max_connections, 1, kMaxConnections);
    s.integer("auth_max_failures", l.auth_max_failures, 0, 10'000);
    s.seconds("auth_failure_window_s", l.auth_failure_window, 1, 86'400);
    s.seconds("auth_lockout_s", l.auth_lockout, 1, 86'400);
    s.finish();
}

void read_listener(Section s, ListenerConfig& l) {
    s.boolean("enabled", l.enabled);
    s.string("address", l.address);
    s.integer("port", l.port, 1, 65535);
    s.path("certificate", l.tls.certificate);
    s.string("private_key", l.tls.private_key);
    s.path("trust_anchors", l.tls.trust_anchors);
    s.path("crl", l.tls.crl);
    s.string("min_version", l.tls.min_version);
    read_limits(s.sub("limits"), l.limits);
    s.finish();
}

void read_token(Section s, TokenConfig& t, Problems& problems) {
    s.string("uri", t.uri);
    s.string("module_path", t.module_path);
    std::string pin = t.pin_source.to_string();
    s.string("pin_source", pin);
    if (auto parsed = PinSource::parse(pin)) {
        t.pin_source = std::move(*parsed);
    } else {
        problems.add(s.key_path("pin_source"), parsed.error().context());
    }
    s.integer("max_sessions", t.max_sessions, 1, detail::kMaxSessions);
    s.finish();
}

void read_admin(Section s, AdminConfig& a, Problems& problems) {
    s.path("socket", a.socket);
    std::string mode = detail::format_octal_mode(a.socket_mode);
    s.string("socket_mode", mode);
    if (auto m = detail::parse_octal_mode(mode)) {
        a.socket_mode = *m;
    } else {
        problems.add(s.key_path("socket_mode"),
                     "must be a string of 3 or 4 octal digits such as \"0660\"");
    }
    s.string("socket_group", a.socket_group);
    Section roles = s.sub("roles");
    roles.string("security_officer", a.roles.security_officer);
    roles.string("auditor", a.roles.auditor);
    roles.string("operator", a.roles.operator_);
    roles.finish();
    read_limits(s.sub("limits"), a.limits);
    read_listener(s.sub("tls"), a.tls_listener);
    Section tls_roles = s.sub("tls_roles");
    tls_roles.strings("security_officer", a.tls_roles.security_officer, detail::kMaxRoleSubjects);
    tls_roles.strings("auditor", a.tls_roles.auditor, detail::kMaxRoleSubjects);
    tls_roles.strings("operator", a.tls_roles.operator_, detail::kMaxRoleSubjects);
    tls_roles.finish();
    Section two = s.sub("two_person");
    two.boolean("enabled", a.two_person.enabled);
    two.seconds("approval_window_s", a.two_person.approval_window, detail::kMinApprovalWindowS,
                detail::kMaxApprovalWindowS);
    two.strings("routes", a.two_person.routes, detail::kMaxGuardedRoutes);
    two.integer("max_pending", a.two_person.max_pending, 1, detail::kMaxPendingProposals);
    two.finish();
    s.finish();
}

void read_monitoring(Section m, MonitoringConfig& c) {
    m.integer("queue_max_bytes", c.queue_max_bytes, std::int64_t{64} << 10, std::int64_t{4} << 30);
    m.string("working_hours", c.working_hours);
    m.string("working_days", c.working_days);
    m.integer("max_reveals_per_hour", c.max_reveals_per_hour, 0, 100'000);
    m.integer("max_reverifications_per_hour", c.max_reverifications_per_hour, 0, 100'000);
    Section file = m.sub("file");
    file.boolean("enabled", c.file_enabled);
    file.path("path", c.file_path);
    file.integer("max_bytes", c.file_max_bytes, std::int64_t{64} << 10, std::int64_t{1} << 40);
    file.integer("keep", c.file_keep, 1, 1000);
    file.finish();
    Section out = m.sub("stdout");
    out.boolean("enabled", c.stdout_enabled);
    out.finish();
    Section syslog = m.sub("syslog");
    syslog.boolean("enabled", c.syslog_enabled);
    syslog.string("host", c.syslog_host);
    syslog.integer("port", c.syslog_port, 1, 65535);
    syslog.string("server_name", c.syslog_server_name);
    syslog.path("trust_anchors", c.syslog_trust_anchors);
    syslog.path("crl", c.syslog_crl);
    syslog.path("certificate", c.syslog_certificate);
    syslog.string("private_key", c.syslog_private_key);
    syslog.integer("facility", c.syslog_facility, 0, 23);
    syslog.string("app_name", c.syslog_app_name);
    syslog.finish();
    m.finish();
}

void read_root(const toml::table& table, Config& c, Problems& problems) {
    Section root(&table, "", problems);
    Section instance = root.sub("instance");
    instance.string("name", c.instance_name);
    instance.finish();
    read_token(root.sub("token"), c.token, problems);
    Section listeners = root.sub("listeners");
    read_listener(listeners.sub("lea"), c.lea);
    read_listener(listeners.sub("ingest"), c.ingest);
    listeners.finish();
    read_admin(root.sub("admin"), c.admin, problems);
    Section client = root.sub("lea_client");
    client.path("certificate", c.lea_client.certificate);
    client.string("private_key", c.lea_client.private_key);
    client.finish();
    Section log = root.sub("log");
    log.string("level", c.log.level);
    log.finish();
    Section audit = root.sub("audit");
    audit.string("origin", c.audit.origin);
    audit.integer("checkpoint_every", c.audit.checkpoint_every, 1, detail::kMaxCheckpointEvery);
    audit.seconds("checkpoint_interval_s", c.audit.checkpoint_interval, 1, 3600);
    audit.seconds("review_window_s", c.audit.review_window, 60, 24 * 3600);
    audit.finish();
    Section tasks = root.sub("tasks");
    tasks.seconds("expiry_check_interval_s", c.tasks.expiry_check_interval, 1, 60);
    tasks.finish();
    Section ingest = root.sub("ingest");
    ingest.integer("max_blob_bytes", c.ingest_limits.max_blob_bytes, 1, std::int64_t{1} << 40);
    ingest.seconds("unattached_blob_ttl_s", c.ingest_limits.unattached_blob_ttl, 1,
                   30 * 24 * 3600);
    ingest.finish();
    Section delivery = root.sub("delivery");
    delivery.integer("outbox_max_items", c.delivery.outbox_max_items, 1, 100'000'000);
    delivery.integer("outbox_max_bytes", c.delivery.outbox_max_bytes, 1024, std::int64_t{1} << 40);
    delivery.millis("retry_initial_ms", c.delivery.retry_initial, 10, 3'600'000);
    delivery.millis("retry_max_ms", c.delivery.retry_max, 10, 24 * 3'600'000);
    delivery.integer("batch_items", c.delivery.batch_items, 1, 10'000);
    delivery.string("binary_base_url", c.delivery.binary_base_url);
    delivery.seconds("binary_url_ttl_s", c.delivery.binary_url_ttl, 1, 90 * 24 * 3600);
    delivery.finish();
    Section archive = root.sub("archive");
    archive.boolean("enabled", c.archive.enabled);
    archive.integer("batch_max_objects", c.archive.batch_max_objects, 1, 100'000);
    archive.seconds("batch_max_wait_s", c.archive.batch_max_wait, 1, 24 * 3600);
    archive.integer("lifetime_days", c.archive.lifetime_days, 1, 100 * 366);
    archive.integer("max_object_bytes", c.archive.max_object_bytes, 1, std::int64_t{6} << 20);
    archive.integer("max_request_bytes", c.archive.max_request_bytes, 1024, std::int64_t{1} << 31);
    archive.string("digest", c.archive.digest);
    archive.path("tsa_certificate", c.archive.tsa_certificate);
    archive.finish();
    read_monitoring(root.sub("monitoring"), c.monitoring);
    Section endpoints = root.sub("endpoints");
    for (const std::string& name : endpoints.table_names()) {
        Section e = endpoints.sub(name);
        e.strings("client_subjects", c.endpoints[name].client_subjects, 64);
        e.finish();
    }
    endpoints.finish();
    Section shutdown = root.sub("shutdown");
    shutdown.millis("grace_ms", c.shutdown_grace, 0, detail::kMaxGraceMs);
    shutdown.finish();
    root.finish();
}

// toml++ descriptions may quote a few characters of the offending value
// ("expected digit, saw 'x'"): keep the part before "saw", printable only.
std::string safe_description(std::string_view description) {
    const auto saw = description.find("saw");
    if (saw != std::string_view::npos) description = description.substr(0, saw);
    std::string out;
    for (unsigned char c : description) {
        if (out.size() >= 160) break;
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == ',')) out.pop_back();
    return out;
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, const std::filesystem::path& data_dir) {
    if (toml_text.size() > kMaxConfigBytes) {
        return fail(Errc::too_large, "config text over 1 MiB");
    }
    if (auto ok = detail::check_nesting(toml_text); !ok) return tl::unexpected(ok.error());
    toml::parse_result parsed = toml::parse(toml_text);
    if (!parsed) {
        const auto& err = parsed.error();
        return fail(Errc::malformed_input,
                    "TOML syntax error at line " + std::to_string(err.source().begin.line) +
                        ", column " + std::to_string(err.source().begin.column) + ": " +
                        safe_description(err.description()));
    }
    Config config = default_config(data_dir);
    Problems problems;
    read_root(parsed.table(), config, problems);
    detail::validate(config, problems);
    if (!problems.empty()) return tl::unexpected(problems.error());
    return config;
}

}  // namespace enclave::appliance
