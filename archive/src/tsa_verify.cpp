// SPDX-License-Identifier: Apache-2.0
// verify_timestamp: a strict reader of RFC 3161 TimeStampTokens (CMS
// SignedData over a TSTInfo with one SignerInfo that carries signed
// attributes and the signing-certificate-v2 attribute). Anything else
// (several signers, no signed attributes, a signer identified by subject key
// identifier, ESS v1 with SHA-1) is refused: these tokens come from our own
// TSA, and the reader stays small.
#include <openssl/evp.h>

#include <algorithm>
#include <string>

#include "archive/tsa.hpp"
#include "der.hpp"
#include "hsm/provider.hpp"
#include "tsa_detail.hpp"

namespace enclave::archive {

using crypto::Bytes;
using crypto::ByteView;
using crypto::Errc;
using crypto::fail;
using crypto::Result;

namespace {

using MdCtxPtr = crypto::CHandle<EVP_MD_CTX, EVP_MD_CTX_free>;

template <class T>
tl::unexpected<crypto::Error> pass(const Result<T>& r) {
    return tl::unexpected(r.error());
}

bool same(ByteView a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

bool is_oid(const der::Tlv& t, const char* dotted) { return same(t.whole, der::oid(dotted)); }

struct SignerParts {
    ByteView sid;           ///< IssuerAndSerialNumber (whole)
    crypto::HashAlg digest_alg = crypto::HashAlg::sha256;
    ByteView attrs;         ///< [0] signedAttrs (whole, tag A0)
    const char* md = "SHA256";
    ByteView signature;
};

struct Attrs {
    bool content_type_ok = false;
    ByteView message_digest;
    ByteView cert_hash;
    crypto::HashAlg cert_hash_alg = crypto::HashAlg::sha256;
};

Result<SignerParts> read_signer_info(ByteView content) {
    der::Reader r(content);
    SignerParts out;
    auto version = r.expect(der::kInteger, "SignerInfo version");
    if (!version) return pass(version);
    auto v = der::small_integer_value(version->content);
    if (!v || *v != 1) return fail(Errc::malformed_input, "SignerInfo: only version 1 (issuer and serial)");
    auto sid = r.expect(der::kSequence, "SignerInfo sid");
    auto dalg = sid ? r.expect(der::kSequence, "SignerInfo digestAlgorithm") : sid;
    auto attrs = dalg ? r.expect(der::context(0), "SignerInfo signedAttrs") : dalg;
    auto salg = attrs ? r.expect(der::kSequence, "SignerInfo signatureAlgorithm") : attrs;
    auto sig = salg ? r.expect(der::kOctetString, "SignerInfo signature") : salg;
    if (!sig) return pass(sig);
    if (r.peek() == der::context(1)) (void)r.next("SignerInfo unsignedAttrs");
    if (auto ok = r.finish("SignerInfo"); !ok) return pass(ok);
    auto alg = der::hash_algorithm_from(dalg->content);
    if (!alg) return pass(alg);
    der::Reader sr(salg->content);
    auto soid = sr.expect(der::kOid, "signatureAlgorithm");
    if (!soid) return pass(soid);
    if (is_oid(*soid, detail::kOidEcdsaSha256)) {
        out.md = "SHA256";
    } else if (is_oid(*soid, detail::kOidEcdsaSha384)) {
        out.md = "SHA384";
    } else if (is_oid(*soid, detail::kOidEcdsaSha512)) {
        out.md = "SHA512";
    } else {
        return fail(Errc::unsupported_algorithm, "time stamp signature: ECDSA with SHA-2 only");
    }
    out.sid = sid->whole;
    out.digest_alg = *alg;
    out.attrs = attrs->whole;
    out.signature = sig->content;
    return out;
}

// ESSCertIDv2 { hashAlgorithm DEFAULT sha256, certHash, issuerSerial OPTIONAL }:
// the first one names the signing certificate (RFC 5035 section 5.4.1.1).
Result<void> read_ess(ByteView value, Attrs& out) {
    auto scv2 = der::parse_one(value, der::kSequence, "SigningCertificateV2");
    if (!scv2) return pass(scv2);
    der::Reader r(scv2->content);
    auto certs = r.expect(der::kSequence, "SigningCertificateV2 certs");
    if (!certs) return pass(certs);
    der::Reader cr(certs->content);
    auto first = cr.expect(der::kSequence, "ESSCertIDv2");
    if (!first) return pass(first);
    der::Reader er(first->content);
    if (er.peek() == der::kSequence) {
        auto alg_id = er.next("ESSCertIDv2 hashAlgorithm");
        auto alg = alg_id ? der::hash_algorithm_from(alg_id->content)
                          : Result<crypto::HashAlg>(pass(alg_id));
        if (!alg) return pass(alg);
        out.cert_hash_alg = *alg;
    }
    auto hash = er.expect(der::kOctetString, "ESSCertIDv2 certHash");
    if (!hash) return pass(hash);
    out.cert_hash = hash->content;
    return {};
}

Result<Attrs> read_attributes(ByteView attrs_content) {
    Attrs out;
    bool seen[3] = {false, false, false};
    der::Reader r(attrs_content);
    while (!r.done()) {
        auto attr = r.expect(der::kSequence, "signed attribute");
        if (!attr) return pass(attr);
        der::Reader ar(attr->content);
        auto type = ar.expect(der::kOid, "attribute type");
        auto values = type ? ar.expect(der::kSet, "attribute values") : type;
        if (!values) return pass(values);
        if (auto ok = ar.finish("attribute"); !ok) return pass(ok);
        int which = is_oid(*type, detail::kOidContentType)     ? 0
                    : is_oid(*type, detail::kOidMessageDigest) ? 1
                    : is_oid(*type, detail::kOidSigningCertV2) ? 2
                                                               : -1;
        if (which < 0) continue;
        if (seen[which]) return fail(Errc::malformed_input, "signed attribute repeated");
        seen[which] = true;
        if (which == 0) {
            auto v = der::parse_one(values->content, der::kOid, "contentType value");
            if (!v) return pass(v);
            out.content_type_ok = is_oid(*v, detail::kOidTstInfo);
        } else if (which == 1) {
            auto v = der::parse_one(values->content, der::kOctetString, "messageDigest value");
            if (!v) return pass(v);
            out.message_digest = v->content;
        } else if (auto ok = read_ess(values->content, out); !ok) {
            return pass(ok);
        }
    }
    if (!seen[0] || !seen[1]) return fail(Errc::malformed_input, "signed attributes incomplete");
    if (!out.content_type_ok) return fail(Errc::malformed_input, "content type is not TSTInfo");
    if (!seen[2]) {
        return fail(Errc::integrity_failure, "no signing-certificate-v2 attribute (RFC 5816)");
    }
    return out;
}

Result<StampInfo> read_tst_info(ByteView tst_der) {
    auto tst = der::parse_one(tst_der, der::kSequence, "TSTInfo");
    if (!tst) return pass(tst);
    der::Reader r(tst->content);
    auto version = r.expect(der::kInteger, "TSTInfo version");
    auto policy = version ? r.expect(der::kOid, "TSTInfo policy") : version;
    auto imprint = policy ? r.expect(der::kSequence, "TSTInfo messageImprint") : policy;
    auto serial = imprint ? r.expect(der::kInteger, "TSTInfo serialNumber") : imprint;
    auto gen = serial ? r.expect(der::kGeneralizedTime, "TSTInfo genTime") : serial;
    if (!gen) return pass(gen);
    auto v = der::small_integer_value(version->content);
    if (!v || *v != 1) return fail(Errc::malformed_input, "TSTInfo: version is not 1");
    StampInfo info;
    der::Reader ir(imprint->content);
    auto alg_id = ir.expect(der::kSequence, "messageImprint hashAlgorithm");
    auto value = alg_id ? ir.expect(der::kOctetString, "messageImprint hashedMessage") : alg_id;
    if (!value) return pass(value);
    if (auto ok = ir.finish("messageImprint"); !ok) return pass(ok);
    auto alg = der::hash_algorithm_from(alg_id->content);
    if (!alg) return pass(alg);
    if (value->content.size() != crypto::digest_size(*alg)) {
        return fail(Errc::malformed_input, "messageImprint: wrong length for its algorithm");
    }
    auto time = der::generalized_time_value(gen->content);
    auto serial_value = der::unsigned_integer_value(serial->content);
    if (!time) return pass(time);
    if (!serial_value) return pass(serial_value);
    info.gen_time = *time;
    info.alg = *alg;
    info.imprint.assign(value->content.begin(), value->content.end());
    info.serial = std::move(*serial_value);
    return info;
}

// The certificate among `certs` whose hash is the ESS certHash, checked as
// a TSA certificate valid at genTime, and the signature made with its key.
Result<void> check_signer(const SignerParts& s, const Attrs& a, const StampInfo& info,
                          const std::vector<Bytes>& certs) {
    const Bytes* found = nullptr;
    for (const auto& c : certs) {
        if (same(crypto::digest(a.cert_hash_alg, c), a.cert_hash)) found = &c;
    }
    if (found == nullptr) {
        return fail(Errc::integrity_failure, "time stamp signed by a certificate not trusted here");
    }
    auto cert = detail::parse_certificate(*found);
    if (!cert) return pass(cert);
    if (auto ok = detail::check_tsa_usage(**cert); !ok) {
        return fail(Errc::integrity_failure, ok.error().context());
    }
    auto issuer = detail::issuer_der(**cert);
    auto serial = detail::serial_der(**cert);
    if (!issuer || !serial) return fail(Errc::crypto_failure, "encoding the TSA certificate's names");
    if (!same(s.sid, der::constructed(der::kSequence, {*issuer, *serial}))) {
        return fail(Errc::integrity_failure, "signer identifier does not name the certificate");
    }
    const std::time_t t = std::chrono::system_clock::to_time_t(info.gen_time);
    if (X509_cmp_time(X509_get0_notBefore(cert->get()), const_cast<std::time_t*>(&t)) > 0 ||
        X509_cmp_time(X509_get0_notAfter(cert->get()), const_cast<std::time_t*>(&t)) < 0) {
        return fail(Errc::integrity_failure, "time stamp made outside its certificate's validity");
    }
    auto libctx = hsm::tls_libctx();
    if (!libctx) return pass(libctx);
    Bytes signed_attrs(s.attrs.begin(), s.attrs.end());
    signed_attrs[0] = der::kSet;  // verified as the DER SET OF (RFC 5652 5.4)
    MdCtxPtr md(EVP_MD_CTX_new());
    if (!md || EVP_DigestVerifyInit_ex(md.get(), nullptr, s.md, *libctx, nullptr,
                                       X509_get0_pubkey(cert->get()), nullptr) != 1) {
        hsm::drain_openssl_errors();
        return fail(Errc::crypto_failure, "setting up the time stamp signature check");
    }
    if (EVP_DigestVerify(md.get(), s.signature.data(), s.signature.size(), signed_attrs.data(),
                         signed_attrs.size()) != 1) {
        hsm::drain_openssl_errors();
        return fail(Errc::integrity_failure, "time stamp signature does not verify");
    }
    return {};
}

struct Token {
    ByteView tst;
    ByteView signer_info;
    std::vector<crypto::HashAlg> digest_algs;  ///< SignedData digestAlgorithms
};

Result<std::vector<crypto::HashAlg>> read_digest_algs(ByteView set_content) {
    std::vector<crypto::HashAlg> out;
    der::Reader r(set_content);
    while (!r.done()) {
        if (out.size() == 4) return fail(Errc::malformed_input, "SignedData: too many digest algorithms");
        auto id = r.expect(der::kSequence, "SignedData digestAlgorithm");
        if (!id) return pass(id);
        auto alg = der::hash_algorithm_from(id->content);
        if (!alg) return pass(alg);
        out.push_back(*alg);
    }
    return out;
}

// ContentInfo { signedData, [0] SignedData { 3, algs, encap, [0] certs, [1] crls, signerInfos } }.
Result<Token> read_token(ByteView token_der) {
    auto ci = der::parse_one(token_der, der::kSequence, "ContentInfo");
    if (!ci) return pass(ci);
    der::Reader r(ci->content);
    auto type = r.expect(der::kOid, "ContentInfo contentType");
    auto wrapper = type ? r.expect(der::context(0), "ContentInfo content") : type;
    if (!wrapper) return pass(wrapper);
    if (auto ok = r.finish("ContentInfo"); !ok) return pass(ok);
    if (!is_oid(*type, detail::kOidSignedData)) return fail(Errc::malformed_input, "not SignedData");
    auto sd = der::parse_one(wrapper->content, der::kSequence, "SignedData");
    if (!sd) return pass(sd);
    der::Reader s(sd->content);
    auto version = s.expect(der::kInteger, "SignedData version");
    auto algs = version ? s.expect(der::kSet, "SignedData digestAlgorithms") : version;
    auto encap = algs ? s.expect(der::kSequence, "SignedData encapContentInfo") : algs;
    if (!encap) return pass(encap);
    if (s.peek() == der::context(0)) (void)s.next("SignedData certificates");
    if (s.peek() == der::context(1)) return fail(Errc::malformed_input, "SignedData: crls unsupported");
    auto infos = s.expect(der::kSet, "SignedData signerInfos");
    if (!infos) return pass(infos);
    if (auto ok = s.finish("SignedData"); !ok) return pass(ok);
    auto v = der::small_integer_value(version->content);
    if (!v || *v != 3) return fail(Errc::malformed_input, "SignedData: version is not 3");
    auto digest_algs = read_digest_algs(algs->content);
    if (!digest_algs) return pass(digest_algs);
    der::Reader er(encap->content);
    auto etype = er.expect(der::kOid, "eContentType");
    auto econtent = etype ? er.expect(der::context(0), "eContent") : etype;
    if (!econtent) return pass(econtent);
    if (!is_oid(*etype, detail::kOidTstInfo)) return fail(Errc::malformed_input, "eContent is not TSTInfo");
    auto octets = der::parse_one(econtent->content, der::kOctetString, "eContent");
    if (!octets) return pass(octets);
    der::Reader ir(infos->content);
    auto one = ir.expect(der::kSequence, "SignerInfo");
    if (!one) return pass(one);
    if (!ir.done()) return fail(Errc::malformed_input, "time stamp with several signers");
    return Token{octets->content, one->content, std::move(*digest_algs)};
}

}  // namespace

Result<StampInfo> verify_timestamp(ByteView token_der, const std::vector<Bytes>& tsa_certs) {
    auto token = read_token(token_der);
    if (!token) return pass(token);
    auto signer = read_signer_info(token->signer_info);
    if (!signer) return pass(signer);
    if (std::find(token->digest_algs.begin(), token->digest_algs.end(), signer->digest_alg) ==
        token->digest_algs.end()) {
        return fail(Errc::malformed_input, "signer's digest algorithm not listed in SignedData");
    }
    der::Reader ar(signer->attrs.subspan(0));
    auto attrs_tlv = ar.next("signedAttrs");
    if (!attrs_tlv) return pass(attrs_tlv);
    auto attrs = read_attributes(attrs_tlv->content);
    if (!attrs) return pass(attrs);
    if (!same(crypto::digest(signer->digest_alg, token->tst), attrs->message_digest)) {
        return fail(Errc::integrity_failure, "TSTInfo does not match the signed messageDigest");
    }
    auto info = read_tst_info(token->tst);
    if (!info) return pass(info);
    if (auto ok = check_signer(*signer, *attrs, *info, tsa_certs); !ok) return pass(ok);
    return info;
}

}  // namespace enclave::archive
