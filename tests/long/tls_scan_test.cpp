// SPDX-License-Identifier: Apache-2.0
// The TLS scan of issue #10: testssl.sh (Debian package testssl.sh) against
// every TLS listener of a real enclaved on loopback, its flat JSON parsed
// and checked against RFC 9325 and the vulnerability checks. testssl 3.0.8
// cannot present a client certificate (--mtls came with 3.2), so it scans
// as an anonymous client and marks the checks that need a completed
// handshake as prevented by client authentication; this test makes those
// checks itself with the demo client identities (client-initiated
// renegotiation, HTTP compression). docs/reliability.md "TLS scan".
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "crypto/c_handle.hpp"
#include "harness/instance.hpp"

namespace enclave::daemon_test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct Finding {
    std::string severity;
    std::string text;
};
using Findings = std::multimap<std::string, Finding>;  // by testssl id

struct Listener {
    std::string name;
    std::uint16_t port;
    TlsClientConfig identity;  ///< a client certificate this listener accepts
    std::string probe;         ///< a GET target it answers
};

/// testssl's path: `testssl` (Debian) or `testssl.sh` on PATH; "" if absent.
std::string find_testssl() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        for (const char* name : {"testssl", "testssl.sh"}) {
            const auto p = std::filesystem::path(dir) / name;
            if (::access(p.c_str(), X_OK) == 0) return p.string();
        }
    }
    return {};
}

std::string testssl_version(const std::string& exe) {
    const RunResult r = run_program({exe, "--version"}, {"TERM=dumb"}, 60s);
    std::smatch m;
    const std::string all = r.out + r.err;
    if (std::regex_search(all, m, std::regex(R"(testssl(\.sh)?\s+([0-9][0-9A-Za-z.+~-]*))"))) {
        return m[2];
    }
    return "unknown";
}

/// The command line of one scan: everything (--full: the default run plus
/// ciphers per protocol and GREASE), flat JSON, loopback only: the IP as
/// the target, no DNS, no CRL/OCSP fetches (--phone-out is off by default
/// and stays off), the demo CA added so the chain is judged against it.
std::vector<std::string> scan_command(const std::string& exe, std::uint16_t port,
                                      const std::filesystem::path& json_file,
                                      const std::filesystem::path& ca) {
    return {exe,         "--quiet",           "--color",    "0",
            "--warnings", "off",              "--nodns",    "none",
            "--full",    "--connect-timeout", "10",         "--openssl-timeout",
            "10",        "--add-ca",          ca.string(),  "--jsonfile",
            json_file.string(), "127.0.0.1:" + std::to_string(port)};
}

/// Runs one scan; the findings by id (ADD_FAILURE on no or broken JSON).
Findings scan(const std::vector<std::string>& cmd, const std::filesystem::path& json_file) {
    const RunResult r = run_program(cmd, {"TERM=dumb"}, 1500s);
    if (r.exit_code < 0) ADD_FAILURE() << "testssl did not finish in 25 minutes";
    const json doc = json::parse(read_file(json_file), nullptr, false);
    Findings out;
    if (!doc.is_array() || doc.empty()) {
        ADD_FAILURE() << "testssl wrote no findings to " << json_file << " (exit " << r.exit_code
                      << "):\n" << r.out.substr(0, 4000) << r.err.substr(0, 4000);
        return out;
    }
    for (const json& f : doc) {
        out.emplace(f.value("id", ""), Finding{f.value("severity", ""), f.value("finding", "")});
    }
    return out;
}

const Finding* first(const Findings& f, const std::string& id) {
    const auto it = f.find(id);
    return it == f.end() ? nullptr : &it->second;
}

// RFC 9325 section 4.2 (TLS 1.2): ECDHE or DHE with AES-GCM or
// ChaCha20-Poly1305 only; the same with a PSK (the LEA listener's PSK
// endpoints, hsm/tls_psk.hpp: RFC 5487 DHE-PSK AES-GCM, RFC 7905
// (EC)DHE-PSK ChaCha20-Poly1305, never plain PSK). TLS 1.3: its AEAD suites.
const std::set<std::string> kTls12Allowed = {"xc02b", "xc02c", "xc02f", "xc030", "xcca8",
                                             "xcca9", "x9e",   "x9f",   "xccaa", "xaa",
                                             "xab",   "xccac", "xccad"};
