// SPDX-License-Identifier: Apache-2.0
// The listeners' private keys live on the token and nowhere else: the key
// the LEA listener proves possession of in the handshake is a token key with
// CKA_EXTRACTABLE false, and no file under the data directory holds the
// private half of any listener certificate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "harness/instance.hpp"
#include "harness/pki_files.hpp"
#include "hsm/module.hpp"
#include "hsm/object.hpp"
#include "hsm/pin.hpp"
#include "hsm/public_key.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::daemon_test {
namespace {

struct TokenFacts {
    crypto::Bytes spki;
    bool extractable = true;
    bool sensitive = false;
};

bool flag(hsm::Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL v = CK_TRUE;
    CK_ATTRIBUTE a{type, &v, sizeof v};
    EXPECT_EQ(s.fn()->C_GetAttributeValue(s.handle(), h, &a, 1), static_cast<CK_RV>(CKR_OK));
    return v == CK_TRUE;
}

// Opens the instance's own token in this process, as the daemon does.
TokenFacts token_key(const TestInstance& inst, const std::string& label) {
    const auto& cfg = const_cast<TestInstance&>(inst).config();
    ::setenv("SOFTHSM2_CONF", (inst.dir() / "softhsm2.conf").c_str(), 1);
    auto module = hsm::Module::load_path(cfg.token.module_path);
    if (!module) throw std::runtime_error(module.error().message());
    auto uri = hsm::Uri::parse(cfg.token.uri);
    auto token = (*module)->find_token(*uri);
    if (!token) throw std::runtime_error(token.error().message());
    auto pin = hsm::read_pin_file(inst.dir() / "token.pin");
    if (!pin) throw std::runtime_error(pin.error().message());
    auto pool = hsm::SessionPool::open(*module, *token, std::move(*pin));
    if (!pool) throw std::runtime_error(pool.error().message());
    auto key = hsm::find_key(**pool, hsm::KeyQuery::by_label(label, hsm::ObjectType::private_key));
    if (!key) throw std::runtime_error(key.error().message());
    TokenFacts facts;
    auto spki = hsm::export_public_key_spki(**pool, *key);
    if (!spki) throw std::runtime_error(spki.error().message());
    facts.spki = *spki;
    auto lease = (*pool)->acquire();
    auto handle = hsm::find_key_handle(lease->session(), key->query(), *token);
    if (!handle) throw std::runtime_error(handle.error().message());
    facts.extractable = flag(lease->session(), *handle, CKA_EXTRACTABLE);
    facts.sensitive = flag(lease->session(), *handle, CKA_SENSITIVE);
    return facts;
}

TEST(TokenKeyTest, TheLeaListenerSignsWithANonExtractableTokenKey) {
    TestInstance inst;
    auto daemon = inst.start_ready();
    TlsConnection c(inst.lea_port(), inst.lea_client());
    ASSERT_TRUE(c.ok()) << c.error() << "\n" << inst.log();
    ASSERT_EQ(c.request("GET", "/v1/whoami").status, 200);  // the handshake really completed
    const auto presented = c.peer_certificate();
    ASSERT_TRUE(presented);
    const TokenFacts facts = token_key(inst, "lea-tls");
    EXPECT_EQ(spki_der(presented.get()), facts.spki)
        << "the certificate the LEA listener presented is not for the token key lea-tls";
    EXPECT_FALSE(facts.extractable);
    EXPECT_TRUE(facts.sensitive);
}

TEST(TokenKeyTest, NoListenerPrivateKeyExistsUnderTheDataDirectory) {
    TestInstance inst;
    auto daemon = inst.start_ready();  // whatever the daemon writes at run time counts too
    std::set<crypto::Bytes> listener_keys;
    for (const char* cert :
         {"lea-server.pem", "ingest-server.pem", "admin-server.pem", "lea-client.pem"}) {
        listener_keys.insert(spki_der(read_certificate(inst.pki(cert)).get()));
    }
    ASSERT_EQ(listener_keys.size(), 4u);
    std::size_t files = 0;
    std::size_t private_keys = 0;
    int undecodable = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(inst.dir())) {
        if (!entry.is_regular_file()) continue;
        ++files;
        for (const auto& pub : private_keys_in_file(entry.path(), undecodable)) {
            ++private_keys;
            EXPECT_EQ(listener_keys.count(pub), 0u)
                << entry.path() << " holds the private key of a listener certificate";
        }
    }
    EXPECT_GT(files, 10u);
    // The scan does find private keys: the demo CA and the three demo peers
    // (LEA client, LEA server for the simulator, collector: file keys by
    // design, they stand for other parties).
    EXPECT_EQ(private_keys, 4u);
    EXPECT_EQ(undecodable, 0) << "a private key file the scan could not check";
}

}  // namespace
}  // namespace enclave::daemon_test
