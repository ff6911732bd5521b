// SPDX-License-Identifier: Apache-2.0
// `enclavectl init --pkcs11-uri URI --pin-file F`: an existing token (a
// SoftHSM2 token made by the test fixture stands in for a real HSM).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "appliance/provision.hpp"
#include "instance_check.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::appliance {
namespace {

namespace fs = std::filesystem;
using crypto::Errc;
using enclave::testing::SoftHsmToken;
using enclave::testing::TempDir;
using testing::snapshot;

// A fixture token whose module is released again, so provisioning can load
// it (one PKCS#11 module per process). SOFTHSM2_CONF stays pointed at it.
std::unique_ptr<SoftHsmToken> existing_token() {
    SoftHsmToken::Options o;
    o.label = "existing-hsm";
    o.open_pool = false;
    auto t = std::make_unique<SoftHsmToken>(o);
    t->release_module();
    return t;
}

ProvisionOptions options_for(const SoftHsmToken& t, const fs::path& dir) {
    ProvisionOptions o;
    o.data_dir = dir;
    o.pkcs11_uri = t.uri();
    o.pin_file = t.pin_file();
    return o;
}

std::set<std::string> labels_on(const fs::path& instance) {
    std::set<std::string> out;
    auto t = testing::open_instance_token(instance);
    EXPECT_TRUE(t);
    if (!t) return out;
    for (const auto& o : testing::list_objects(*t->pool)) {
        out.insert(o.label);
        if (o.cls != CKO_PUBLIC_KEY) {
            EXPECT_FALSE(o.extractable) << o.label;
            EXPECT_TRUE(o.sensitive) << o.label;
        }
    }
    return out;
}

// "class:label:sensitive:extractable" of every object on the fixture token,
// read in this process (the module is released again afterwards).
std::multiset<std::string> objects_on(const SoftHsmToken& t) {
    std::multiset<std::string> out;
    auto module = hsm::Module::load_path(t.module_path());
    EXPECT_TRUE(module) << module.error().message();
    if (!module) return out;
    auto token = (*module)->find_token(*hsm::Uri::parse(t.uri()));
    auto pin = hsm::read_pin_file(t.pin_file());
    EXPECT_TRUE(token && pin);
    if (!token || !pin) return out;
    auto pool = hsm::SessionPool::open(*module, *token, std::move(*pin));
    EXPECT_TRUE(pool);
    if (!pool) return out;
    for (const auto& o : testing::list_objects(**pool)) {
        out.insert(std::to_string(o.cls) + ":" + o.label + ":" + std::to_string(o.sensitive) + ":" +
                   std::to_string(o.extractable));
    }
    return out;
}

TEST(ProvisionExistingTokenTest, UsesTheTokenAndReferencesItsPinFile) {
    auto token = existing_token();
    TempDir tmp;
    const fs::path dir = tmp.path() / "var";
    auto r = provision_instance(options_for(*token, dir));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_FALSE(r->own_softhsm);
    EXPECT_EQ(r->token.label, "existing-hsm");
    for (const char* absent : {"token.pin", "token.so-pin", "softhsm2.conf", "tokens"}) {
        EXPECT_FALSE(fs::exists(dir / absent)) << absent;
    }
    auto c = load_config(dir / "enclave.toml", dir);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->token.uri, token->uri());
    EXPECT_EQ(c->token.module_path, "");
    EXPECT_EQ(c->token.pin_source.to_string(), "file:" + token->pin_file().string());
    EXPECT_EQ(labels_on(dir), (std::set<std::string>{"kek", "audit-signing", "lea-tls", "ingest-tls",
                                                     "admin-tls", "lea-client-tls", "enclave-tsa"}));
    ASSERT_EQ(r->warnings.size(), 1u);  // the demo PKI; no SO PIN file
}

