// SPDX-License-Identifier: Apache-2.0
#include "appliance/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using crypto::Errc;
using testing::TempDir;

const std::filesystem::path kDir = "/srv/enclave";

crypto::Error parse_error(const std::string& text) {
    auto c = parse_config(text, kDir);
    EXPECT_FALSE(c) << "accepted:\n" << text;
    return c ? crypto::Error(Errc::internal, "accepted") : c.error();
}

TEST(ConfigTest, EmptyTextGivesTheDefaults) {
    auto c = parse_config("", kDir);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(*c, default_config(kDir));
}

TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
    const Config c = default_config(kDir);
    EXPECT_EQ(c.data_dir, kDir);
    EXPECT_EQ(c.lea.port, 8443);
    EXPECT_EQ(c.ingest.port, 9443);
    EXPECT_EQ(c.admin.tls_listener.port, 9444);
    EXPECT_TRUE(c.lea.enabled);
    EXPECT_TRUE(c.ingest.enabled);
    EXPECT_FALSE(c.admin.tls_listener.enabled);
    for (const auto* l : {&c.lea, &c.ingest, &c.admin.tls_listener}) {
        EXPECT_EQ(l->address, "127.0.0.1");
        EXPECT_EQ(l->tls.min_version, "1.2");
        EXPECT_EQ(l->tls.private_key.rfind("pkcs11:object=", 0), 0u);
    }
    EXPECT_EQ(c.lea.tls.certificate, "pki/lea-server.pem");
    EXPECT_EQ(c.lea.tls.private_key, "pkcs11:object=lea-tls;type=private");
    EXPECT_EQ(c.lea_client.private_key, "pkcs11:object=lea-client-tls;type=private");
    EXPECT_EQ(c.admin.socket, "run/admin.sock");
    EXPECT_EQ(c.admin.socket_mode, 0660u);
    EXPECT_EQ(c.token.pin_source.kind, PinSource::Kind::file);
    EXPECT_EQ(c.token.pin_source.value, "token.pin");
    EXPECT_EQ(c.token.uri, "pkcs11:token=enclave");
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.shutdown_grace, std::chrono::milliseconds(10'000));
    // Two-person control is on by default, over the five dangerous routes.
    EXPECT_TRUE(c.admin.two_person.enabled);
    EXPECT_EQ(c.admin.two_person.approval_window, std::chrono::seconds(900));
    EXPECT_EQ(c.admin.two_person.max_pending, 64u);
    EXPECT_EQ(c.admin.two_person.routes,
              (std::vector<std::string>{"POST /v1/task/reveal", "POST /v1/endpoints",
                                        "POST /v1/endpoint/remove", "POST /v1/psk/rotate",
                                        "POST /v1/psk/revoke", "POST /v1/cert/import",
                                        "POST /v1/cert/retire"}));
}

TEST(ConfigTest, DataDirIsMadeAbsoluteAndPathsResolveAgainstIt) {
    const Config c = default_config("relative/dir/");
    EXPECT_TRUE(c.data_dir.is_absolute());
    EXPECT_EQ(c.data_dir.filename(), "dir");
    EXPECT_EQ(c.resolve("pki/x.pem"), c.data_dir / "pki/x.pem");
    EXPECT_EQ(c.resolve("/etc/x.pem"), "/etc/x.pem");
    EXPECT_EQ(c.resolve(""), "");
}

TEST(ConfigTest, RenderedDefaultsReadBackEqual) {
    const Config c = default_config(kDir);
    auto back = parse_config(render_config(c), kDir);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, c);
}

