// SPDX-License-Identifier: Apache-2.0
// The demo PKI of a new instance (DIR/pki). The demo CA's key is a file: it
// exists only to issue demo certificates. The listener and LEA-client
// certificates carry the token keys' public halves; their private halves
// never leave the token. The demo LEA and collector identities stand for
// other parties, so their keys are ordinary files.
#include "appliance/demo_pki.hpp"
#include "provision_detail.hpp"

namespace enclave::appliance::detail {

using crypto::Result;

namespace {

constexpr int kLeafDays = 365;
constexpr int kCaDays = 5 * 365 + 1;

Result<void> write_cert(const std::filesystem::path& path, const X509& cert, Rollback& rb) {
    auto pem = certificate_to_pem(cert);
    if (!pem) return tl::unexpected(pem.error());
    return write_new_file(path, crypto::as_bytes(*pem), 0644, rb);
}

Result<void> write_key(const std::filesystem::path& path, const EVP_PKEY& key, Rollback& rb) {
    auto pem = private_key_to_pem(key);
    if (!pem) return tl::unexpected(pem.error());
    return write_new_file(path, pem->view(), 0600, rb);
}

CertProfile leaf(std::string cn, CertUsage usage) {
    CertProfile p;
    p.common_name = std::move(cn);
    p.usage = usage;
    p.validity_days = kLeafDays;
    if (usage == CertUsage::server) {
        p.dns_names = {"localhost"};
        p.ip_addresses = {"127.0.0.1", "::1"};
    }
    return p;
}

// A certificate for a token key (its SPKI), issued by the demo CA.
Result<void> issue_for_token_key(const std::filesystem::path& path, X509& ca, EVP_PKEY& ca_key,
                                 const crypto::Bytes& spki, const CertProfile& profile,
                                 Rollback& rb) {
    auto pub = public_key_from_spki(spki);
    if (!pub) return tl::unexpected(pub.error());
    auto cert = issue_certificate(ca, ca_key, **pub, profile);
    if (!cert) return tl::unexpected(cert.error());
    return write_cert(path, **cert, rb);
}

// A demo party with its own file key: NAME.key (0600) and NAME.pem.
Result<void> issue_demo_party(const std::filesystem::path& dir, const std::string& name, X509& ca,
                              EVP_PKEY& ca_key, const CertProfile& profile, Rollback& rb) {
    auto key = generate_p256_key();
    if (!key) return tl::unexpected(key.error());
    auto cert = issue_certificate(ca, ca_key, **key, profile);
    if (!cert) return tl::unexpected(cert.error());
    if (auto ok = write_key(dir / (name + ".key"), **key, rb); !ok) return ok;
    return write_cert(dir / (name + ".pem"), **cert, rb);
}

}  // namespace

Result<void> build_demo_pki(const std::filesystem::path& pki, const TokenTlsKeys& keys,
                            Rollback& rb) {
    if (auto ok = make_private_dir(pki, rb); !ok) return ok;
    auto ca_key = generate_p256_key();
    if (!ca_key) return tl::unexpected(ca_key.error());
    CertProfile ca_profile;
    ca_profile.common_name = std::string(kDemoCaCommonName);
    ca_profile.usage = CertUsage::ca;
    ca_profile.validity_days = kCaDays;
    auto ca = make_ca_certificate(**ca_key, ca_profile);
    if (!ca) return tl::unexpected(ca.error());
    if (auto ok = write_key(pki / "demo-ca.key", **ca_key, rb); !ok) return ok;
    if (auto ok = write_cert(pki / "demo-ca.pem", **ca, rb); !ok) return ok;

    const struct {
        const char* file;
        const crypto::Bytes* spki;
        CertProfile profile;
    } token_certs[] = {
        {"lea-server.pem", &keys.lea, leaf("Enclave DEMO LEA listener", CertUsage::server)},
        {"ingest-server.pem", &keys.ingest,
         leaf("Enclave DEMO ingest listener", CertUsage::server)},
        {"admin-server.pem", &keys.admin, leaf("Enclave DEMO admin listener", CertUsage::server)},
        {"lea-client.pem", &keys.lea_client,
         leaf("Enclave DEMO outbound LEA client", CertUsage::client)},
    };
    for (const auto& c : token_certs) {
        if (auto ok = issue_for_token_key(pki / c.file, **ca, **ca_key, *c.spki, c.profile, rb);
            !ok) {
            return ok;
        }
    }
    if (auto ok = issue_demo_party(pki, "demo-lea", **ca, **ca_key,
                                   leaf("Enclave DEMO LEA (test client)", CertUsage::client), rb);
        !ok) {
        return ok;
    }
    // The demo LEA's own HTTPS server (enclave-lea-sim in `make run` and the
    // tests): deliveries go to it.
    if (auto ok = issue_demo_party(pki, "demo-lea-server", **ca, **ca_key,
                                   leaf("Enclave DEMO LEA endpoint (simulator)", CertUsage::server),
                                   rb);
        !ok) {
        return ok;
    }
    if (auto ok =
            issue_demo_party(pki, "demo-collector", **ca, **ca_key,
                             leaf("Enclave DEMO collector (test client)", CertUsage::client), rb);
        !ok) {
        return ok;
    }
    // One trust bundle per listener, so each can later trust its own CAs.
    // For the demo, every listener trusts the demo CA.
    auto ca_pem = certificate_to_pem(**ca);
    if (!ca_pem) return tl::unexpected(ca_pem.error());
    for (const char* bundle : {"lea-trust.pem", "ingest-trust.pem", "admin-trust.pem"}) {
        if (auto ok = write_new_file(pki / bundle, crypto::as_bytes(*ca_pem), 0644, rb); !ok) {
            return ok;
        }
    }
    sync_dir(pki);
    return {};
}

}  // namespace enclave::appliance::detail