const std::set<std::string> kTls13Allowed = {"x1301", "x1302", "x1303"};

// The vulnerability checks testssl runs; each must be present and pass.
const std::vector<std::string> kVulnerabilityIds = {
    "heartbleed", "CCS",    "ticketbleed", "ROBOT", "secure_renego", "secure_client_renego",
    "CRIME_TLS",  "BREACH", "POODLE_SSL",  "fallback_SCSV", "SWEET32", "FREAK",
    "DROWN",      "LOGJAM", "BEAST",       "LUCKY13", "RC4"};

// What testssl 3.0.8 cannot test against a server that requires a client
// certificate: it reports these as WARN with this text. This test checks
// both itself (client_renegotiation_refused, no_http_compression).
const std::map<std::string, std::string> kPreventedByClientAuth = {
    {"secure_client_renego", "client x509-based authentication prevents this from being tested"},
    {"BREACH", "client x509-based authentication prevents this from being tested"},
};

bool severity_ok(const std::string& s) { return s == "OK" || s == "INFO"; }

void check_protocols(const std::string& who, const Findings& f) {
    for (const char* id : {"SSLv2", "SSLv3", "TLS1", "TLS1_1"}) {
        const Finding* p = first(f, id);
        ASSERT_NE(p, nullptr) << who << ": testssl reported nothing for " << id;
        EXPECT_EQ(p->text.rfind("not offered", 0), 0u) << who << " " << id << ": " << p->text;
    }
    for (const char* id : {"TLS1_2", "TLS1_3"}) {
        const Finding* p = first(f, id);
        ASSERT_NE(p, nullptr) << who << ": testssl reported nothing for " << id;
        EXPECT_EQ(p->text.rfind("offered", 0), 0u) << who << " " << id << ": " << p->text;
    }
}

/// Every "cipher-<proto>_x<hex>" finding (the per-protocol list, -E).
void check_ciphers(const std::string& who, const Findings& f) {
    const std::regex id_re(R"(cipher-(\w+?)_(x[0-9a-f]+))");
    std::map<std::string, std::set<std::string>> offered;
    for (const auto& [id, finding] : f) {
        std::smatch m;
        if (!std::regex_match(id, m, id_re)) continue;
        offered[m[1]].insert(m[2]);
        const bool allowed = (m[1] == "tls1_2" && kTls12Allowed.count(m[2]) != 0) ||
                             (m[1] == "tls1_3" && kTls13Allowed.count(m[2]) != 0);
        EXPECT_TRUE(allowed) << who << ": a suite outside RFC 9325 is offered: " << finding.text;
    }
    EXPECT_FALSE(offered["tls1_2"].empty()) << who << ": no TLS 1.2 suite listed (scan incomplete?)";
    EXPECT_FALSE(offered["tls1_3"].empty()) << who << ": no TLS 1.3 suite listed (scan incomplete?)";
}

void check_vulnerabilities(const std::string& who, const Findings& f) {
    for (const std::string& id : kVulnerabilityIds) {
        const Finding* v = first(f, id);
        if (v == nullptr && id == "BREACH" && first(f, "service") != nullptr &&
            first(f, "service")->text.find("Couldn't determine service") != std::string::npos) {
            continue;  // HTTP-only; skipped when the probe saw no HTTP (see service)
        }
        if (v == nullptr) {
            ADD_FAILURE() << who << ": testssl ran no " << id << " check";
            continue;
        }
        const auto prevented = kPreventedByClientAuth.find(id);
        if (prevented != kPreventedByClientAuth.end() && v->severity == "WARN") {
            EXPECT_EQ(v->text, prevented->second) << who << " " << id;
            continue;
        }
        EXPECT_TRUE(severity_ok(v->severity)) << who << " " << id << ": " << v->severity << " "
                                              << v->text;
    }
    const Finding* crime = first(f, "CRIME_TLS");
    if (crime != nullptr) {
        EXPECT_EQ(crime->text.rfind("not vulnerable", 0), 0u) << crime->text;
    }
    const Finding* renego = first(f, "secure_renego");
    if (renego != nullptr) {
        EXPECT_EQ(renego->severity, "OK") << renego->text;
    }
    // testssl's `service` tells whether it noticed the client certificate
    // request; it is not asserted: with TLS 1.3 its probe (s_client without
    // a certificate) may finish before the server's refusal arrives, and it
    // then runs the checks as an anonymous client (docs). check_client_auth_required
    // checks the requirement itself.
}

