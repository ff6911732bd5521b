// SPDX-License-Identifier: Apache-2.0
// AddressSanitizer defaults for the audit test binary, for the same reason as
// tests/hsm/sanitizer_options_test.cpp: SoftHSM 2.6.1 leaks one small ASN.1
// string per Ed25519 C_SignInit inside libcrypto, and only the slow unwinder
// sees the libsofthsm2.so frame that tests/lsan.supp names. Our own leaks
// through libcrypto are still reported, with our frames.

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {  // NOLINT: ASan's hook name
    return "fast_unwind_on_malloc=0";
}
#endif
