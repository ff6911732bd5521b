// SPDX-License-Identifier: Apache-2.0
// Subjects, SANs, chains and token-signed PKCS#10 requests (cert_pki.hpp).
#include "cert_pki.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <cctype>
#include <fstream>
#include <system_error>

#include "crypto/encoding.hpp"

namespace enclave::appliance::certs {
namespace {

using crypto::Errc;
using crypto::fail;
using crypto::Result;

using BioPtr = crypto::CHandle<BIO, BIO_free_all>;
using EvpPkeyPtr = crypto::CHandle<EVP_PKEY, EVP_PKEY_free>;
using StorePtr = crypto::CHandle<X509_STORE, X509_STORE_free>;
using StoreCtxPtr = crypto::CHandle<X509_STORE_CTX, X509_STORE_CTX_free>;
inline void x509_stack_free(STACK_OF(X509)* s) { sk_X509_free(s); }
using X509StackPtr = crypto::CHandle<STACK_OF(X509), x509_stack_free>;
inline void ext_stack_free(STACK_OF(X509_EXTENSION)* s) {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtStackPtr = crypto::CHandle<STACK_OF(X509_EXTENSION), ext_stack_free>;

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";

/// Well-formed UTF-8 (no overlongs, no surrogates) without control characters.
bool clean_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) return false;
            ++i;
            continue;
        }
        std::size_t n = 0;
        unsigned cp = 0;
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

/// The OpenSSL short name of an allowed attribute type, or "".
std::string attribute_name(std::string_view type) {
    std::string up;
    for (const char c : type) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (up == "CN" || up == "O" || up == "OU" || up == "C" || up == "L" || up == "ST" ||
        up == "DC") {
        return up;
    }
    if (up == "SERIALNUMBER") return "serialNumber";
    return "";
}

/// Splits on unescaped `sep`, unescaping nothing; refuses a dangling '\'.
Result<std::vector<std::string>> split_unescaped(std::string_view s, char sep) {
    std::vector<std::string> out(1);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\') {
            if (i + 1 >= s.size()) return fail(Errc::malformed_input, "subject: a dangling '\\'");
            out.back() += s[i];
            out.back() += s[++i];
        } else if (s[i] == sep) {
            out.emplace_back();
        } else {
            out.back() += s[i];
        }
    }
    return out;
}

Result<std::string> unescape_value(std::string_view v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] != '\\') {
            if (v[i] == '+') {
                return fail(Errc::malformed_input,
                            "subject: multi-valued RDNs ('+') are not supported; escape it as \\+");
            }
            if (v[i] == '"' || v[i] == ';' || v[i] == '<' || v[i] == '>' || v[i] == '=') {
                return fail(Errc::malformed_input,
                            "subject: a special character in a value must be escaped with '\\'");
            }
            out += v[i];
            continue;
        }
        const char e = v[++i];  // split_unescaped left no dangling '\'
        if (std::string_view(",+=\\\";<> #").find(e) == std::string_view::npos) {
            return fail(Errc::malformed_input, "subject: only \\, \\+ \\= \\\\ \\\" \\; \\< \\> "
                                               "\\# and '\\ ' are escapes (no hex escapes)");
        }
        out += e;
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ' && !(s.size() >= 2 && s[s.size() - 2] == '\\')) {
        s.remove_suffix(1);
    }
    return s;
}

bool valid_dns_name(std::string_view name) {
    if (name.size() >= 2 && name.substr(0, 2) == "*.") name.remove_prefix(2);
    if (name.empty() || name.size() > 253) return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        const std::string_view label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (const char c : label) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
        }
        start = dot + 1;
        if (dot == name.size()) break;
    }
    return true;
}

Result<void> add_name(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (g == nullptr) {
        ASN1_STRING_free(value);
        return fail(Errc::crypto_failure, "GENERAL_NAME_new failed");
    }
    GENERAL_NAME_set0_value(g, type, value);
    if (sk_GENERAL_NAME_push(names, g) == 0) {
        GENERAL_NAME_free(g);
        return fail(Errc::crypto_failure, "out of memory building the SANs");
    }
    return {};
}

