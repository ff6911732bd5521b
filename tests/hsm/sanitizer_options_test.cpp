// SPDX-License-Identifier: Apache-2.0
// AddressSanitizer defaults for the hsm test binary only.
//
// SoftHSM 2.6.1 leaks one small ASN.1 string per Ed25519 C_SignInit (inside
// libcrypto, called from libsofthsm2.so). tests/lsan.supp suppresses leaks
// whose stack passes through libsofthsm2.so, but ASan's default fast unwinder
// stops at the first libcrypto frame (it is built without frame pointers), so
// the stack never reaches libsofthsm2.so and the suppression cannot match.
// The slow unwinder sees the whole stack: the SoftHSM leak is suppressed by
// name and a leak of ours through libcrypto is still reported with our frame.
// A blanket `leak:libcrypto.so` suppression would hide our own mistakes.

#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {  // NOLINT: ASan's hook name
    return "fast_unwind_on_malloc=0";
}
#endif
