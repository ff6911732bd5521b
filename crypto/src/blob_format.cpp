// SPDX-License-Identifier: Apache-2.0
// Blob format primitives: object ids, the header, key derivation, chunk
// sealing and the pread/pwrite loops (see blob_format.hpp for the layout).
#include <errno.h>
#include <sodium.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cstring>
#include <limits>
#include <string>

#include "blob_format_detail.hpp"
#include "crypto/blob_format.hpp"
#include "crypto/c_handle.hpp"

namespace enclave::crypto {

static_assert(detail::kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kBlobTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kBlobKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

namespace {

constexpr char kMagic[8] = {'E', 'N', 'C', 'L', 'B', 'L', 'O', 'B'};
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "EnclBlob";
constexpr std::uint64_t kChunkKeySubkey = 1;
constexpr std::uint64_t kKeyIdSubkey = 2;

bool is_id_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

}  // namespace

// ---- object ids ------------------------------------------------------------

bool is_valid_object_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > kMaxObjectIdLength) return false;
    for (char c : id) {
        if (!is_id_char(c)) return false;
    }
    return true;
}

Result<void> check_object_id(std::string_view id) {
    if (is_valid_object_id(id)) return {};
    // Describe the rule and the length only: the id may be hostile input.
    return fail(Errc::invalid_argument,
                "object id must be 1-" + std::to_string(kMaxObjectIdLength) +
                    " characters from [A-Za-z0-9_-] (got " + std::to_string(id.size()) +
                    " characters)");
}

// ---- UniqueFd ----------------------------------------------------------------

UniqueFd::~UniqueFd() { reset(); }

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
}

int UniqueFd::release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        // close() may report EINTR/EIO; the descriptor is released either way
        // and a reader or writer has already synced what it needs.
        ::close(fd_);
    }
    fd_ = fd;
}

namespace detail {

// ---- header --------------------------------------------------------------------

Bytes encode_header(const BlobHeader& h) {
    Bytes out(kBlobFixedHeaderSize + h.object_id.size());
    std::memcpy(out.data(), kMagic, sizeof kMagic);
    store_be(out.data() + 8, kBlobFormatVersion, 2);
    out[10] = 0;
    out[11] = static_cast<std::uint8_t>(h.object_id.size());
    store_be(out.data() + 12, h.chunk_size, 4);
    std::memcpy(out.data() + 16, h.key_id.data(), kKeyIdSize);
    std::memcpy(out.data() + 32, h.nonce_prefix.data(), kNoncePrefixSize);
    std::memcpy(out.data() + kBlobFixedHeaderSize, h.object_id.data(), h.object_id.size());
    return out;
}

Result<std::size_t> parse_fixed_header(ByteView available, BlobHeader& out) {
    if (available.size() < sizeof kMagic) {
        return fail(Errc::integrity_failure, "blob file is truncated: shorter than its magic");
    }
    if (std::memcmp(available.data(), kMagic, sizeof kMagic) != 0) {
        return fail(Errc::malformed_input, "not an Enclave blob file (bad magic)");
    }
    // The version comes before the length check: another version may have
    // another header size.
    if (available.size() >= 10) {
        const auto version = load_be(available.data() + 8, 2);
        if (version != kBlobFormatVersion) {
            return fail(Errc::malformed_input, "unsupported blob format version " +
                                                   std::to_string(version) + " (this build reads " +
                                                   std::to_string(kBlobFormatVersion) + ")");
        }
    }
    if (available.size() < kBlobFixedHeaderSize) {
        return fail(Errc::integrity_failure, "blob file is truncated inside its header (" +
                                                 std::to_string(available.size()) + " bytes)");
    }
    if (available[10] != 0) {
        return fail(Errc::malformed_input, "blob header reserved byte is not zero");
    }
    const std::size_t id_len = available[11];
    if (id_len == 0) {
        return fail(Errc::malformed_input, "blob header has an empty object id");
    }
    if (id_len > kMaxObjectIdLength) {
        return fail(Errc::too_large, "blob header object id length " + std::to_string(id_len) +
                                         " exceeds " + std::to_string(kMaxObjectIdLength));
    }
    const auto chunk = static_cast<std::uint32_t>(load_be(available.data() + 12, 4));
    if (chunk < kBlobMinChunkSize) {
        return fail(Errc::malformed_input, "blob chunk size " + std::to_string(chunk) +
                                               " is below the minimum " +
                                               std::to_string(kBlobMinChunkSize));
    }
    if (chunk > kBlobMaxChunkSize) {
        return fail(Errc::too_large, "blob chunk size " + std::to_string(chunk) +
                                         " exceeds the maximum " +
                                         std::to_string(kBlobMaxChunkSize));
    }
    out.chunk_size = chunk;
    std::memcpy(out.key_id.data(), available.data() + 16, kKeyIdSize);
    std::memcpy(out.nonce_prefix.data(), available.data() + 32, kNoncePrefixSize);
    return id_len;
}

Result<void> parse_header_object_id(ByteView id_bytes, BlobHeader& out) {
    std::string id(reinterpret_cast<const char*>(id_bytes.data()), id_bytes.size());
    if (!is_valid_object_id(id)) {
        return fail(Errc::malformed_input,
                    "blob header object id has characters outside [A-Za-z0-9_-]");
    }
    out.object_id = std::move(id);
    return {};
}

std::array<std::uint8_t, kHeaderDigestSize> header_digest(ByteView header) {
    std::array<std::uint8_t, kHeaderDigestSize> d{};
    crypto_generichash(d.data(), d.size(), header.data(), header.size(), nullptr, 0);
    return d;
}

// ---- keys and chunks -----------------------------------------------------------

DerivedKeys derive_keys(const Secret& data_key) {
    ensure_sodium();
    DerivedKeys k{Secret(kBlobKeySize), {}};
    crypto_kdf_derive_from_key(k.chunk_key.data(), k.chunk_key.size(), kChunkKeySubkey,
                               kKdfContext, data_key.data());
    crypto_kdf_derive_from_key(k.key_id.data(), k.key_id.size(), kKeyIdSubkey, kKdfContext,
                               data_key.data());
    return k;
}

namespace {

struct ChunkParams {
    std::array<std::uint8_t, kNonceSize> nonce;
    std::array<std::uint8_t, kChunkAdSize> ad;
};

ChunkParams chunk_params(const ChunkCipher& c, std::uint64_t index, bool final) noexcept {
    ChunkParams p{};
    std::memcpy(p.nonce.data(), c.nonce_prefix.data(), kNoncePrefixSize);
    store_be(p.nonce.data() + kNoncePrefixSize, index, 8);
    std::memcpy(p.ad.data(), c.header_digest.data(), kHeaderDigestSize);
    store_be(p.ad.data() + kHeaderDigestSize, index, 8);
    p.ad[kChunkAdSize - 1] = final ? 1 : 0;
    return p;
}

}  // namespace

void ChunkCipher::seal(std::uint64_t index, bool final, const std::uint8_t* in, std::size_t len,
                       std::uint8_t* out) const noexcept {
    const ChunkParams p = chunk_params(*this, index, final);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, nullptr, in, len,
                                                        p.ad.data(), p.ad.size(), nullptr,
                                                        p.nonce.data(), chunk_key.data());
}

