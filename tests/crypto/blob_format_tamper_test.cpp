// SPDX-License-Identifier: Apache-2.0
// Blob format against tampering: flipped bits, swapped, transplanted,
// truncated and appended chunks, hostile header fields, wrong key or object.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <set>

#include "blob_test_util.hpp"
#include "crypto/blob_format.hpp"
#include "crypto/encoding.hpp"
#include "support/paths.hpp"

namespace enclave::crypto {
namespace {

using namespace blobtest;
using enclave::testing::TempDir;

constexpr std::uint32_t kC = kBlobMinChunkSize;  // 256: many chunks from few bytes
constexpr std::size_t kT = kC + kBlobTagSize;

void patch(const std::filesystem::path& p, std::uint64_t off, ByteView bytes) {
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), static_cast<off_t>(off)),
              static_cast<ssize_t>(bytes.size()));
}

std::string codes(const std::set<Errc>& s) {
    std::string out;
    for (Errc e : s) out += std::string(errc_name(e)) + " ";
    return out;
}

/// The read fails with one of `allowed`, and whatever reached the sink
/// before the failure is an exact prefix of the plaintext.
void expect_refused(const std::filesystem::path& p, const Secret& key, std::string_view id,
                    const Bytes& plain, const std::set<Errc>& allowed, const std::string& what) {
    Bytes prefix;
    auto r = open_and_read(p, key, id, &prefix);
    ASSERT_FALSE(r) << what << ": tampering went unnoticed";
    EXPECT_TRUE(allowed.count(r.error().code()))
        << what << ": got " << r.error().message() << ", expected one of " << codes(allowed);
    EXPECT_FALSE(r.error().context().empty());
    ASSERT_LE(prefix.size(), plain.size());
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), plain.begin()))
        << what << ": unauthenticated bytes reached the sink";
}

TEST(BlobTamperTest, EveryFlippedBitOfASmallBlobIsRefused) {
    TempDir dir;
    const auto path = dir.path() / "s.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(2 * kC + 88, 3);  // chunks of 256, 256, 88
    write_blob(path, key, "small", plain, kC, 100);
    const Bytes original = read_file(path);
    const std::size_t h = header_size("small");
    ASSERT_EQ(original.size(), h + plain.size() + 3 * kBlobTagSize);
    ASSERT_TRUE(open_and_read(path, key, "small"));

    const std::set<Errc> integrity{Errc::integrity_failure};
    const std::set<Errc> header_fixed{Errc::malformed_input};
    const std::set<Errc> header_sizes{Errc::integrity_failure, Errc::malformed_input,
                                      Errc::too_large};
    const std::set<Errc> header_id{Errc::integrity_failure, Errc::malformed_input};
    for (std::size_t i = 0; i < original.size(); ++i) {
        const std::set<Errc>* allowed = &integrity;
        if (i < 11) allowed = &header_fixed;                   // magic, version, reserved
        else if (i < 16) allowed = &header_sizes;              // id length, chunk size
        else if (i >= 48 && i < h) allowed = &header_id;       // object id characters
        for (int bit = 0; bit < 8; ++bit) {
            const std::uint8_t flipped = original[i] ^ static_cast<std::uint8_t>(1u << bit);
            patch(path, i, ByteView(&flipped, 1));
            expect_refused(path, key, "small", plain, *allowed,
                           "byte " + std::to_string(i) + " bit " + std::to_string(bit));
        }
        patch(path, i, ByteView(&original[i], 1));
    }
    EXPECT_TRUE(open_and_read(path, key, "small"));
}

TEST(BlobTamperTest, SampledFlippedBitsOfABiggerBlobAreRefused) {
    TempDir dir;
    const auto path = dir.path() / "b.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(1024 * 1024 + 5, 4);
    write_blob(path, key, "big", plain, 4096);
    const Bytes original = read_file(path);
    const std::size_t h = header_size("big");
    std::mt19937_64 rng(11);
    for (int k = 0; k < 300; ++k) {
        const std::size_t i = h + rng() % (original.size() - h);
        const std::uint8_t flipped = original[i] ^ static_cast<std::uint8_t>(1u << (rng() % 8));
        patch(path, i, ByteView(&flipped, 1));
        expect_refused(path, key, "big", plain, {Errc::integrity_failure}, "byte " + std::to_string(i));
        patch(path, i, ByteView(&original[i], 1));
    }
}

