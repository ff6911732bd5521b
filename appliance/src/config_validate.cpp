// SPDX-License-Identifier: Apache-2.0
// The rules that span keys or need more than a type and a range: URIs,
// addresses, listener clashes, the socket mode, names and path lengths.
// Messages name the key and the rule; they echo numbers and paths at most,
// never URIs (hsm::Uri errors name the attribute and offset only).
#include <algorithm>
#include <arpa/inet.h>
#include <sys/un.h>

#include <array>
#include <cctype>

#include "delivery/lea_client_url.hpp"
#include "appliance/monitoring.hpp"
#include "config_detail.hpp"
#include "hsm/uri.hpp"

namespace enclave::appliance::detail {
namespace {

bool has_control(std::string_view s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
}

bool starts_with_scheme(std::string_view s) {
    static constexpr std::string_view kScheme = "pkcs11:";
    if (s.size() < kScheme.size()) return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != kScheme[i]) return false;
    }
    return true;
}

bool is_ip_literal(const std::string& s) {
    std::array<unsigned char, 16> buf{};
    return ::inet_pton(AF_INET, s.c_str(), buf.data()) == 1 ||
           ::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1;
}

bool is_wildcard(const std::string& s) { return s == "0.0.0.0" || s == "::"; }

// Unix user/group names as useradd accepts them (portable subset).
bool is_group_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxGroupLength) return false;
    const auto first = static_cast<unsigned char>(s[0]);
    if (!(std::isalpha(first) || first == '_')) return false;
    for (unsigned char c : s) {
        if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
    }
    return true;
}

void check_path(Problems& p, const std::string& key, const std::filesystem::path& path,
                bool required) {
    if (path.empty()) {
        if (required) p.add(key, "required");
        return;
    }
    if (has_control(path.native())) p.add(key, "must not contain control characters");
}

// A token key reference: a pkcs11: URI naming a private key object.
void check_key_uri(Problems& p, const std::string& key, const std::string& uri, bool required) {
    if (uri.empty()) {
        if (required) p.add(key, "required (a pkcs11: URI of a token key)");
        return;
    }
    if (!starts_with_scheme(uri)) {
        p.add(key, "must be a pkcs11: URI of a token key (file keys are not allowed)");
        return;
    }
    auto parsed = hsm::Uri::parse(uri);
    if (!parsed) {
        p.add(key, parsed.error().context());
        return;
    }
    if (!parsed->object && !parsed->id) p.add(key, "must name a key (object= or id=)");
    if (parsed->type && *parsed->type != hsm::ObjectType::private_key) {
        p.add(key, "type= must be private");
    }
    if (parsed->pin_source) p.add(key, "must not carry pin-source (use token.pin_source)");
}

void check_listener(Problems& p, const std::string& path, const ListenerConfig& l) {
    if (!is_ip_literal(l.address)) {
        p.add(path + ".address", "must be an IPv4 or IPv6 address literal");
    }
    check_path(p, path + ".certificate", l.tls.certificate, l.enabled);
    check_key_uri(p, path + ".private_key", l.tls.private_key, l.enabled);
    check_path(p, path + ".trust_anchors", l.tls.trust_anchors, l.enabled);
    check_path(p, path + ".crl", l.tls.crl, false);
    if (l.tls.min_version != "1.2" && l.tls.min_version != "1.3") {
        p.add(path + ".min_version", "must be \"1.2\" or \"1.3\"");
    }
}

void check_token(Problems& p, const TokenConfig& t) {
    auto uri = hsm::Uri::parse(t.uri);
    if (!uri) {
        p.add("token.uri", uri.error().context());
    } else {
        if (uri->object || uri->id || uri->type) {
            p.add("token.uri", "must name a token, not an object (no object=, id= or type=)");
        }
        if (uri->pin_source) p.add("token.uri", "must not carry pin-source (use token.pin_source)");
        if (uri->module_path && !t.module_path.empty()) {
            p.add("token.module_path", "set either this or module-path in token.uri, not both");
        }
    }
    if (!t.module_path.empty()) {
        if (has_control(t.module_path)) {
            p.add("token.module_path", "must not contain control characters");
        } else if (!std::filesystem::path(t.module_path).is_absolute()) {
            p.add("token.module_path", "must be an absolute path");
        }
    }
}