namespace {

// Decryption goes through OpenSSL's ChaCha20-Poly1305 (RFC 8439), which is
// about 1.8x faster than libsodium's on this hardware and reads served
// binaries (docs/performance.md, issue #6). XChaCha20-Poly1305 is exactly
// that construction under the subkey HChaCha20(key, nonce[0..16]) with the
// nonce 0^32 || nonce[16..24] (draft-irtf-cfrg-xchacha, as libsodium builds
// it), so the bytes on disk do not change. Without the cipher (a provider
// configuration without it) libsodium decrypts, as before.
const EVP_CIPHER* openssl_chacha20_poly1305() {
    static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
    return cipher;
}

using CipherCtx = CHandle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

bool open_with_openssl(const EVP_CIPHER* cipher, const ChunkParams& p, const Secret& key,
                       const std::uint8_t* in, std::size_t len, std::uint8_t* out) noexcept {
    if (len > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
    std::array<std::uint8_t, crypto_core_hchacha20_OUTPUTBYTES> subkey{};
    std::array<std::uint8_t, 12> nonce{};
    crypto_core_hchacha20(subkey.data(), p.nonce.data(), key.data(), nullptr);
    std::memcpy(nonce.data() + 4, p.nonce.data() + crypto_core_hchacha20_INPUTBYTES, 8);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    int tail = 0;
    // The tag is set before any data; Final checks it (in constant time).
    bool ok = ctx && EVP_DecryptInit_ex2(ctx.get(), cipher, subkey.data(), nonce.data(), nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kBlobTagSize),
                                  const_cast<std::uint8_t*>(in + len)) == 1 &&
              EVP_DecryptUpdate(ctx.get(), nullptr, &n, p.ad.data(), static_cast<int>(p.ad.size())) == 1 &&
              EVP_DecryptUpdate(ctx.get(), out, &n, in, static_cast<int>(len)) == 1 &&
              static_cast<std::size_t>(n) == len &&
              EVP_DecryptFinal_ex(ctx.get(), out + len, &tail) == 1 && tail == 0;
    sodium_memzero(subkey.data(), subkey.size());
    // OpenSSL writes plaintext before it checks the tag: a chunk that does
    // not authenticate leaves nothing of it behind.
    if (!ok) sodium_memzero(out, len);
    ERR_clear_error();
    return ok;
}

}  // namespace

bool ChunkCipher::open(std::uint64_t index, bool final, const std::uint8_t* in, std::size_t len,
                       std::uint8_t* out) const noexcept {
    const ChunkParams p = chunk_params(*this, index, final);
    if (const EVP_CIPHER* cipher = openssl_chacha20_poly1305()) {
        return open_with_openssl(cipher, p, chunk_key, in, len, out);
    }
    // libsodium verifies the tag before it writes a single byte of `out`.
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
               out, nullptr, in, len, in + len, p.ad.data(), p.ad.size(), p.nonce.data(),
               chunk_key.data()) == 0;
}

// ---- I/O -------------------------------------------------------------------------

tl::unexpected<Error> io_failure(std::string_view what, int err) {
    return fail(Errc::io_error, std::string(what) + ": " + std::strerror(err));
}

Result<void> pwrite_all(int fd, const std::uint8_t* data, std::size_t len, std::uint64_t offset) {
    while (len > 0) {
        const ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_failure("writing blob file", errno);
        }
        if (n == 0) return fail(Errc::io_error, "writing blob file: no progress");
        data += n;
        len -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return {};
}

Result<std::size_t> pread_upto(int fd, std::uint8_t* data, std::size_t len, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < len) {
        const ssize_t n = ::pread(fd, data + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_failure("reading blob file", errno);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

}  // namespace detail
}  // namespace enclave::crypto
