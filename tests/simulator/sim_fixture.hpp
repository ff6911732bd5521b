// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test fixture: a LEA simulator (file key, as the other party's) and a
// LeaClient whose key is on a fresh SoftHSM2 token, both under one test CA,
// over real loopback mutual TLS.

#include <openssl/x509.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "crypto/digest.hpp"
#include "delivery/hi1_deliver.hpp"
#include "delivery/lea_client.hpp"
#include "delivery/uuid.hpp"
#include "delivery/xml_handover.hpp"
#include "hsm/keygen.hpp"
#include "hsm/public_key.hpp"
#include "hsm/tls_context.hpp"
#include "hsm/tls_context_test_util.hpp"
#include "simulator/lea_simulator.hpp"
#include "support/paths.hpp"
#include "support/softhsm_token.hpp"

namespace enclave::testing {

template <class T>
T must(crypto::Result<T> r) {
    if (!r) throw std::runtime_error(r.error().message());
    return std::move(*r);
}

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// The official TS 103 120 v1.23.1 XML DELIVER example (read in place).
inline std::string example_delivery() {
    return read_file(shared_dir() / "etsi-examples/103120-v1.23.1/request5-XML-Delivery.xml");
}

/// A DELIVER message as enclaved builds it (one minimal handoverItem): valid
/// against the schema set the enclave-lea-sim program checks with (the
/// official XML example needs FooServiceSchema.xsd, which that set lacks).
inline std::string schema_valid_delivery() {
    delivery::HandoverItem item;
    item.timestamp = "2026-01-01T00:00:00Z";
    const std::string element = delivery::write_handover_item(item).value();
    delivery::DeliverySpec spec;
    spec.sender = {"XX", "CSP-1"};
    spec.reference = "LIID-SIM-1";
    spec.delivery_id = delivery::uuid_v4();
    return delivery::build_deliver_request(spec, std::vector<std::string>{element}).value();
}

/// The example with another DeliveryID (36 characters, a UUID).
inline std::string example_delivery_with_id(const std::string& id) {
    std::string xml = example_delivery();
    const std::string old = "d1079830-8e9a-4731-8fb7-36b9b961eb72";
    const auto pos = xml.find(old);
    if (pos == std::string::npos) throw std::runtime_error("example DeliveryID not found");
    return xml.replace(pos, old.size(), id);
}

inline crypto::Bytes spki_sha256_of_cert_file(const std::filesystem::path& pem) {
    FILE* f = std::fopen(pem.c_str(), "r");
    if (f == nullptr) throw std::runtime_error("open " + pem.string());
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (cert == nullptr) throw std::runtime_error("PEM_read_X509");
    unsigned char* der = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    crypto::Bytes out =
        crypto::digest(crypto::HashAlg::sha256, {der, static_cast<std::size_t>(len)});
    OPENSSL_free(der);
    X509_free(cert);
    return out;
}

struct SimFixture {
    SoftHsmToken token;
    PkiDir pki;
    TempDir store;
    std::unique_ptr<hsm::PrivateKeyResolver> resolver = hsm::make_key_resolver(token.pool(), true);

    SimFixture() {
        pki.issue_file_key("sim", TestKeyType::ec_p256, server_spec());
        auto ref =
            must(hsm::generate_ec_key_pair(*token.pool(), hsm::EcCurve::p256, {"lea-client", {}}));
        pki.issue_spki("client", must(hsm::export_public_key_spki(*token.pool(), ref)),
                       client_spec("enclave-lea-client"));
    }

    simulator::LeaSimulatorOptions sim_options() const {
        simulator::LeaSimulatorOptions o;
        o.tls = {pki.path("sim.pem"),
                 pki.path("sim.key").string(),
                 pki.path("ca.pem"),
                 {},
                 TLS1_2_VERSION};
        o.store = store.path();
        return o;
    }

    std::unique_ptr<simulator::LeaSimulator> start_sim() {
        return must(simulator::LeaSimulator::start(sim_options()));
    }

    hsm::SslCtxPtr client_ctx() {
        return must(hsm::make_client_context({pki.path("client.pem"),
                                              "pkcs11:object=lea-client;type=private",
                                              pki.path("ca.pem"),
                                              {},
                                              TLS1_2_VERSION},
                                             *resolver));
    }

    delivery::LeaClientOptions client_options(const simulator::LeaSimulator& sim) {
        delivery::LeaClientOptions o;
        o.base_url = sim.base_url() + "/hi1/delivery";
        o.tls = client_ctx();
        return o;
    }

    std::unique_ptr<delivery::LeaClient> client(const simulator::LeaSimulator& sim) {
        return must(delivery::LeaClient::create(client_options(sim)));
    }
};

}  // namespace enclave::testing
