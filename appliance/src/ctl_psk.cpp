// SPDX-License-Identifier: Apache-2.0
// enclavectl psk new|import|list|rotate|revoke
// (docs/security-officer-guide.md, "PSKs").
//
// A generated key is shown once: on stdout (with a warning on stderr), or
// written to --out, a new file (O_EXCL, O_NOFOLLOW, 0600) opened before the
// daemon is asked, so that a file that cannot be written never leaves a key
// nobody holds. An imported key is read from stdin, never from argv. Every
// buffer that held a key is wiped before it goes.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "appliance/ctl.hpp"
#include "audit/task_time.hpp"
#include "crypto/secret.hpp"
#include "ctl_input.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

std::string text(const json& j, const char* key) { return field_text(j, key, 256, true); }

/// A Unix time of the answer as UTC text; 0 (never / not set) as "-".
std::string time_text(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j.at(key).is_number_integer()) return "-";
    const auto t = j.at(key).get<std::int64_t>();
    if (t <= 0 || t > 253'402'300'799) return t == 0 ? "-" : "?";  // up to 9999-12-31
    return audit::format_utc_time(audit::UtcTime(std::chrono::seconds(t)));
}

std::string state_text(const json& p) {
    if (p.contains("state") && p["state"].is_string()) return text(p, "state");
    return "?";
}

void print_psk(const json& p) {
    std::cout << text(p, "identity") << "\n"
              << "  endpoint:     " << text(p, "endpoint") << "\n"
              << "  fingerprint:  " << text(p, "fingerprint") << "\n"
              << "  created:      " << time_text(p, "created") << "\n"
              << "  expires:      " << time_text(p, "expires") << "\n"
              << "  retires:      " << time_text(p, "retires") << "\n"
              << "  revoked:      " << time_text(p, "revoked") << "\n";
}

json request_body(const PskOptions& o, bool rotate) {
    json body{{"endpoint", o.endpoint}, {"identity", o.identity}};
    if (o.expires_days) body["expires_days"] = *o.expires_days;
    if (rotate && o.overlap_hours) body["overlap_hours"] = *o.overlap_hours;
    return body;
}

/// Writes `hex` and a newline to the open file (no copy of the key made
/// here) and syncs it.
bool write_key(int fd, const std::string& hex) {
    return detail::write_all(fd, hex) && detail::write_all(fd, "\n") && ::fsync(fd) == 0;
}

bool hex_digit(std::uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/// 64..128 hex digits, an even number (32..64 bytes).
bool key_hex_ok(std::string_view hex) {
    if (hex.size() < 64 || hex.size() > 128 || hex.size() % 2 != 0) return false;
    for (const char c : hex) {
        if (!hex_digit(static_cast<std::uint8_t>(c))) return false;
    }
    return true;
}

/// new and rotate: the daemon generates the key and answers it once.
int generate(const Globals& g, const PskOptions& o, const char* target) {
    int fd = -1;
    if (!o.out.empty()) {
        fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            return report_error(g, errno == EEXIST ? "already_exists" : "io_error",
                                "--out " + o.out + ": " + std::strerror(errno) +
                                    (errno == EEXIST ? " (refusing to overwrite)" : ""));
        }
    }
    json out;
    const int rc = call(g, "POST", target, request_body(o, std::string_view(target) != "/v1/psks")
                                               .dump(), out);
    if (rc == kExitOk && print_if_proposed(g, out)) {
        // Nothing generated yet: the key goes to the approving officer.
        if (fd >= 0) {
            ::close(fd);
            ::unlink(o.out.c_str());
            std::cerr << "enclavectl: --out " << o.out << " not written: the approving officer "
                         "receives the key\n";
        }
        return kExitOk;
    }
    const bool has_key = rc == kExitOk && out.contains("key_hex") && out["key_hex"].is_string() &&
                         key_hex_ok(out["key_hex"].get_ref<const std::string&>());
    if (rc != kExitOk || !has_key) {
        if (fd >= 0) {
            ::close(fd);
            ::unlink(o.out.c_str());
        }
        detail::wipe_json(out);
        return rc != kExitOk ? rc
                             : report_error(g, "malformed_input", "the answer holds no valid key");
    }
    std::string& hex = out["key_hex"].get_ref<std::string&>();
    if (fd >= 0) {
        const bool written = write_key(fd, hex);
        ::close(fd);
        if (!written) {
            ::unlink(o.out.c_str());  // a part of a key is no use to anyone
            detail::wipe_json(out);
            return report_error(g, "io_error",
                                "--out " + o.out + ": could not write the key (it is stored in "
                                "the daemon: revoke " + printable(o.identity) + " and make another)");
        }
        crypto::wipe(hex);
        out.erase("key_hex");
    } else if (!g.json) {
        std::cerr << "enclavectl: the PSK below is shown once and not stored in clear anywhere: "
                     "hand it to the LEA over a protected channel now\n";
        std::cout << hex << "\n";  // checked: hex digits only
    } else {
        std::cerr << "enclavectl: key_hex is shown once: hand it to the LEA now\n";
    }
    if (g.json) {
        std::string doc = out.dump(2);
        std::cout << doc << "\n";
        crypto::wipe(doc);
    } else {
        if (!o.out.empty()) std::cerr << "enclavectl: key written to " << o.out << "\n";
        print_psk(out.value("psk", json::object()));
    }
    std::cout.flush();
    detail::wipe_json(out);
    return kExitOk;
}

