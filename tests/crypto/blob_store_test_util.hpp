// SPDX-License-Identifier: Apache-2.0
#pragma once
// The BlobStore test fixture: a temp directory, a real SecretKeyWrapper as
// the KEK, and small helpers to store objects and inspect files.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "blob_test_util.hpp"
#include "crypto/blob_store.hpp"
#include "crypto/key_wrapper.hpp"
#include "support/paths.hpp"

namespace enclave::crypto::blobtest {

inline std::set<std::string> list_names(const std::filesystem::path& dir) {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        out.insert(e.path().filename().string());
    }
    return out;
}

inline unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return 0xFFFF;
    return st.st_mode & 07777;
}

class BlobStoreTest : public ::testing::Test {
protected:
    std::filesystem::path store_dir() const { return dir_.path() / "store"; }

    BlobStore open_store() {
        auto r = BlobStore::open(store_dir(), kek_);
        if (!r) throw std::runtime_error("BlobStore::open: " + r.error().message());
        return std::move(*r);
    }

    /// Stores `data` in one write; returns the id (empty after a failure).
    static std::string put(BlobStore& store, std::optional<std::string_view> id, ByteView data,
                           std::uint32_t chunk = kBlobDefaultChunkSize) {
        auto h = store.create(id, {chunk});
        if (!h) {
            ADD_FAILURE() << "create: " << h.error().message();
            return {};
        }
        if (auto ok = h->write(data); !ok) {
            ADD_FAILURE() << "write: " << ok.error().message();
            return {};
        }
        auto info = h->commit();
        if (!info) {
            ADD_FAILURE() << "commit: " << info.error().message();
            return {};
        }
        EXPECT_EQ(info->plaintext_size, data.size());
        return h->id();
    }

    enclave::testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-1", Secret::random(32)};
};

}  // namespace enclave::crypto::blobtest
