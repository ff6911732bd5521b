// SPDX-License-Identifier: Apache-2.0
// `enclavectl init` with its own SoftHSM2 token: real files, a real token.
#include "appliance/provision.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <set>

#include "appliance/demo_pki.hpp"
#include "hsm/public_key.hpp"
#include "instance_check.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using enclave::testing::TempDir;
using testing::read_cert;
using testing::read_text;
using testing::snapshot;
using testing::verify_chain;

ProvisionResult provision_new(const fs::path& dir) {
    ProvisionOptions o;
    o.data_dir = dir;
    auto r = provision_instance(o);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : ProvisionResult{};
}

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

TEST(ProvisionTest, CreatesEveryFileWithTheRightMode) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    const ProvisionResult r = provision_new(dir);
    EXPECT_EQ(r.data_dir, dir);
    EXPECT_TRUE(r.own_softhsm);
    const std::map<std::string, mode_t> expected = {{".", 0700},
                                                    {"enclave.toml", 0644},
                                                    {"token.pin", 0600},
                                                    {"token.so-pin", 0600},
                                                    {"softhsm2.conf", 0600},
                                                    {"tokens", 0700},
                                                    {"run", 0700},
                                                    {"state", 0700},
                                                    {"pki", 0700},
                                                    {"pki/demo-ca.pem", 0644},
                                                    {"pki/demo-ca.key", 0600},
                                                    {"pki/lea-server.pem", 0644},
                                                    {"pki/ingest-server.pem", 0644},
                                                    {"pki/admin-server.pem", 0644},
                                                    {"pki/lea-client.pem", 0644},
                                                    {"pki/demo-lea.pem", 0644},
                                                    {"pki/demo-lea.key", 0600},
                                                    {"pki/demo-collector.pem", 0644},
                                                    {"pki/demo-collector.key", 0600},
                                                    {"pki/demo-lea-server.pem", 0644},
                                                    {"pki/demo-lea-server.key", 0600},
                                                    {"pki/lea-trust.pem", 0644},
                                                    {"pki/ingest-trust.pem", 0644},
                                                    {"pki/admin-trust.pem", 0644},
                                                    {"tsa.crt", 0644}};
    std::set<std::string> found{"."};
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        const std::string rel = e.path().lexically_relative(dir).string();
        if (rel.rfind("tokens/", 0) == 0) {  // SoftHSM's own files: private to us
            EXPECT_EQ(mode_of(e.path()) & 077, 0u) << rel;
            continue;
        }
        found.insert(rel);
    }
    std::set<std::string> want;
    for (const auto& [name, mode] : expected) {
        want.insert(name);
        EXPECT_EQ(mode_of(dir / name), mode) << name;
    }
    EXPECT_EQ(found, want);
    std::set<std::string> created;
    for (const auto& p : r.created) created.insert(p.string());
    EXPECT_EQ(created, want);
    EXPECT_EQ(read_text(dir / "token.pin").size(), 25u);  // 24 hex digits and a newline
    EXPECT_NE(read_text(dir / "token.pin"), read_text(dir / "token.so-pin"));
    EXPECT_NE(read_text(dir / "softhsm2.conf")
                  .find("directories.tokendir = " + (dir / "tokens").string()),
              std::string::npos);
    ASSERT_EQ(r.warnings.size(), 2u);
    EXPECT_NE(r.warnings[0].find("token.so-pin"), std::string::npos);
}