TEST(BlobTamperTest, SwappedChunksAreRefused) {
    TempDir dir;
    const auto path = dir.path() / "w.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(4 * kC, 5);  // four full chunks, the last one final
    write_blob(path, key, "swap", plain, kC);
    const Bytes original = read_file(path);
    const std::size_t h = header_size("swap");
    auto swapped = [&](std::size_t a, std::size_t b) {
        Bytes f = original;
        std::swap_ranges(f.begin() + static_cast<std::ptrdiff_t>(h + a * kT),
                         f.begin() + static_cast<std::ptrdiff_t>(h + (a + 1) * kT),
                         f.begin() + static_cast<std::ptrdiff_t>(h + b * kT));
        write_file(path, f);
    };
    swapped(1, 2);
    auto r = open_blob(path, key, "swap");
    ASSERT_TRUE(r) << "final chunk is intact, open must succeed";
    Bytes one(kC);
    auto bad = r->read_into(kC, one);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), Errc::integrity_failure);
    EXPECT_NE(bad.error().context().find("chunk 1 of 4"), std::string::npos) << bad.error().message();
    Bytes zero(kC);
    EXPECT_TRUE(r->read_into(0, zero)) << "chunk 0 is untouched";
    expect_refused(path, key, "swap", plain, {Errc::integrity_failure}, "swap 1,2");

    swapped(0, 3);  // the final chunk moves
    auto o = open_blob(path, key, "swap");
    ASSERT_FALSE(o);
    EXPECT_EQ(o.error().code(), Errc::integrity_failure);
    EXPECT_NE(o.error().context().find("final chunk 3"), std::string::npos) << o.error().message();
}

TEST(BlobTamperTest, EveryTruncationIsCaughtOnOpen) {
    TempDir dir;
    const auto path = dir.path() / "t.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(5 * kC - 10, 6);
    write_blob(path, key, "trunc", plain, kC);
    const Bytes original = read_file(path);
    const std::size_t h = header_size("trunc");
    for (std::size_t len = 0; len < original.size(); ++len) {
        write_file(path, ByteView(original).first(len));
        auto r = open_blob(path, key, "trunc");
        ASSERT_FALSE(r) << "truncated to " << len << " bytes but opened";
        EXPECT_EQ(r.error().code(), Errc::integrity_failure) << len << ": " << r.error().message();
    }
    // The messages say what happened at the interesting lengths.
    write_file(path, ByteView(original).first(h));
    EXPECT_NE(open_blob(path, key, "trunc").error().context().find("no final chunk"),
              std::string::npos);
    write_file(path, ByteView(original).first(h + 2 * kT));
    EXPECT_NE(open_blob(path, key, "trunc").error().context().find("final chunk 1"),
              std::string::npos);
    write_file(path, ByteView(original).first(h + kT + 5));
    EXPECT_NE(open_blob(path, key, "trunc").error().context().find("not a whole number of chunks"),
              std::string::npos);
}

TEST(BlobTamperTest, AppendedChunksAndTrailingBytesAreCaughtOnOpen) {
    TempDir dir;
    const auto path = dir.path() / "a.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(3 * kC, 7);  // the final chunk is full
    write_blob(path, key, "app", plain, kC);
    const Bytes original = read_file(path);
    const std::size_t h = header_size("app");
    auto with_tail = [&](ByteView tail) {
        Bytes f = original;
        f.insert(f.end(), tail.begin(), tail.end());
        write_file(path, f);
        auto r = open_blob(path, key, "app");
        EXPECT_FALSE(r) << tail.size() << " bytes appended but opened";
        if (!r) {
            EXPECT_EQ(r.error().code(), Errc::integrity_failure) << r.error().message();
        }
    };
    const ByteView chunk1 = ByteView(original).subspan(h + kT, kT);
    const ByteView final_chunk = ByteView(original).subspan(h + 2 * kT, kT);
    with_tail(chunk1);       // a valid non-final chunk appended
    with_tail(final_chunk);  // the final chunk repeated
    for (std::size_t n : {1u, 15u, 16u, 17u, 100u, 272u, 1000u}) with_tail(pattern(n, n));
    // An empty final chunk sealed by the writer cannot be forged; a bare tag
    // after the last chunk is named as trailing bytes.
    with_tail(ByteView(original).last(kBlobTagSize));
}

