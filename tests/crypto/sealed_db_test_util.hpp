// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers shared by the SealedDb suites: raw file access, the database key
// recovered the way an attacker holding the KEK would, a decryptor for
// SQLCipher 3.x pages written from the documented format (so the tests check
// what crypto/sealed_db.hpp claims), and the sqlcipher CLI.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/bytes.hpp"
#include "crypto/key_wrapper.hpp"
#include "crypto/secret.hpp"
#include "crypto/wrapped_key_file.hpp"

namespace enclave::crypto::test {

namespace fs = std::filesystem;

inline Bytes read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const fs::path& p, ByteView bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline bool contains(ByteView hay, ByteView needle) {
    return !needle.empty() &&
           std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

inline bool contains(ByteView hay, std::string_view needle) { return contains(hay, as_bytes(needle)); }

/// Every regular file in `dir` whose content contains `needle` (names only).
inline std::vector<std::string> files_containing(const fs::path& dir, ByteView needle) {
    std::vector<std::string> hits;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_regular_file() && contains(read_all(e.path()), needle)) {
            hits.push_back(e.path().filename().string());
        }
    }
    return hits;
}

/// The raw database key, unwrapped from the key file with the KEK.
inline Secret unwrap_db_key(const fs::path& db_path, KeyWrapper& kek) {
    auto file = WrappedKeyFile::read(fs::path(db_path.string() + ".key"));
    EXPECT_TRUE(file) << file.error().message();
    auto key = kek.unwrap(file->wrapped, 32);
    EXPECT_TRUE(key) << key.error().message();
    return key ? std::move(*key) : Secret();
}

/// Decrypts SQLCipher 3.x pages: AES-256-CBC with the raw key, IV at
/// page_size - 48, HMAC-SHA1(ciphertext || IV || pgno LE) after the IV, HMAC
/// key = PBKDF2-HMAC-SHA1(key, salt ^ 0x3a, 2 iterations).
class PageDecryptor {
public:
    static constexpr std::size_t kPage = 4096;
    static constexpr std::size_t kReserve = 48;

    PageDecryptor(const Secret& key, ByteView salt) : key_(Secret::copy_of(key.view())) {
        Bytes hsalt(salt.begin(), salt.end());
        for (auto& b : hsalt) {
            b ^= 0x3a;
        }
        hmac_key_.resize(32);
        PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(key.data()), static_cast<int>(key.size()),
                          hsalt.data(), static_cast<int>(hsalt.size()), 2, EVP_sha1(), 32,
                          hmac_key_.data());
    }

    /// The plaintext page, or nullopt when its HMAC does not verify.
    std::optional<Bytes> decrypt(ByteView page, std::uint32_t pgno) const {
        if (page.size() != kPage) {
            return std::nullopt;
        }
        const std::size_t off = pgno == 1 ? 16 : 0;
        const std::size_t iv_at = kPage - kReserve;
        Bytes mac_in(page.begin() + static_cast<long>(off), page.begin() + static_cast<long>(iv_at + 16));
        for (int i = 0; i < 4; ++i) {
            mac_in.push_back(static_cast<std::uint8_t>((pgno >> (8 * i)) & 0xff));
        }
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        HMAC(EVP_sha1(), hmac_key_.data(), static_cast<int>(hmac_key_.size()), mac_in.data(), mac_in.size(),
             mac, &mac_len);
        if (mac_len != 20 || !std::equal(mac, mac + 20, page.begin() + static_cast<long>(iv_at + 16))) {
            return std::nullopt;
        }
        Bytes out(kPage, 0);
        EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
        int n1 = 0;
        int n2 = 0;
        EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key_.data(), page.data() + iv_at);
        EVP_CIPHER_CTX_set_padding(ctx, 0);
        EVP_DecryptUpdate(ctx, out.data() + off, &n1, page.data() + off, static_cast<int>(iv_at - off));
        EVP_DecryptFinal_ex(ctx, out.data() + off + n1, &n2);
        EVP_CIPHER_CTX_free(ctx);
        return out;
    }

    /// Decrypts every page of a database file; ADD_FAILURE for one that does not verify.
    std::vector<Bytes> decrypt_db(ByteView file) const {
        std::vector<Bytes> pages;
        for (std::size_t i = 0; i + kPage <= file.size(); i += kPage) {
            const auto pgno = static_cast<std::uint32_t>(i / kPage + 1);
            auto p = decrypt(file.subspan(i, kPage), pgno);
            if (!p) {
                ADD_FAILURE() << "page " << pgno << " does not verify with the documented format";
                continue;
            }
            pages.push_back(std::move(*p));
        }
        return pages;
    }

    /// Decrypts every frame of a WAL file (32-byte header; 24-byte frame
    /// header whose first 4 bytes are the page number, big-endian).
    std::vector<Bytes> decrypt_wal(ByteView wal) const {
        std::vector<Bytes> pages;
        for (std::size_t at = 32; at + 24 + kPage <= wal.size(); at += 24 + kPage) {
            const std::uint32_t pgno = (std::uint32_t{wal[at]} << 24) | (std::uint32_t{wal[at + 1]} << 16) |
                                       (std::uint32_t{wal[at + 2]} << 8) | wal[at + 3];
            auto p = decrypt(wal.subspan(at + 24, kPage), pgno);
            if (!p) {
                ADD_FAILURE() << "WAL frame for page " << pgno << " does not verify";
                continue;
            }
            pages.push_back(std::move(*p));
        }
        return pages;
    }

private:
    Secret key_;
    Bytes hmac_key_;
};

inline bool any_contains(const std::vector<Bytes>& pages, std::string_view needle) {
    return std::any_of(pages.begin(), pages.end(), [&](const Bytes& p) { return contains(p, needle); });
}

struct CliResult {
    int exit_code = -1;
    std::string output;
};

/// Runs `sqlcipher -batch <db>` with `script` on stdin; stdout and stderr together.
inline CliResult run_sqlcipher_cli(const fs::path& db, const std::string& script, const fs::path& scratch) {
    if (std::system("command -v sqlcipher >/dev/null 2>&1") != 0) {
        ADD_FAILURE() << "the sqlcipher command is missing: install the Debian package 'sqlcipher'";
        return {};
    }
    const fs::path in = scratch / "cli-script.sql";
    const fs::path out = scratch / "cli-output.txt";
    write_all(in, as_bytes(script));
    const std::string cmd = "sqlcipher -batch '" + db.string() + "' < '" + in.string() + "' > '" +
                            out.string() + "' 2>&1";
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const Bytes o = read_all(out);
    r.output.assign(o.begin(), o.end());
    fs::remove(in);
    fs::remove(out);
    return r;
}

}  // namespace enclave::crypto::test
