// SPDX-License-Identifier: Apache-2.0
// AddressSanitizer defaults for enclaved and enclavectl in sanitizer builds
// only (appliance/CMakeLists.txt adds this file when ENCLAVE_SANITIZE is on).
//
// The daemon signs audit checkpoints with an Ed25519 token key; SoftHSM
// 2.6.1 leaks one small ASN.1 string per Ed25519 C_SignInit, inside
// libcrypto. tests/lsan.supp suppresses leaks whose stack passes through
// libsofthsm2.so, which only the slow unwinder can see (libcrypto has no
// frame pointers). Same reasoning as tests/hsm/sanitizer_options_test.cpp.

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {  // NOLINT: ASan's hook name
    return "fast_unwind_on_malloc=0";
}
#endif
