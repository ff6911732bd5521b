// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the end-to-end tests of tasks and the audit log: task JSON
// with real salted hashes, enclavectl runs, reading files.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/encoding.hpp"
#include "crypto/salted_hash.hpp"
#include "harness/instance.hpp"
#include "harness/process.hpp"

namespace enclave::daemon_test {

struct FieldSpec {
    std::string format_name;
    std::string value;
    std::string salt_hex;
    std::string algorithm = "sha256";
};

/// The lowercase hex salted hash of a field (D.4), computed here.
inline std::string salted_hash_hex(const FieldSpec& f) {
    auto alg = crypto::salted_hash_from_name(f.algorithm);
    auto salt = crypto::hex_decode(f.salt_hex);
    if (!alg || !salt) return std::string(64, '0');
    auto h = crypto::compute_salted_hash(*alg, *salt, f.value);
    return h ? crypto::hex_encode(*h) : std::string(64, '0');
}

/// RFC 3339 UTC "now + offset", whole seconds.
inline std::string utc_in(std::chrono::seconds offset) {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + offset);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

inline nlohmann::json task_json(const std::string& reference, const std::vector<FieldSpec>& fields,
                                std::chrono::seconds ends_in = std::chrono::hours(24),
                                const std::string& endpoint = "") {
    nlohmann::json fs = nlohmann::json::array();
    for (const auto& f : fields) {
        fs.push_back({{"formatName", f.format_name},
                      {"value", f.value},
                      {"salt", f.salt_hex},
                      {"hash", salted_hash_hex(f)},
                      {"algorithm", f.algorithm}});
    }
    nlohmann::json t{{"reference", reference},
                     {"kind", "LI"},
                     {"start", utc_in(-std::chrono::hours(1))},
                     {"end", utc_in(ends_in)},
                     {"fields", fs}};
    if (!endpoint.empty()) t["endpoint"] = endpoint;
    return t;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

/// enclavectl --data-dir DIR [args], with `stdin_text` on stdin.
inline RunResult ctl(const TestInstance& inst, std::vector<std::string> args,
                     const std::string& stdin_text = "") {
    std::vector<std::string> argv = {enclavectl_path(), "--data-dir", inst.dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::filesystem::path in;
    if (!stdin_text.empty()) {
        in = inst.scratch() / "ctl-stdin";
        write_text(in, stdin_text);
    }
    RunResult r = run_program(argv, {}, std::chrono::seconds(120), in);
    if (!in.empty()) std::filesystem::remove(in);
    return r;
}

/// enclavectl [args] --json, expecting exit code `expect`; its output parsed
/// (an empty object when it is not JSON).
inline nlohmann::json ctl_json(const TestInstance& inst, std::vector<std::string> args,
                               int expect = 0) {
    args.push_back("--json");
    RunResult r = ctl(inst, args);
    EXPECT_EQ(r.exit_code, expect) << r.out << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? nlohmann::json::object() : j;
}

/// Every regular file under `dir`, read whole.
inline std::vector<std::pair<std::filesystem::path, std::string>> all_files(
    const std::filesystem::path& dir) {
    std::vector<std::pair<std::filesystem::path, std::string>> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (e.is_regular_file()) out.emplace_back(e.path(), read_file(e.path()));
    }
    return out;
}

/// The forms a secret could leak in: plain, lower and upper hex, base64.
inline std::vector<std::string> leak_forms(const std::string& secret) {
    const crypto::ByteView bytes(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size());
    std::string upper = crypto::hex_encode(bytes);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return {secret, crypto::hex_encode(bytes), upper, crypto::base64_encode(bytes)};
}

}  // namespace enclave::daemon_test