TEST(ProvisionExistingTokenTest, ATokenThatAlreadyHoldsOurKeysIsRefusedUntouched) {
    auto token = existing_token();
    TempDir tmp;
    ASSERT_TRUE(provision_instance(options_for(*token, tmp.path() / "first")));
    const auto token_files = snapshot(token->dir());
    const auto objects = objects_on(*token);
    ASSERT_EQ(objects.size(), 13u);  // 6 pairs (the archive's TSA among them) and the KEK
    auto second = provision_instance(options_for(*token, tmp.path() / "second"));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Errc::already_exists);
    EXPECT_NE(second.error().context().find("already holds a key labelled 'kek'"),
              std::string::npos)
        << second.error().message();
    EXPECT_FALSE(fs::exists(tmp.path() / "second"));
    // The key objects are exactly as before. SoftHSM rewrites its token
    // metadata file (token.object) on every login, which the label check
    // needs; no key object file changes and none appears.
    EXPECT_EQ(objects_on(*token), objects);
    for (const auto& changed : testing::changed_paths(token_files, snapshot(token->dir()))) {
        EXPECT_EQ(changed.substr(0, 1), "~") << changed;
        EXPECT_EQ(fs::path(changed).filename(), "token.object") << changed;
    }
}

TEST(ProvisionExistingTokenTest, AWrongPinIsAClearErrorAndNothingIsCreated) {
    auto token = existing_token();
    TempDir tmp;
    const fs::path wrong = tmp.path() / "wrong.pin";
    std::ofstream(wrong) << "000000000000\n";
    ::chmod(wrong.c_str(), 0600);
    ProvisionOptions o = options_for(*token, tmp.path() / "var");
    o.pin_file = wrong;
    auto r = provision_instance(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hsm_pin_incorrect);
    EXPECT_NE(r.error().context().find("rejected the PIN from " + wrong.string()),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(r.error().message().find("000000000000"), std::string::npos);
    EXPECT_FALSE(fs::exists(tmp.path() / "var"));
}

TEST(ProvisionExistingTokenTest, BadPinFilesAndUrisAreRefusedBeforeAnythingIsCreated) {
    auto token = existing_token();
    TempDir tmp;
    const fs::path open_pin = tmp.path() / "open.pin";
    std::ofstream(open_pin) << "1234\n";
    ::chmod(open_pin.c_str(), 0644);  // readable by others: refused
    std::vector<ProvisionOptions> bad(6, options_for(*token, tmp.path() / "var"));
    bad[0].pin_file = tmp.path() / "missing.pin";
    bad[1].pin_file = open_pin;
    bad[2].pin_file = "";
    bad[3].pkcs11_uri = token->uri() + "&pin-value=1234";
    bad[4].pkcs11_uri = "pkcs11:token=existing-hsm;object=kek";
    bad[5].token_label = "x";
    for (const auto& o : bad) {
        auto r = provision_instance(o);
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().code(), Errc::internal) << r.error().message();
        EXPECT_EQ(r.error().message().find("1234"), std::string::npos) << r.error().message();
        EXPECT_FALSE(fs::exists(tmp.path() / "var")) << r.error().message();
    }
}

TEST(ProvisionExistingTokenTest, AHalfWayFailureDestroysTheKeysItMade) {
    auto token = existing_token();
    TempDir tmp;
    for (auto step : {ProvisionStep::keys, ProvisionStep::pki, ProvisionStep::config}) {
        ProvisionOptions o = options_for(*token, tmp.path() / "var");
        o.fail_after = step;
        auto r = provision_instance(o);
        ASSERT_FALSE(r);
        EXPECT_NE(r.error().context().find("everything this run created was removed"),
                  std::string::npos)
            << r.error().message();
        EXPECT_FALSE(fs::exists(tmp.path() / "var"));
    }
    // The token is as it was: a normal run now succeeds.
    auto r = provision_instance(options_for(*token, tmp.path() / "var"));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(labels_on(tmp.path() / "var").size(), 7u);
}

}  // namespace
}  // namespace enclave::appliance