void check_admin(Problems& p, const Config& c) {
    const AdminConfig& a = c.admin;
    check_path(p, "admin.socket", a.socket, true);
    const std::string resolved = c.resolve(a.socket).string();
    if (resolved.size() >= sizeof(sockaddr_un::sun_path)) {
        p.add("admin.socket", "resolved path " + resolved + " is " +
                                  std::to_string(resolved.size()) +
                                  " bytes; AF_UNIX allows at most " +
                                  std::to_string(sizeof(sockaddr_un::sun_path) - 1));
    }
    if ((a.socket_mode & ~0660u) != 0 || (a.socket_mode & 0600u) != 0600u) {
        p.add("admin.socket_mode",
              "must give the owner read/write and nothing beyond 0660 (no execute, no others)");
    }
    if (!a.socket_group.empty() && !is_group_name(a.socket_group)) {
        p.add("admin.socket_group",
              "must be a Unix group name (letters, digits, '_-.', at most 32)");
    }
    const std::pair<const char*, const std::string*> roles[] = {
        {"admin.roles.security_officer", &a.roles.security_officer},
        {"admin.roles.auditor", &a.roles.auditor},
        {"admin.roles.operator", &a.roles.operator_}};
    for (const auto& [key, group] : roles) {
        if (!group->empty() && !is_group_name(*group)) {
            p.add(key, "must be a Unix group name or \"\" (letters, digits, '_-.', at most 32)");
        }
    }
}

// "POST /v1/task/reveal": an upper-case method, one space, an absolute path
// of printable ASCII without spaces. The approval routes cannot guard
// themselves.
bool valid_guarded_route(std::string_view r) {
    const auto sp = r.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 10 || r.size() > 256) return false;
    for (char ch : r.substr(0, sp)) {
        if (ch < 'A' || ch > 'Z') return false;
    }
    const std::string_view path = r.substr(sp + 1);
    if (path.empty() || path[0] != '/') return false;
    for (char ch : path) {
        if (ch <= 0x20 || ch >= 0x7f) return false;
    }
    return path.rfind("/v1/approvals", 0) != 0;
}

void check_two_person(Problems& p, const TwoPersonConfig& t) {
    for (std::size_t i = 0; i < t.routes.size(); ++i) {
        if (!valid_guarded_route(t.routes[i])) {
            p.add("admin.two_person.routes",
                  "each item must be \"METHOD /path\" (an upper-case method, one space, a path "
                  "starting with '/'; not /v1/approvals)");
            return;
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (t.routes[j] == t.routes[i]) {
                p.add("admin.two_person.routes", "a route is listed twice");
                return;
            }
        }
    }
}

// Two enabled listeners may not bind the same port on the same (or a
// wildcard) address: the second bind would fail at start-up.
void check_clashes(Problems& p, const Config& c) {
    const std::pair<const char*, const ListenerConfig*> all[] = {
        {"listeners.lea", &c.lea},
        {"listeners.ingest", &c.ingest},
        {"admin.tls", &c.admin.tls_listener}};
    for (std::size_t i = 0; i < std::size(all); ++i) {
        for (std::size_t j = i + 1; j < std::size(all); ++j) {
            const ListenerConfig& a = *all[i].second;
            const ListenerConfig& b = *all[j].second;
            if (!a.enabled || !b.enabled || a.port != b.port) continue;
            if (a.address == b.address || is_wildcard(a.address) || is_wildcard(b.address)) {
                p.add(std::string(all[j].first) + ".port",
                      "clashes with " + std::string(all[i].first) + " (both on port " +
                          std::to_string(a.port) + ")");
            }
        }
    }
}

