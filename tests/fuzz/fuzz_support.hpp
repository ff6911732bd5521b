// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers the fuzz bodies share (fuzz_common.cpp).
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "delivery/xml_schema.hpp"

namespace enclave::fuzz {

/// The process-wide SchemaSet (ETSI TS 103 120 / 103 280 + the project's
/// schemas, SchemaSet::shared()); aborts when it does not load.
const delivery::SchemaSet& schemas();

/// A path in this process's scratch folder ($TMPDIR/enclave-fuzz-XXXXXX,
/// removed at exit), for parsers that read a file.
std::filesystem::path scratch_file(const char* name);

/// Writes `data` to `path` (truncating); aborts on failure.
void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size);

}  // namespace enclave::fuzz