TEST(BlobTamperTest, ChunksFromAnotherObjectOrKeyAreRefused) {
    TempDir dir;
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(4 * kC - 3, 8);
    const Bytes other_plain = pattern(4 * kC - 3, 9);
    write_blob(dir.path() / "a", key, "obj", plain, kC);
    write_blob(dir.path() / "same-key-same-id", key, "obj", other_plain, kC);
    write_blob(dir.path() / "same-key-other-id", key, "ob2", other_plain, kC);
    write_blob(dir.path() / "other-key", Secret::random(kBlobKeySize), "obj", other_plain, kC);
    const Bytes a = read_file(dir.path() / "a");
    const std::size_t h = header_size("obj");
    for (const char* donor_name : {"same-key-same-id", "same-key-other-id", "other-key"}) {
        const Bytes donor = read_file(dir.path() / donor_name);
        ASSERT_EQ(donor.size(), a.size());
        for (std::size_t idx : {0u, 1u, 3u}) {  // first, middle, final
            Bytes f = a;
            std::copy_n(donor.begin() + static_cast<std::ptrdiff_t>(h + idx * kT),
                        idx == 3 ? kC - 3 + kBlobTagSize : kT,
                        f.begin() + static_cast<std::ptrdiff_t>(h + idx * kT));
            write_file(dir.path() / "x", f);
            expect_refused(dir.path() / "x", key, "obj", plain, {Errc::integrity_failure},
                           std::string(donor_name) + " chunk " + std::to_string(idx));
        }
    }
}

TEST(BlobTamperTest, WrongKeyAndWrongObjectAreNamed) {
    TempDir dir;
    const auto path = dir.path() / "k.blob";
    const Secret key = Secret::random(kBlobKeySize);
    write_blob(path, key, "mine", pattern(1000, 1), kC);
    auto wrong_key = open_blob(path, Secret::random(kBlobKeySize), "mine");
    ASSERT_FALSE(wrong_key);
    EXPECT_EQ(wrong_key.error().code(), Errc::integrity_failure);
    EXPECT_NE(wrong_key.error().context().find("wrong key"), std::string::npos);
    auto wrong_obj = open_blob(path, key, "yours");
    ASSERT_FALSE(wrong_obj);
    EXPECT_EQ(wrong_obj.error().code(), Errc::integrity_failure);
    EXPECT_NE(wrong_obj.error().context().find("holds object 'mine' where 'yours'"),
              std::string::npos)
        << wrong_obj.error().message();
}

struct HeaderCase {
    std::size_t offset;
    Bytes bytes;
    Errc code;
    const char* says;
};