Result<void> add_san(GENERAL_NAMES* names, std::string_view san, std::size_t index) {
    const std::string where = "san " + std::to_string(index + 1) + ": ";
    if (san.size() > 4 && san.substr(0, 4) == "DNS:") {
        const std::string_view dns = san.substr(4);
        if (!valid_dns_name(dns)) {
            return fail(Errc::malformed_input,
                        where + "not a DNS name (letters, digits, '-', dots; optional \"*.\")");
        }
        ASN1_IA5STRING* s = ASN1_IA5STRING_new();
        if (s == nullptr || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
            ASN1_IA5STRING_free(s);
            return fail(Errc::crypto_failure, where + "out of memory");
        }
        return add_name(names, GEN_DNS, s);
    }
    if (san.size() > 3 && san.substr(0, 3) == "IP:") {
        const std::string ip(san.substr(3));
        unsigned char buf[16];
        int len = 0;
        if (ip.size() <= 45 && ::inet_pton(AF_INET, ip.c_str(), buf) == 1) {
            len = 4;
        } else if (ip.size() <= 45 && ::inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
            len = 16;
        } else {
            return fail(Errc::malformed_input, where + "not an IPv4 or IPv6 address literal");
        }
        ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
        if (s == nullptr || ASN1_OCTET_STRING_set(s, buf, len) != 1) {
            ASN1_OCTET_STRING_free(s);
            return fail(Errc::crypto_failure, where + "out of memory");
        }
        return add_name(names, GEN_IPADD, s);
    }
    return fail(Errc::malformed_input, where + "must be DNS:<name> or IP:<address>");
}

Result<std::int64_t> unix_time_of(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
        return fail(Errc::malformed_input, "certificate: unreadable validity time");
    }
    return static_cast<std::int64_t>(timegm(&tm));
}

Result<StorePtr> load_anchors(const std::vector<std::filesystem::path>& files) {
    StorePtr store(X509_STORE_new());
    if (!store) return fail(Errc::crypto_failure, "X509_STORE_new failed");
    std::size_t added = 0;
    for (const auto& f : files) {
        auto anchors = read_chain_file(f);
        if (!anchors) return tl::unexpected(anchors.error().wrap("trust anchors " + f.string()));
        for (auto& a : *anchors) {
            if (X509_STORE_add_cert(store.get(), a.get()) == 1) ++added;
        }
    }
    if (added == 0) return fail(Errc::invalid_argument, "no trust anchors to verify against");
    return store;
}

}  // namespace

bool valid_label(std::string_view label) noexcept {
    if (label.empty() || label.size() > 64) return false;
    if (!std::isalnum(static_cast<unsigned char>(label.front()))) return false;
    for (const char c : label) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

Result<X509NamePtr> parse_subject(std::string_view text) {
    if (text.size() > kMaxSubjectBytes) return fail(Errc::too_large, "subject: over 1024 bytes");
    if (text.empty()) return fail(Errc::malformed_input, "subject: empty");
    if (!clean_utf8(text)) {
        return fail(Errc::malformed_input, "subject: not UTF-8 text without control characters");
    }
    auto rdns = split_unescaped(text, ',');
    if (!rdns) return tl::unexpected(rdns.error());
    if (rdns->size() > 16) return fail(Errc::too_large, "subject: more than 16 RDNs");
    X509NamePtr name(X509_NAME_new());
    if (!name) return fail(Errc::crypto_failure, "X509_NAME_new failed");
    // RFC 4514: the string lists the most specific RDN first; it is encoded last.
    for (auto it = rdns->rbegin(); it != rdns->rend(); ++it) {
        const std::string_view rdn = trim(*it);
        const std::size_t eq = rdn.find('=');
        if (eq == std::string_view::npos) {
            return fail(Errc::malformed_input, "subject: each RDN must be type=value");
        }
        const std::string type = attribute_name(trim(rdn.substr(0, eq)));
        if (type.empty()) {
            return fail(Errc::malformed_input,
                        "subject: attribute types are CN, O, OU, C, L, ST, DC, serialNumber");
        }
        auto value = unescape_value(trim(rdn.substr(eq + 1)));
        if (!value) return tl::unexpected(value.error());
        if (value->empty() || value->size() > 64) {
            return fail(Errc::malformed_input, "subject: " + type + ": 1..64 bytes");
        }
        if (type == "C" && (value->size() != 2 || !std::isalpha(static_cast<unsigned char>((*value)[0])) ||
                            !std::isalpha(static_cast<unsigned char>((*value)[1])))) {
            return fail(Errc::malformed_input, "subject: C: a two-letter country code");
        }
        if (X509_NAME_add_entry_by_txt(name.get(), type.c_str(), MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value->data()),
                                       static_cast<int>(value->size()), -1, 0) != 1) {
            ERR_clear_error();
            return fail(Errc::malformed_input, "subject: " + type + ": value not encodable");
        }
    }
    return name;
}

