// SPDX-License-Identifier: Apache-2.0
// The libFuzzer entry point of one harness executable (fuzz_<name>):
// tests/fuzz/CMakeLists.txt compiles this file once per harness with
// ENCLAVE_FUZZ_ENTRY set to that harness's body.
#include <cstddef>
#include <cstdint>

#include "fuzz_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    (void)ENCLAVE_FUZZ_ENTRY(data, size);
    return 0;
}