// Every field away from its default, strings with characters TOML must escape.
Config unusual_config() {
    Config c = default_config(kDir);
    c.instance_name = "lab-2.b";
    c.token.uri = "pkcs11:token=my%20token;serial=42";
    c.token.module_path = "/opt/hsm/lib \"q\" \\x.so";
    c.token.pin_source = {PinSource::Kind::env, "ENCLAVE_PIN"};
    c.token.max_sessions = 3;
    c.lea = {false,
             "::1",
             1443,
             {"/etc/é/lea.pem", "pkcs11:id=%01%02", "t\\ab \"q\".pem", "lea.crl", "1.3"},
             {std::chrono::milliseconds(100), std::chrono::milliseconds(3'600'000),
              std::chrono::milliseconds(101), std::chrono::milliseconds(999), 1024, 0, 1}};
    c.ingest.address = "0.0.0.0";
    c.ingest.port = 2443;
    c.ingest.limits.max_body_bytes = 1024ull * 1024 * 1024;
    c.ingest.limits.max_header_bytes = 1024 * 1024;
    c.ingest.limits.max_connections = 100'000;
    c.ingest.limits.auth_max_failures = 0;
    c.ingest.limits.auth_failure_window = std::chrono::seconds(86'400);
    c.admin.limits.auth_lockout = std::chrono::seconds(1);
    c.admin.socket = "/run/enclave/admin.sock";
    c.admin.socket_mode = 0600;
    c.admin.socket_group = "enclave";
    c.admin.roles = {"so", "", "ops_1"};
    c.admin.limits.idle_timeout = std::chrono::milliseconds(5000);
    c.admin.tls_listener.enabled = true;
    c.admin.tls_listener.port = 3443;
    c.lea_client = {"", ""};
    c.log.level = "debug";
    c.shutdown_grace = std::chrono::milliseconds(0);
    c.audit.origin = "csp.example/enclave-7";
    c.audit.checkpoint_every = 10;
    c.audit.checkpoint_interval = std::chrono::seconds(5);
    c.audit.review_window = std::chrono::seconds(120);
    c.tasks.expiry_check_interval = std::chrono::seconds(1);
    c.endpoints["lea1"].client_subjects = {"CN=demo-lea,O=Enclave demo", "CN=\"q\",O=x"};
    c.endpoints["lea-2"] = {};
    c.delivery.binary_base_url = "https://enclave.csp.example:8443/lea";
    c.delivery.binary_url_ttl = std::chrono::seconds(3600);
    c.admin.two_person = {false, std::chrono::seconds(1), {"POST /v1/cert/rotate"}, 1024};
    return c;
}

TEST(ConfigTest, RenderedNonDefaultsReadBackEqual) {
    const Config c = unusual_config();
    const std::string text = render_config(c);
    auto back = parse_config(text, kDir);
    ASSERT_TRUE(back) << back.error().message() << "\n" << text;
    EXPECT_EQ(*back, c);
    EXPECT_NE(*back, default_config(kDir));
}

TEST(ConfigTest, RenderedFileCommentsEveryKeyAndHasEveryKey) {
    const std::string text = render_config(default_config(kDir));
    std::istringstream in(text);
    std::string line;
    std::string previous;
    int keys = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] != '#' && line[0] != '[') {
            ++keys;
            EXPECT_EQ(previous.rfind("# ", 0), 0u) << "no comment above: " << line;
        }
        previous = line;
    }
    // instance 1, token 4, 3 listeners x (8 + 10 limits), admin 3 + roles 3 + limits 10,
    // lea_client 2, audit 4, tasks 1, ingest 2, delivery 7, archive 8, monitoring 5 + file 4 +
    // stdout 1 + syslog 10, log 1, shutdown 1, admin.two_person 4, admin.tls_roles 3 (no
    // endpoints by default).
    EXPECT_EQ(keys, 1 + 4 + 3 * 18 + 3 + 3 + 10 + 2 + 4 + 1 + 2 + 7 + 8 + 5 + 4 + 1 + 10 + 1 + 1 + 4 + 3);
    for (const char* section :
         {"[instance]", "[token]", "[listeners.lea]", "[listeners.lea.limits]",
          "[listeners.ingest]", "[listeners.ingest.limits]", "[admin]", "[admin.roles]",
          "[admin.limits]", "[admin.tls]", "[admin.tls.limits]", "[admin.two_person]",
          "[lea_client]", "[audit]", "[tasks]", "[log]", "[shutdown]"}) {
        EXPECT_NE(text.find(std::string("\n") + section + "\n"), std::string::npos) << section;
    }
}