Result<GeneralNamesPtr> parse_sans(const std::vector<std::string>& sans) {
    if (sans.size() > kMaxSans) return fail(Errc::too_large, "san: at most 32");
    GeneralNamesPtr names(GENERAL_NAMES_new());
    if (!names) return fail(Errc::crypto_failure, "GENERAL_NAMES_new failed");
    for (std::size_t i = 0; i < sans.size(); ++i) {
        if (sans[i].size() > 260) return fail(Errc::too_large, "san: over 260 bytes");
        if (auto ok = add_san(names.get(), sans[i], i); !ok) return tl::unexpected(ok.error());
    }
    return names;
}

Result<std::vector<X509Ptr>> parse_chain_pem(std::string_view pem) {
    if (pem.size() > kMaxChainBytes) return fail(Errc::too_large, "certificate chain: over 64 KiB");
    std::vector<X509Ptr> out;
    std::size_t pos = 0;
    const auto only_space = [](std::string_view s) {
        for (const char c : s) {
            if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
        }
        return true;
    };
    while (true) {
        const std::size_t begin = pem.find(kBegin, pos);
        const std::string_view gap =
            pem.substr(pos, begin == std::string_view::npos ? std::string_view::npos : begin - pos);
        if (gap.find("PRIVATE KEY") != std::string_view::npos) {
            return fail(Errc::malformed_input,
                        "certificate chain: holds a private key; only certificates belong here "
                        "(the appliance's keys never leave the token)");
        }
        if (!only_space(gap)) {
            return fail(Errc::malformed_input,
                        "certificate chain: only PEM CERTIFICATE blocks and whitespace allowed");
        }
        if (begin == std::string_view::npos) break;
        const std::size_t end = pem.find(kEnd, begin);
        if (end == std::string_view::npos) {
            return fail(Errc::malformed_input, "certificate chain: a block has no END line");
        }
        if (out.size() == kMaxChainCertificates) {
            return fail(Errc::too_large, "certificate chain: more than 8 certificates");
        }
        const std::string_view block = pem.substr(begin, end + kEnd.size() - begin);
        BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
        X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
        ERR_clear_error();
        if (!cert) {
            return fail(Errc::malformed_input, "certificate chain: certificate " +
                                                   std::to_string(out.size() + 1) +
                                                   " is not a valid X.509 certificate");
        }
        out.push_back(std::move(cert));
        pos = end + kEnd.size();
    }
    if (out.empty()) return fail(Errc::malformed_input, "certificate chain: no certificate");
    return out;
}

Result<std::vector<X509Ptr>> read_chain_file(const std::filesystem::path& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return fail(Errc::io_error, file.string() + ": " + ec.message());
    if (size > kMaxChainBytes) return fail(Errc::too_large, file.string() + ": over 64 KiB");
    std::ifstream in(file, std::ios::binary);
    std::string text(size, '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
        return fail(Errc::io_error, file.string() + ": cannot read");
    }
    return parse_chain_pem(text);
}

std::string name_text(const X509_NAME* name) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || name == nullptr) return "";
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Result<Summary> summarize(X509* cert) {
    Summary s;
    s.subject = name_text(X509_get_subject_name(cert));
    s.issuer = name_text(X509_get_issuer_name(cert));
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
    s.serial = crypto::hex_encode(crypto::ByteView(serial->data, static_cast<std::size_t>(serial->length)));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) {
        return fail(Errc::crypto_failure, "certificate: SHA-256 fingerprint failed");
    }
    s.sha256 = crypto::hex_encode(crypto::ByteView(md, md_len));
    auto nb = unix_time_of(X509_get0_notBefore(cert));
    auto na = unix_time_of(X509_get0_notAfter(cert));
    if (!nb || !na) return tl::unexpected(nb ? na.error() : nb.error());
    s.not_before = *nb;
    s.not_after = *na;
    return s;
}

Result<crypto::Bytes> spki_of(X509* cert) {
    unsigned char* der = nullptr;
    const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (n <= 0) return fail(Errc::malformed_input, "certificate: unreadable public key");
    crypto::Bytes out(der, der + n);
    OPENSSL_free(der);
    return out;
}