TEST(ProvisionTest, ConfigLoadsAndNamesTheInstance) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    const ProvisionResult r = provision_new(dir);
    auto c = load_config(dir / "enclave.toml", dir);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->token.module_path, find_softhsm_module());
    EXPECT_EQ(c->resolve(c->token.pin_source.value), dir / "token.pin");
    auto uri = hsm::Uri::parse(c->token.uri);
    ASSERT_TRUE(uri);
    EXPECT_EQ(uri->token, "enclave");
    EXPECT_EQ(uri->serial, r.token.serial);
    for (const auto* l : {&c->lea, &c->ingest, &c->admin.tls_listener}) {
        EXPECT_TRUE(fs::exists(c->resolve(l->tls.certificate))) << l->tls.certificate;
        EXPECT_TRUE(fs::exists(c->resolve(l->tls.trust_anchors))) << l->tls.trust_anchors;
    }
    EXPECT_TRUE(fs::exists(c->resolve(c->lea_client.certificate)));
    EXPECT_EQ(c->resolve(c->admin.socket), dir / "run/admin.sock");
    // Every key is in the file (render_config), not only the non-defaults.
    EXPECT_NE(read_text(dir / "enclave.toml").find("max_connections = 512"), std::string::npos);
}

TEST(ProvisionTest, TokenHoldsExactlyTheExpectedProtectedKeys) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    provision_new(dir);
    auto t = testing::open_instance_token(dir);
    ASSERT_TRUE(t);
    std::multiset<std::string> privates, publics, secrets;
    for (const auto& o : testing::list_objects(*t->pool)) {
        if (o.cls == CKO_PRIVATE_KEY || o.cls == CKO_SECRET_KEY) {
            EXPECT_TRUE(o.sensitive) << o.label;
            EXPECT_FALSE(o.extractable) << o.label;
            EXPECT_FALSE(o.value_readable) << o.label;
        }
        (o.cls == CKO_PRIVATE_KEY  ? privates
         : o.cls == CKO_PUBLIC_KEY ? publics
                                   : secrets)
            .insert(o.label);
        EXPECT_TRUE(o.cls == CKO_PRIVATE_KEY || o.cls == CKO_PUBLIC_KEY || o.cls == CKO_SECRET_KEY)
            << o.label;
    }
    const std::multiset<std::string> pairs{"audit-signing", "lea-tls", "ingest-tls", "admin-tls",
                                           "lea-client-tls", "enclave-tsa"};
    EXPECT_EQ(privates, pairs);
    EXPECT_EQ(publics, pairs);
    EXPECT_EQ(secrets, std::multiset<std::string>{"kek"});
    auto audit = hsm::find_key(
        *t->pool, hsm::KeyQuery::by_label("audit-signing", hsm::ObjectType::private_key));
    ASSERT_TRUE(audit);
    EXPECT_EQ(audit->key_type, hsm::KeyType::ed25519);
}

TEST(ProvisionTest, CertificatesCarryTheTokenKeysAndVerifyAgainstTheDemoCa) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    provision_new(dir);
    auto t = testing::open_instance_token(dir);
    ASSERT_TRUE(t);
    X509Ptr ca = read_cert(dir / "pki/demo-ca.pem");
    ASSERT_TRUE(ca);
    const struct {
        const char* file;
        const char* label;
        int purpose;
    } certs[] = {{"pki/lea-server.pem", "lea-tls", X509_PURPOSE_SSL_SERVER},
                 {"pki/ingest-server.pem", "ingest-tls", X509_PURPOSE_SSL_SERVER},
                 {"pki/admin-server.pem", "admin-tls", X509_PURPOSE_SSL_SERVER},
                 {"pki/lea-client.pem", "lea-client-tls", X509_PURPOSE_SSL_CLIENT}};
    for (const auto& c : certs) {
        SCOPED_TRACE(c.file);
        X509Ptr cert = read_cert(dir / c.file);
        ASSERT_TRUE(cert);
        auto key =
            hsm::find_key(*t->pool, hsm::KeyQuery::by_label(c.label, hsm::ObjectType::private_key));
        ASSERT_TRUE(key) << key.error().message();
        auto token_spki = hsm::export_public_key_spki(*t->pool, *key);
        ASSERT_TRUE(token_spki);
        EXPECT_EQ(*certificate_spki(*cert), *token_spki);
        EXPECT_EQ(verify_chain(*cert, *ca, c.purpose), "");
    }
    for (const char* client : {"pki/demo-lea.pem", "pki/demo-collector.pem"}) {
        X509Ptr cert = read_cert(dir / client);
        ASSERT_TRUE(cert);
        EXPECT_EQ(verify_chain(*cert, *ca, X509_PURPOSE_SSL_CLIENT), "") << client;
        EXPECT_NE(verify_chain(*cert, *ca, X509_PURPOSE_SSL_SERVER), "") << client;
    }
    for (const char* bundle :
         {"pki/lea-trust.pem", "pki/ingest-trust.pem", "pki/admin-trust.pem"}) {
        EXPECT_EQ(read_text(dir / bundle), read_text(dir / "pki/demo-ca.pem")) << bundle;
    }
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "Enclave DEMO CA - not for production");
}

