// SPDX-License-Identifier: Apache-2.0
// The TSA: opening it (key on the token + certificate) and answering a
// TimeStampToken. The token is built here in DER by hand (RFC 3161 section
// 2.4.2, RFC 5652 SignedData, RFC 5816 signing-certificate-v2) and its
// signature is made on the token by hsm::Signer (ECDSA P-256 with SHA-256):
// OpenSSL's TS_RESP_CTX signs through PKCS7, which would need the private
// key in OpenSSL's own format.
#include <openssl/rand.h>

#include <chrono>
#include <string>

#include "archive/tsa.hpp"
#include "der.hpp"
#include "hsm/signer.hpp"
#include "tsa_detail.hpp"

namespace enclave::archive {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

struct TimeStampAuthority::State {
    hsm::Signer signer;
    Bytes certificate;
    Bytes sid;         ///< IssuerAndSerialNumber of the certificate
    Bytes ess_attr;    ///< the signing-certificate-v2 Attribute (constant per TSA)
    Bytes policy_oid;  ///< DER of kTsaPolicyOid
};

TimeStampAuthority::TimeStampAuthority(std::unique_ptr<State> state) noexcept
    : state_(std::move(state)) {}
TimeStampAuthority::~TimeStampAuthority() = default;

const Bytes& TimeStampAuthority::certificate_der() const noexcept { return state_->certificate; }

namespace {

// Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value }.
Bytes attribute(const char* oid, ByteView value) {
    return der::constructed(der::kSequence, {der::oid(oid), der::tlv(der::kSet, value)});
}

// SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } }: the
// hash algorithm is the DEFAULT (SHA-256) and so absent in DER.
Bytes ess_attribute(ByteView certificate) {
    const Bytes hash = crypto::digest(crypto::HashAlg::sha256, certificate);
    const Bytes cert_id = der::constructed(der::kSequence, {der::octet_string(hash)});
    const Bytes certs = der::constructed(der::kSequence, {cert_id});
    return attribute(detail::kOidSigningCertV2, der::constructed(der::kSequence, {certs}));
}

bool stampable(crypto::HashAlg alg) {
    return alg == crypto::HashAlg::sha256 || alg == crypto::HashAlg::sha384 ||
           alg == crypto::HashAlg::sha512;
}

Bytes tst_info(ByteView policy_oid, crypto::HashAlg alg, ByteView digest, ByteView serial,
               std::chrono::sys_seconds now) {
    const Bytes imprint = der::constructed(
        der::kSequence, {der::hash_algorithm_id(alg), der::octet_string(digest)});
    return der::constructed(der::kSequence,
                            {der::small_integer(1), policy_oid, imprint,
                             der::unsigned_integer(serial), der::generalized_time(now)});
}

}  // namespace

Result<std::shared_ptr<TimeStampAuthority>> TimeStampAuthority::open(
    std::shared_ptr<hsm::SessionPool> pool, ByteView certificate_der) {
    if (!pool) return fail(Errc::invalid_argument, "TSA without a session pool");
    auto cert = detail::parse_certificate(certificate_der);
    if (!cert) return tl::unexpected(cert.error());
    if (auto ok = detail::check_tsa_usage(**cert); !ok) return tl::unexpected(ok.error());
    auto signer = hsm::Signer::open(
        pool, hsm::KeyQuery::by_label(std::string(kTsaKeyLabel), hsm::ObjectType::private_key));
    if (!signer) return tl::unexpected(signer.error());
    if (signer->key_type() != hsm::KeyType::ec_p256) {
        return fail(Errc::invalid_argument, "TSA key is not EC P-256");
    }
    auto spki = signer->public_key_spki();
    if (!spki) return tl::unexpected(spki.error());
    unsigned char* out = nullptr;
    const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert->get()), &out);
    if (len <= 0) return fail(Errc::crypto_failure, "encoding the certificate's public key");
    const Bytes cert_spki(out, out + len);
    OPENSSL_free(out);
    if (cert_spki != *spki) {
        return fail(Errc::invalid_argument, "TSA certificate does not match the token key");
    }
    auto issuer = detail::issuer_der(**cert);
    auto serial = detail::serial_der(**cert);
    if (!issuer) return tl::unexpected(issuer.error());
    if (!serial) return tl::unexpected(serial.error());
    auto state = std::make_unique<State>(State{
        std::move(*signer), Bytes(certificate_der.begin(), certificate_der.end()),
        der::constructed(der::kSequence, {*issuer, *serial}), ess_attribute(certificate_der),
        der::oid(kTsaPolicyOid)});
    return std::make_shared<TimeStampAuthority>(std::move(state));
}

Result<Bytes> TimeStampAuthority::stamp(crypto::HashAlg alg, ByteView digest) {
    if (!stampable(alg)) return fail(Errc::unsupported_algorithm, "time stamps over SHA-2 only");
    if (digest.size() != crypto::digest_size(alg)) {
        return fail(Errc::invalid_argument, "digest length does not match its algorithm");
    }
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return fail(Errc::crypto_failure, "RAND_bytes");
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const Bytes tst = tst_info(state_->policy_oid, alg, digest, ByteView(serial, sizeof serial), now);

    const Bytes content_type = attribute(detail::kOidContentType, der::oid(detail::kOidTstInfo));
    const Bytes message_digest = attribute(
        detail::kOidMessageDigest, der::octet_string(crypto::digest(crypto::HashAlg::sha256, tst)));
    // RFC 5652 5.4: the signature covers the attributes as a DER SET OF.
    Bytes signed_attrs = der::set_of({content_type, message_digest, state_->ess_attr});
    auto sig = state_->signer.sign_ecdsa(crypto::HashAlg::sha256, signed_attrs);
    if (!sig) return tl::unexpected(sig.error().wrap("time stamp signature"));
    signed_attrs[0] = der::context(0);  // [0] IMPLICIT in SignerInfo

    const Bytes sha256_id = der::hash_algorithm_id(crypto::HashAlg::sha256);
    const Bytes signer_info = der::constructed(
        der::kSequence,
        {der::small_integer(1), state_->sid, sha256_id, signed_attrs,
         der::constructed(der::kSequence, {der::oid(detail::kOidEcdsaSha256)}),
         der::octet_string(sig->der)});
    const Bytes encap = der::constructed(
        der::kSequence, {der::oid(detail::kOidTstInfo),
                         der::constructed(der::context(0), {der::octet_string(tst)})});
    const Bytes signed_data = der::constructed(
        der::kSequence,
        {der::small_integer(3), der::constructed(der::kSet, {sha256_id}), encap,
         der::tlv(der::context(0), state_->certificate),
         der::constructed(der::kSet, {signer_info})});
    return der::constructed(der::kSequence,
                            {der::oid(detail::kOidSignedData),
                             der::constructed(der::context(0), {signed_data})});
}

}  // namespace enclave::archive