// docs/configuration.md has a table row for every key the renderer writes.
TEST(ConfigTest, EveryKeyIsDocumented) {
    std::ifstream doc(std::filesystem::path(ENCLAVE_SOURCE_DIR) / "docs" / "configuration.md");
    ASSERT_TRUE(doc) << "docs/configuration.md is missing";
    const std::string text((std::istreambuf_iterator<char>(doc)), std::istreambuf_iterator<char>());
    std::istringstream in(render_config(default_config(kDir)));
    std::string line;
    int checked = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line[0] == '[') continue;
        const std::string key = line.substr(0, line.find(' '));
        EXPECT_NE(text.find("| `" + key + "` |"), std::string::npos) << key << " is not documented";
        ++checked;
    }
    EXPECT_GT(checked, 20);
    for (const char* section :
         {"[instance]", "[token]", "[listeners.lea]", "[admin]", "[admin.roles]", "[admin.tls]",
          "[lea_client]", "[audit]", "[tasks]", "[endpoints.", "[log]", "[shutdown]",
          ".limits]"}) {
        EXPECT_NE(text.find(section), std::string::npos) << section;
    }
}

TEST(ConfigTest, PinSourceForms) {
    for (const char* ok : {"file:token.pin", "file:/etc/enclave/pin", "env:ENCLAVE_PIN", "stdin",
                           "credential:token-pin"}) {
        auto p = PinSource::parse(ok);
        ASSERT_TRUE(p) << ok;
        EXPECT_EQ(p->to_string(), ok);
    }
    for (const char* bad : {"", "file:", "env:", "env:1PIN", "env:A-B", "credential:a/b",
                            "credential:..", "pin:1234", "1234", "stdin:x", "file:a\nb"}) {
        auto p = PinSource::parse(bad);
        ASSERT_FALSE(p) << bad;
        EXPECT_EQ(p.error().code(), Errc::invalid_argument);
    }
}

struct Rule {
    const char* toml;
    const char* expected;  // key path and rule, as in the message
};

