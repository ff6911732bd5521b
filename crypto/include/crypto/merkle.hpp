// SPDX-License-Identifier: Apache-2.0
#pragma once
// The RFC 9162 Merkle tree, in one include:
//   merkle_hasher.hpp  Hash, LogHasher (SHA-256 with 0x00 / 0x01 prefixes)
//   merkle_proof.hpp   verify_inclusion, verify_consistency, root_from_inclusion_proof
//   merkle_source.hpp  NodeSource, MemoryNodeSource, tree_root, inclusion_proof,
//                      consistency_proof
//   merkle_tree.hpp    IncrementalTree (O(log n) append-only state), TreeState,
//                      root_from_leaves

#include "crypto/merkle_hasher.hpp"
#include "crypto/merkle_proof.hpp"
#include "crypto/merkle_source.hpp"
#include "crypto/merkle_tree.hpp"
