// SPDX-License-Identifier: Apache-2.0
#include "provider_signature_ctx.hpp"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

namespace enclave::hsm::detail {

using crypto::Bytes;
using crypto::ByteView;
using crypto::HashAlg;

namespace {

using MdPtr = crypto::CHandle<EVP_MD, EVP_MD_free>;

/// The digest implementations, fetched once (EVP_MD_fetch takes locks and
/// runs lookups; libssl initialises several signatures per handshake). Kept
/// for the process lifetime, like the library context.
const EVP_MD* md_for(HashAlg h) {
    struct Table {
        EVP_MD* sha256 = nullptr;
        EVP_MD* sha384 = nullptr;
        EVP_MD* sha512 = nullptr;
    };
    static const Table table = [] {
        Table t;
        auto libctx = tls_libctx();
        if (!libctx) return t;
        t.sha256 = EVP_MD_fetch(*libctx, "SHA2-256", nullptr);
        t.sha384 = EVP_MD_fetch(*libctx, "SHA2-384", nullptr);
        t.sha512 = EVP_MD_fetch(*libctx, "SHA2-512", nullptr);
        return t;
    }();
    switch (h) {
        case HashAlg::sha256: return table.sha256;
        case HashAlg::sha384: return table.sha384;
        case HashAlg::sha512: return table.sha512;
        default: return nullptr;
    }
}

/// SHA-256/384/512 under any of OpenSSL's names for them; nullopt otherwise.
/// The names libssl and most callers use are matched without a fetch.
std::optional<HashAlg> hash_from_name(const char* name) {
    if (name == nullptr) return std::nullopt;
    static constexpr std::pair<std::string_view, HashAlg> kKnown[] = {
        {"SHA256", HashAlg::sha256}, {"SHA2-256", HashAlg::sha256}, {"SHA-256", HashAlg::sha256},
        {"SHA384", HashAlg::sha384}, {"SHA2-384", HashAlg::sha384}, {"SHA-384", HashAlg::sha384},
        {"SHA512", HashAlg::sha512}, {"SHA2-512", HashAlg::sha512}, {"SHA-512", HashAlg::sha512}};
    for (const auto& [known, alg] : kKnown) {
        if (known.size() == std::strlen(name) && OPENSSL_strcasecmp(name, known.data()) == 0) {
            return alg;
        }
    }
    auto libctx = tls_libctx();
    if (!libctx) return std::nullopt;
    MdPtr md(EVP_MD_fetch(*libctx, name, nullptr));
    if (!md) return std::nullopt;
    if (EVP_MD_is_a(md.get(), "SHA2-256")) return HashAlg::sha256;
    if (EVP_MD_is_a(md.get(), "SHA2-384")) return HashAlg::sha384;
    if (EVP_MD_is_a(md.get(), "SHA2-512")) return HashAlg::sha512;
    return std::nullopt;
}

const char* md_name(HashAlg h) {
    switch (h) {
        case HashAlg::sha256: return "SHA2-256";
        case HashAlg::sha384: return "SHA2-384";
        case HashAlg::sha512: return "SHA2-512";
        default: return "";
    }
}

std::optional<HashAlg> hash_for_length(std::size_t len) {
    switch (len) {
        case 32: return HashAlg::sha256;
        case 48: return HashAlg::sha384;
        case 64: return HashAlg::sha512;
        default: return std::nullopt;
    }
}

bool fail(const char* what, std::string_view why) {
    raise_error(ERR_R_PASSED_INVALID_ARGUMENT, what, why);
    return false;
}

}  // namespace

std::unique_ptr<SigCtx> SigCtx::dup() const {
    auto out = std::make_unique<SigCtx>(kind_);
    out->token_ = token_;
    if (pub_) {
        if (EVP_PKEY_up_ref(pub_.get()) != 1) return nullptr;
        out->pub_.reset(pub_.get());
    }
    out->hash_ = hash_;
    if (md_) {
        out->md_.reset(EVP_MD_CTX_new());
        if (!out->md_ || EVP_MD_CTX_copy_ex(out->md_.get(), md_.get()) != 1) return nullptr;
    }
    out->pss_ = pss_;
    out->mgf1_ = mgf1_;
    out->saltlen_ = saltlen_;
    return out;
}

bool SigCtx::init(const KeyData* key, const char* mdname, bool streaming) {
    if (key == nullptr || key->kind != kind_ || !key->pub) return fail("sign init", "no key");
    if (!key->token) {
        return fail("sign init", "this key has no private part on the token (a public key)");
    }
    token_ = key->token;
    if (EVP_PKEY_up_ref(key->pub.get()) != 1) return false;
    pub_.reset(key->pub.get());
    hash_.reset();
    md_.reset();
    pss_ = false;
    mgf1_.reset();
    saltlen_ = RSA_PSS_SALTLEN_DIGEST;
    const bool named = mdname != nullptr && *mdname != '\0';
    if (kind_ == KeyKind::ed25519) {
        if (named) return fail("sign init", "Ed25519 takes no message digest");
        return true;
    }
    if (named && !set_digest(mdname)) return false;
    // The hash state is made on the first update: libssl follows
    // digest_sign_init with the one-shot digest_sign, which needs none.
    if (streaming && !hash_) hash_ = HashAlg::sha256;  // OpenSSL's default digest
    return true;
}

bool SigCtx::set_digest(const char* name) {
    if (kind_ == KeyKind::ed25519) return fail("set digest", "Ed25519 takes no message digest");
    auto h = hash_from_name(name);
    if (!h) return fail("set digest", "token signatures use SHA-256, SHA-384 or SHA-512");
    hash_ = h;
    return !md_ || start_hash();  // a new hash restarts a streaming operation
}

bool SigCtx::start_hash() {
    const EVP_MD* md = md_for(*hash_);
    md_.reset(EVP_MD_CTX_new());
    return md != nullptr && md_ && EVP_DigestInit_ex(md_.get(), md, nullptr) == 1;
}

bool SigCtx::set_pad_mode(const OSSL_PARAM& p) {
    int mode = 0;
    const char* text = nullptr;
    if (p.data_type == OSSL_PARAM_UTF8_STRING && OSSL_PARAM_get_utf8_string_ptr(&p, &text) == 1) {
        if (std::strcmp(text, OSSL_PKEY_RSA_PAD_MODE_PSS) != 0) {
            return fail("set pad mode", "RSA keys on the token sign with PSS only");
        }
        pss_ = true;
        return true;
    }
    if (OSSL_PARAM_get_int(&p, &mode) != 1) return fail("set pad mode", "not a padding mode");
    if (mode != RSA_PKCS1_PSS_PADDING) {
        return fail("set pad mode", "RSA keys on the token sign with PSS only");
    }
    pss_ = true;
    return true;
}

bool SigCtx::set_saltlen(const OSSL_PARAM& p) {
    const char* text = nullptr;
    if (p.data_type == OSSL_PARAM_UTF8_STRING && OSSL_PARAM_get_utf8_string_ptr(&p, &text) == 1) {
        const std::string_view t(text);
        if (t == OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) {
            saltlen_ = RSA_PSS_SALTLEN_DIGEST;
        } else if (t == OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) {
            saltlen_ = RSA_PSS_SALTLEN_MAX;
        } else if (t == OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) {
            saltlen_ = RSA_PSS_SALTLEN_AUTO;
        } else if (t == "auto-digestmax") {
            saltlen_ = -4;
        } else {
            int n = 0;
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
            if (ec != std::errc() || end != t.data() + t.size() || t.empty()) {
                return fail("set salt length", "not a salt length");
            }
            saltlen_ = n;
        }
    } else if (OSSL_PARAM_get_int(&p, &saltlen_) != 1) {
        return fail("set salt length", "not a salt length");
    }
    if (saltlen_ < -4) return fail("set salt length", "not a salt length");
    return true;
}

bool SigCtx::set_mgf1(const OSSL_PARAM& p) {
    const char* name = nullptr;
    if (OSSL_PARAM_get_utf8_string_ptr(&p, &name) != 1) return fail("set MGF1", "not a name");
    mgf1_ = hash_from_name(name);
    if (!mgf1_) return fail("set MGF1", "MGF1 uses SHA-256, SHA-384 or SHA-512");
    return true;
}

bool SigCtx::set_params(const OSSL_PARAM* params) {
    for (const OSSL_PARAM* p = params; p != nullptr && p->key != nullptr; ++p) {
        const std::string_view key(p->key);
        if (key == OSSL_SIGNATURE_PARAM_DIGEST) {
            const char* name = nullptr;
            if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1 || !set_digest(name)) return false;
            continue;
        }
        const bool rsa_param = key == OSSL_SIGNATURE_PARAM_PAD_MODE ||
                               key == OSSL_SIGNATURE_PARAM_PSS_SALTLEN ||
                               key == OSSL_SIGNATURE_PARAM_MGF1_DIGEST;
        if (!rsa_param) continue;  // unknown parameters are ignored, as providers do
        if (kind_ != KeyKind::rsa) return fail("set params", "an RSA parameter on a non-RSA key");
        if (key == OSSL_SIGNATURE_PARAM_PAD_MODE && !set_pad_mode(*p)) return false;
        if (key == OSSL_SIGNATURE_PARAM_PSS_SALTLEN && !set_saltlen(*p)) return false;
        if (key == OSSL_SIGNATURE_PARAM_MGF1_DIGEST && !set_mgf1(*p)) return false;
    }
    return true;
}