// One case per validation rule; each message names the key and the rule.
const Rule kRules[] = {
    {"[listeners.lea]\nprot = 1\n", "listeners.lea.prot: unknown key"},
    {"[listner]\n", "listner: unknown section"},
    {"colour = 1\n", "colour: unknown key"},
    {"[admin.tls.limits]\nmax_conns = 1\n", "admin.tls.limits.max_conns: unknown key"},
    {"[listeners.lea]\nport = \"8443\"\n", "listeners.lea.port: must be an integer"},
    {"[listeners.lea]\nport = 8443.0\n", "listeners.lea.port: must be an integer"},
    {"[listeners.lea]\nenabled = \"yes\"\n", "listeners.lea.enabled: must be true or false"},
    {"[listeners.lea]\naddress = 127\n", "listeners.lea.address: must be a string"},
    {"listeners = 5\n", "listeners: must be a table"},
    {"[listeners.lea]\nport = 0\n", "listeners.lea.port: must be 1..65535"},
    {"[listeners.lea]\nport = 70000\n", "listeners.lea.port: must be 1..65535 (got 70000)"},
    {"[listeners.ingest]\nport = 8443\n", "listeners.ingest.port: clashes with listeners.lea"},
    {"[listeners.lea]\naddress = \"0.0.0.0\"\nport = 9443\n",
     "listeners.ingest.port: clashes with listeners.lea"},
    {"[admin.tls]\nenabled = true\nport = 9443\n", "admin.tls.port: clashes with listeners.ingest"},
    {"[listeners.lea]\naddress = \"localhost\"\n",
     "listeners.lea.address: must be an IPv4 or IPv6 address literal"},
    {"[listeners.lea]\nprivate_key = \"pki/lea.key\"\n",
     "listeners.lea.private_key: must be a pkcs11: URI"},
    {"[listeners.lea]\nprivate_key = \"pkcs11:token=t\"\n",
     "listeners.lea.private_key: must name a key"},
    {"[listeners.lea]\nprivate_key = \"pkcs11:object=k;type=public\"\n",
     "listeners.lea.private_key: type= must be private"},
    {"[listeners.lea]\nprivate_key = \"pkcs11:object=k?pin-value=1\"\n",
     "listeners.lea.private_key: "},
    {"[listeners.lea]\nprivate_key = \"\"\n", "listeners.lea.private_key: required"},
    {"[listeners.lea]\ncertificate = \"\"\n", "listeners.lea.certificate: required"},
    {"[listeners.ingest]\ntrust_anchors = \"\"\n", "listeners.ingest.trust_anchors: required"},
    {"[listeners.lea]\nmin_version = \"1.1\"\n",
     "listeners.lea.min_version: must be \"1.2\" or \"1.3\""},
    {"[listeners.lea.limits]\nhandshake_timeout_ms = 99\n",
     "listeners.lea.limits.handshake_timeout_ms: must be 100..3600000"},
    {"[listeners.lea.limits]\nread_timeout_ms = 3600001\n",
     "listeners.lea.limits.read_timeout_ms: must be 100..3600000"},
    {"[admin.limits]\nwrite_timeout_ms = 0\n",
     "admin.limits.write_timeout_ms: must be 100..3600000"},
    {"[admin.tls.limits]\nidle_timeout_ms = -5\n",
     "admin.tls.limits.idle_timeout_ms: must be 100..3600000"},
    {"[listeners.ingest.limits]\nmax_header_bytes = 1023\n",
     "listeners.ingest.limits.max_header_bytes: must be 1024..1048576"},
    {"[listeners.ingest.limits]\nmax_header_bytes = 1048577\n",
     "max_header_bytes: must be 1024..1048576"},
    {"[listeners.ingest.limits]\nmax_body_bytes = 1073741825\n",
     "max_body_bytes: must be 0..1073741824"},
    {"[listeners.ingest.limits]\nmax_connections = 0\n", "max_connections: must be 1..100000"},
    {"[listeners.ingest.limits]\nmax_connections = 100001\n", "max_connections: must be 1..100000"},
    {"[listeners.ingest.limits]\nauth_max_failures = 10001\n", "auth_max_failures: must be 0..10000"},
    {"[listeners.lea.limits]\nauth_failure_window_s = 0\n", "auth_failure_window_s: must be 1..86400"},
    {"[admin.limits]\nauth_lockout_s = 86401\n", "auth_lockout_s: must be 1..86400"},
    {"[admin]\nsocket_mode = \"0666\"\n",
     "admin.socket_mode: must give the owner read/write and nothing beyond 0660"},
    {"[admin]\nsocket_mode = \"0662\"\n", "admin.socket_mode: must give the owner"},
    {"[admin]\nsocket_mode = \"0770\"\n", "admin.socket_mode: must give the owner"},
    {"[admin]\nsocket_mode = \"0460\"\n", "admin.socket_mode: must give the owner"},
    {"[admin]\nsocket_mode = \"0689\"\n",
     "admin.socket_mode: must be a string of 3 or 4 octal digits"},
    {"[admin]\nsocket_mode = \"rw\"\n",
     "admin.socket_mode: must be a string of 3 or 4 octal digits"},
    {"[admin]\nsocket_mode = 432\n", "admin.socket_mode: must be a string"},
    {"[admin]\nsocket = \"\"\n", "admin.socket: required"},
    {"[admin]\nsocket_group = \"bad group\"\n", "admin.socket_group: must be a Unix group name"},
    {"[admin.roles]\nauditor = \"a:b\"\n", "admin.roles.auditor: must be a Unix group name"},
    {"[log]\nlevel = \"verbose\"\n", "log.level: must be"},
    {"[token]\npin_source = \"pin:1234\"\n", "token.pin_source: must be \"file:PATH\""},
    {"[token]\npin_source = \"env:1X\"\n", "token.pin_source: env: needs a variable name"},
    {"[token]\nuri = \"pkcs11:token=a;object=k\"\n", "token.uri: must name a token, not an object"},
    {"[token]\nuri = \"http://x\"\n", "token.uri: "},
    {"[token]\nuri = \"pkcs11:token=a?pin-source=/p\"\n", "token.uri: must not carry pin-source"},
    {"[token]\nmodule_path = \"lib/softhsm.so\"\n", "token.module_path: must be an absolute path"},
    {"[token]\nmax_sessions = 0\n", "token.max_sessions: must be 1..1024"},
    {"[instance]\nname = \"\"\n", "instance.name: must be 1..64"},
    {"[instance]\nname = \"two words\"\n", "instance.name: must be 1..64"},
    {"[shutdown]\ngrace_ms = -1\n", "shutdown.grace_ms: must be 0..3600000"},
    {"[lea_client]\nprivate_key = \"/etc/client.key\"\n",
     "lea_client.private_key: must be a pkcs11: URI"},
    {"[audit]\norigin = \"two words\"\n", "audit.origin: must be 1..128 printable"},
    {"[audit]\norigin = \"a+b\"\n", "audit.origin: must be 1..128 printable"},
    {"[audit]\ncheckpoint_every = 0\n", "audit.checkpoint_every: must be 1..1000000"},
    {"[audit]\ncheckpoint_interval_s = 0\n", "audit.checkpoint_interval_s: must be 1..3600"},
    {"[audit]\nreview_window_s = 59\n", "audit.review_window_s: must be 60..86400"},
    {"[tasks]\nexpiry_check_interval_s = 61\n", "tasks.expiry_check_interval_s: must be 1..60"},
    {"[endpoints]\nlea1 = 3\n", "endpoints.lea1: must be a table"},
    {"[endpoints.LEA]\n", "endpoints.LEA: endpoint names are"},
    {"[endpoints.lea1]\nclient_subjects = \"CN=x\"\n",
     "endpoints.lea1.client_subjects: must be an array of strings"},
    {"[endpoints.lea1]\nclient_subjects = [1]\n",
     "endpoints.lea1.client_subjects: must be an array of strings"},
    {"[endpoints.lea1]\nclient_subjects = [\"\"]\n",
     "endpoints.lea1.client_subjects: each must be a non-empty"},
    {"[endpoints.lea1]\nurl = \"x\"\n", "endpoints.lea1.url: unknown key"},
    {"[delivery]\nbinary_base_url = \"http://lea.example\"\n",
     "delivery.binary_base_url: must be https://"},
    {"[delivery]\nbinary_base_url = \"https://e.example/\"\n",
     "delivery.binary_base_url: must be https://"},
    {"[delivery]\nbinary_base_url = \"https://e.example/x?y=1\"\n",
     "delivery.binary_base_url: must be https://"},
    {"[delivery]\nbinary_base_url = \"https://\"\n", "delivery.binary_base_url: must be https://"},
    {"[delivery]\nbinary_url_ttl_s = 0\n", "delivery.binary_url_ttl_s: must be 1..7776000"},
    {"[admin.two_person]\nenabled = 1\n", "admin.two_person.enabled: must be true or false"},
    {"[admin.two_person]\napproval_window_s = 0\n",
     "admin.two_person.approval_window_s: must be 1..86400"},
    {"[admin.two_person]\napproval_window_s = 86401\n",
     "admin.two_person.approval_window_s: must be 1..86400"},
    {"[admin.two_person]\nmax_pending = 0\n", "admin.two_person.max_pending: must be 1..1024"},
    {"[admin.two_person]\nroutes = \"POST /v1/x\"\n",
     "admin.two_person.routes: must be an array of strings"},
    {"[admin.two_person]\nroutes = [\"post /v1/x\"]\n",
     "admin.two_person.routes: each item must be"},
    {"[admin.two_person]\nroutes = [\"POST v1/x\"]\n", "admin.two_person.routes: each item must be"},
    {"[admin.two_person]\nroutes = [\"POST  /v1/x\"]\n",
     "admin.two_person.routes: each item must be"},
    {"[admin.two_person]\nroutes = [\"POST /v1/approvals/approve\"]\n",
     "admin.two_person.routes: each item must be"},
    {"[admin.two_person]\nroutes = [\"POST /a\", \"POST /a\"]\n",
     "admin.two_person.routes: a route is listed twice"},
    {"[admin.two_person]\nwindow = 5\n", "admin.two_person.window: unknown key"},
};

