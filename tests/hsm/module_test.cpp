// SPDX-License-Identifier: Apache-2.0
#include "hsm/module.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "hsm/token_admin.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::SoftHsmToken;

SoftHsmToken::Options no_pool() {
    SoftHsmToken::Options o;
    o.open_pool = false;
    return o;
}

TEST(ModuleTest, LoadsSoftHsmByPathAndDescribesIt) {
    SoftHsmToken token(no_pool());
    const ModuleInfo& info = token.module()->info();
    EXPECT_EQ(info.manufacturer, "SoftHSM");
    EXPECT_EQ(info.library_version.major, 2);
    EXPECT_FALSE(info.path.empty());
    auto tokens = token.module()->tokens();
    ASSERT_TRUE(tokens) << tokens.error().message();
    // SoftHSM keeps one uninitialised token beside ours.
    ASSERT_EQ(tokens->size(), 2u);
    auto found = token.module()->find_token(token.token().uri());
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->label, token.label());
    EXPECT_EQ(found->model, "SoftHSM v2");
    EXPECT_TRUE(found->initialized());
    EXPECT_NE(found->flags & CKF_USER_PIN_INITIALIZED, 0u);
    EXPECT_TRUE(token.module()->check_usable());
}

TEST(ModuleTest, AllowsOneModulePerProcess) {
    SoftHsmToken token(no_pool());
    auto second = Module::load_path(token.module_path());
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Errc::already_exists);
    token.release_module();
    auto again = Module::load_path(token.module_path());
    ASSERT_TRUE(again) << again.error().message();
}

TEST(ModuleTest, MissingTokenIsAClearDistinctError) {
    SoftHsmToken token(no_pool());
    auto uri = Uri::parse("pkcs11:token=no-such-token;serial=0000");
    ASSERT_TRUE(uri);
    auto r = token.module()->find_token(*uri);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::hsm_token_not_found);
    EXPECT_NE(r.error().message().find("no-such-token"), std::string::npos) << r.error().message();
    // It lists what is there, to help the operator.
    EXPECT_NE(r.error().message().find(token.label()), std::string::npos) << r.error().message();
    Uri wrong_library = token.token().uri();
    wrong_library.library_manufacturer = "Someone Else";
    EXPECT_EQ(token.module()->find_token(wrong_library).error().code(), Errc::hsm_token_not_found);
}

TEST(ModuleTest, RefusesBadModulePaths) {
    testing::TempDir dir;
    EXPECT_EQ(Module::load_path("libsofthsm2.so").error().code(), Errc::invalid_argument);
    EXPECT_EQ(Module::load_path((dir.path() / "absent.so").string()).error().code(),
              Errc::hsm_module);
    EXPECT_EQ(Module::load_path(dir.path().string()).error().code(), Errc::hsm_module);
    // A library others could have written is not loaded.
    const auto copy = dir.path() / "copy.so";
    std::filesystem::copy_file(testing::softhsm_module_path(), copy);
    ::chmod(copy.c_str(), 0664);
    auto writable = Module::load_path(copy.string());
    ASSERT_FALSE(writable);
    EXPECT_EQ(writable.error().code(), Errc::hsm_module);
    EXPECT_NE(writable.error().message().find("writable"), std::string::npos);
    // Not a PKCS#11 module at all.
    const auto junk = dir.path() / "junk.so";
    std::ofstream(junk) << "not an ELF file";
    ::chmod(junk.c_str(), 0644);
    auto bad = Module::load_path(junk.string());
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::hsm_module);
}

TEST(ModuleTest, LoadsTheConfiguredModuleNamedInTheUri) {
    SoftHsmToken token(no_pool());
    token.release_module();
    // softhsm2 is configured in /usr/share/p11-kit/modules; SOFTHSM2_CONF
    // still points at the fixture's token directory.
    auto uri = Uri::parse("pkcs11:token=" + token.label() + "?module-name=softhsm2");
    ASSERT_TRUE(uri);
    auto module = Module::load_for_uri(*uri);
    ASSERT_TRUE(module) << module.error().message();
    EXPECT_EQ((*module)->info().config_name, "softhsm2");
    EXPECT_TRUE((*module)->find_token(*uri));
}

TEST(ModuleTest, FindsTheTokenAcrossConfiguredModules) {
    SoftHsmToken token(no_pool());
    token.release_module();
    auto uri = Uri::parse("pkcs11:token=" + token.label());
    ASSERT_TRUE(uri);
    auto module = Module::load_for_uri(*uri);
    ASSERT_TRUE(module) << module.error().message();
    EXPECT_EQ((*module)->info().manufacturer, "SoftHSM");
    module->reset();
    auto nowhere = Uri::parse("pkcs11:token=nowhere-to-be-found");
    auto none = Module::load_for_uri(*nowhere);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), Errc::hsm_token_not_found);
    EXPECT_NE(none.error().message().find("softhsm2"), std::string::npos) << none.error().message();
    // p11-kit-trust holds certificates only and is never initialised for keys.
    EXPECT_EQ(none.error().message().find("p11-kit-trust"), std::string::npos)
        << none.error().message();
    auto unknown = Uri::parse("pkcs11:token=x?module-name=not-configured");
    EXPECT_EQ(Module::load_for_uri(*unknown).error().code(), Errc::hsm_module);
}

TEST(ModuleTest, TokenInitialisationRefusesToWipeOrDuplicate) {
    SoftHsmToken token(no_pool());
    const auto& module = token.module();
    auto pin = crypto::Secret::copy_of(crypto::as_bytes("123456"));
    auto wipe = initialize_token(module, token.token().slot_id, "other", pin, pin);
    ASSERT_FALSE(wipe);
    EXPECT_EQ(wipe.error().code(), Errc::already_exists);
    auto slot = module->free_slot();
    ASSERT_TRUE(slot);
    auto dup = initialize_token(module, *slot, token.label(), pin, pin);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::already_exists);
    EXPECT_EQ(initialize_token(module, *slot, std::string(33, 'l'), pin, pin).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(initialize_token(module, *slot, "ok", crypto::Secret(), pin).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(initialize_token(module, 987654, "ok", pin, pin).error().code(),
              Errc::hsm_token_not_found);
    auto second = initialize_token(module, *slot, "second", pin, pin);
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(second->label, "second");
}

}  // namespace
}  // namespace enclave::hsm
