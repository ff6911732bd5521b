// SPDX-License-Identifier: Apache-2.0
#include "tls_context_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "crypto/secret.hpp"
#include "hsm/tls_context.hpp"

namespace enclave::hsm::detail {

using crypto::Errc;
using crypto::fail;
using crypto::Result;
namespace fs = std::filesystem;

namespace {

using BioPtr = crypto::CHandle<BIO, BIO_free>;

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

/// Reads a whole regular file of at most kMaxPemFileSize bytes. The bytes
/// land in a Secret so key files never sit in ordinary heap memory
/// (certificate files take the same path; the buffer is sized from fstat, so
/// this costs a few pages, not a megabyte of locked memory).
Result<crypto::Secret> read_file(const fs::path& path, std::string_view what) {
    if (path.empty()) return fail(Errc::invalid_argument, std::string(what) + ": no file given");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        const int e = errno;
        return fail(e == ENOENT ? Errc::not_found : Errc::io_error,
                    std::string(what) + " " + quoted(path) + ": " + std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(Errc::invalid_argument,
                    std::string(what) + " " + quoted(path) + " is not a regular file");
    }
    if (static_cast<std::uintmax_t>(st.st_size) > kMaxPemFileSize) {
        ::close(fd);
        return fail(Errc::too_large, std::string(what) + " " + quoted(path) + " is over 1 MiB");
    }
    // One byte more than fstat said, so a file that grew since is caught.
    const auto expected = static_cast<std::size_t>(st.st_size);
    crypto::Secret buf(expected + 1);
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return fail(Errc::io_error,
                        std::string(what) + " " + quoted(path) + ": " + std::strerror(e));
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (got != expected) {
        return fail(Errc::io_error,
                    std::string(what) + " " + quoted(path) + " changed while being read");
    }
    if (got == 0) {
        return fail(Errc::malformed_input, std::string(what) + " " + quoted(path) + " is empty");
    }
    buf.truncate(got);
    return buf;
}

/// Calls `each(der)` for every PEM block of `pem`; every block must be named
/// `block` and carry no headers (no encrypted PEM). malformed_input when
/// there is no block or any block is of another kind or does not decode.
Result<void> for_each_pem_block(const crypto::Secret& pem, const char* block, const fs::path& path,
                                std::string_view what,
                                const std::function<bool(crypto::ByteView)>& each) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return fail(Errc::crypto_failure, "BIO_new_mem_buf failed");
    std::size_t count = 0;
    for (;;) {
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* data = nullptr;
        long len = 0;
        ERR_set_mark();
        const int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
        if (ok != 1) {
            const unsigned long e = ERR_peek_last_error();
            ERR_pop_to_mark();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) break;
            return fail(Errc::malformed_input, std::string(what) + " " + quoted(path) +
                                                   ": PEM block " + std::to_string(count + 1) +
                                                   " is malformed");
        }
        ERR_clear_last_mark();
        const bool right_kind = std::strcmp(name, block) == 0 && header[0] == '\0';
        const bool decoded = right_kind && each({data, static_cast<std::size_t>(len)});
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_clear_free(data, static_cast<std::size_t>(len));
        ++count;
        if (!right_kind) {
            return fail(Errc::malformed_input, std::string(what) + " " + quoted(path) +
                                                   ": PEM block " + std::to_string(count) +
                                                   " is not a " + block);
        }
        if (!decoded) {
            ERR_clear_error();
            return fail(Errc::malformed_input, std::string(what) + " " + quoted(path) + ": " +
                                                   block + " " + std::to_string(count) +
                                                   " does not parse");
        }
    }
    if (count == 0) {
        return fail(Errc::malformed_input,
                    std::string(what) + " " + quoted(path) + " holds no " + block);
    }
    return {};
}

}  // namespace

Result<std::vector<X509Ptr>> read_certificates(const fs::path& path, OSSL_LIB_CTX* libctx) {
    auto pem = read_file(path, "certificate file");
    if (!pem) return tl::unexpected(pem.error());
    std::vector<X509Ptr> out;
    auto ok = for_each_pem_block(
        *pem, PEM_STRING_X509, path, "certificate file", [&](crypto::ByteView der) {
            X509Ptr x(X509_new_ex(libctx, nullptr));
            X509* raw = x.get();
            const unsigned char* p = der.data();
            if (!x || d2i_X509(&raw, &p, static_cast<long>(der.size())) == nullptr ||
                p != der.data() + der.size()) {
                return false;
            }
            out.push_back(std::move(x));
            return true;
        });
    if (!ok) return tl::unexpected(ok.error());
    return out;
}

Result<std::vector<X509CrlPtr>> read_crls(const fs::path& path, OSSL_LIB_CTX* /*libctx*/) {
    auto pem = read_file(path, "CRL file");
    if (!pem) return tl::unexpected(pem.error());
    std::vector<X509CrlPtr> out;
    auto ok =
        for_each_pem_block(*pem, PEM_STRING_X509_CRL, path, "CRL file", [&](crypto::ByteView der) {
            const unsigned char* p = der.data();
            X509CrlPtr c(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
            if (!c || p != der.data() + der.size()) return false;
            out.push_back(std::move(c));
            return true;
        });
    if (!ok) return tl::unexpected(ok.error());
    return out;
}

Result<EvpPkeyPtr> read_private_key_file(const fs::path& path, OSSL_LIB_CTX* libctx) {
    auto pem = read_file(path, "private key file");
    if (!pem) return tl::unexpected(pem.error());
    BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
    if (!bio) return fail(Errc::crypto_failure, "BIO_new_mem_buf failed");
    // No passphrase callback: an encrypted key fails instead of prompting.
    auto no_password = [](char*, int, int, void*) -> int { return -1; };
    EvpPkeyPtr key(
        PEM_read_bio_PrivateKey_ex(bio.get(), nullptr, no_password, nullptr, libctx, nullptr));
    if (!key) {
        ERR_clear_error();  // reasons may quote the PEM structure; we say what failed instead
        return fail(Errc::malformed_input, "private key file " + quoted(path) +
                                               " does not hold an unencrypted PEM private key");
    }
    return key;
}

Result<X509StorePtr> make_trust_store(const fs::path& anchors, const fs::path& crl,
                                      OSSL_LIB_CTX* libctx, STACK_OF(X509_NAME) * subjects) {
    auto certs = read_certificates(anchors, libctx);
    if (!certs) return tl::unexpected(certs.error().wrap("trust anchors"));
    X509StorePtr store(X509_STORE_new());
    if (!store) return fail(Errc::crypto_failure, "X509_STORE_new failed");
    for (const auto& c : *certs) {
        if (X509_STORE_add_cert(store.get(), c.get()) != 1) {
            return fail(Errc::crypto_failure, "adding a trust anchor from '" + anchors.string() +
                                                  "' failed: " + drain_openssl_errors());
        }
        if (subjects != nullptr) {
            X509_NAME* name = X509_NAME_dup(X509_get_subject_name(c.get()));
            if (name == nullptr || sk_X509_NAME_push(subjects, name) <= 0) {
                X509_NAME_free(name);
                return fail(Errc::crypto_failure, "building the client CA list failed");
            }
        }
    }
    if (!crl.empty()) {
        auto crls = read_crls(crl, libctx);
        if (!crls) return tl::unexpected(crls.error());
        for (const auto& c : *crls) {
            if (X509_STORE_add_crl(store.get(), c.get()) != 1) {
                return fail(Errc::crypto_failure, "adding a CRL from '" + crl.string() +
                                                      "' failed: " + drain_openssl_errors());
            }
        }
        X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }
    return store;
}

}  // namespace enclave::hsm::detail
