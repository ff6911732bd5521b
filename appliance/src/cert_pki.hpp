// SPDX-License-Identifier: Apache-2.0
#pragma once
// X.509 pieces of certificate management (docs/security-officer-guide.md,
// "Certificates"): the officer's subject and SAN strings, certificate chains
// in PEM, summaries for `cert list`, chain verification against trust
// anchors, and PKCS#10 requests whose signature is made on the token.
//
// Every parser here takes text from an officer or a file and is strict and
// bounded: sizes and counts are capped, anything outside the grammar is
// refused with an error that names the rule and never echoes the input.
// Holds no secret (certificates and requests are public; the private key
// stays on the token and only signs a digest).
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/c_handle.hpp"
#include "crypto/result.hpp"

namespace enclave::appliance::certs {

using X509Ptr = crypto::CHandle<X509, X509_free>;
using X509NamePtr = crypto::CHandle<X509_NAME, X509_NAME_free>;
inline void general_names_free(GENERAL_NAMES* g) { GENERAL_NAMES_free(g); }
using GeneralNamesPtr = crypto::CHandle<GENERAL_NAMES, general_names_free>;
using X509ReqPtr = crypto::CHandle<X509_REQ, X509_REQ_free>;

inline constexpr std::size_t kMaxSubjectBytes = 1024;
inline constexpr std::size_t kMaxSans = 32;
inline constexpr std::size_t kMaxChainBytes = 64 * 1024;
inline constexpr std::size_t kMaxChainCertificates = 8;

/// A key label the officer chooses: 1..64 characters from A-Z a-z 0-9 . _ -,
/// starting with a letter or digit (it also names files under DIR/certs).
bool valid_label(std::string_view label) noexcept;

/// An RFC 4514 distinguished name ("CN=Enclave LEA,O=Example CSP,C=GB"):
/// attribute types CN, O, OU, C, L, ST, DC, serialNumber (case-insensitive);
/// values 1..64 bytes of UTF-8 without control characters (C: two letters);
/// `\,` `\+` `\=` `\\` `\"` `\;` `\<` `\>` and `\ ` escape; multi-valued RDNs
/// (an unescaped '+') are refused. At most 16 RDNs and kMaxSubjectBytes.
/// The leftmost RDN is the most specific one (encoded last).
crypto::Result<X509NamePtr> parse_subject(std::string_view text);

/// "DNS:name" (LDH labels, optional leading "*.") or "IP:address" (IPv4 or
/// IPv6 literal); at most kMaxSans.
crypto::Result<GeneralNamesPtr> parse_sans(const std::vector<std::string>& sans);

/// A PEM chain, leaf first: only CERTIFICATE blocks, whitespace between them,
/// 1..kMaxChainCertificates certificates, at most kMaxChainBytes.
crypto::Result<std::vector<X509Ptr>> parse_chain_pem(std::string_view pem);

/// The same from a file (size-checked before reading).
crypto::Result<std::vector<X509Ptr>> read_chain_file(const std::filesystem::path& file);

/// What `cert list` shows of a certificate.
struct Summary {
    std::string subject;      ///< RFC 2253
    std::string issuer;       ///< RFC 2253
    std::string serial;       ///< lowercase hex
    std::string sha256;       ///< lowercase hex of the DER
    std::int64_t not_before = 0;  ///< Unix time
    std::int64_t not_after = 0;   ///< Unix time
};
crypto::Result<Summary> summarize(X509* cert);

/// RFC 2253 text of a name.
std::string name_text(const X509_NAME* name);

/// The certificate's SubjectPublicKeyInfo DER.
crypto::Result<crypto::Bytes> spki_of(X509* cert);

/// Verifies `chain` (leaf first) against the CA certificates in the
/// `anchor_files` (PEM bundles; only these, never the system store), at
/// now; the leaf must be fit for `purpose` (TLS server or client use).
enum class ChainPurpose { any, tls_server, tls_client };
crypto::Result<void> verify_chain(const std::vector<X509Ptr>& chain,
                                  const std::vector<std::filesystem::path>& anchor_files,
                                  ChainPurpose purpose);

/// Signs the DER it is given with the token key (ECDSA with SHA-256; DER
/// ECDSA-Sig-Value back).
using TokenSign = std::function<crypto::Result<crypto::Bytes>(crypto::ByteView tbs)>;

/// A PKCS#10 request (version 1) for `subject`, with `sans` (may be null or
/// empty) as a subjectAltName extension request, over the public key `spki`
/// (a P-256 SubjectPublicKeyInfo), signed ecdsa-with-SHA256 by `sign`. The
/// result is verified with the public key before it is returned. PEM.
crypto::Result<std::string> make_csr(const X509_NAME* subject, const GENERAL_NAMES* sans,
                                     crypto::ByteView spki, const TokenSign& sign);

/// Subject and SANs of a PEM request (for `cert list` of a staged key).
crypto::Result<std::string> csr_subject(std::string_view pem);

/// The subjectAltName of a certificate (a copy; null when it has none).
GeneralNamesPtr sans_of(X509* cert);

}  // namespace enclave::appliance::certs
