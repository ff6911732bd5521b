// SPDX-License-Identifier: Apache-2.0
// BlobSegmentSource: the bytes of the planned segments, in order, with only
// the touched chunks decrypted, whatever the piece size.
#include "appliance/blob_response.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "crypto/blob_store.hpp"
#include "crypto/key_wrapper.hpp"
#include "support/paths.hpp"

namespace enclave::appliance {
namespace {

using crypto::BlobStore;
using crypto::SecretKeyWrapper;

constexpr std::uint32_t kChunk = 256;

class BlobResponseTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto store = BlobStore::open(dir_.path() / "blobs", kek_);
        ASSERT_TRUE(store) << store.error().message();
        store_.emplace(std::move(*store));
        data_.resize(10 * kChunk + 100);
        for (std::size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<char>(i * 7 + 3);
        crypto::BlobWriterOptions o;
        o.chunk_size = kChunk;
        auto w = store_->create("obj", o);
        ASSERT_TRUE(w) << w.error().message();
        ASSERT_TRUE(w->write(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(data_.data()),
                                              data_.size())));
        ASSERT_TRUE(w->commit());
    }

    BlobSegmentSource source(std::vector<BodySegment> segments,
                             BlobSegmentSource::DamageReport on_damage = {}) {
        auto reader = store_->open_object("obj");
        EXPECT_TRUE(reader) << reader.error().message();
        return BlobSegmentSource(std::make_shared<const crypto::BlobReader>(std::move(*reader)),
                                 std::move(segments), std::move(on_damage));
    }

    /// Everything the source yields, read in pieces of `piece` bytes.
    static std::string drain(BlobSegmentSource& src, std::size_t piece) {
        std::string out;
        std::vector<std::uint8_t> buf(piece);
        while (out.size() < src.size()) {
            auto n = src.read(crypto::MutableByteView(buf.data(), buf.size()));
            EXPECT_TRUE(n) << n.error().message();
            if (!n || *n == 0) break;
            out.append(reinterpret_cast<const char*>(buf.data()), *n);
        }
        return out;
    }

    enclave::testing::TempDir dir_;
    SecretKeyWrapper kek_{"kek-test", crypto::Secret::random(32)};
    std::optional<BlobStore> store_;
    std::string data_;
};

TEST_F(BlobResponseTest, YieldsLiteralsAndSlicesInOrderForAnyPieceSize) {
    const std::vector<BodySegment> segs{{"--a\r\n", 0, 0, false},
                                        {{}, 300, 700, true},
                                        {"\r\n--b\r\n", 0, 0, false},
                                        {{}, 0, 1, true},
                                        {{}, data_.size() - 50, 50, true},
                                        {"--end", 0, 0, false}};
    const std::string want = "--a\r\n" + data_.substr(300, 700) + "\r\n--b\r\n" + data_.substr(0, 1) +
                             data_.substr(data_.size() - 50) + "--end";
    for (std::size_t piece : {1u, 7u, 255u, 256u, 600u, 1024u, 65536u}) {
        auto src = source(segs);
        EXPECT_EQ(src.size(), want.size());
        EXPECT_EQ(drain(src, piece), want) << "piece " << piece;
    }
}

TEST_F(BlobResponseTest, DecryptsOnlyTheChunksARangeTouchesAndEachOnce) {
    // Bytes 600..1400: chunks 2..5 (of 11). open() authenticates the final chunk.
    auto src = source({{{}, 600, 801, true}});
    const std::uint64_t at_open = src.reader().chunks_decrypted();
    EXPECT_EQ(drain(src, 4 * kChunk), data_.substr(600, 801));
    EXPECT_EQ(src.reader().chunks_decrypted() - at_open, 4u);
    // The whole object in pieces of four chunks: each chunk once.
    auto whole = source({{{}, 0, data_.size(), true}});
    const std::uint64_t before = whole.reader().chunks_decrypted();
    EXPECT_EQ(drain(whole, 4 * kChunk), data_);
    EXPECT_EQ(whole.reader().chunks_decrypted() - before, 11u);
}

TEST_F(BlobResponseTest, ADamagedObjectFailsTheReadInsteadOfYieldingWrongBytes) {
    int reports = 0;
    auto src = source({{{}, 0, data_.size(), true}}, [&reports] { ++reports; });
    // Flip a byte of chunk 3 in the stored file after the reader opened it.
    const auto file = dir_.path() / "blobs" / "data" / "obj.blob";
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        const auto at = static_cast<std::streamoff>(100 + 3 * (kChunk + 16));
        f.seekg(at);
        const int c = f.get();
        f.seekp(at);
        f.put(static_cast<char>(c ^ 0xff));
    }
    std::vector<std::uint8_t> buf(kChunk);
    bool failed = false;
    for (int i = 0; i < 20 && !failed; ++i) {
        auto n = src.read(crypto::MutableByteView(buf.data(), buf.size()));
        if (!n) {
            failed = true;
            EXPECT_EQ(n.error().code(), crypto::Errc::integrity_failure);
        }
    }
    EXPECT_TRUE(failed);
    EXPECT_EQ(reports, 1) << "the damage is reported once";
    // Reading on (a caller that retries) fails again and reports no more.
    EXPECT_FALSE(src.read(crypto::MutableByteView(buf.data(), buf.size())));
    EXPECT_EQ(reports, 1);
}

}  // namespace
}  // namespace enclave::appliance