/// No client certificate: TLS 1.2 fails the handshake; TLS 1.3 (the server
/// checks after the client's Finished) answers no request.
void check_client_auth_required(const Listener& l) {
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        TlsClientConfig anonymous = l.identity;
        anonymous.certificate.clear();
        anonymous.key.clear();
        anonymous.min_version = anonymous.max_version = version;
        TlsConnection c(l.port, anonymous);
        const bool refused = !c.ok() || c.request("GET", l.probe).status == 0;
        EXPECT_TRUE(refused) << l.name << ": served a client without a certificate (version "
                             << std::hex << version << ")";
    }
    TlsConnection c(l.port, l.identity);
    EXPECT_TRUE(c.ok()) << l.name << ": " << c.error();
}

/// Findings above INFO that this test does not already judge, accepted
/// with exactly this text, and why (docs/reliability.md "TLS scan").
const std::map<std::string, std::string> kAcceptedFindings = {
    // testssl rates a certificate without a CRL distribution point or OCSP
    // URL HIGH. The listeners' certificates come from the operator's own
    // CA (the demo CA of `enclavectl init` here) for peers on a closed
    // network that pin that CA: revocation travels as a CRL file the peers
    // load (our listeners: tls.crl), no URL a peer could (or should) reach.
    {"cert_revocation", "Neither CRL nor OCSP URI provided"},
    // testssl's service probe missed the client certificate request (TLS
    // 1.3 race, see check_vulnerabilities) and saw no HTTP answer: it then
    // skips the HTTP-only checks (BREACH: check_no_http_compression).
    {"service", "Couldn't determine service, skipping all HTTP checks"},
    // About the scanner, not the server: testssl looks for a GOST engine in
    // the openssl it runs (Debian's libengine-gost-openssl, which testssl.sh
    // only recommends; image/install-deps.sh installs no recommendations).
    {"engine_problem", "No engine or GOST support via engine with your /usr/bin/openssl"},
};

void check_no_other_findings(const std::string& who, const Findings& f) {
    const std::set<std::string> judged(kVulnerabilityIds.begin(), kVulnerabilityIds.end());
    for (const auto& [id, finding] : f) {
        if (severity_ok(finding.severity) || judged.count(id) != 0) continue;
        const auto accepted = kAcceptedFindings.find(id);
        if (accepted != kAcceptedFindings.end() && accepted->second == finding.text) continue;
        ADD_FAILURE() << who << ": testssl finding " << id << " " << finding.severity << ": "
                      << finding.text;
    }
}

using SslCtxPtr = crypto::CHandle<SSL_CTX, SSL_CTX_free>;
using SslPtr = crypto::CHandle<SSL, SSL_free>;

/// A TLS 1.2 handshake with `id`, then a client-initiated renegotiation.
/// Returns how the renegotiation ended: "" when it completed.
std::string client_renegotiation(std::uint16_t port, const TlsClientConfig& id,
                                 bool& first_handshake_ok) {
    ERR_clear_error();
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
    first_handshake_ok = false;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), id.certificate.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(), id.key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return "cannot load the client identity: " + openssl_errors();
    }
    const int fd = tcp_connect(port);
    if (fd < 0) return "cannot connect";
    SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    std::string outcome;
    if (SSL_connect(ssl.get()) == 1) {
        first_handshake_ok = true;
        if (SSL_renegotiate(ssl.get()) != 1) {
            outcome = "SSL_renegotiate: " + openssl_errors();
        } else if (SSL_do_handshake(ssl.get()) != 1) {
            outcome = "refused: " + openssl_errors();
            if (outcome == "refused: ") outcome += "(connection closed)";
        }
    } else {
        outcome = "first handshake failed: " + openssl_errors();
    }
    ssl.reset();
    ::close(fd);
    return outcome;
}