bool SigCtx::get_params(OSSL_PARAM* params) const {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != nullptr && OSSL_PARAM_set_utf8_string(p, hash_ ? md_name(*hash_) : "") != 1) {
        return false;
    }
    return true;
}

std::size_t SigCtx::max_size() const {
    const int n = pub_ ? EVP_PKEY_get_size(pub_.get()) : 0;
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

crypto::Result<Bytes> SigCtx::token_sign(ByteView digest) {
    if (kind_ == KeyKind::ec) {
        if (hash_ && digest.size() != crypto::digest_size(*hash_)) {
            return crypto::fail(crypto::Errc::invalid_argument, "digest length != hash length");
        }
        auto raw = token_->signer.sign_ecdsa_digest(digest);
        if (!raw) return raw;
        return ecdsa_raw_to_der(*raw);
    }
    if (!pss_) {
        return crypto::fail(crypto::Errc::unsupported_algorithm,
                            "RSA keys on the token sign with PSS only; set PSS padding");
    }
    const auto hash = hash_ ? hash_ : hash_for_length(digest.size());
    if (!hash || digest.size() != crypto::digest_size(*hash)) {
        return crypto::fail(crypto::Errc::invalid_argument, "digest length != hash length");
    }
    if (mgf1_ && *mgf1_ != *hash) {
        return crypto::fail(crypto::Errc::unsupported_algorithm,
                            "the token uses MGF1 with the message hash");
    }
    const int bits = EVP_PKEY_get_bits(pub_.get());
    const auto h_len = static_cast<int>(crypto::digest_size(*hash));
    const int max_salt = (bits - 1 + 7) / 8 - h_len - 2;
    int salt = saltlen_;
    if (salt == RSA_PSS_SALTLEN_DIGEST) salt = h_len;
    if (salt == RSA_PSS_SALTLEN_MAX || salt == RSA_PSS_SALTLEN_AUTO) salt = max_salt;
    if (salt == -4) salt = h_len <= max_salt ? h_len : max_salt;
    if (salt < 0 || salt > max_salt) {
        return crypto::fail(crypto::Errc::invalid_argument, "PSS salt length too long for the key");
    }
    return token_->signer.sign_rsa_pss_digest(*hash, digest, static_cast<std::size_t>(salt));
}

bool SigCtx::emit(crypto::Result<Bytes> signature, unsigned char* sig, size_t* siglen,
                  size_t sigsize) {
    if (!signature) {
        const std::string msg = token_->uri + ": " + signature.error().message();
        raise_error(ERR_R_OPERATION_FAIL, "signing", msg);
        return false;
    }
    if (signature->size() > sigsize) return fail("signing", "signature buffer too small");
    std::memcpy(sig, signature->data(), signature->size());
    *siglen = signature->size();
    return true;
}

bool SigCtx::sign_digest(ByteView digest, unsigned char* sig, size_t* siglen, size_t sigsize) {
    if (!token_ || siglen == nullptr) return fail("sign", "not initialised");
    if (sig == nullptr) {
        *siglen = max_size();
        return true;
    }
    return emit(token_sign(digest), sig, siglen, sigsize);
}

bool SigCtx::update(ByteView data) {
    if (!token_ || !hash_) {
        return fail("digest_sign_update", "not initialised (Ed25519 is one-shot only)");
    }
    if (!md_ && !start_hash()) return false;
    return EVP_DigestUpdate(md_.get(), data.data(), data.size()) == 1;
}

bool SigCtx::final(unsigned char* sig, size_t* siglen, size_t sigsize) {
    if (!token_ || !hash_ || siglen == nullptr) {
        return fail("digest_sign_final", "not initialised");
    }
    if (sig == nullptr) {
        *siglen = max_size();
        return true;
    }
    if (!md_ && !start_hash()) return false;  // an empty message
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md_.get(), digest, &len) != 1) return false;
    return emit(token_sign({digest, len}), sig, siglen, sigsize);
}

bool SigCtx::one_shot(ByteView tbs, unsigned char* sig, size_t* siglen, size_t sigsize) {
    if (!token_ || siglen == nullptr) return fail("digest_sign", "not initialised");
    if (sig == nullptr) {
        *siglen = max_size();
        return true;
    }
    if (kind_ == KeyKind::ed25519)
        return emit(token_->signer.sign_ed25519(tbs), sig, siglen, sigsize);
    if (!hash_) hash_ = HashAlg::sha256;
    const Bytes digest = crypto::digest(*hash_, tbs);
    return emit(token_sign(digest), sig, siglen, sigsize);
}

}  // namespace enclave::hsm::detail
