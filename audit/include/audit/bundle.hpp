// SPDX-License-Identifier: Apache-2.0
#pragma once
// The offline audit bundle (issue #4, docs/audit-bundle.md): what
// `enclavectl audit export` writes and `enclavectl audit verify` checks,
// with no daemon and no token.
//
//   line 1      {"format":"enclave-audit-bundle","version":1,"origin":...,
//                "public_key":"<verifier key>","size":N,
//                "checkpoint":"<signed note, size N>",
//                "checkpoints":["<older signed notes, ascending size>"]}
//   lines 2..   the N log entries, byte-exact, each followed by "\n"
//
// Nothing here holds a secret: entries carry no sensitive field by contract,
// checkpoints and keys are public.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/progress.hpp"
#include "audit/signed_note.hpp"
#include "crypto/merkle_hasher.hpp"
#include "crypto/result.hpp"

namespace enclave::audit {

inline constexpr std::string_view kBundleFormat = "enclave-audit-bundle";
inline constexpr int kBundleVersion = 1;
/// Longest entry line (without its "\n") the writer writes and the verifier
/// reads by default. Audit events are a few hundred bytes.
inline constexpr std::size_t kMaxBundleEntrySize = 1u << 20;
/// Longest header line.
inline constexpr std::size_t kMaxBundleHeaderSize = 32u << 20;
/// Most older checkpoints a header may carry.
inline constexpr std::size_t kMaxBundleCheckpoints = 100000;

/// Writes a bundle: the header when created, then the entries in order.
/// Atomic: everything goes to a temporary file (mode 0640) in the target's
/// directory, which commit() fsyncs and renames into place (then fsyncs the
/// directory); a writer destroyed without commit() removes it.
///
/// The writer refuses to produce a bundle that would not verify: create()
/// opens every checkpoint with `key` and checks origins and sizes; append()
/// checks each entry as the verifier does (line rules, JSON object, "index"
/// equal to its position, "prev" the previous leaf hash); the roots at the
/// older checkpoints' sizes and at commit() must match. A failure leaves no
/// file behind and the writer unusable (invalid_state afterwards).
class BundleWriter {
public:
    struct Options {
        bool overwrite = false;  ///< replace an existing file (else already_exists)
        std::size_t max_entry_size = kMaxBundleEntrySize;
    };

    /// `checkpoint`: the latest signed checkpoint (its size is the number of
    /// entries to append); `older`: older signed checkpoints, ascending sizes
    /// below it. Errors: invalid_argument / integrity_failure for checkpoints
    /// that do not open with `key` or do not fit; already_exists; io_error.
    static crypto::Result<BundleWriter> create(const std::filesystem::path& path,
                                               const NoteVerifierKey& key,
                                               const std::string& checkpoint,
                                               const std::vector<std::string>& older,
                                               Options options);
    static crypto::Result<BundleWriter> create(const std::filesystem::path& path,
                                               const NoteVerifierKey& key,
                                               const std::string& checkpoint,
                                               const std::vector<std::string>& older = {}) {
        return create(path, key, checkpoint, older, Options{});
    }

    BundleWriter(BundleWriter&&) noexcept;
    BundleWriter& operator=(BundleWriter&&) noexcept;
    BundleWriter(const BundleWriter&) = delete;
    BundleWriter& operator=(const BundleWriter&) = delete;
    ~BundleWriter();

    /// Appends the next entry (bytes as stored, without "\n").
    /// invalid_argument for an entry that breaks the line or chain rules
    /// (context "entry <i>: ..."), invalid_state past the checkpoint's size,
    /// integrity_failure when an older checkpoint's root does not match.
    [[nodiscard]] crypto::Result<void> append(std::string_view entry);
    /// Checks the count and root, makes the file durable and puts it in place.
    [[nodiscard]] crypto::Result<void> commit();

    [[nodiscard]] std::uint64_t appended() const noexcept;
    [[nodiscard]] std::uint64_t size() const noexcept;  ///< entries the checkpoint covers

private:
    struct Impl;
    explicit BundleWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

struct VerifyOptions {
    /// The key the auditor trusts (from the appliance's provisioning record).
    /// Without it the bundle's own key is used, which proves only that the
    /// bundle is self-consistent; the report says which was used.
    std::optional<NoteVerifierKey> pinned_key;
    /// An older signed checkpoint the auditor kept (--since-checkpoint): the
    /// bundle must extend it.
    std::optional<std::string> since_checkpoint;
    /// Called every 16,384 entries and once at the end (done == total); see
    /// terminal_progress() in audit/progress.hpp.
    ProgressFunction progress;
    /// Sanity limits (max_entry_size is clamped to 1 byte .. 1 GiB).
    std::size_t max_entry_size = kMaxBundleEntrySize;
    std::uint64_t max_entries = 10'000'000'000ull;
};

struct BundleReport {
    std::string origin;
    std::uint64_t entries = 0;   ///< verified entries (== the checkpoint's size)
    crypto::Hash root{};         ///< the verified root
    std::string key;             ///< the verifier key string used
    bool key_pinned = false;     ///< false: the bundle's own key was used
    bool bundle_key_differs = false;  ///< pinned, and the bundle names another key
    std::size_t checkpoints_checked = 0;  ///< latest + older + since
    std::optional<std::uint64_t> since_size;
    /// RFC 9162 consistency proof from the since-checkpoint to the latest
    /// one, produced from the bundle and checked with crypto::verify_consistency.
    std::vector<crypto::Hash> consistency_proof;
    std::uint64_t bytes = 0;     ///< file size
    std::chrono::duration<double> elapsed{};
};

/// Verifies a bundle file offline. Every failure is Errc::integrity_failure
/// with a context that says where and why, in one of these forms:
///   "header: <reason>"
///   "checkpoint: <reason>"                 (the latest, signed checkpoint)
///   "older checkpoint <k> (size S): <reason>"
///   "since-checkpoint: <reason>"           (including "rolled back: ...")
///   "entry <i>: <reason>"                  (i is the 0-based log index)
/// except not_found / io_error for a file that cannot be read.
/// docs/audit-bundle.md lists every reason.
[[nodiscard]] crypto::Result<BundleReport> verify_bundle(const std::filesystem::path& path,
                                                         const VerifyOptions& options = {});

/// A few lines for a terminal: origin, entries, root, key (pinned or the
/// bundle's own), checkpoints checked, consistency with the since-checkpoint,
/// time.
[[nodiscard]] std::string describe(const BundleReport& report);

}  // namespace enclave::audit
