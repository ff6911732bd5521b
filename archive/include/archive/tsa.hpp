// SPDX-License-Identifier: Apache-2.0
#pragma once
// The internal RFC 3161 time-stamping authority (issue #8 "Evidence records").
//
// Its signing key is an EC P-256 key on the token (non-extractable, label
// kTsaKeyLabel), used through the hsm/ OpenSSL provider; its certificate
// (DER) carries a critical extendedKeyUsage id-kp-timeStamping and is kept
// beside the instance (DIR/tsa.crt). A token answers one TimeStampToken
// (RFC 3161 section 2.4.2: a CMS SignedData over a TSTInfo, with the
// ESS signing-certificate-v2 attribute, RFC 5816) per call.
//
// Holds no secret: the private key never leaves the token.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"
#include "hsm/session_pool.hpp"

namespace enclave::archive {

/// Label of the TSA key pair on the token.
inline constexpr std::string_view kTsaKeyLabel = "enclave-tsa";
/// The TSA policy OID written into every TSTInfo: a UUID-derived OID
/// (ITU-T X.667, arc 2.25) minted for Enclave's TSA policy, so no registered
/// arc is borrowed (documented in docs/evidence-records.md).
inline constexpr std::string_view kTsaPolicyOid = "2.25.160160896244464736757588593404582861338";

/// What a verified time-stamp token says.
struct StampInfo {
    std::chrono::sys_seconds gen_time;  ///< TSTInfo genTime (second precision)
    crypto::HashAlg alg = crypto::HashAlg::sha256;  ///< messageImprint algorithm
    crypto::Bytes imprint;                          ///< messageImprint value
    crypto::Bytes serial;                           ///< TSTInfo serialNumber (big-endian)
};

class TimeStampAuthority {
public:
    /// The TSA of an instance: the key labelled kTsaKeyLabel on `pool`'s token
    /// and its certificate (DER). Errors: hsm_object_not_found (no key),
    /// malformed_input (certificate), invalid_argument (certificate does not
    /// match the key, or lacks the critical timeStamping EKU).
    static crypto::Result<std::shared_ptr<TimeStampAuthority>> open(
        std::shared_ptr<hsm::SessionPool> pool, crypto::ByteView certificate_der);

    /// Generates the TSA key on the token (EC P-256, non-extractable) and a
    /// self-signed TSA certificate for `subject_cn`, valid `days`, signed on
    /// the token. Returns the certificate DER. already_exists when the label
    /// is taken.
    static crypto::Result<crypto::Bytes> provision(hsm::SessionPool& pool,
                                                   std::string_view subject_cn, int days);

    /// A DER TimeStampToken (ContentInfo) over `digest` made with `alg`
    /// (sha256/sha384/sha512). Serial numbers are 128-bit random. Thread-safe.
    crypto::Result<crypto::Bytes> stamp(crypto::HashAlg alg, crypto::ByteView digest);

    [[nodiscard]] const crypto::Bytes& certificate_der() const noexcept;

    ~TimeStampAuthority();
    TimeStampAuthority(const TimeStampAuthority&) = delete;
    TimeStampAuthority& operator=(const TimeStampAuthority&) = delete;

    struct State;
    explicit TimeStampAuthority(std::unique_ptr<State> state) noexcept;

private:
    std::unique_ptr<State> state_;
};

/// Checks a DER TimeStampToken: well-formed, signed by one of `tsa_certs`
/// (DER) with a valid signature and a signing-certificate(-v2) attribute
/// naming that certificate, content type id-ct-TSTInfo. Returns its content.
/// Errors: malformed_input, integrity_failure (signature, certificate).
crypto::Result<StampInfo> verify_timestamp(crypto::ByteView token_der,
                                           const std::vector<crypto::Bytes>& tsa_certs);

}  // namespace enclave::archive