// No private key of a listener (or of the outbound client) exists as a file:
// the only PEM private keys under DIR are the demo CA's and the three demo
// parties', and none of them belongs to a listener certificate.
TEST(ProvisionTest, NoListenerPrivateKeyExistsUnderTheDataDir) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    provision_new(dir);
    std::vector<crypto::Bytes> listener_spkis;
    for (const char* f :
         {"lea-server.pem", "ingest-server.pem", "admin-server.pem", "lea-client.pem"}) {
        X509Ptr cert = read_cert(dir / "pki" / f);
        ASSERT_TRUE(cert);
        listener_spkis.push_back(*certificate_spki(*cert));
    }
    std::set<std::string> key_files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const std::string text = read_text(e.path());
        if (text.find("PRIVATE KEY") == std::string::npos) continue;
        const std::string rel = e.path().lexically_relative(dir).string();
        key_files.insert(rel);
        auto key = private_key_from_pem(crypto::Secret::copy_of(crypto::as_bytes(text)));
        ASSERT_TRUE(key) << rel;
        auto spki = public_key_spki(**key);
        ASSERT_TRUE(spki);
        for (const auto& listener : listener_spkis) EXPECT_NE(*spki, listener) << rel;
    }
    EXPECT_EQ(key_files, (std::set<std::string>{"pki/demo-ca.key", "pki/demo-lea.key",
                                                "pki/demo-collector.key",
                                                "pki/demo-lea-server.key"}));
}

TEST(ProvisionTest, InitTwiceRefusesAndChangesNothing) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    provision_new(dir);
    const auto before = snapshot(dir);
    ASSERT_GT(before.size(), 20u);
    ProvisionOptions o;
    o.data_dir = dir;
    auto again = provision_instance(o);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code(), Errc::already_exists);
    EXPECT_NE(again.error().context().find("already holds an Enclave instance"), std::string::npos);
    EXPECT_NE(again.error().context().find("nothing was changed"), std::string::npos);
    // Every byte and mode, token files included.
    EXPECT_EQ(testing::changed_paths(before, snapshot(dir)), std::vector<std::string>{});
    // And the token still opens with the same keys.
    auto t = testing::open_instance_token(dir);
    ASSERT_TRUE(t);
    EXPECT_EQ(testing::list_objects(*t->pool).size(), 13u);
}

TEST(ProvisionTest, RefusesNonEmptyOrPartialDirectories) {
    TempDir tmp;
    const fs::path partial = tmp.path() / "partial";
    fs::create_directory(partial);
    std::ofstream(partial / "token.pin") << "x\n";
    const fs::path other = tmp.path() / "other";
    fs::create_directory(other);
    std::ofstream(other / "notes.txt") << "mine\n";
    const fs::path file = tmp.path() / "file";
    std::ofstream(file) << "x";
    const struct {
        fs::path dir;
        const char* says;
    } cases[] = {
        {partial, "an interrupted init"}, {other, "is not empty"}, {file, "not a directory"}};
    for (const auto& c : cases) {
        const auto before = snapshot(tmp.path());
        ProvisionOptions o;
        o.data_dir = c.dir;
        auto r = provision_instance(o);
        ASSERT_FALSE(r) << c.dir;
        EXPECT_EQ(r.error().code(), Errc::already_exists);
        EXPECT_NE(r.error().context().find(c.says), std::string::npos) << r.error().message();
        EXPECT_EQ(testing::changed_paths(before, snapshot(tmp.path())), std::vector<std::string>{});
    }
}