bool space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

int psk_new(const Globals& g, const PskOptions& o) { return generate(g, o, "/v1/psks"); }

int psk_rotate(const Globals& g, const PskOptions& o) { return generate(g, o, "/v1/psk/rotate"); }

int psk_import(const Globals& g, const PskOptions& o) {
    auto input = detail::read_input("-", 4096);
    if (!input) return report_error(g, input.error().wrap("stdin"));
    std::size_t begin = 0;
    std::size_t end = input->size();
    const std::uint8_t* d = input->data();
    while (begin < end && space(d[begin])) ++begin;
    while (end > begin && space(d[end - 1])) --end;
    const std::size_t n = end - begin;
    if (!key_hex_ok({reinterpret_cast<const char*>(d + begin), n})) {
        return report_error(g, "invalid_argument",
                            "stdin: the key must be 64..128 hex digits (32..64 bytes), an even "
                            "number of them, nothing else", kExitUsage);
    }
    // The body is built in a buffer reserved up front (no reallocation
    // copies) and wiped after the call.
    std::string head = request_body(o, false).dump();
    head.pop_back();  // the closing brace
    std::string body;
    body.reserve(head.size() + n + 16);
    body += head;
    body += ",\"key_hex\":\"";
    body.append(reinterpret_cast<const char*>(d + begin), n);
    body += "\"}";
    json out;
    const int rc = call(g, "POST", "/v1/psks", body, out);
    crypto::wipe(body);
    if (rc != kExitOk) return rc;
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "imported ";
        print_psk(out.value("psk", json::object()));
    }
    return kExitOk;
}

int psk_list(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/psks", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    std::cout << std::left << std::setw(24) << "IDENTITY" << ' ' << std::setw(15) << "ENDPOINT"
              << ' ' << std::setw(17) << "FINGERPRINT" << ' ' << std::setw(21) << "CREATED" << ' '
              << std::setw(21) << "EXPIRES" << ' ' << std::setw(21) << "RETIRES" << ' '
              << "STATE\n";
    for (const json& p : out.value("psks", json::array())) {
        std::cout << std::setw(24) << text(p, "identity") << ' ' << std::setw(15)
                  << text(p, "endpoint") << ' ' << std::setw(17) << text(p, "fingerprint") << ' '
                  << std::setw(21) << time_text(p, "created") << ' ' << std::setw(21)
                  << time_text(p, "expires") << ' ' << std::setw(21) << time_text(p, "retires")
                  << ' ' << state_text(p) << "\n";
    }
    return kExitOk;
}

int psk_revoke(const Globals& g, const std::string& identity) {
    json out;
    if (int rc = call(g, "POST", "/v1/psk/revoke", json{{"identity", identity}}.dump(), out);
        rc != kExitOk) {
        return rc;
    }
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "revoked ";
        print_psk(out.value("psk", json::object()));
    }
    return kExitOk;
}

}  // namespace enclave::appliance::ctl
