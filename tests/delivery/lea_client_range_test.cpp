// SPDX-License-Identifier: Apache-2.0
// The byte-range vocabulary (lea_client_range.hpp): Content-Range of 206 and
// 416 answers, the Range header, strong ETags; hostile values.
#include <gtest/gtest.h>

#include "delivery/lea_client_range.hpp"

namespace enclave::delivery {
namespace {

using crypto::Errc;

TEST(LeaClientRangeTest, ParsesContentRange) {
    auto r = parse_content_range("bytes 0-99/1000");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->first, 0u);
    EXPECT_EQ(r->last, 99u);
    EXPECT_EQ(r->length(), 100u);
    EXPECT_EQ(r->complete_length.value_or(0), 1000u);
    auto star = parse_content_range("Bytes 5-5/*");
    ASSERT_TRUE(star) << star.error().message();
    EXPECT_EQ(star->length(), 1u);
    EXPECT_FALSE(star->complete_length);
    auto big = parse_content_range("bytes 0-9999999999999999998/9999999999999999999");
    ASSERT_TRUE(big) << big.error().message();
    EXPECT_EQ(big->last, 9999999999999999998ull);
}

TEST(LeaClientRangeTest, RefusesHostileContentRange) {
    for (const char* bad :
         {"", "bytes", "bytes ", "bytes 0-99", "bytes 0-99/", "bytes -1-99/100", "bytes 10-5/100",
          "bytes 0-100/100", "bytes 0-99/99", "bytes 0 - 99/100", "bytes  0-99/100",
          "bytes 0-99/100 ", "items 0-99/100", "bytes=0-99/100", "bytes 0x10-20/100",
          "bytes 0-99/18446744073709551616", "bytes 00000000000000000001-2/100",
          "bytes */100", "bytes 1-2/3/4", "bytes 1-2-3/4", "bytes +1-2/4"}) {
        auto r = parse_content_range(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_EQ(r.error().code(), Errc::malformed_input) << bad;
        }
    }
}

TEST(LeaClientRangeTest, ParsesUnsatisfiedRange) {
    auto n = parse_unsatisfied_range("bytes */4096");
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_EQ(*n, 4096u);
    for (const char* bad : {"bytes */", "bytes 0-1/2", "bytes */-1", "*/5", "bytes */5x"}) {
        EXPECT_FALSE(parse_unsatisfied_range(bad)) << bad;
    }
}

TEST(LeaClientRangeTest, FormatsRangeHeaders) {
    EXPECT_EQ(byte_range_header(0, 1023), "bytes=0-1023");
    EXPECT_EQ(byte_range_header(4096, std::nullopt), "bytes=4096-");
}

TEST(LeaClientRangeTest, OnlyStrongWellFormedEtagsMayGoInIfRange) {
    EXPECT_TRUE(is_strong_etag("\"abc-123\""));
    EXPECT_TRUE(is_strong_etag("\"\""));
    for (const char* bad :
         {"W/\"abc\"", "abc", "\"abc", "\"a\"b\"", "\"a b\"", "\"a\r\nX: 1\"", ""}) {
        EXPECT_FALSE(is_strong_etag(bad)) << bad;
    }
}

}  // namespace
}  // namespace enclave::delivery
