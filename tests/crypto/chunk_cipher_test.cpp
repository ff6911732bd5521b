// SPDX-License-Identifier: Apache-2.0
// ChunkCipher (white box): chunks sealed by libsodium's
// XChaCha20-Poly1305 open through the OpenSSL path byte for byte, an
// independent libsodium decryption of the same bytes agrees, and a chunk
// that does not authenticate leaves zeros, never plaintext.
#include <sodium.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "../../crypto/src/blob_format_detail.hpp"

namespace enclave::crypto {
namespace {

using detail::ChunkCipher;

ChunkCipher make_cipher() {
    ChunkCipher c{Secret::random(kBlobKeySize), {}, {}};
    randombytes_buf(c.nonce_prefix.data(), c.nonce_prefix.size());
    randombytes_buf(c.header_digest.data(), c.header_digest.size());
    return c;
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    randombytes_buf(v.data(), v.size());
    return v;
}

// The format as documented (blob_format.hpp): nonce = prefix || be64(index),
// AD = header digest || be64(index) || final.
bool reference_open(const ChunkCipher& c, std::uint64_t index, bool final,
                    const std::vector<std::uint8_t>& sealed, std::vector<std::uint8_t>& out) {
    std::uint8_t nonce[detail::kNonceSize];
    std::uint8_t ad[detail::kChunkAdSize];
    std::copy(c.nonce_prefix.begin(), c.nonce_prefix.end(), nonce);
    std::copy(c.header_digest.begin(), c.header_digest.end(), ad);
    for (int i = 0; i < 8; ++i) {
        nonce[detail::kNoncePrefixSize + i] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
        ad[detail::kHeaderDigestSize + i] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
    }
    ad[detail::kChunkAdSize - 1] = final ? 1 : 0;
    const std::size_t len = sealed.size() - kBlobTagSize;
    out.assign(len, 0);
    return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
               out.data(), nullptr, sealed.data(), len, sealed.data() + len, ad, sizeof ad, nonce,
               c.chunk_key.data()) == 0;
}

TEST(ChunkCipher, OpensWhatLibsodiumSealedForEverySize) {
    ASSERT_GE(sodium_init(), 0);
    const ChunkCipher c = make_cipher();
    std::uint64_t index = 0;
    for (std::size_t len : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                            std::size_t{65}, std::size_t{4096}, std::size_t{65536},
                            std::size_t{1 << 20}}) {
        const auto plain = random_bytes(len);
        const bool final = len == 1 << 20;
        std::vector<std::uint8_t> sealed(len + kBlobTagSize);
        c.seal(index, final, plain.data(), len, sealed.data());
        std::vector<std::uint8_t> ref;
        ASSERT_TRUE(reference_open(c, index, final, sealed, ref)) << len;
        EXPECT_EQ(ref, plain) << len;
        std::vector<std::uint8_t> out(len + 1, 0xAA);
        ASSERT_TRUE(c.open(index, final, sealed.data(), len, out.data())) << len;
        EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(len)), plain);
        EXPECT_EQ(out[len], 0xAA) << "wrote past the chunk";
        // In place, as the reader does with its pooled buffers.
        std::vector<std::uint8_t> in_place = sealed;
        ASSERT_TRUE(c.open(index, final, in_place.data(), len, in_place.data()));
        EXPECT_EQ(std::vector<std::uint8_t>(in_place.begin(), in_place.begin() + static_cast<long>(len)),
                  plain);
        ++index;
    }
}

TEST(ChunkCipher, AChunkThatDoesNotAuthenticateLeavesZeros) {
    ASSERT_GE(sodium_init(), 0);
    const ChunkCipher c = make_cipher();
    const std::size_t len = 65536;
    const auto plain = random_bytes(len);
    std::vector<std::uint8_t> sealed(len + kBlobTagSize);
    c.seal(7, false, plain.data(), len, sealed.data());
    const std::vector<std::uint8_t> zeros(len, 0);

    auto expect_refused = [&](std::vector<std::uint8_t> bytes, std::uint64_t index, bool final,
                              const char* what) {
        std::vector<std::uint8_t> out(len, 0x55);
        EXPECT_FALSE(c.open(index, final, bytes.data(), len, out.data())) << what;
        EXPECT_EQ(out, zeros) << what;
        EXPECT_FALSE(c.open(index, final, bytes.data(), len, bytes.data())) << what;
        EXPECT_EQ(std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(len)),
                  zeros)
            << what << " (in place)";
    };
    auto flipped = sealed;
    flipped[12345] ^= 0x01;
    expect_refused(flipped, 7, false, "a ciphertext bit");
    flipped = sealed;
    flipped[len + 3] ^= 0x80;
    expect_refused(flipped, 7, false, "a tag bit");
    expect_refused(sealed, 8, false, "another index (reordered)");
    expect_refused(sealed, 7, true, "the final flag (truncation)");
    ChunkCipher other = make_cipher();
    std::vector<std::uint8_t> out(len, 0x55);
    EXPECT_FALSE(other.open(7, false, sealed.data(), len, out.data())) << "another blob's key";
    EXPECT_EQ(out, zeros);
}

}  // namespace
}  // namespace enclave::crypto
