// SPDX-License-Identifier: Apache-2.0
#pragma once
// glibc's malloc keeps a per-thread cache of 7 free chunks per size class by
// default. A TLS handshake under OpenSSL 3 allocates and frees thousands of
// small objects, so most of them miss that cache and take the arena's lock
// and its slower paths (malloc_consolidate, unlink_chunk): about 20 % of the
// daemon's CPU per handshake. A larger cache (glibc.malloc.tcache_count)
// measured about 17 % less CPU per handshake at 1000 (docs/performance.md,
// issue #3, session 6). Re-measured in session 10 on a faster machine, 64
// did as well as 1000 (within noise), and 1000 held megabytes per thread in
// a long run (docs/reliability.md, "Where the RSS growth comes from"): 64.
//
// glibc reads tunables only from the environment at process start, so the
// daemon sets GLIBC_TUNABLES and executes itself again (its own binary, as
// /proc/self/exe resolves; same PID, same name, same argv,
// same environment plus that one setting) before it does anything else: no
// thread, no token, no file is open yet. An operator's own
// glibc.malloc.tcache_count in GLIBC_TUNABLES wins; ENCLAVE_ALLOCATOR_TUNING=off
// turns the whole thing off.

namespace enclave::appliance {

/// The setting added to GLIBC_TUNABLES.
inline constexpr const char* kAllocatorTunable = "glibc.malloc.tcache_count=64";

/// Returns only when no re-execution is needed or it failed (then the daemon
/// runs with glibc's defaults). Call first thing in main().
void apply_allocator_tuning(char** argv) noexcept;

}  // namespace enclave::appliance
