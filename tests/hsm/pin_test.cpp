// SPDX-License-Identifier: Apache-2.0
#include "hsm/pin.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "support/paths.hpp"

namespace enclave::hsm {
namespace {

using crypto::Errc;
using testing::TempDir;

std::string as_string(const crypto::Secret& s) {
    return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::filesystem::path write_file(const TempDir& dir, const std::string& name,
                                 const std::string& content, mode_t mode) {
    const auto path = dir.path() / name;
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
    return path;
}

TEST(PinTest, ReadsAPrivateFileAndStripsOneNewline) {
    TempDir dir;
    for (auto [content, want] : {std::pair{"1234", "1234"}, {"1234\n", "1234"},
                                 {"12 34\r\n", "12 34"}, {"p\xc3\xa4ss", "p\xc3\xa4ss"}}) {
        const auto path = write_file(dir, "pin", content, 0600);
        auto pin = read_pin_file(path);
        ASSERT_TRUE(pin) << pin.error().message();
        EXPECT_EQ(as_string(*pin), want);
        std::filesystem::remove(path);
    }
    const auto owner_only = write_file(dir, "pin400", "42\n", 0400);
    EXPECT_TRUE(read_pin_file(owner_only));
}

TEST(PinTest, RefusesFilesOthersCanReach) {
    TempDir dir;
    for (mode_t mode : {0644, 0640, 0604, 0660, 0602, 0610}) {
        const auto path = write_file(dir, "pin" + std::to_string(mode), "SECRET-PIN-123\n", mode);
        auto pin = read_pin_file(path);
        ASSERT_FALSE(pin) << std::oct << mode;
        EXPECT_EQ(pin.error().code(), Errc::invalid_argument);
        EXPECT_NE(pin.error().message().find("chmod 600"), std::string::npos);
        EXPECT_EQ(pin.error().message().find("SECRET-PIN"), std::string::npos);
    }
}

TEST(PinTest, RefusesSymlinksDirectoriesFifosAndMissingFiles) {
    TempDir dir;
    const auto target = write_file(dir, "real", "1234\n", 0600);
    const auto link = dir.path() / "link";
    std::filesystem::create_symlink(target, link);
    EXPECT_EQ(read_pin_file(link).error().code(), Errc::invalid_argument);
    EXPECT_EQ(read_pin_file(dir.path()).error().code(), Errc::invalid_argument);
    const auto fifo = dir.path() / "fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // O_NONBLOCK: a FIFO with no writer must not hang the reader.
    EXPECT_EQ(read_pin_file(fifo).error().code(), Errc::invalid_argument);
    auto missing = read_pin_file(dir.path() / "absent");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    EXPECT_NE(missing.error().message().find("absent"), std::string::npos);
}

TEST(PinTest, RefusesEmptyOversizedAndMultiLinePins) {
    TempDir dir;
    EXPECT_EQ(read_pin_file(write_file(dir, "empty", "", 0600)).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(read_pin_file(write_file(dir, "nl", "\n", 0600)).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(read_pin_file(write_file(dir, "two", "1234\n\n", 0600)).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(read_pin_file(write_file(dir, "lines", "12\n34\n", 0600)).error().code(),
              Errc::invalid_argument);
    EXPECT_EQ(read_pin_file(write_file(dir, "nul", std::string("12\0" "34", 5), 0600))
                  .error()
                  .code(),
              Errc::invalid_argument);
    EXPECT_TRUE(read_pin_file(write_file(dir, "max", std::string(kMaxPinLength, 'x') + "\n", 0600)));
    EXPECT_EQ(read_pin_file(write_file(dir, "over", std::string(kMaxPinLength + 1, 'x'), 0600))
                  .error()
                  .code(),
              Errc::too_large);
    EXPECT_EQ(read_pin_file(write_file(dir, "huge", std::string(1 << 20, 'x'), 0600)).error().code(),
              Errc::too_large);
}

TEST(PinTest, ReadsOneLineFromADescriptorAndLeavesTheRest) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string input = "4321\nnext line\n";
    ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    ::close(fds[1]);
    auto pin = read_pin_fd(fds[0]);
    ASSERT_TRUE(pin) << pin.error().message();
    EXPECT_EQ(as_string(*pin), "4321");
    char rest[32] = {};
    EXPECT_EQ(::read(fds[0], rest, sizeof rest), 10);
    EXPECT_EQ(std::string(rest), "next line\n");
    ::close(fds[0]);
}

TEST(PinTest, DescriptorInputIsBounded) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string input(kMaxPinLength + 10, 'y');
    ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
    ::close(fds[1]);
    EXPECT_EQ(read_pin_fd(fds[0]).error().code(), Errc::too_large);
    ::close(fds[0]);
    ASSERT_EQ(::pipe(fds), 0);
    ::close(fds[1]);
    EXPECT_EQ(read_pin_fd(fds[0]).error().code(), Errc::invalid_argument);  // empty
    ::close(fds[0]);
    EXPECT_EQ(read_pin_fd(-1).error().code(), Errc::io_error);
}

TEST(PinTest, ReadsAndScrubsAnEnvironmentVariable) {
    ::setenv("ENCLAVE_TEST_PIN", "env-pin-77\n", 1);
    char* before = std::getenv("ENCLAVE_TEST_PIN");
    ASSERT_NE(before, nullptr);
    auto pin = read_pin_env("ENCLAVE_TEST_PIN");
    ASSERT_TRUE(pin) << pin.error().message();
    EXPECT_EQ(as_string(*pin), "env-pin-77");
    EXPECT_EQ(std::getenv("ENCLAVE_TEST_PIN"), nullptr);
    // The old value's bytes were overwritten in place.
    EXPECT_EQ(std::string(before, 10).find("env-pin"), std::string::npos);

    ::setenv("ENCLAVE_TEST_PIN", "kept", 1);
    auto kept = read_pin_env("ENCLAVE_TEST_PIN", false);
    ASSERT_TRUE(kept);
    EXPECT_STREQ(std::getenv("ENCLAVE_TEST_PIN"), "kept");
    ::unsetenv("ENCLAVE_TEST_PIN");

    auto missing = read_pin_env("ENCLAVE_TEST_PIN");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), Errc::not_found);
    ::setenv("ENCLAVE_TEST_PIN", std::string(kMaxPinLength + 5, 'z').c_str(), 1);
    EXPECT_EQ(read_pin_env("ENCLAVE_TEST_PIN").error().code(), Errc::too_large);
    EXPECT_EQ(std::getenv("ENCLAVE_TEST_PIN"), nullptr);
}

}  // namespace
}  // namespace enclave::hsm

namespace enclave::hsm {
namespace {

TEST(GeneratePinTest, IsRandomHexOfTheRequestedLengthAndValid) {
    const crypto::Secret a = generate_pin();
    const crypto::Secret b = generate_pin();
    ASSERT_EQ(a.size(), 24u);
    EXPECT_FALSE(a.equals(b));
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char c = static_cast<char>(a.data()[i]);
        EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << i;
    }
    EXPECT_TRUE(validate_pin(a));
    EXPECT_EQ(generate_pin(4).size(), 8u);
}

}  // namespace
}  // namespace enclave::hsm
