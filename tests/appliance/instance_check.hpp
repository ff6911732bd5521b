// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helpers for provisioned instances: a byte-exact snapshot of a
// directory tree, the token of an instance opened the way enclaved would,
// and the key objects on a token with their protection flags.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/config.hpp"
#include "hsm/module.hpp"
#include "hsm/object.hpp"
#include "hsm/pin.hpp"
#include "hsm/session_pool.hpp"
#include "pki_check.hpp"

namespace enclave::appliance::testing {

/// path (relative) -> "mode:type:content" for every entry under `root`.
inline std::map<std::string, std::string> snapshot(const std::filesystem::path& root) {
    std::map<std::string, std::string> out;
    if (!std::filesystem::exists(root)) return out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
        struct stat st {};
        ::lstat(e.path().c_str(), &st);
        std::string v = std::to_string(st.st_mode & 07777) + (e.is_directory() ? ":d:" : ":f:");
        if (e.is_regular_file()) v += read_text(e.path());
        out[e.path().lexically_relative(root).string()] = std::move(v);
    }
    return out;
}

/// Paths whose mode, type or content differ between two snapshots, or that
/// exist in only one of them (empty = identical).
inline std::vector<std::string> changed_paths(const std::map<std::string, std::string>& a,
                                              const std::map<std::string, std::string>& b) {
    std::vector<std::string> out;
    for (const auto& [path, value] : a) {
        auto it = b.find(path);
        if (it == b.end()) {
            out.push_back("-" + path);
        } else if (it->second != value) {
            out.push_back("~" + path);
        }
    }
    for (const auto& [path, value] : b) {
        if (a.count(path) == 0) out.push_back("+" + path);
    }
    return out;
}

/// One key object as the token reports it.
struct TokenObject {
    CK_OBJECT_CLASS cls = 0;
    std::string label;
    bool sensitive = false;
    bool extractable = true;
    bool value_readable = true;  ///< CKA_VALUE could be read (must be false for secrets)
};

inline std::vector<TokenObject> list_objects(hsm::SessionPool& pool) {
    std::vector<TokenObject> out;
    auto lease = pool.acquire();
    EXPECT_TRUE(lease) << lease.error().message();
    if (!lease) return out;
    const hsm::Session& s = lease->session();
    auto handles = hsm::find_objects(s, {});
    EXPECT_TRUE(handles);
    for (CK_OBJECT_HANDLE h : *handles) {
        TokenObject o;
        char label[256] = {};
        CK_ATTRIBUTE a[] = {{CKA_CLASS, &o.cls, sizeof o.cls},
                            {CKA_LABEL, label, sizeof label - 1}};
        EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), h, a, 2), CKR_OK);
        o.label.assign(label, a[1].ulValueLen);
        if (o.cls == CKO_PRIVATE_KEY || o.cls == CKO_SECRET_KEY) {
            CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
            CK_ATTRIBUTE f[] = {{CKA_SENSITIVE, &sensitive, 1}, {CKA_EXTRACTABLE, &extractable, 1}};
            EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), h, f, 2), CKR_OK);
            o.sensitive = sensitive == CK_TRUE;
            o.extractable = extractable == CK_TRUE;
            std::uint8_t buf[512];
            CK_ATTRIBUTE v{CKA_VALUE, buf, sizeof buf};
            o.value_readable = s.fn()->C_GetAttributeValue(s.handle(), h, &v, 1) == CKR_OK;
        }
        out.push_back(std::move(o));
    }
    return out;
}

/// The token of a provisioned instance, opened from its config as enclaved
/// would (SOFTHSM2_CONF for the instance's own SoftHSM, the PIN from its
/// pin_source file).
struct InstanceToken {
    Config config;
    std::shared_ptr<hsm::Module> module;
    std::shared_ptr<hsm::SessionPool> pool;
};

inline std::unique_ptr<InstanceToken> open_instance_token(const std::filesystem::path& dir) {
    auto config = load_config(dir / "enclave.toml", dir);
    EXPECT_TRUE(config) << config.error().message();
    if (!config) return nullptr;
    auto t = std::make_unique<InstanceToken>();
    t->config = *config;
    if (std::filesystem::exists(dir / "softhsm2.conf")) {
        ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
    }
    auto uri = hsm::Uri::parse(t->config.token.uri);
    EXPECT_TRUE(uri);
    auto module = t->config.token.module_path.empty()
                      ? hsm::Module::load_for_uri(*uri)
                      : hsm::Module::load_path(t->config.token.module_path);
    EXPECT_TRUE(module) << module.error().message();
    if (!module) return nullptr;
    t->module = *module;
    auto token = t->module->find_token(*uri);
    EXPECT_TRUE(token) << token.error().message();
    auto pin = hsm::read_pin_file(t->config.resolve(t->config.token.pin_source.value));
    EXPECT_TRUE(pin) << pin.error().message();
    if (!token || !pin) return nullptr;
    auto pool = hsm::SessionPool::open(t->module, *token, std::move(*pin));
    EXPECT_TRUE(pool) << pool.error().message();
    if (!pool) return nullptr;
    t->pool = *pool;
    return t;
}

}  // namespace enclave::appliance::testing
