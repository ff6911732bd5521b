// SPDX-License-Identifier: Apache-2.0
#include "appliance/blob_response.hpp"

#include <algorithm>

namespace enclave::appliance {

namespace {

std::uint64_t length_of(const BodySegment& seg) {
    return seg.from_object ? seg.length : seg.literal.size();
}

}  // namespace

BlobSegmentSource::BlobSegmentSource(std::shared_ptr<const crypto::BlobReader> reader,
                                     std::vector<BodySegment> segments, DamageReport on_damage)
    : reader_(std::move(reader)), segments_(std::move(segments)), on_damage_(std::move(on_damage)) {
    for (const auto& seg : segments_) size_ += length_of(seg);
}

crypto::Result<std::size_t> BlobSegmentSource::read(crypto::MutableByteView out) {
    std::size_t filled = 0;
    while (filled < out.size() && index_ < segments_.size()) {
        const BodySegment& seg = segments_[index_];
        const std::uint64_t seg_len = length_of(seg);
        if (at_ == seg_len) {
            ++index_;
            at_ = 0;
            continue;
        }
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(seg_len - at_, out.size() - filled));
        if (!seg.from_object) {
            std::copy_n(seg.literal.data() + at_, n, out.data() + filled);
            at_ += n;
            filled += n;
            continue;
        }
        // A piece spanning more than a chunk stops at a chunk boundary, and
        // the piece ends there: the next one starts on that boundary.
        const std::uint64_t start = seg.offset + at_;
        const std::uint64_t chunk = reader_->chunk_size();
        const std::uint64_t end = start + n;
        const bool cut = n > chunk && end % chunk != 0 && at_ + n < seg_len;
        if (cut) n -= static_cast<std::size_t>(end % chunk);
        if (auto r = reader_->read_into(start, out.subspan(filled, n)); !r) {
            if (r.error().code() == crypto::Errc::integrity_failure && on_damage_) {
                auto report = std::move(on_damage_);
                on_damage_ = nullptr;
                report();
            }
            return tl::unexpected(r.error());
        }
        at_ += n;
        filled += n;
        if (cut || (at_ < seg_len && (start + n) % chunk != 0)) break;
    }
    return filled;
}

}  // namespace enclave::appliance
