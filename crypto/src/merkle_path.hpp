// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to the Merkle sources: the shape of an RFC 9162 audit path.

#include <bit>
#include <cstdint>

namespace enclave::crypto::detail {

/// The audit path of leaf `index` in a tree whose last leaf is `last` has
/// `inner` hashes (one per level while the ancestors of `index` and `last`
/// differ) and then `border` hashes (the left siblings of the ancestors on the
/// right border of the tree).
struct PathShape {
    unsigned inner = 0;
    unsigned border = 0;
};

/// Requires index <= last.
inline PathShape path_shape(std::uint64_t index, std::uint64_t last) noexcept {
    const auto inner = static_cast<unsigned>(std::bit_width(index ^ last));
    // A shift by 64 would be undefined; nothing is left above level 64.
    const auto border = inner >= 64 ? 0u : static_cast<unsigned>(std::popcount(index >> inner));
    return {inner, border};
}

}  // namespace enclave::crypto::detail
