// SPDX-License-Identifier: Apache-2.0
#include "tls_peer.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/c_handle.hpp"
#include "crypto/encoding.hpp"
#include "hsm/tls_psk.hpp"

namespace enclave::appliance::detail {
namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free>;

std::string subject_rfc2253(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    // RFC 2253 with UTF-8 kept as is (ASN1_STRFLGS_ESC_MSB off) and control
    // characters escaped.
    const unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, flags) < 0) return {};
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len <= 0 || data == nullptr) return {};
    return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

void read_peer_certificate(SSL* ssl, Peer& peer) {
    if (auto psk = hsm::psk_peer(ssl)) {
        peer.psk_identity = std::move(psk->identity);
        peer.psk_endpoint = std::move(psk->label);
        return;
    }
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (cert == nullptr) return;
    peer.cert_subject = subject_rfc2253(cert);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) {
        peer.cert_sha256 = crypto::hex_encode(crypto::ByteView(md, md_len));
    }
}

HandshakeFailure classify_openssl_error(unsigned long packed) noexcept {
    if (ERR_GET_LIB(packed) != ERR_LIB_SSL) return HandshakeFailure::other;
    switch (ERR_GET_REASON(packed)) {
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        case SSL_R_NO_CERTIFICATES_RETURNED:
            return HandshakeFailure::no_client_certificate;
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            return HandshakeFailure::certificate_verify_failed;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        case SSL_R_WRONG_SSL_VERSION:
        case SSL_R_BAD_PROTOCOL_VERSION_NUMBER:
            return HandshakeFailure::protocol_version;
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_CIPHERS_AVAILABLE:
        case SSL_R_NO_SHARED_GROUPS:
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            return HandshakeFailure::no_shared_cipher;
        case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
        case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
            return HandshakeFailure::no_shared_signature_algorithm;
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_RECORD_LENGTH_MISMATCH:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
            return HandshakeFailure::not_tls;
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return HandshakeFailure::closed;
        default:
            return HandshakeFailure::other;
    }
}

}  // namespace enclave::appliance::detail