Result<void> verify_chain(const std::vector<X509Ptr>& chain,
                          const std::vector<std::filesystem::path>& anchor_files, ChainPurpose purpose) {
    if (chain.empty()) return fail(Errc::invalid_argument, "empty chain");
    auto store = load_anchors(anchor_files);
    if (!store) return tl::unexpected(store.error());
    X509StackPtr untrusted(sk_X509_new_null());
    for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted.get(), chain[i].get());
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store->get(), chain[0].get(), untrusted.get()) != 1) {
        return fail(Errc::crypto_failure, "X509_STORE_CTX_init failed");
    }
    if (purpose == ChainPurpose::tls_server) X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    if (purpose == ChainPurpose::tls_client) X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(ctx.get()) != 1) {
        const int err = X509_STORE_CTX_get_error(ctx.get());
        ERR_clear_error();
        return fail(Errc::invalid_argument,
                    std::string("the chain does not verify to the trust anchors: ") +
                        X509_verify_cert_error_string(err));
    }
    return {};
}

Result<std::string> make_csr(const X509_NAME* subject, const GENERAL_NAMES* sans,
                             crypto::ByteView spki, const TokenSign& sign) {
    const unsigned char* p = spki.data();
    EvpPkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    if (!pub) return fail(Errc::crypto_failure, "the token key's public key is unreadable");
    X509ReqPtr req(X509_REQ_new());
    if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req.get(), subject) != 1 ||
        X509_REQ_set_pubkey(req.get(), pub.get()) != 1) {
        return fail(Errc::crypto_failure, "building the request failed");
    }
    if (sans != nullptr && sk_GENERAL_NAME_num(sans) > 0) {
        ExtStackPtr exts(sk_X509_EXTENSION_new_null());
        X509_EXTENSION* ext =
            X509V3_EXT_i2d(NID_subject_alt_name, 0, const_cast<GENERAL_NAMES*>(sans));
        if (!exts || ext == nullptr || sk_X509_EXTENSION_push(exts.get(), ext) == 0 ||
            X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
            if (ext != nullptr && !exts) X509_EXTENSION_free(ext);
            return fail(Errc::crypto_failure, "adding the subjectAltName request failed");
        }
    }
    // The CertificationRequestInfo DER is signed on the token (as the TSA
    // does), not through X509_REQ_sign and the provider.
    X509_ALGOR* alg = X509_ALGOR_new();
    if (alg == nullptr ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr) != 1 ||
        X509_REQ_set1_signature_algo(req.get(), alg) != 1) {
        X509_ALGOR_free(alg);
        return fail(Errc::crypto_failure, "setting the signature algorithm failed");
    }
    X509_ALGOR_free(alg);
    unsigned char* tbs = nullptr;
    const int tbs_len = i2d_re_X509_REQ_tbs(req.get(), &tbs);
    if (tbs_len <= 0) return fail(Errc::crypto_failure, "encoding the request failed");
    auto sig = sign(crypto::ByteView(tbs, static_cast<std::size_t>(tbs_len)));
    OPENSSL_free(tbs);
    if (!sig) return tl::unexpected(sig.error().wrap("signing the request on the token"));
    ASN1_BIT_STRING* bits = ASN1_BIT_STRING_new();
    if (bits == nullptr || ASN1_BIT_STRING_set(bits, sig->data(), static_cast<int>(sig->size())) != 1) {
        ASN1_BIT_STRING_free(bits);
        return fail(Errc::crypto_failure, "storing the signature failed");
    }
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req.get(), bits);
    if (X509_REQ_verify(req.get(), pub.get()) != 1) {
        ERR_clear_error();
        return fail(Errc::crypto_failure, "the request's signature does not verify");
    }
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
        return fail(Errc::crypto_failure, "writing the request failed");
    }
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

Result<std::string> csr_subject(std::string_view pem) {
    if (pem.size() > kMaxChainBytes) return fail(Errc::too_large, "request: over 64 KiB");
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509ReqPtr req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    if (!req) return fail(Errc::malformed_input, "request: not a PEM certificate request");
    return name_text(X509_REQ_get_subject_name(req.get()));
}

GeneralNamesPtr sans_of(X509* cert) {
    auto* g = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    return GeneralNamesPtr(g);
}

}  // namespace enclave::appliance::certs
