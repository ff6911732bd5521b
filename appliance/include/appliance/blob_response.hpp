// SPDX-License-Identifier: Apache-2.0
#pragma once
// BlobSegmentSource: the streamed body of a Model A/C answer (200 or 206).
// It walks the segments http_range planned (literal multipart framing, and
// slices of the stored object) and decrypts only the chunks a slice touches:
// each piece it hands out ends on a chunk boundary when it spans more than
// one chunk, so consecutive pieces never decrypt a chunk twice.
//
// Holds: a reference to the object's BlobReader (its data key, in a Secret;
// shared with other answers of the same URL through the Model C reader
// cache, BlobReader reads are thread-safe) and, while the listener sends it,
// plaintext in the listener's piece buffers (wiped there). The source itself
// is not thread-safe: the listener uses it from one thread at a time (the
// connection's bulk job, http_session.hpp, or its I/O thread).
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "appliance/http_range.hpp"
#include "appliance/http_types.hpp"
#include "crypto/blob_format.hpp"

namespace enclave::appliance {

class BlobSegmentSource final : public ResponseSource {
public:
    /// Called once, on the first chunk that fails authentication (the blob
    /// file is damaged on disk); the response then ends early.
    using DamageReport = std::function<void()>;

    /// `segments` must lie within the object (http_range's plans do);
    /// `reader` must not be null.
    BlobSegmentSource(std::shared_ptr<const crypto::BlobReader> reader,
                      std::vector<BodySegment> segments, DamageReport on_damage = {});

    [[nodiscard]] std::uint64_t size() const noexcept override { return size_; }
    crypto::Result<std::size_t> read(crypto::MutableByteView out) override;
    /// For tests: the reader (chunks_decrypted()).
    [[nodiscard]] const crypto::BlobReader& reader() const noexcept { return *reader_; }

private:
    std::shared_ptr<const crypto::BlobReader> reader_;
    std::vector<BodySegment> segments_;
    std::uint64_t size_ = 0;
    std::size_t index_ = 0;  ///< the segment being sent
    std::uint64_t at_ = 0;   ///< bytes of it already sent
    DamageReport on_damage_;
};

}  // namespace enclave::appliance
