// SPDX-License-Identifier: Apache-2.0
#pragma once
// SimStore: what the simulated LEA received, in a directory.
//
//   <dir>/deliveries/<DeliveryID>.xml   each DeliveryObject message, once
//   <dir>/deliveries.jsonl              one line per stored delivery, in
//                                       arrival order: delivery_id,
//                                       reference_kind, reference,
//                                       sequence_number, last_sequence,
//                                       items, bytes, binary_urls
//   <dir>/binaries/<uuid>.bin           each Model B binary, once
//   <dir>/binaries.jsonl                uuid, size, sha256 (hex), content_type
//
// A DeliveryID (or binary UUID) seen before is counted as a duplicate and
// not stored again; the store reads the existing files when it opens, so a
// restarted simulator still recognises them. Files are written to a ".part"
// name and renamed when complete.
//
// Holds: received content in the clear. It stands for the LEA's side and is
// test and demo material only.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "crypto/bytes.hpp"
#include "crypto/digest.hpp"
#include "crypto/result.hpp"
#include "simulator/delivery_inspector.hpp"

namespace enclave::simulator {

struct StoreCounts {
    std::uint64_t deliveries = 0;           ///< distinct DeliveryIDs stored
    std::uint64_t delivery_duplicates = 0;  ///< DeliveryIDs received again
    std::uint64_t items = 0;                ///< handoverItems in stored deliveries
    std::uint64_t binaries = 0;             ///< distinct binaries stored
    std::uint64_t binary_duplicates = 0;
    std::uint64_t binary_bytes = 0;         ///< bytes of stored binaries
    std::uint64_t binaries_incomplete = 0;  ///< uploads that ended before their size
};

struct BinaryRecord {
    std::string uuid;
    std::uint64_t size = 0;
    std::string sha256_hex;
};

class SimStore {
public:
    /// Creates the directory layout if needed and loads the ids present.
    static crypto::Result<std::unique_ptr<SimStore>> open(const std::filesystem::path& dir);

    /// Stores the message unless its DeliveryID is known. true = stored,
    /// false = duplicate.
    crypto::Result<bool> store_delivery(const DeliveryFacts& facts, std::string_view xml);

    /// Streams one binary to <uuid>.part. Only one upload per UUID at a time.
    class BinaryUpload {
    public:
        ~BinaryUpload();  ///< an upload not committed is removed and counted incomplete
        BinaryUpload(const BinaryUpload&) = delete;
        BinaryUpload& operator=(const BinaryUpload&) = delete;
        crypto::Result<void> write(crypto::ByteView bytes);
        [[nodiscard]] std::uint64_t written() const noexcept { return written_; }
        /// Renames to <uuid>.bin and records it.
        crypto::Result<BinaryRecord> commit();

    private:
        friend class SimStore;
        BinaryUpload(SimStore& store, std::string uuid, std::string content_type, int fd);
        SimStore& store_;
        std::string uuid_;
        std::string content_type_;
        int fd_;
        std::uint64_t written_ = 0;
        crypto::Hasher hasher_{crypto::HashAlg::sha256};
        bool done_ = false;
    };

    enum class BinaryState { absent, stored, in_progress };
    BinaryState binary_state(const std::string& uuid);
    /// already_exists when stored, invalid_state when another upload runs.
    crypto::Result<std::unique_ptr<BinaryUpload>> begin_binary(const std::string& uuid,
                                                               std::string_view content_type);
    void count_binary_duplicate();

    [[nodiscard]] StoreCounts counts() const;
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

private:
    explicit SimStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
    crypto::Result<void> append_line(const char* file, const std::string& line);
    void finish_upload(const std::string& uuid, bool committed);

    std::filesystem::path dir_;
    mutable std::mutex mu_;
    std::set<std::string> delivery_ids_;
    std::set<std::string> binary_ids_;
    std::set<std::string> uploading_;
    StoreCounts counts_;
};

}  // namespace enclave::simulator
