// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the blob format and blob store suites: deterministic
// plaintext, whole-file reads and writes, and writing/reading blobs through
// the real BlobWriter/BlobReader on real files.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "crypto/blob_format.hpp"
#include "crypto/bytes.hpp"
#include "crypto/secret.hpp"

namespace enclave::crypto::blobtest {

/// Reproducible pseudo-random plaintext (a different stream per seed).
inline Bytes pattern(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Bytes out(n);
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
    return out;
}

inline Bytes read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& p, ByteView data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    ASSERT_TRUE(out.good()) << "cannot write " << p;
}

inline UniqueFd open_for_write(const std::filesystem::path& p) {
    return UniqueFd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
}

inline UniqueFd open_for_read(const std::filesystem::path& p) {
    return UniqueFd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
}

/// Writes `data` as a blob in pieces of `piece` bytes (0: one write).
inline BlobInfo write_blob(const std::filesystem::path& p, const Secret& key, std::string_view id,
                           ByteView data, std::uint32_t chunk_size = kBlobDefaultChunkSize,
                           std::size_t piece = 0) {
    auto w = BlobWriter::create(open_for_write(p), key, id, {chunk_size});
    EXPECT_TRUE(w) << w.error().message();
    if (!w) return {};
    if (piece == 0) piece = data.size() == 0 ? 1 : data.size();
    for (std::size_t off = 0; off < data.size(); off += piece) {
        auto ok = w->write(data.subspan(off, std::min(piece, data.size() - off)));
        EXPECT_TRUE(ok) << ok.error().message();
    }
    auto info = w->finish();
    EXPECT_TRUE(info) << info.error().message();
    return info ? *info : BlobInfo{};
}

inline Result<BlobReader> open_blob(const std::filesystem::path& p, const Secret& key,
                                    std::string_view id) {
    return BlobReader::open(open_for_read(p), key, id);
}

/// Everything read_all delivers, plus the largest single piece seen.
struct Collected {
    Bytes data;
    std::size_t largest_piece = 0;
};

inline Result<Collected> collect_all(const BlobReader& r) {
    Collected c;
    auto ok = r.read_all([&](ByteView piece) -> Result<void> {
        c.data.insert(c.data.end(), piece.begin(), piece.end());
        c.largest_piece = std::max(c.largest_piece, piece.size());
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return c;
}

/// Opens and reads the whole blob; returns the first error on the way.
inline Result<Bytes> open_and_read(const std::filesystem::path& p, const Secret& key,
                                   std::string_view id, Bytes* prefix = nullptr) {
    auto r = open_blob(p, key, id);
    if (!r) return tl::unexpected(r.error());
    Bytes got;
    auto ok = r->read_all([&](ByteView piece) -> Result<void> {
        got.insert(got.end(), piece.begin(), piece.end());
        return {};
    });
    if (prefix != nullptr) *prefix = got;
    if (!ok) return tl::unexpected(ok.error());
    return got;
}

inline std::size_t header_size(std::string_view id) { return kBlobFixedHeaderSize + id.size(); }

}  // namespace enclave::crypto::blobtest