TEST(ConfigTest, EveryRuleNamesTheKeyAndTheRule) {
    for (const Rule& r : kRules) {
        SCOPED_TRACE(r.toml);
        const crypto::Error e = parse_error(r.toml);
        EXPECT_EQ(e.code(), Errc::invalid_argument) << e.message();
        EXPECT_NE(e.context().find(r.expected), std::string::npos) << e.message();
    }
}

TEST(ConfigTest, RulesThatMustNotFire) {
    for (const char* ok :
         {"[admin]\nsocket_mode = \"0600\"\n", "[admin]\nsocket_mode = \"660\"\n",
          "[admin]\nsocket_mode = \"0640\"\n",
          "[admin.tls]\nport = 8443\n",  // disabled: no clash
          "[listeners.lea]\naddress = \"::1\"\nport = 9443\n[listeners.ingest]\naddress = "
          "\"127.0.0.1\"\n",
          "[listeners.lea]\nenabled = false\ncertificate = \"\"\nprivate_key = \"\"\n",
          "[lea_client]\ncertificate = \"\"\nprivate_key = \"\"\n",
          "[token]\nuri = \"pkcs11:token=a?module-path=/usr/lib/x.so\"\n"}) {
        auto c = parse_config(ok, kDir);
        EXPECT_TRUE(c) << ok << ": " << c.error().message();
    }
}

