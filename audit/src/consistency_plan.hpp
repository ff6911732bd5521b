// SPDX-License-Identifier: Apache-2.0
#pragma once
// Produces an RFC 9162 consistency proof while the verifier streams the
// leaves once, in O(log n) memory.
//
// crypto::consistency_proof asks a NodeSource for leaf hashes and perfect
// subtree hashes. Which ones depends only on the two sizes, so a first run
// against a probing source (it answers every question with a placeholder and
// writes the question down) yields the list; the verifier then computes
// exactly those subtrees from the leaves as they stream past, and a second
// run of the same generator reads them back. The proof is then checked with
// crypto::verify_consistency, the same code any RFC 9162 client runs.

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "crypto/merkle.hpp"
#include "crypto/result.hpp"

namespace enclave::audit::detail {

class ConsistencyPlan {
public:
    /// The plan for a proof from size1 to size2. Requires 0 < size1 < size2.
    [[nodiscard]] static crypto::Result<ConsistencyPlan> make(std::uint64_t size1,
                                                              std::uint64_t size2);

    /// Feed every leaf hash in order (index 0, 1, 2, ...).
    void add_leaf(std::uint64_t index, const crypto::Hash& leaf);

    /// The proof, once all size2 leaves were fed.
    [[nodiscard]] crypto::Result<std::vector<crypto::Hash>> proof() const;

private:
    struct Subtree {
        unsigned level = 0;
        std::uint64_t index = 0;
        std::uint64_t begin = 0;  ///< first leaf
        std::uint64_t end = 0;    ///< one past the last leaf
        crypto::IncrementalTree tree;
    };

    std::uint64_t size1_ = 0;
    std::uint64_t size2_ = 0;
    std::vector<Subtree> subtrees_;  ///< sorted by begin
    std::size_t next_ = 0;           ///< first subtree not yet started
    std::vector<std::size_t> active_;
    std::map<std::uint64_t, crypto::Hash> leaves_;  ///< requested leaf hashes
};

}  // namespace enclave::audit::detail