TEST(ProvisionTest, AnEmptyExistingDirectoryIsUsedAndTightened) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    fs::create_directory(dir);
    ::chmod(dir.c_str(), 0755);
    provision_new(dir);
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_TRUE(fs::exists(dir / "enclave.toml"));
}

TEST(ProvisionTest, ChosenTokenLabelIsUsed) {
    TempDir tmp;
    ProvisionOptions o;
    o.data_dir = tmp.path() / "var";
    o.token_label = "lab-token";
    auto r = provision_instance(o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->token.label, "lab-token");
    auto c = load_config(o.data_dir / "enclave.toml", o.data_dir);
    ASSERT_TRUE(c);
    EXPECT_EQ(hsm::Uri::parse(c->token.uri)->token, "lab-token");
}

TEST(ProvisionTest, BadOptionsAreRefusedBeforeAnythingIsCreated) {
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    std::vector<ProvisionOptions> bad(5);
    for (auto& o : bad) o.data_dir = dir;
    bad[0].data_dir = "";
    bad[1].pin_file = tmp.path() / "pin";  // without --pkcs11-uri
    bad[2].token_label = std::string(33, 'x');
    bad[3].softhsm_module = "/nonexistent/libsofthsm2.so";  // fails after files: cleaned up
    bad[4].data_dir = tmp.path() / std::string(100, 'd');   // admin socket path too long
    for (const auto& o : bad) {
        auto r = provision_instance(o);
        ASSERT_FALSE(r);
        EXPECT_FALSE(fs::exists(dir)) << r.error().message();
        EXPECT_FALSE(fs::exists(o.data_dir)) << r.error().message();
    }
}

}  // namespace

// gtest prints the parameter with this (ADL), e.g. in ctest names.
void PrintTo(ProvisionStep step, std::ostream* os) { *os << static_cast<int>(step); }

namespace {

std::string step_name(const ::testing::TestParamInfo<ProvisionStep>& step) {
    static const char* const kNames[] = {"files", "token", "keys", "pki", "config"};
    return std::string("after_") + kNames[static_cast<int>(step.param)];
}

class ProvisionFailureTest : public ::testing::TestWithParam<ProvisionStep> {};

// A run that fails after any step leaves nothing behind, and the next run works.
TEST_P(ProvisionFailureTest, HalfWayFailureRemovesWhatTheRunCreated) {
    TempDir tmp;
    const fs::path fresh = tmp.path() / "fresh";
    const fs::path existing = tmp.path() / "existing";
    fs::create_directory(existing);
    ::chmod(existing.c_str(), 0750);
    for (const fs::path& dir : {fresh, existing}) {
        ProvisionOptions o;
        o.data_dir = dir;
        o.fail_after = GetParam();
        auto r = provision_instance(o);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), Errc::internal);
        EXPECT_NE(r.error().context().find("everything this run created was removed"),
                  std::string::npos)
            << r.error().message();
    }
    EXPECT_FALSE(fs::exists(fresh));
    EXPECT_TRUE(fs::is_empty(existing));
    EXPECT_EQ(mode_of(existing), 0750u);
    EXPECT_EQ(std::getenv("SOFTHSM2_CONF"), nullptr);
    provision_new(fresh);
    EXPECT_TRUE(fs::exists(fresh / "enclave.toml"));
}

INSTANTIATE_TEST_SUITE_P(Steps, ProvisionFailureTest,
                         ::testing::Values(ProvisionStep::files, ProvisionStep::token,
                                           ProvisionStep::keys, ProvisionStep::pki,
                                           ProvisionStep::config),
                         step_name);

}  // namespace
}  // namespace enclave::appliance