TEST(ConfigTest, SeveralProblemsAreReportedTogether) {
    const crypto::Error e =
        parse_error("[listeners.lea]\nport = 0\ntypo = 1\n[log]\nlevel = \"loud\"\n");
    EXPECT_NE(e.context().find("listeners.lea.port"), std::string::npos);
    EXPECT_NE(e.context().find("listeners.lea.typo: unknown key"), std::string::npos);
    EXPECT_NE(e.context().find("log.level"), std::string::npos);
}

TEST(ConfigTest, ErrorsNeverEchoValuesThatCouldBeSecret) {
    const char* cases[] = {
        "[token]\nuri = \"pkcs11:token=a?pin-value=S3CRETPIN\"\n",
        "[listeners.lea]\nprivate_key = \"pkcs11:object=k?pin-value=S3CRETPIN\"\n",
        "[listeners.lea]\nprivate_key = \"S3CRETPIN\"\n",
        "[token]\npin = \"S3CRETPIN\"\n",
        "[token]\npin_source = \"S3CRETPIN\"\n",
        "[token]\npin_source = \"env:S3CRETPIN-x\"\n",
        "[token]\nuri = \"S3CRETPIN\"\n",
        "[log]\nlevel = \"S3CRETPIN\"\n",
        "[token]\nuri = 12S3CRETPIN\n",
        "[token]\nmax_sessions = 1S3CRETPIN\n",
        "[token]\nuri = \"pkcs11:token=S3CRETPIN\"\nuri = \"x\"\n",
    };
    for (const char* text : cases) {
        auto c = parse_config(text, kDir);
        ASSERT_FALSE(c) << text;
        EXPECT_EQ(c.error().message().find("S3CRETPIN"), std::string::npos) << c.error().message();
        EXPECT_EQ(c.error().message().find("3CRET"), std::string::npos) << c.error().message();
    }
}

TEST(ConfigTest, SyntaxErrorsAreMalformedWithLineAndColumn) {
    auto c = parse_config("[log]\nlevel = ?x\n", kDir);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Errc::malformed_input);
    EXPECT_NE(c.error().context().find("line 2, column"), std::string::npos) << c.error().message();
}

TEST(ConfigTest, DuplicateKeysAndTablesAreRefused) {
    for (const char* text : {"[log]\nlevel = \"info\"\nlevel = \"debug\"\n", "[log]\n[log]\n",
                             "[listeners.lea]\nport = 1\n[listeners]\nlea = {port = 2}\n"}) {
        auto c = parse_config(text, kDir);
        ASSERT_FALSE(c) << text;
        EXPECT_EQ(c.error().code(), Errc::malformed_input) << c.error().message();
    }
}

