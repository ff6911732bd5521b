// SPDX-License-Identifier: Apache-2.0
#pragma once
// Synthetic audit logs that follow the entry contract of issue #4 (one line
// of canonical JSON, keys sorted, with "index", "prev", "time" and "event"),
// their signed checkpoints (a software test key, soft_note_key.hpp), bundles
// written with the real BundleWriter, and line-level file surgery for the
// tamper tests. Shared by the bundle tests and enclave-bench-audit_verify.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "audit/bundle.hpp"
#include "crypto/merkle.hpp"
#include "soft_note_key.hpp"

namespace enclave::testing {

/// "2026-11-21T10:00:00.123Z" plus 37 ms per index (wraps daily; the
/// verifier does not read times).
inline std::string entry_time(std::uint64_t index) {
    const std::uint64_t ms = (36'000'000 + index * 37) % 86'400'000;
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-11-21T%02llu:%02llu:%02llu.%03lluZ",
                  static_cast<unsigned long long>(ms / 3'600'000),
                  static_cast<unsigned long long>(ms / 60'000 % 60),
                  static_cast<unsigned long long>(ms / 1000 % 60),
                  static_cast<unsigned long long>(ms % 1000));
    return buf;
}

/// One canonical entry (keys in JCS order), about 220 bytes.
inline std::string make_entry(std::uint64_t index, std::string_view prev_hex,
                              std::string_view event = "task.created") {
    char reference[32];
    std::snprintf(reference, sizeof reference, "LIID-%07llu",
                  static_cast<unsigned long long>(index % 10'000'000));
    std::string e = R"({"actor":{"kind":"local","roles":["auditor"],"uid":1000},"event":")";
    e += event;
    e += R"(","index":)" + std::to_string(index) + R"(,"prev":")";
    e += prev_hex;
    e += R"(","reference":")";
    e += reference;
    e += R"(","time":")" + entry_time(index) + "\"}";
    return e;
}

class SyntheticLog {
public:
    explicit SyntheticLog(std::string origin = "enclave.example/audit",
                          SoftNoteKey key = SoftNoteKey::generate())
        : origin_(std::move(origin)), key_(std::move(key)), vkey_(key_.verifier_key(origin_)) {}

    /// Appends `count` entries.
    void append(std::uint64_t count, std::string_view event = "task.created") {
        for (std::uint64_t i = 0; i < count; ++i) append_entry(event);
    }
    /// Appends one entry with the right index and prev.
    const std::string& append_entry(std::string_view event = "task.created") {
        const std::string prev = leaves_.empty() ? "" : crypto::hash_to_hex(leaves_.back());
        entries_.push_back(make_entry(entries_.size(), prev, event));
        leaves_.push_back(hasher_.hash_leaf(crypto::as_bytes(entries_.back())));
        return entries_.back();
    }

    [[nodiscard]] const std::vector<std::string>& entries() const { return entries_; }
    [[nodiscard]] const std::vector<crypto::Hash>& leaves() const { return leaves_; }
    [[nodiscard]] std::uint64_t size() const { return entries_.size(); }
    [[nodiscard]] const audit::NoteVerifierKey& key() const { return vkey_; }
    [[nodiscard]] const SoftNoteKey& signing_key() const { return key_; }
    [[nodiscard]] const std::string& origin() const { return origin_; }

    [[nodiscard]] crypto::Hash root(std::uint64_t size) const {
        return crypto::root_from_leaves(hasher_, std::span(leaves_).first(size));
    }
    /// The signed checkpoint at `size` (default: all entries).
    [[nodiscard]] std::string checkpoint(std::uint64_t size) const {
        return key_.sign_note(audit::checkpoint_body({origin_, size, root(size), {}}), origin_);
    }
    [[nodiscard]] std::string checkpoint() const { return checkpoint(size()); }

    /// Writes every entry to `path` with the real BundleWriter, with older
    /// checkpoints at `older_sizes`.
    void write_bundle(const std::filesystem::path& path,
                      const std::vector<std::uint64_t>& older_sizes = {}) const {
        std::vector<std::string> older;
        for (auto s : older_sizes) older.push_back(checkpoint(s));
        auto w = audit::BundleWriter::create(path, vkey_, checkpoint(), older);
        if (!w) throw std::runtime_error(w.error().message());
        for (const auto& e : entries_) {
            if (auto ok = w->append(e); !ok) throw std::runtime_error(ok.error().message());
        }
        if (auto ok = w->commit(); !ok) throw std::runtime_error(ok.error().message());
    }

private:
    std::string origin_;
    SoftNoteKey key_;
    audit::NoteVerifierKey vkey_;
    crypto::LogHasher hasher_;
    std::vector<std::string> entries_;
    std::vector<crypto::Hash> leaves_;
};

/// The file's lines without their "\n" (a last line without one is kept too).
inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// Writes `lines`, each followed by "\n" (a raw write: no checks, for tampering).
inline void write_lines(const std::filesystem::path& path, const std::vector<std::string>& lines) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const auto& l : lines) out << l << '\n';
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace enclave::testing