// A checkpoint origin: printable ASCII without spaces or '+' (the signed-note
// key name is the origin, and a key name may hold neither).
bool valid_origin(std::string_view o) {
    if (o.empty() || o.size() > 128) return false;
    return std::all_of(o.begin(), o.end(), [](unsigned char ch) {
        return ch > 0x20 && ch < 0x7f && ch != '+';
    });
}

// An endpoint name, as tasks name it: [a-z0-9][a-z0-9-]{0,62}.
bool valid_endpoint_name(std::string_view n) {
    if (n.empty() || n.size() > 63 || n.front() == '-') return false;
    return std::all_of(n.begin(), n.end(), [](unsigned char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    });
}

/// RFC 2253 subjects as /v1/whoami shows them: non-empty, at most 1024
/// printable characters each.
void check_subjects(Problems& p, const std::string& key, const std::vector<std::string>& subjects) {
    for (const std::string& subject : subjects) {
        if (subject.empty() || subject.size() > 1024 ||
            !std::all_of(subject.begin(), subject.end(),
                         [](unsigned char ch) { return ch >= 0x20 && ch != 0x7f; })) {
            p.add(key, "each must be a non-empty RFC 2253 subject");
            return;
        }
    }
}

void check_audit(Problems& p, const Config& c) {
    if (!c.audit.origin.empty() && !valid_origin(c.audit.origin)) {
        p.add("audit.origin", "must be 1..128 printable ASCII characters without spaces or '+'");
    }
    for (const auto& [name, e] : c.endpoints) {
        const std::string where = "endpoints." + detail::printable_key(name);
        if (!valid_endpoint_name(name)) {
            p.add(where, "endpoint names are 1..63 of a-z, 0-9 and '-', not starting with '-'");
        }
        check_subjects(p, where + ".client_subjects", e.client_subjects);
    }
    check_subjects(p, "admin.tls_roles.security_officer", c.admin.tls_roles.security_officer);
    check_subjects(p, "admin.tls_roles.auditor", c.admin.tls_roles.auditor);
    check_subjects(p, "admin.tls_roles.operator", c.admin.tls_roles.operator_);
}

}  // namespace

void check_monitoring(Problems& p, const Config& c) {
    const MonitoringConfig& m = c.monitoring;
    if (auto t = parse_working_time(m.working_hours, m.working_days); !t) {
        const std::string& msg = t.error().context();
        const auto colon = msg.find(": ");
        p.add(msg.substr(0, colon), colon == std::string::npos ? msg : msg.substr(colon + 2));
    }
    check_path(p, "monitoring.file.path", m.file_path, m.file_enabled);
    if (!m.syslog_enabled) return;
    const bool host_ok = !m.syslog_host.empty() && m.syslog_host.size() <= 253 &&
                         m.syslog_host.find_first_of(" /\\\"'\n\r\t") == std::string::npos;
    if (!host_ok) p.add("monitoring.syslog.host", "required: a host name or address of the receiver");
    check_path(p, "monitoring.syslog.trust_anchors", m.syslog_trust_anchors, true);
    check_path(p, "monitoring.syslog.crl", m.syslog_crl, false);
    const bool own_identity = !m.syslog_certificate.empty() || !m.syslog_private_key.empty();
    check_path(p, "monitoring.syslog.certificate", m.syslog_certificate, own_identity);
    check_key_uri(p, "monitoring.syslog.private_key", m.syslog_private_key, own_identity);
    if (!own_identity && (c.lea_client.certificate.empty() || c.lea_client.private_key.empty())) {
        p.add("monitoring.syslog.certificate",
              "required: no client identity here nor in [lea_client]");
    }
    const std::string& app = m.syslog_app_name;
    bool app_ok = !app.empty() && app.size() <= 48;
    for (const char ch : app) app_ok = app_ok && ch >= 33 && ch <= 126;
    if (!app_ok) p.add("monitoring.syslog.app_name", "must be 1..48 printable ASCII characters, no space");
}