TEST(ConfigTest, HostileInputFailsCleanly) {
    std::string dotted = "a";
    for (int i = 0; i < 200'000; ++i) dotted += ".a";
    std::string header = "[" + dotted + "]\n";
    std::string arrays = "a = " + std::string(300'000, '[');
    std::string inline_tables = "a = ";
    for (int i = 0; i < 100'000; ++i) inline_tables += "{b=";
    std::string garbage;
    for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919 + 13) & 0xff);
    const std::string cases[] = {dotted + " = 1\n",
                                 header,
                                 arrays,
                                 inline_tables,
                                 garbage,
                                 std::string("a = 1\0b = 2\n", 12),
                                 "a = \"\xff\xfe\"\n",
                                 "a = \"unterminated\n",
                                 "[[log]]\n",
                                 "[log\n",
                                 "= 1\n"};
    for (const auto& text : cases) {
        auto c = parse_config(text, kDir);
        ASSERT_FALSE(c) << text.substr(0, 40);
        EXPECT_TRUE(c.error().code() == Errc::malformed_input ||
                    c.error().code() == Errc::invalid_argument)
            << c.error().message();
    }
}

TEST(ConfigTest, NestingBoundIgnoresDotsInsideStringsAndComments) {
    std::string ok = "# " + std::string(500, '.') +
                     "\n[instance]\nname = \"x\" # ...\n[token]\nmodule_path = \"/" +
                     std::string(200, '.') + "\"\nuri = '''pkcs11:token=a'''\n";
    auto c = parse_config(ok, kDir);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->token.module_path, "/" + std::string(200, '.'));
}

TEST(ConfigTest, TextOverOneMebibyteIsTooLarge) {
    std::string text(kMaxConfigBytes + 1, '#');
    auto c = parse_config(text, kDir);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), Errc::too_large);
}

TEST(ConfigTest, LoadsAFileUpToOneMebibyte) {
    TempDir dir;
    const auto file = dir.path() / "enclave.toml";
    std::string text = render_config(default_config(dir.path()));
    text += "#" + std::string(kMaxConfigBytes - text.size() - 2, 'x') + "\n";
    ASSERT_EQ(text.size(), kMaxConfigBytes);
    std::ofstream(file, std::ios::binary) << text;
    auto c = load_config(file, dir.path());
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(*c, default_config(dir.path()));

    std::ofstream(file, std::ios::binary | std::ios::app) << "\n";
    auto big = load_config(file, dir.path());
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().code(), Errc::too_large);
}

TEST(ConfigTest, LoadErrorsNameTheFile) {
    TempDir dir;
    auto missing = load_config(dir.path() / "nope.toml", dir.path());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_NE(missing.error().context().find("nope.toml"), std::string::npos);

    auto directory = load_config(dir.path(), dir.path());
    ASSERT_FALSE(directory);
    EXPECT_EQ(directory.error().code(), Errc::invalid_argument);

    const auto bad = dir.path() / "bad.toml";
    std::ofstream(bad) << "[listeners.lea]\nport = 0\n";
    auto invalid = load_config(bad, dir.path());
    ASSERT_FALSE(invalid);
    EXPECT_NE(invalid.error().context().find("bad.toml"), std::string::npos);
    EXPECT_NE(invalid.error().context().find("listeners.lea.port"), std::string::npos);
}

TEST(ConfigTest, AdminSocketPathMustFitAfUnix) {
    const std::filesystem::path long_dir = "/" + std::string(120, 'd');
    auto c = parse_config("", long_dir);
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().context().find("admin.socket: resolved path"), std::string::npos)
        << c.error().message();
    auto fixed = parse_config("[admin]\nsocket = \"/run/enclave.sock\"\n", long_dir);
    EXPECT_TRUE(fixed) << fixed.error().message();
}

}  // namespace
}  // namespace enclave::appliance
