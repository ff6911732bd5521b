// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where tests find the shared folder and make scratch space.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace enclave::testing {

/// The shared/ folder: $ENCLAVE_SHARED when set, else ../shared beside the
/// project. Fails the calling test (ADD_FAILURE) and returns an empty path when
/// it is not there.
std::filesystem::path shared_dir();

/// Parses a JSON file under shared/ (e.g. "test-vectors/merkle-rfc9162.json").
/// Throws with the path in the message when it is missing or malformed.
nlohmann::json load_shared_json(const std::string& relative);

/// A directory under $TMPDIR, mode 0700, removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

}  // namespace enclave::testing