/// The server never compresses a response body (BREACH needs it), even when
/// the client offers gzip.
void check_no_http_compression(const Listener& l) {
    TlsConnection c(l.port, l.identity);
    ASSERT_TRUE(c.ok()) << l.name << ": " << c.error();
    ASSERT_TRUE(c.send_all("GET " + l.probe + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                           "Accept-Encoding: gzip, deflate, br\r\n\r\n"));
    const HttpReply r = c.read_reply();
    ASSERT_NE(r.status, 0) << l.name << ": " << r.error;
    EXPECT_EQ(r.headers.count("content-encoding"), 0u) << l.name << " compresses " << l.probe;
}

void print_summary(const std::string& who, const Findings& f) {
    std::cout << "---- " << who << " ----\n";
    std::vector<std::string> ids = {"SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3",
                                    "service", "cipher_order"};
    ids.insert(ids.end(), kVulnerabilityIds.begin(), kVulnerabilityIds.end());
    for (const auto& id : ids) {
        if (const Finding* p = first(f, id)) {
            std::cout << id << " | " << p->severity << " | " << p->text << "\n";
        }
    }
    for (const auto& [id, finding] : f) {
        if (id.rfind("cipher-", 0) == 0) std::cout << id << " | " << finding.text << "\n";
        if (!severity_ok(finding.severity) && std::find(ids.begin(), ids.end(), id) == ids.end()) {
            std::cout << id << " | " << finding.severity << " | " << finding.text << "\n";
        }
    }
}

TEST(TlsScanTest, EveryListenerPassesTestssl) {
    const std::string exe = find_testssl();
    ASSERT_FALSE(exe.empty()) << "testssl not found on PATH: install the Debian package testssl.sh";
    std::cout << "testssl: " << exe << " version " << testssl_version(exe) << "\n";

    TestInstance inst;
    // Every TCP listener the configuration has: lea, ingest and the optional
    // admin TLS port (the admin API proper is a Unix socket, no TLS).
    inst.config().admin.tls_listener.enabled = true;
    inst.config().admin.tls_listener.port = free_port();
    // testssl makes hundreds of handshakes without a client certificate,
    // which would lock 127.0.0.1 after 20 (docs/operations.md, "Authentication
    // failures and lockout") and hide the listeners' TLS behind closed
    // connections: the scan runs with the lockout off. tests/daemon/
    // auth_lockout_test.cpp tests the lockout.
    inst.config().lea.limits.auth_max_failures = 0;
    inst.config().ingest.limits.auth_max_failures = 0;
    inst.config().admin.tls_listener.limits.auth_max_failures = 0;
    inst.save_config();
    auto daemon = inst.start_ready();
    ASSERT_TRUE(daemon->running()) << inst.log();
    const std::vector<Listener> listeners = {
        {"lea", inst.lea_port(), inst.lea_client(), "/v1/whoami"},
        {"ingest", inst.ingest_port(), inst.collector_client(), "/v1/whoami"},
        {"admin-tls", inst.config().admin.tls_listener.port, inst.lea_client(), "/v1/status"}};

    // The scans run side by side: each is mostly waiting on its own handshakes.
    std::vector<std::future<Findings>> scans;
    for (const Listener& l : listeners) {
        const auto file = inst.scratch() / ("testssl-" + l.name + ".json");
        const auto cmd = scan_command(exe, l.port, file, inst.pki("demo-ca.pem"));
        if (&l == &listeners.front()) {
            std::cout << "command:";
            for (const auto& a : cmd) std::cout << " " << a;
            std::cout << "\n";
        }
        scans.push_back(std::async(std::launch::async, [cmd, file] { return scan(cmd, file); }));
    }
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        const Listener& l = listeners[i];
        const Findings f = scans[i].get();
        print_summary(l.name, f);
        check_protocols(l.name, f);
        check_ciphers(l.name, f);
        check_vulnerabilities(l.name, f);
        check_no_other_findings(l.name, f);

        bool first_ok = false;
        const std::string reneg = client_renegotiation(l.port, l.identity, first_ok);
        EXPECT_TRUE(first_ok) << l.name << ": " << reneg;
        EXPECT_FALSE(reneg.empty()) << l.name << ": a client-initiated renegotiation completed";
        std::cout << l.name << " client-initiated renegotiation (demo identity): " << reneg << "\n";
        check_no_http_compression(l);
        check_client_auth_required(l);
    }
    EXPECT_TRUE(daemon->running()) << "enclaved died during the scans:\n" << inst.log();
}

}  // namespace
}  // namespace enclave::daemon_test
