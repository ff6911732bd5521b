// SPDX-License-Identifier: Apache-2.0
// enclavectl cert new|rotate|import|list|retire
// (docs/security-officer-guide.md, "Certificates").
//
// The key is made by the daemon on the token; only the request (public)
// comes back. --out creates a new file (O_EXCL, O_NOFOLLOW, 0644) opened
// before the daemon is asked, so a file that cannot be written makes no key.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iomanip>
#include <iostream>

#include "appliance/ctl.hpp"
#include "audit/task_time.hpp"
#include "ctl_input.hpp"

namespace enclave::appliance::ctl {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxChainFile = 64 * 1024;

std::string text(const json& j, const char* key, std::size_t max = 256) {
    return field_text(j, key, max, true);
}

std::string time_text(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || !j.at(key).is_number_integer()) return "-";
    const auto t = j.at(key).get<std::int64_t>();
    if (t <= 0 || t > 253'402'300'799) return "-";
    return audit::format_utc_time(audit::UtcTime(std::chrono::seconds(t)));
}

std::string users_text(const json& c) {
    std::string out;
    if (c.contains("used_by") && c["used_by"].is_array()) {
        for (const json& u : c["used_by"]) {
            if (!u.is_string()) continue;
            out += (out.empty() ? "" : ",") + printable(u.get<std::string>(), 32);
        }
    }
    if (out.empty() && c.contains("staged_for") && c["staged_for"].is_string()) {
        out = "(staged for " + printable(c["staged_for"].get<std::string>(), 32) + ")";
    }
    return out.empty() ? "-" : out;
}

void print_cert(const json& c) {
    std::cout << text(c, "label") << "  [" << text(c, "state") << "]\n"
              << "  used by:     " << users_text(c) << "\n"
              << "  subject:     " << text(c, "subject", 1024) << "\n"
              << "  issuer:      " << text(c, "issuer", 1024) << "\n"
              << "  serial:      " << text(c, "serial") << "\n"
              << "  sha256:      " << text(c, "sha256") << "\n"
              << "  not after:   " << time_text(c, "not_after") << "\n";
}

/// PEM text only (letters, digits, + / = - space, newlines): the answer is
/// printed as it is, so nothing else may drive the terminal.
bool pem_text(std::string_view s) {
    for (const char c : s) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
                        c == '=' || c == '-' || c == ' ' || c == '\n';
        if (!ok) return false;
    }
    return true;
}

int request_key(const Globals& g, const CertOptions& o, bool rotate) {
    int fd = -1;
    if (!o.out.empty()) {
        fd = ::open(o.out.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            return report_error(g, errno == EEXIST ? "already_exists" : "io_error",
                                "--out " + o.out + ": " + std::strerror(errno) +
                                    (errno == EEXIST ? " (refusing to overwrite)" : ""));
        }
    }
    json body{{"label", o.label}};
    if (!o.subject.empty() || !rotate) body["subject"] = o.subject;
    if (!o.sans.empty()) body["sans"] = o.sans;
    if (rotate) body["listener"] = o.listener;
    json out;
    const int rc = call(g, "POST", rotate ? "/v1/cert/rotate" : "/v1/certs", body.dump(), out);
    const bool has_csr = rc == kExitOk && out.contains("csr_pem") && out["csr_pem"].is_string() &&
                         out["csr_pem"].get_ref<const std::string&>().rfind(
                             "-----BEGIN CERTIFICATE REQUEST-----", 0) == 0 &&
                         pem_text(out["csr_pem"].get_ref<const std::string&>());
    if (rc != kExitOk || !has_csr) {
        if (fd >= 0) {
            ::close(fd);
            ::unlink(o.out.c_str());
        }
        return rc != kExitOk ? rc : report_error(g, "malformed_input", "the answer holds no CSR");
    }
    const std::string& pem = out["csr_pem"].get_ref<const std::string&>();
    if (fd >= 0) {
        const bool written = detail::write_all(fd, pem) && ::fsync(fd) == 0;
        ::close(fd);
        if (!written) {
            return report_error(g, "io_error", "--out " + o.out + ": could not write the CSR (the "
                                               "key exists: retire it or run `cert list`)");
        }
    }
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else if (fd < 0) {
        std::cout << pem;
    } else {
        std::cout << "key " << printable(o.label, 64) << " made on the token; CSR written to "
                  << o.out << "\n";
    }
    return kExitOk;
}

}  // namespace

int cert_new(const Globals& g, const CertOptions& o) { return request_key(g, o, false); }

int cert_rotate(const Globals& g, const CertOptions& o) { return request_key(g, o, true); }

int cert_import(const Globals& g, const CertOptions& o) {
    auto input = detail::read_input(o.file, kMaxChainFile);
    if (!input) return report_error(g, input.error().wrap(o.file));
    const std::string pem(detail::text_of(*input));
    json out;
    if (int rc = call(g, "POST", "/v1/cert/import", json{{"label", o.label}, {"chain_pem", pem}}.dump(),
                      out);
        rc != kExitOk) {
        return rc;
    }
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    const json c = out.value("certificate", json::object());
    std::cout << "imported the certificate of key " << printable(o.label, 64) << "\n"
              << "  subject:     " << text(c, "subject", 1024) << "\n"
              << "  sha256:      " << text(c, "sha256") << "\n"
              << "  not after:   " << time_text(c, "not_after") << "\n";
    if (out.contains("switched")) {
        const std::string who = text(out, "switched");
        std::cout << (who == "lea-client" ? std::string("the outbound LEA client")
                                          : "listener " + who)
                  << " now uses it (live)\n";
    }
    return kExitOk;
}

int cert_list(const Globals& g) {
    json out;
    if (int rc = call(g, "GET", "/v1/certs", {}, out); rc != kExitOk) return rc;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    for (const json& c : out.value("certificates", json::array())) print_cert(c);
    return kExitOk;
}

int cert_retire(const Globals& g, const std::string& label) {
    json out;
    if (int rc = call(g, "POST", "/v1/cert/retire", json{{"label", label}}.dump(), out);
        rc != kExitOk) {
        return rc;
    }
    if (print_if_proposed(g, out)) return kExitOk;
    if (g.json) {
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << "retired key " << printable(label, 64) << " (destroyed on the token)\n";
    }
    return kExitOk;
}

}  // namespace enclave::appliance::ctl