TEST(BlobTamperTest, HeaderFieldsAreParsedStrictly) {
    TempDir dir;
    const auto path = dir.path() / "h.blob";
    const Secret key = Secret::random(kBlobKeySize);
    write_blob(path, key, "hdr", pattern(700, 2), kC);
    const Bytes original = read_file(path);
    const std::vector<HeaderCase> cases = {
        {0, {'X'}, Errc::malformed_input, "bad magic"},
        {0, {'e', 'n', 'c', 'l'}, Errc::malformed_input, "bad magic"},
        {8, {0, 2}, Errc::malformed_input, "version 2"},
        {8, {0, 0}, Errc::malformed_input, "version 0"},
        {8, {0xFF, 0xFF}, Errc::malformed_input, "version 65535"},
        {10, {1}, Errc::malformed_input, "reserved"},
        {11, {0}, Errc::malformed_input, "empty object id"},
        {11, {65}, Errc::too_large, "length 65"},
        {11, {255}, Errc::too_large, "length 255"},
        {12, {0, 0, 0, 0}, Errc::malformed_input, "chunk size 0"},
        {12, {0, 0, 0, 255}, Errc::malformed_input, "chunk size 255"},
        {12, {1, 0, 0, 1}, Errc::too_large, "chunk size 16777217"},
        {12, {0xFF, 0xFF, 0xFF, 0xFF}, Errc::too_large, "chunk size 4294967295"},
        {48, {'/'}, Errc::malformed_input, "outside [A-Za-z0-9_-]"},
        {49, {'.'}, Errc::malformed_input, "outside [A-Za-z0-9_-]"},
        {50, {0}, Errc::malformed_input, "outside [A-Za-z0-9_-]"},
        {12, {0, 0, 2, 0}, Errc::integrity_failure, ""},  // a valid but different chunk size
    };
    for (const auto& c : cases) {
        Bytes f = original;
        std::copy(c.bytes.begin(), c.bytes.end(), f.begin() + static_cast<std::ptrdiff_t>(c.offset));
        write_file(path, f);
        auto r = open_blob(path, key, "hdr");
        ASSERT_FALSE(r) << c.says;
        EXPECT_EQ(r.error().code(), c.code) << c.says << ": " << r.error().message();
        EXPECT_NE(r.error().context().find(c.says), std::string::npos) << r.error().message();
    }
    // A short file of a future version is named as such, not as truncation.
    Bytes future(original.begin(), original.begin() + 20);
    future[9] = 2;
    write_file(path, future);
    auto v2 = open_blob(path, key, "hdr");
    ASSERT_FALSE(v2);
    EXPECT_EQ(v2.error().code(), Errc::malformed_input);
    EXPECT_NE(v2.error().context().find("version 2"), std::string::npos);
    // Not a blob at all.
    write_file(path, as_bytes("just some text, longer than a header would be........"));
    auto text = open_blob(path, key, "hdr");
    ASSERT_FALSE(text);
    EXPECT_EQ(text.error().code(), Errc::malformed_input);
}

TEST(BlobTamperTest, AFailedReadLeavesNoPlaintextBehind) {
    TempDir dir;
    const auto path = dir.path() / "p.blob";
    const Secret key = Secret::random(kBlobKeySize);
    const Bytes plain = pattern(5 * kC, 12);
    write_blob(path, key, "p", plain, kC);
    const std::size_t h = header_size("p");
    // Flip a bit (a fixed replacement byte equals the random ciphertext one
    // time in 256, and then nothing is damaged).
    const std::uint64_t at = h + 3 * kT + 10;  // inside chunk 3 of 5
    const std::uint8_t x = read_file(path)[at] ^ 0x01;
    patch(path, at, ByteView(&x, 1));
    auto r = open_blob(path, key, "p");
    ASSERT_TRUE(r);
    Bytes out(plain.size(), 0xEE);
    auto ok = r->read_into(0, out);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().code(), Errc::integrity_failure);
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; }))
        << "read_into must wipe its output on failure";
}

TEST(BlobTamperTest, ErrorsCarryNeitherPlaintextNorKey) {
    TempDir dir;
    const auto path = dir.path() / "c.blob";
    const Secret key = Secret::random(kBlobKeySize);
    std::string canary;
    while (canary.size() < 3 * kC) canary += "CANARY-PLAINTEXT-7f3a ";
    write_blob(path, key, "canary", as_bytes(canary), kC);
    const Bytes original = read_file(path);
    std::vector<std::string> messages;
    for (std::size_t i = 0; i < original.size(); i += 37) {
        Bytes f = original;
        f[i] ^= 0x80;
        write_file(path, f);
        auto r = open_and_read(path, key, "canary");
        if (!r) messages.push_back(r.error().message());
    }
    auto other = open_blob(path, Secret::random(kBlobKeySize), "canary");
    if (!other) messages.push_back(other.error().message());
    ASSERT_GT(messages.size(), 10u);
    const std::string key_hex = hex_encode(key.view());
    for (const auto& m : messages) {
        EXPECT_EQ(m.find("CANARY"), std::string::npos) << m;
        EXPECT_EQ(m.find(key_hex.substr(0, 8)), std::string::npos) << m;
    }
}

}  // namespace
}  // namespace enclave::crypto