void validate(const Config& c, Problems& p) {
    const std::string& name = c.instance_name;
    bool name_ok = !name.empty() && name.size() <= kMaxNameLength;
    for (unsigned char ch : name) {
        if (!(std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.')) name_ok = false;
    }
    if (!name_ok) p.add("instance.name", "must be 1..64 letters, digits, '-', '_' or '.'");
    check_token(p, c.token);
    if (c.token.pin_source.kind == PinSource::Kind::file) {
        check_path(p, "token.pin_source", c.token.pin_source.value, true);
    }
    check_listener(p, "listeners.lea", c.lea);
    check_listener(p, "listeners.ingest", c.ingest);
    check_listener(p, "admin.tls", c.admin.tls_listener);
    check_admin(p, c);
    check_two_person(p, c.admin.two_person);
    check_clashes(p, c);
    check_path(p, "lea_client.certificate", c.lea_client.certificate, false);
    check_key_uri(p, "lea_client.private_key", c.lea_client.private_key, false);
    check_audit(p, c);
    if (!c.delivery.binary_base_url.empty()) {
        const std::string& u = c.delivery.binary_base_url;
        auto parsed = delivery::parse_https_url(u);
        if (!parsed || u.find_first_of("?#") != std::string::npos || u.back() == '/') {
            p.add("delivery.binary_base_url",
                  "must be https://host[:port][/prefix] without a query, fragment or final '/'");
        }
    }
    if (const auto& d = c.archive.digest; d != "sha256" && d != "sha384" && d != "sha512") {
        p.add("archive.digest", "must be \"sha256\", \"sha384\" or \"sha512\"");
    }
    if (c.archive.enabled && c.archive.tsa_certificate.empty()) {
        p.add("archive.tsa_certificate", "must name a file when the archive is enabled");
    }
    check_monitoring(p, c);
    const std::string& level = c.log.level;
    if (level != "debug" && level != "info" && level != "warning" && level != "error") {
        p.add("log.level", "must be \"debug\", \"info\", \"warning\" or \"error\"");
    }
}

namespace {

// Whether the table header opened by the '[' at text[i] starts with a key:
// an optional second '[', blanks, then a bare-key character or a quote.
// toml++ 3.3.0 asserts this instead of reporting it ("[\n", "[[[", "[=":
// an abort with assertions on, an assumption that does not hold without;
// fixed upstream by marzer/tomlplusplus#301).
bool header_starts_with_key(std::string_view text, std::size_t i) {
    std::size_t j = i + 1;
    if (j < text.size() && text[j] == '[') ++j;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
    if (j >= text.size()) return false;
    const char k = text[j];
    return (k >= 'A' && k <= 'Z') || (k >= 'a' && k <= 'z') || (k >= '0' && k <= '9') || k == '_' ||
           k == '-' || k == '"' || k == '\'';
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether text[i] ('T' or 't') follows a date "YYYY-MM-DD" and is not
// followed by a digit: toml++ 3.3.0 asserts a digit there instead of
// reporting the error (parse_time: an abort with assertions on).
bool date_time_without_time(std::string_view text, std::size_t i) {
    if (i < 10 || (text[i] != 'T' && text[i] != 't')) return false;
    const std::string_view d = text.substr(i - 10, 10);
    for (std::size_t k = 0; k < d.size(); ++k) {
        const bool dash = k == 4 || k == 7;
        if (dash ? d[k] != '-' : !is_digit(d[k])) return false;
    }
    return i + 1 >= text.size() || !is_digit(text[i + 1]);
}

// What toml++ 3.3.0 cannot be given safely at text[i] (docs/reliability.md,
// "Findings and fixes"), or "": `normal` = outside strings and comments,
// `prev` = the last non-blank character outside strings on this line ('\n'
// at its start).
std::string_view toml33_hazard(std::string_view text, std::size_t i, bool normal, bool ml_basic,
                               bool line_start, char prev) {
    const char c = text[i];
    if (normal && line_start && c == '[' && !header_starts_with_key(text, i)) {
        return "a table header must start with a key";
    }
    if (normal && date_time_without_time(text, i)) return "a date-time needs a time after 'T'";
    // A quote can open a string only where a key or a value starts; toml++
    // reads one anywhere else as part of a bare token and runs on into what
    // we would take for the string's content.
    if (normal && (c == '"' || c == '\'') &&
        std::string_view("\n=[,{.").find(prev) == std::string_view::npos) {
        return "a quote in the middle of a key or value";
    }
    // toml++ 3.3.0 asserts (TOML_ASSERT_ASSUME in parse_value) on a '}'
    // where an array expects a value ("k = [ }"). TOML allows a '}' only
    // closing an inline table on its own line: never first on a line, nor
    // right after '[' or ','.
    if (normal && c == '}' && std::string_view("\n[,").find(prev) != std::string_view::npos) {
        return "a '}' where a value is expected";
    }
    // toml++ 3.3.0 classifies non-ASCII characters with a lookup that reaches
    // __builtin_unreachable for some (marzer/tomlplusplus#295, #190):
    // undefined behaviour. TOML allows them outside strings and comments
    // nowhere; multi-line basic strings are refused too.
    if (static_cast<unsigned char>(c) >= 0x80 && (normal || ml_basic)) {
        return "non-ASCII character outside a one-line string or a comment";
    }
    return {};
}

}  // namespace

crypto::Result<void> check_nesting(std::string_view text) {
    enum class State { normal, basic, literal, ml_basic, ml_literal, comment };
    State st = State::normal;
    std::size_t line = 1;
    std::size_t depth = 0;
    bool line_start = true;  // only blanks so far on this line, outside strings
    char prev = '\n';        // the last non-blank character outside strings on this line
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool triple = i + 2 < text.size() && text[i + 1] == c && text[i + 2] == c;
        if (c == '\n') {
            ++line;
            depth = 0;
            if (st != State::ml_basic && st != State::ml_literal) st = State::normal;
            line_start = st == State::normal;
            prev = '\n';
            continue;
        }
        const std::string_view hazard =
            toml33_hazard(text, i, st == State::normal, st == State::ml_basic, line_start, prev);
        if (!hazard.empty()) {
            return crypto::fail(crypto::Errc::malformed_input,
                                "line " + std::to_string(line) + ": " + std::string(hazard));
        }
        if (c != ' ' && c != '\t') {
            line_start = false;
            if (st == State::normal) prev = c;
        }
        switch (st) {
            case State::normal:
                if (c == '#') {
                    st = State::comment;
                } else if (c == '"') {
                    st = triple ? State::ml_basic : State::basic;
                } else if (c == '\'') {
                    st = triple ? State::ml_literal : State::literal;
                } else if (c == '.' || c == '[' || c == '{') {
                    ++depth;
                }
                if (triple && (c == '"' || c == '\'')) i += 2;
                break;
            case State::basic:
            case State::ml_basic:
                if (c == '\\') {
                    // Skip the escaped character (a line-ending backslash keeps its newline).
                    if (i + 1 < text.size() && text[i + 1] != '\n') ++i;
                } else if (c == '"' && (st == State::basic || triple)) {
                    if (st == State::ml_basic) i += 2;
                    st = State::normal;
                }
                break;
            case State::literal:
            case State::ml_literal:
                if (c == '\'' && (st == State::literal || triple)) {
                    if (st == State::ml_literal) i += 2;
                    st = State::normal;
                }
                break;
            case State::comment:
                break;
        }
        if (depth > kMaxNestingPerLine) {
            return crypto::fail(crypto::Errc::malformed_input,
                                "line " + std::to_string(line) +
                                    ": keys, tables or inline tables "
                                    "nest deeper than " +
                                    std::to_string(kMaxNestingPerLine) + " levels");
        }
    }
    return {};
}

}  // namespace enclave::appliance::detail
